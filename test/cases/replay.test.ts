import { describe, expect, it } from 'vitest';
import type { CaseState, Command } from '../../src/cases/types.js';
import { TIMER, createHarness, fragmentByKey, openTask } from './harness.js';

/** A scripted case life; each step derives its command from the case so far. */
function script(): ((c: CaseState) => Command)[] {
  return [
    () => ({ type: 'fragment.add', source: { kind: 'library', ref: 'refund@1' }, reason: 'refund asked' }),
    (c) => ({ type: 'task.claim', taskId: openTask(c, 'triage').id }),
    (c) => ({ type: 'task.complete', taskId: openTask(c, 'triage').id, output: { severity: 'high' } }),
    () => ({ type: 'content.add', kind: 'note', data: { text: 'called the customer' } }),
    (c) => ({ type: 'timer.fire', timerId: Object.values(fragmentByKey(c, 'intake').pendingTimers ?? {})[0]! }),
    (c) => ({ type: 'fragment.migrate', fragmentId: fragmentByKey(c, 'refund').id, to: 'refund@2', stateMapping: { review: 'assess' }, reason: 'v2' }),
    () => ({ type: 'event.send', event: { type: 'REPLY' } }),
  ];
}

function run() {
  const h = createHarness();
  let c = h.open();
  const versions = [c.version];
  const decisions = [];
  for (const step of script()) {
    h.advance(61_000);
    const command = step(c);
    const d = h.ok(c, command, command.type === 'timer.fire' ? TIMER : undefined);
    decisions.push(d);
    c = d.case;
    versions.push(c.version);
  }
  return { c, versions, decisions };
}

describe('replay', () => {
  it('the same commands at the same times give the same decisions (the engine is a fold)', () => {
    const a = run();
    const b = run();
    expect(a.decisions).toEqual(b.decisions);
    expect(a.versions).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(a.c.status).toBe('resolved');
    expect(a.c.priority).toBe('high');
  });
});
