/**
 * People: `/v1/users`. Who may do what (README "Users"):
 * - admins create and change users (profile, role, teams, skills, capacity), disable and enable
 *   them, and set anyone's password;
 * - supervisors read every user and their journal, and set anyone's presence;
 * - agents read themselves in full and a directory card of their enabled colleagues (id, names,
 *   role, teams, presence — what a worklist or a handoff needs to show a name), set their own
 *   presence and change their own password (with the current one);
 * - integrators are not people and get 403 on every route here.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { UserCommands } from '../commands/user-commands.js';
import { TesseraError } from '../errors.js';
import type { Principal } from '../people/principal.js';
import { PRESENCES, USER_ROLES, type User, type UserJournalEntry } from '../people/user.js';
import type { UserStore } from '../persistence/user-store.js';
import { hashPassword, passwordProblems, verifyPassword } from '../platform/password-hash.js';
import { etag, expectedVersionOf, idempotencyOf, sendWriteResponse } from './command-request.js';
import { DEFAULT_PAGE_SIZE, readCursor } from './paging.js';
import { PageOf, PageQuery } from './schemas.js';

const PEOPLE = ['admin', 'supervisor', 'agent'] as const;
/** A screen looks up the people it shows in one request (owners, assignees, timeline actors). */
const MAX_LOOKUP_IDS = 200;

const Role = Type.Enum(USER_ROLES);
const Presence = Type.Enum(PRESENCES);
const Reason = Type.String({ minLength: 1, maxLength: 2000 });
const Name = Type.String({ minLength: 1, maxLength: 200 });
const Teams = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 50, description: 'queues the user works: names without spaces or commas' });
const Skills = Type.Record(Type.String({ maxLength: 100 }), Type.Integer(), { description: '{ skill: level 1-5 }' });
const Capacity = Type.Record(Type.String({ maxLength: 100 }), Type.Integer(), {
  description: 'work units the user carries at once, per kind of work; `default` covers kinds not listed (positive integers)',
});
const Password = Type.String({ minLength: 1, maxLength: 4096, description: 'at least 12 characters; stored as a scrypt hash' });

const UserView = Type.Object({
  id: Type.String(),
  username: Type.String(),
  display_name: Type.String(),
  role: Role,
  teams: Type.Array(Type.String()),
  presence: Presence,
  disabled: Type.Boolean(),
  skills: Type.Optional(Type.Record(Type.String(), Type.Integer())),
  capacity: Type.Optional(Type.Record(Type.String(), Type.Integer())),
  has_password: Type.Optional(Type.Boolean()),
  disabled_at: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
  version: Type.Optional(Type.Integer()),
  created_at: Type.Optional(Type.String({ format: 'date-time' })),
  updated_at: Type.Optional(Type.String({ format: 'date-time' })),
}, { description: 'A user. Agents see only the directory card (no skills, capacity, versions or times) of colleagues.' });

const JournalEntryView = Type.Object({
  version: Type.Integer(),
  type: Type.String(),
  actor_id: Type.String(),
  actor_role: Type.String(),
  reason: Type.Union([Type.String(), Type.Null()]),
  data: Type.Record(Type.String(), Type.Unknown()),
  at: Type.String({ format: 'date-time' }),
});

const Params = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

/** The full record: admins, supervisors, and the user themselves. */
export function userView(u: User) {
  return {
    ...directoryCard(u),
    skills: { ...u.skills },
    capacity: { ...u.capacity },
    has_password: u.hasPassword,
    disabled_at: u.disabledAt?.toISOString() ?? null,
    version: u.version,
    created_at: u.createdAt.toISOString(),
    updated_at: u.updatedAt.toISOString(),
  };
}

/** What an agent sees of a colleague. */
export function directoryCard(u: User) {
  return { id: u.id, username: u.username, display_name: u.displayName, role: u.role, teams: [...u.teams], presence: u.presence, disabled: u.disabledAt !== null };
}

function journalView(e: UserJournalEntry) {
  return { version: e.version, type: e.type, actor_id: e.actorId, actor_role: e.actorRole, reason: e.reason, data: e.data, at: e.at.toISOString() };
}

const isSupervisor = (p: Principal) => p.role === 'admin' || p.role === 'supervisor';
const isSelf = (p: Principal, id: string) => p.kind === 'user' && p.userId === id;

const notFound = (id: string) => new TesseraError('USER_NOT_FOUND', `No user has id ${id}; list users with GET /v1/users`);

/** A user the caller may see, in the view they may see; 404 otherwise. */
function visible(p: Principal, u: User | undefined, id: string) {
  if (!u) throw notFound(id);
  if (isSupervisor(p) || isSelf(p, u.id)) return userView(u);
  if (u.disabledAt) throw notFound(id);
  return directoryCard(u);
}

function invalidPassword(problems: { pointer: string; detail: string }[]): TesseraError {
  return new TesseraError('INVALID_PASSWORD', `${problems[0]!.pointer} ${problems[0]!.detail}`, { errors: problems });
}

const isCursor = (v: unknown): v is { after: string } => typeof v === 'object' && v !== null && typeof (v as { after?: unknown }).after === 'string';
const isJournalCursor = (v: unknown): v is { before: number } => typeof v === 'object' && v !== null && Number.isInteger((v as { before?: unknown }).before);
const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export const userRoutes: FastifyPluginAsyncTypebox<{ users: UserStore; commands: UserCommands }> = async (app, { users, commands }) => {
  const viewFor = (request: FastifyRequest) => (u: User) => visible(request.principal, u, u.id);
  /**
   * After a change to who a user is (teams, role, disabled): their open live streams here follow
   * it now; other processes re-read within a couple of seconds (live-hub.ts).
   */
  const streamsFollow = (userId: string) => {
    if (!app.hasDecorator('live')) return;
    app.live.hub.refreshPrincipals([userId]).catch((err: unknown) => app.log.warn({ err }, 'live: streams could not follow a user change'));
  };

  app.get(
    '/v1/users',
    {
      config: { roles: PEOPLE },
      schema: {
        tags: ['users'],
        summary: 'List users, or look up some by id (?ids=a,b) (agents: the directory of enabled colleagues)',
        querystring: Type.Object(
          {
            ...PageQuery,
            role: Type.Optional(Role),
            team: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            presence: Type.Optional(Presence),
            disabled: Type.Optional(Type.Boolean({ description: 'true: only disabled users; false: only enabled ones; absent: both (agents: enabled only)' })),
            ids: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 20_000,
                description: `a lookup: only these user ids, separated by commas (at most ${MAX_LOOKUP_IDS}); ids the caller may not see, or that name no user, are left out`,
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(UserView) },
      },
    },
    async (request) => {
      const q = request.query;
      const after = readCursor(q.cursor, isCursor)?.after;
      const limit = q.limit ?? DEFAULT_PAGE_SIZE;
      const disabled = isSupervisor(request.principal) ? q.disabled : false;
      if (!isSupervisor(request.principal) && q.disabled === true) return { items: [], next_cursor: null };
      const ids = q.ids === undefined ? undefined : [...new Set(q.ids.split(',').map((s) => s.trim()).filter((s) => s.length > 0))];
      if (ids !== undefined && ids.length > MAX_LOOKUP_IDS) {
        throw new TesseraError('VALIDATION_FAILED', `querystring /ids names ${ids.length} ids; look up at most ${MAX_LOOKUP_IDS} at once`, {
          errors: [{ pointer: '/ids', in: 'querystring', detail: `at most ${MAX_LOOKUP_IDS} ids` }],
        });
      }
      // A lookup answers every id it found on one page (up to MAX_LOOKUP_IDS), whatever `limit` says.
      const page = await users.list({ limit: ids ? Math.max(limit, ids.length) : limit, afterId: after, role: q.role, team: q.team, presence: q.presence, disabled, ids });
      return { items: page.items.map(viewFor(request)), next_cursor: page.next === undefined ? null : cursorOf({ after: page.next }) };
    },
  );

  app.post(
    '/v1/users',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['users'],
        summary: 'Create a user (admin)',
        body: Type.Object(
          {
            id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'default: the username' })),
            username: Type.String({ minLength: 1, maxLength: 200 }),
            display_name: Name,
            role: Role,
            teams: Type.Optional(Teams),
            skills: Type.Optional(Skills),
            capacity: Type.Optional(Capacity),
            presence: Type.Optional(Presence),
            password: Type.Optional(Password),
            reason: Type.Optional(Reason),
          },
          { additionalProperties: false },
        ),
        response: { 201: UserView },
      },
    },
    async (request, reply) => {
      const b = request.body;
      if (b.password !== undefined) {
        const problems = passwordProblems(b.password);
        if (problems.length > 0) throw invalidPassword(problems);
      }
      const passwordHash = b.password === undefined ? undefined : await hashPassword(b.password);
      const response = await commands.create(idempotencyOf(request), {
        user: {
          id: b.id ?? b.username,
          username: b.username,
          displayName: b.display_name,
          role: b.role,
          ...(b.teams ? { teams: b.teams } : {}),
          ...(b.skills ? { skills: b.skills } : {}),
          ...(b.capacity ? { capacity: b.capacity } : {}),
          ...(b.presence ? { presence: b.presence } : {}),
        },
        ...(passwordHash ? { passwordHash } : {}),
        actor: { id: request.principal.userId, role: request.principal.role },
        ...(b.reason ? { reason: b.reason } : {}),
        view: userView,
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.get(
    '/v1/users/:id',
    {
      config: { roles: PEOPLE },
      schema: { tags: ['users'], summary: 'A user (agents: themselves in full, colleagues as a directory card); ETag "v<version>"', params: Params, response: { 200: UserView } },
    },
    async (request, reply) => {
      const user = await users.find(request.params.id);
      const view = visible(request.principal, user, request.params.id);
      if (user && 'version' in view) reply.header('etag', etag(user.version));
      return view;
    },
  );

  app.patch(
    '/v1/users/:id',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['users'],
        summary: 'Change a user (admin): display name, role, teams, skills, capacity; If-Match "v<version>"',
        params: Params,
        body: Type.Object(
          {
            display_name: Type.Optional(Name),
            role: Type.Optional(Role),
            teams: Type.Optional(Teams),
            skills: Type.Optional(Skills),
            capacity: Type.Optional(Capacity),
            reason: Type.Optional(Reason),
          },
          { additionalProperties: false },
        ),
        response: { 200: UserView },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const response = await commands.change(idempotencyOf(request), {
        userId: request.params.id,
        actor: { id: request.principal.userId, role: request.principal.role },
        reason: b.reason,
        expectedVersion: expectedVersionOf(request),
        command: {
          type: 'update',
          changes: {
            ...(b.display_name !== undefined ? { displayName: b.display_name } : {}),
            ...(b.role !== undefined ? { role: b.role } : {}),
            ...(b.teams !== undefined ? { teams: b.teams } : {}),
            ...(b.skills !== undefined ? { skills: b.skills } : {}),
            ...(b.capacity !== undefined ? { capacity: b.capacity } : {}),
          },
        },
        view: userView,
      });
      if (b.teams !== undefined || b.role !== undefined) streamsFollow(request.params.id);
      return sendWriteResponse(reply, response);
    },
  );

  app.post(
    '/v1/users/:id/presence',
    {
      config: { roles: PEOPLE },
      schema: {
        tags: ['users'],
        summary: 'Set presence: available, away (takes no new work) or offline — the user themselves, or a supervisor; journaled',
        params: Params,
        body: Type.Object({ presence: Presence, reason: Type.Optional(Reason) }, { additionalProperties: false }),
        response: { 200: UserView },
      },
    },
    async (request, reply) => {
      const p = request.principal;
      const response = await commands.change(idempotencyOf(request), {
        userId: request.params.id,
        actor: { id: p.userId, role: p.role },
        reason: request.body.reason,
        expectedVersion: expectedVersionOf(request),
        authorize: (u) => {
          if (isSupervisor(p) || isSelf(p, u.id)) return;
          if (u.disabledAt) throw notFound(u.id);
          throw new TesseraError('FORBIDDEN', 'Only the user themselves or a supervisor may set presence');
        },
        command: { type: 'set_presence', presence: request.body.presence },
        view: viewFor(request),
      });
      return sendWriteResponse(reply, response);
    },
  );

  for (const action of ['disable', 'enable'] as const) {
    app.post(
      `/v1/users/:id/${action}`,
      {
        config: { roles: ['admin'] },
        schema: {
          tags: ['users'],
          summary:
            action === 'disable'
              ? 'Disable a user (admin): their API keys and sessions stop working at once, presence goes offline; reason required'
              : 'Enable a disabled user (admin); their keys work again, sessions ended by the disable stay ended',
          params: Params,
          body: action === 'disable'
            ? Type.Object({ reason: Reason }, { additionalProperties: false })
            : Type.Union([Type.Object({ reason: Type.Optional(Reason) }, { additionalProperties: false }), Type.Null()]),
          response: { 200: UserView },
        },
      },
      async (request, reply) => {
        const body = request.body as { reason?: string } | null;
        const response = await commands.change(idempotencyOf(request), {
          userId: request.params.id,
          actor: { id: request.principal.userId, role: request.principal.role },
          reason: body?.reason,
          expectedVersion: expectedVersionOf(request),
          command: { type: action },
          view: userView,
        });
        if (action === 'disable') streamsFollow(request.params.id);
        return sendWriteResponse(reply, response);
      },
    );
  }

  app.put(
    '/v1/users/:id/password',
    {
      config: { roles: PEOPLE },
      schema: {
        tags: ['users'],
        summary: "Set a password: an admin for anyone, or the user themselves with current_password; ends the user's other sessions",
        params: Params,
        body: Type.Object({ password: Password, current_password: Type.Optional(Type.String({ maxLength: 4096 })) }, { additionalProperties: false }),
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const p = request.principal;
      const { id } = request.params;
      const b = request.body;
      const self = isSelf(p, id);
      if (!self && p.role !== 'admin') {
        const target = await users.find(id);
        if (!target || (target.disabledAt && !isSupervisor(p))) throw notFound(id);
        throw new TesseraError('FORBIDDEN', "Only an admin may set another user's password");
      }
      const problems = passwordProblems(b.password);
      if (problems.length > 0) throw invalidPassword(problems);
      if (self) {
        // Changing your own password needs the current one, even as an admin: a borrowed
        // session or key alone must not be able to lock its owner out.
        if (b.current_password === undefined) {
          throw new TesseraError('CURRENT_PASSWORD_WRONG', 'Send current_password to change your own password', { errors: [{ pointer: '/current_password', detail: 'is required to change your own password' }] });
        }
        const stored = await users.findPasswordHash(id);
        if (!(await verifyPassword(b.current_password, stored))) {
          request.log.warn({ event: 'password_change_refused', user_id: id }, 'password change refused: current password does not match');
          throw new TesseraError('CURRENT_PASSWORD_WRONG', 'current_password does not match; nothing was changed', { errors: [{ pointer: '/current_password', detail: 'does not match' }] });
        }
      }
      const passwordHash = await hashPassword(b.password);
      const response = await commands.change(idempotencyOf(request), {
        userId: id,
        actor: { id: p.userId, role: p.role },
        command: { type: 'set_password', passwordHash },
        keepSessionIdHash: self ? request.session?.idHash : undefined,
        view: () => undefined,
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.get(
    '/v1/users/:id/journal',
    {
      config: { roles: PEOPLE },
      schema: {
        tags: ['users'],
        summary: "A user's journal, newest first: every change with actor and reason (supervisors, admins, the user themselves)",
        params: Params,
        querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
        response: { 200: PageOf(JournalEntryView) },
      },
    },
    async (request) => {
      const p = request.principal;
      const { id } = request.params;
      if (!isSupervisor(p) && !isSelf(p, id)) {
        const target = await users.find(id);
        if (!target || target.disabledAt) throw notFound(id);
        throw new TesseraError('FORBIDDEN', "Only supervisors, admins and the user themselves read a user's journal");
      }
      if (!(await users.find(id))) throw notFound(id);
      const before = readCursor(request.query.cursor, isJournalCursor)?.before;
      const page = await users.journal(id, { limit: request.query.limit ?? DEFAULT_PAGE_SIZE, beforeVersion: before });
      return { items: page.items.map(journalView), next_cursor: page.next === undefined ? null : cursorOf({ before: page.next }) };
    },
  );
};
