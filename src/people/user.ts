/**
 * The user aggregate: the people who sign in (agents, supervisors, admins). Pure: no I/O, no
 * clock reads — `now` and the actor come in, the next user and its journal entry come out.
 * Integrations are not users; they exist only as the owner name of an integrator API key.
 */
import { TesseraError } from '../errors.js';
import { userProblems, type UserFields } from './validate-user.js';

export const USER_ROLES = ['agent', 'supervisor', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** `away` and `offline` take no new work; `available` does. */
export const PRESENCES = ['available', 'away', 'offline'] as const;
export type Presence = (typeof PRESENCES)[number];

export interface User {
  id: string;
  username: string;
  displayName: string;
  role: UserRole;
  /** Queues the user works. */
  teams: readonly string[];
  /** `{ skill: level 1-5 }`. */
  skills: Readonly<Record<string, number>>;
  /** Work units carried at once per kind of work; `default` covers kinds not listed. */
  capacity: Readonly<Record<string, number>>;
  presence: Presence;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  disabledAt: Date | null;
  /** Whether a password is set (the hash never leaves persistence and the sign-in check). */
  hasPassword: boolean;
}

export const DEFAULT_CAPACITY: Readonly<Record<string, number>> = Object.freeze({ default: 5 });

export interface NewUser {
  id: string;
  username: string;
  displayName: string;
  role: UserRole;
  teams?: readonly string[];
  skills?: Record<string, number>;
  capacity?: Record<string, number>;
  presence?: Presence;
}

/** What an admin may change with PATCH. */
export interface ProfileChanges {
  displayName?: string;
  role?: UserRole;
  teams?: readonly string[];
  skills?: Record<string, number>;
  capacity?: Record<string, number>;
}

export type UserCommand =
  | { type: 'create'; user: NewUser; passwordHash?: string }
  | { type: 'update'; changes: ProfileChanges }
  | { type: 'set_presence'; presence: Presence }
  | { type: 'disable' }
  | { type: 'enable' }
  | { type: 'set_password'; passwordHash: string };

export const USER_JOURNAL_TYPES = ['user.created', 'user.updated', 'user.presence_changed', 'user.disabled', 'user.enabled', 'user.password_set'] as const;
export type UserJournalType = (typeof USER_JOURNAL_TYPES)[number];

export interface UserJournalEntry {
  userId: string;
  version: number;
  type: UserJournalType;
  actorId: string;
  actorRole: string;
  reason: string | null;
  /** What changed (`{ from, to }` per field); never a password or its hash. */
  data: Record<string, unknown>;
  at: Date;
}

export interface UserDecision {
  user: User;
  entry: UserJournalEntry;
  /** A new password hash to store (create with password, set_password). */
  passwordHash?: string;
  /** Sessions of the user end with this change (disabled, password changed). */
  revokeSessions: boolean;
}

export interface UserContext {
  actor: { id: string; role: string };
  reason?: string | undefined;
  now: Date;
}

function invalid(problems: { pointer: string; detail: string }[]): never {
  throw new TesseraError('INVALID_USER', `${problems.map((p) => `${p.pointer} ${p.detail}`).join('; ')}`, { errors: problems });
}

function check(fields: UserFields): void {
  const problems = userProblems(fields);
  if (problems.length > 0) invalid(problems);
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Sorted copies, so stored values and journal diffs do not depend on the order they came in. */
const sortedRecord = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
const uniqueTeams = (teams: readonly string[]) => [...new Set(teams)];

/**
 * Decides a command on a user (`undefined` for create). Throws TesseraError on a refusal:
 * INVALID_USER (422, naming each field), USER_DISABLED, USER_NOT_FOUND.
 */
export function decideUser(current: User | undefined, command: UserCommand, ctx: UserContext): UserDecision {
  const entry = (user: User, type: UserJournalType, data: Record<string, unknown>): UserJournalEntry => ({
    userId: user.id,
    version: user.version,
    type,
    actorId: ctx.actor.id,
    actorRole: ctx.actor.role,
    reason: ctx.reason ?? null,
    data,
    at: ctx.now,
  });

  if (command.type === 'create') {
    const n = command.user;
    check({ id: n.id, username: n.username, displayName: n.displayName, teams: n.teams, skills: n.skills, capacity: n.capacity });
    const user: User = {
      id: n.id,
      username: n.username,
      displayName: n.displayName,
      role: n.role,
      teams: uniqueTeams(n.teams ?? []),
      skills: sortedRecord(n.skills ?? {}),
      capacity: sortedRecord(n.capacity ?? { ...DEFAULT_CAPACITY }),
      presence: n.presence ?? 'offline',
      version: 1,
      createdAt: ctx.now,
      updatedAt: ctx.now,
      disabledAt: null,
      hasPassword: command.passwordHash !== undefined,
    };
    const data = { username: user.username, display_name: user.displayName, role: user.role, teams: user.teams, skills: user.skills, capacity: user.capacity, password_set: user.hasPassword };
    return { user, entry: entry(user, 'user.created', data), ...(command.passwordHash ? { passwordHash: command.passwordHash } : {}), revokeSessions: false };
  }

  if (!current) throw new TesseraError('USER_NOT_FOUND', 'No user has this id; list users with GET /v1/users');
  const next = (changes: Partial<User>): User => ({ ...current, ...changes, version: current.version + 1, updatedAt: ctx.now });

  switch (command.type) {
    case 'update': {
      const c = command.changes;
      check({ displayName: c.displayName, teams: c.teams, skills: c.skills, capacity: c.capacity });
      const wanted: Partial<User> = {
        ...(c.displayName !== undefined ? { displayName: c.displayName } : {}),
        ...(c.role !== undefined ? { role: c.role } : {}),
        ...(c.teams !== undefined ? { teams: uniqueTeams(c.teams) } : {}),
        ...(c.skills !== undefined ? { skills: sortedRecord(c.skills) } : {}),
        ...(c.capacity !== undefined ? { capacity: sortedRecord(c.capacity) } : {}),
      };
      const names: Record<string, string> = { displayName: 'display_name', role: 'role', teams: 'teams', skills: 'skills', capacity: 'capacity' };
      const diff: Record<string, { from: unknown; to: unknown }> = {};
      for (const [field, value] of Object.entries(wanted)) {
        const before = current[field as keyof User];
        if (!same(before, value)) diff[names[field]!] = { from: before, to: value };
      }
      if (Object.keys(diff).length === 0) {
        throw new TesseraError('INVALID_USER', 'The request changes nothing: every field already has the value sent', {
          errors: [{ pointer: '', detail: 'changes nothing; send at least one field with a new value' }],
        });
      }
      const user = next(wanted);
      return { user, entry: entry(user, 'user.updated', diff), revokeSessions: false };
    }
    case 'set_presence': {
      if (current.disabledAt) throw new TesseraError('USER_DISABLED', `User ${current.id} is disabled; enable them first (POST /v1/users/${current.id}/enable)`);
      if (current.presence === command.presence) {
        throw new TesseraError('INVALID_USER', `Presence is already ${command.presence}`, { errors: [{ pointer: '/presence', detail: `is already ${command.presence}` }] });
      }
      const user = next({ presence: command.presence });
      return { user, entry: entry(user, 'user.presence_changed', { from: current.presence, to: command.presence }), revokeSessions: false };
    }
    case 'disable': {
      if (current.disabledAt) throw new TesseraError('USER_DISABLED', `User ${current.id} is already disabled`);
      if (ctx.actor.id === current.id) {
        throw new TesseraError('INVALID_USER', 'You cannot disable yourself; ask another admin', { errors: [{ pointer: '/id', detail: 'is you' }] });
      }
      // A disabled user takes no work: presence goes offline with the disable.
      const user = next({ disabledAt: ctx.now, presence: 'offline' });
      return { user, entry: entry(user, 'user.disabled', { presence: { from: current.presence, to: 'offline' } }), revokeSessions: true };
    }
    case 'enable': {
      if (!current.disabledAt) throw new TesseraError('USER_NOT_DISABLED', `User ${current.id} is not disabled`);
      const user = next({ disabledAt: null });
      return { user, entry: entry(user, 'user.enabled', {}), revokeSessions: false };
    }
    case 'set_password': {
      if (current.disabledAt) throw new TesseraError('USER_DISABLED', `User ${current.id} is disabled; enable them first (POST /v1/users/${current.id}/enable)`);
      const user = next({ hasPassword: true });
      return { user, entry: entry(user, 'user.password_set', {}), passwordHash: command.passwordHash, revokeSessions: true };
    }
  }
}

const RANK: Record<UserRole, number> = { agent: 1, supervisor: 2, admin: 3 };

/** Whether `role` is at most `ceiling` (agent < supervisor < admin). */
export function roleWithin(role: UserRole, ceiling: UserRole): boolean {
  return RANK[role] <= RANK[ceiling];
}

/** The lower of two roles: a key never acts above its user's current role. */
export function lowerRole(a: UserRole, b: UserRole): UserRole {
  return RANK[a] <= RANK[b] ? a : b;
}

export function isUserRole(role: string): role is UserRole {
  return (USER_ROLES as readonly string[]).includes(role);
}
