/** The user aggregate, pure: decisions, journal entries, and what a refusal leaves alone. */
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../src/errors.js';
import { decideUser, lowerRole, roleWithin, type User } from '../../src/people/user.js';

const now = new Date('2026-03-02T09:00:00Z');
const ctx = { actor: { id: 'root', role: 'admin' }, now };
const created = decideUser(undefined, { type: 'create', user: { id: 'ada', username: 'ada', displayName: 'Ada', role: 'agent', teams: ['billing'], skills: { refunds: 3 } } }, ctx);
const ada: User = created.user;

function refusal(fn: () => unknown): TesseraError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TesseraError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('decideUser', () => {
  it('creates with defaults (offline, capacity 5) and a journal entry at version 1', () => {
    expect(ada).toMatchObject({ version: 1, presence: 'offline', capacity: { default: 5 }, disabledAt: null, hasPassword: false });
    expect(created.entry).toMatchObject({ userId: 'ada', version: 1, type: 'user.created', actorId: 'root', at: now });
    expect(created.revokeSessions).toBe(false);
  });

  it('journals only the fields that changed, as from/to', () => {
    const d = decideUser(ada, { type: 'update', changes: { skills: { refunds: 4 }, teams: ['billing'], displayName: 'Ada L.' } }, { ...ctx, reason: 'promoted' });
    expect(d.user).toMatchObject({ version: 2, skills: { refunds: 4 }, displayName: 'Ada L.' });
    expect(d.entry).toMatchObject({ type: 'user.updated', reason: 'promoted', data: { skills: { from: { refunds: 3 }, to: { refunds: 4 } }, display_name: { from: 'Ada', to: 'Ada L.' } } });
    expect(d.entry.data).not.toHaveProperty('teams');
  });

  it('refuses levels outside 1-5 and capacities below 1, naming each field, without touching the user', () => {
    const before = structuredClone(ada);
    const err = refusal(() => decideUser(ada, { type: 'update', changes: { skills: { refunds: 6, chat: 0 }, capacity: { default: 0 } } }, ctx));
    expect(err.code).toBe('INVALID_USER');
    expect((err.details!.errors as { pointer: string }[]).map((e) => e.pointer)).toEqual(['/skills/refunds', '/skills/chat', '/capacity/default']);
    expect(ada).toEqual(before);
  });

  it('disable ends sessions and sets presence offline; a disabled user takes no presence change', () => {
    const online = decideUser(ada, { type: 'set_presence', presence: 'available' }, { ...ctx, actor: { id: 'ada', role: 'agent' } }).user;
    const d = decideUser(online, { type: 'disable' }, ctx);
    expect(d).toMatchObject({ revokeSessions: true, user: { presence: 'offline', disabledAt: now } });
    expect(refusal(() => decideUser(d.user, { type: 'set_presence', presence: 'available' }, ctx)).code).toBe('USER_DISABLED');
    expect(refusal(() => decideUser(d.user, { type: 'disable' }, ctx)).code).toBe('USER_DISABLED');
    expect(decideUser(d.user, { type: 'enable' }, ctx).user.disabledAt).toBeNull();
  });

  it('nobody disables themselves', () => {
    expect(refusal(() => decideUser(ada, { type: 'disable' }, { ...ctx, actor: { id: 'ada', role: 'admin' } })).code).toBe('INVALID_USER');
  });

  it('a password change ends sessions and never puts the hash in the journal', () => {
    const d = decideUser(ada, { type: 'set_password', passwordHash: 'scrypt$secret' }, ctx);
    expect(d).toMatchObject({ revokeSessions: true, passwordHash: 'scrypt$secret', user: { hasPassword: true } });
    expect(JSON.stringify(d.entry)).not.toContain('scrypt');
  });
});

describe('roles', () => {
  it('orders agent < supervisor < admin', () => {
    expect(roleWithin('agent', 'supervisor')).toBe(true);
    expect(roleWithin('admin', 'supervisor')).toBe(false);
    expect(lowerRole('admin', 'agent')).toBe('agent');
  });
});
