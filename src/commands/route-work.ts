/**
 * Work that goes to the right person: "get next work" (a person pulls the best task they may
 * take) and supervisor push (a supervisor gives a task to a person). Both end in the one case
 * command path (`task.assign`, decided by the pure engine, written with journal and outbox in the
 * command statement), so the case, its journal and its outbound `task.assigned` event record it.
 *
 * Concurrency: the person's row is locked first (`FOR UPDATE`), so one person's assignments are
 * serialised and the capacity read under the lock stays true until commit; candidate tasks are
 * locked with `SKIP LOCKED` (two pulls never take the same task, and never wait for each other);
 * the task's case is locked with `SKIP LOCKED` too, so a pull never waits on a case while holding
 * task rows (no deadlock with a command that holds the case and writes those rows). Round trips
 * per pull: lock the person with their used units, lock candidates, lock the case with the
 * handoff brief's input, write — four, in one transaction (plus BEGIN and COMMIT).
 */
import type { Kysely } from 'kysely';
import type { Actor, CaseState, Command, Task } from '../cases/types.js';
import { capacityBucket } from '../cases/task-eligibility.js';
import { TesseraError } from '../errors.js';
import { loadHandoffInput } from '../persistence/handoff-input.js';
import { lockCandidates, lockCaseIfFree } from '../persistence/next-work-queries.js';
import type { Database } from '../persistence/schema.js';
import { lockWorker, type WorkerProfile } from '../persistence/user-directory.js';
import type { CommandResponse, CommandRunner, CommandSuccess, IdempotencyRequest } from './run-command.js';

export interface WorkRouterDeps {
  db: Kysely<Database>;
  runner: CommandRunner;
}

/** Why next work handed out nothing. */
export type NoWorkReason = 'presence_away' | 'presence_offline' | 'no_matching_task';

export interface NextWorkRequest {
  actor: Actor;
  idempotency?: IdempotencyRequest;
  respond: (success: CommandSuccess, taskId: string) => { statusCode: number; body: unknown };
  /** The answer when nothing is handed out (not stored under the idempotency key: nothing happened). */
  none: (reason: NoWorkReason) => { statusCode: number; body: unknown };
}

export interface PushRequest {
  taskId: string;
  caseId: string;
  userId: string;
  actor: Actor;
  override?: { reason: string };
  reason?: string;
  idempotency?: IdempotencyRequest;
  respond: (success: CommandSuccess) => { statusCode: number; body: unknown };
}

/** Rounds of candidates tried before a pull gives up (every candidate's case was busy each time). */
const MAX_ROUNDS = 25;

function requireWorker(worker: WorkerProfile | undefined, userId: string): WorkerProfile {
  if (!worker || worker.disabled) {
    throw new TesseraError('USER_NOT_FOUND', `No active user ${userId}; an admin creates people with POST /v1/users`, { user_id: userId });
  }
  return worker;
}

function capacityFor(worker: WorkerProfile, kind: string | undefined) {
  const bucket = capacityBucket(kind, worker.capacity);
  return { kind: bucket, used: worker.used[bucket] ?? 0, limit: worker.capacity[bucket] ?? 0 };
}

function withHandoff(command: Extract<Command, { type: 'task.assign' }>) {
  return async (trx: Parameters<NonNullable<Parameters<CommandRunner['run']>[0]['enrich']>>[0], state: CaseState): Promise<Command> => ({
    ...command,
    handoff: await loadHandoffInput(trx, state.id, state.handoffBrief?.atVersion ?? 0),
  });
}

export function createWorkRouter(deps: WorkRouterDeps) {
  const { db, runner } = deps;

  async function next(request: NextWorkRequest): Promise<CommandResponse> {
    if (request.idempotency) {
      const earlier = await runner.replay(request.idempotency);
      if (earlier) return earlier;
    }
    let committed: Awaited<ReturnType<CommandRunner['decideAndSave']>>['committed'];
    const response = await db.transaction().execute(async (trx): Promise<CommandResponse> => {
      const worker = requireWorker(await lockWorker(trx, request.actor.id), request.actor.id);
      if (worker.presence !== 'available') return { ...request.none(`presence_${worker.presence}`), replayed: false };
      // Every task takes at least one unit: a person with no free unit in any bucket gets nothing
      // without reading their queues.
      const anyRoom = Object.entries(worker.capacity).some(([bucket, units]) => units - (worker.used[bucket] ?? 0) >= 1);
      if (!anyRoom) return { ...request.none('no_matching_task'), replayed: false };
      const busyCases: string[] = [];
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const candidates = await lockCandidates(trx, worker, busyCases);
        if (candidates.length === 0) break;
        for (const candidate of candidates) {
          if (busyCases.includes(candidate.caseId)) continue;
          const locked = await lockCaseIfFree(trx, candidate.caseId);
          if (!locked) {
            busyCases.push(candidate.caseId);
            continue;
          }
          const command: Extract<Command, { type: 'task.assign' }> = {
            type: 'task.assign',
            taskId: candidate.id,
            userId: worker.id,
            userRole: worker.role,
            via: 'next',
            capacity: capacityFor(worker, candidate.kind),
            handoff: locked.handoff,
          };
          const applied = await runner.decideAndSave(trx, locked.state, locked.dbNow, {
            caseId: candidate.caseId,
            command,
            actor: request.actor,
            ...(request.idempotency ? { idempotency: request.idempotency } : {}),
            respond: (success) => request.respond(success, candidate.id),
          });
          committed = applied.committed;
          return applied.response;
        }
      }
      return { ...request.none('no_matching_task'), replayed: false };
    });
    if (committed) runner.handOver([committed]);
    return response;
  }

  /** A supervisor gives the task to a person; the person's row is locked in the case's transaction. */
  async function push(request: PushRequest): Promise<CommandResponse> {
    const base = { type: 'task.assign' as const, taskId: request.taskId, userId: request.userId, via: 'push' as const };
    return runner.run({
      caseId: request.caseId,
      command: { ...base, userRole: 'agent', capacity: { kind: 'default', used: 0, limit: 0 } },
      actor: request.actor,
      ...(request.idempotency ? { idempotency: request.idempotency } : {}),
      respond: request.respond,
      enrich: async (trx, state) => {
        const worker = requireWorker(await lockWorker(trx, request.userId), request.userId);
        if (worker.presence !== 'available') {
          throw new TesseraError(
            'USER_NOT_AVAILABLE',
            `User ${worker.id} is ${worker.presence} and takes no new work; choose someone available, or ask them to set their presence to available`,
            { user_id: worker.id, presence: worker.presence },
          );
        }
        const task: Task | undefined = state.tasks.find((t) => t.id === request.taskId);
        const command: Extract<Command, { type: 'task.assign' }> = {
          ...base,
          userRole: worker.role,
          capacity: capacityFor(worker, task?.kind),
          ...(request.override ? { override: request.override } : {}),
        };
        return withHandoff(command)(trx, state);
      },
    });
  }

  return { next, push };
}

export type WorkRouter = ReturnType<typeof createWorkRouter>;
