import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readFile } from 'node:fs/promises';
import { FragmentFileSchema } from '../../src/templates/fragment-file-schema.js';
import { formatProblems } from '../../src/templates/load-problem.js';
import { TemplateFileSchema } from '../../src/templates/template-file-schema.js';
import { toPointer } from '../../src/templates/build-catalog.js';
import { collectFragmentFacts } from '../../src/templates/fragment-facts.js';
import type { FragmentDefinition } from '../../src/fragments/types.js';

describe('published file schemas', () => {
  it('are plain JSON Schema with ids, closed at the top', () => {
    for (const schema of [TemplateFileSchema, FragmentFileSchema]) {
      const json = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
      expect(json.additionalProperties).toBe(false);
      expect(json.$id).toMatch(/^https:\/\/tessera\.dev\/schemas\//);
    }
  });

  it('validate the shipped files with any draft 2020-12 validator, and refuse unknown fields', async () => {
    const ajv = new Ajv2020({ strict: false });
    const template = ajv.compile(JSON.parse(JSON.stringify(TemplateFileSchema)) as object);
    const fragment = ajv.compile(JSON.parse(JSON.stringify(FragmentFileSchema)) as object);
    const social = parse(await readFile('case-templates/social-complaint.yaml', 'utf8')) as Record<string, unknown>;
    const reply = parse(await readFile('case-templates/fragments/public-reply.yaml', 'utf8')) as FragmentDefinition;
    expect(template(social)).toBe(true);
    expect(fragment(reply)).toBe(true);
    expect(template({ ...social, owner: 'x' })).toBe(false);
    const states = reply.machine.states as Record<string, Record<string, unknown>>;
    const nested = { ...reply, machine: { ...reply.machine, states: { ...states, drafting: { ...states.drafting, invoke: {} } } } };
    expect(fragment(nested)).toBe(false);
  });
});

describe('formatProblems', () => {
  it('prints file:line:col path: message, sorted, leaving out what is unknown', () => {
    const text = formatProblems([
      { code: 'SCHEMA', file: 'b.yaml', path: '/goals/0', line: 9, column: 3, message: 'second' },
      { code: 'READ_FAILED', file: 'c.yaml', path: '', message: 'third' },
      { code: 'SCHEMA', file: 'b.yaml', path: '/title', line: 2, column: 1, message: 'first' },
      { code: 'VERSION_CHANGED', file: 'a.yaml', path: '/version', message: 'zeroth' },
    ]);
    expect(text).toBe(
      ['a.yaml /version: zeroth', 'b.yaml:2:1 /title: first', 'b.yaml:9:3 /goals/0: second', 'c.yaml: third'].join('\n'),
    );
  });
});

describe('toPointer (validator paths to JSON pointers)', () => {
  const doc = { machine: { states: { a: { on: { 'refund.approved': [{ guard: 'x' }] }, after: { 'PT0.5S': 'b' } } } } };
  it('keeps dotted event types and delays whole by matching the document', () => {
    expect(toPointer('machine.states.a.on.refund.approved[0].guard', doc)).toBe('/machine/states/a/on/refund.approved/0/guard');
    expect(toPointer('machine.states.a.after.PT0.5S', doc)).toBe('/machine/states/a/after/PT0.5S');
  });
  it('passes pointers through and keeps unknown tails', () => {
    expect(toPointer('/machine/id', doc)).toBe('/machine/id');
    expect(toPointer('machine.states.zz.on', doc)).toBe('/machine/states/zz/on');
  });
});

describe('collectFragmentFacts', () => {
  it('lists milestones, emits, tasks and events of a shipped fragment', async () => {
    const def = parse(await readFile('case-templates/fragments/refund-approval.yaml', 'utf8')) as FragmentDefinition;
    const facts = collectFragmentFacts(def);
    expect(facts.milestones).toEqual(['refund_issued']);
    expect(facts.emits).toEqual(['refund.approval_overdue', 'refund.issued', 'refund.requested']);
    expect(facts.tasks.map((t) => [t.state, t.task.role, t.task.event])).toEqual([
      ['preparing', 'agent', 'REFUND_PREPARED'],
      ['approving', 'supervisor', 'REFUND_REVIEWED'],
      ['failed', 'agent', 'REFUND_FAILURE_HANDLED'],
    ]);
    expect(facts.events).toEqual(expect.arrayContaining(['REFUND_ISSUED', 'REFUND_FAILED']));
  });
});
