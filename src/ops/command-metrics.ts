/**
 * The command runner, measured and traced: one wrapper around `run` and `fireTimers` (so the
 * runner itself carries only the two observer calls of commands/command-observer.ts).
 */
import type { CommandObserver } from '../commands/command-observer.js';
import type { CommandRunner } from '../commands/run-command.js';
import { TesseraError } from '../errors.js';
import type { CommandOutcome, Metrics } from '../platform/metrics.js';
import { inSpan } from '../platform/tracing.js';

export function commandObserver(metrics: Metrics): CommandObserver {
  return {
    lockWait(path, ms) {
      metrics.lockWait.observe({ path }, Math.max(0, ms) / 1000);
    },
    timerFired({ template, dueAt, at, result }) {
      const point = result?.['point'];
      // Counted when decided: a batch that then fails to commit is retried, and counted again (rare).
      if (point === 'warning') metrics.slaPoints.inc({ template, point: 'at_risk' });
      if (point === 'breach') metrics.slaPoints.inc({ template, point: 'breached' });
      if (dueAt !== undefined) {
        const kind = point === 'warning' || point === 'breach' ? 'goal_deadline' : 'fragment_delay';
        metrics.timerLateness.observe({ kind }, Math.max(0, at.getTime() - Date.parse(dueAt)) / 1000);
      }
    },
  };
}

function outcomeOf(err: unknown): CommandOutcome {
  return err instanceof TesseraError && err.status < 500 ? 'refused' : 'error';
}

/** Returns the runner with `run` and `fireTimers` timed (by command type and outcome) and traced. */
export function instrumentRunner(runner: CommandRunner, metrics: Metrics): CommandRunner {
  return {
    ...runner,
    async run(request) {
      const command = request.command.type;
      const end = metrics.commandDuration.startTimer({ command });
      return inSpan(`command ${command}`, { attributes: { 'tessera.command': command, ...(request.caseId ? { 'tessera.case_id': request.caseId } : {}) } }, async () => {
        try {
          const response = await runner.run(request);
          end({ outcome: response.replayed ? 'replayed' : 'ok' });
          return response;
        } catch (err) {
          end({ outcome: outcomeOf(err) });
          throw err;
        }
      });
    },
    async fireTimers(timers) {
      const end = metrics.commandDuration.startTimer({ command: 'timer.fire' });
      return inSpan('command timer.fire batch', { attributes: { 'tessera.timers': timers.length } }, async () => {
        try {
          const outcomes = await runner.fireTimers(timers);
          end({ outcome: 'ok' });
          return outcomes;
        } catch (err) {
          end({ outcome: outcomeOf(err) });
          throw err;
        }
      });
    },
  };
}
