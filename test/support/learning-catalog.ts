/**
 * A catalog directory of the test's own for the learning loop: one template (a unique key, so
 * publishing its next version in the shared test database changes nothing another test opens)
 * with a default fragment that resolves the case on FINISH and a discretionary one.
 */
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface LearningCatalog {
  dir: string;
  template: string;
  finish: string;
  extra: string;
}

export async function createLearningCatalog(): Promise<LearningCatalog> {
  const suffix = randomBytes(4).toString('hex').replace(/^[0-9]/, 'a');
  const template = `learn${suffix}`;
  const finish = `${template}-finish`;
  const extra = `${template}-extra`;
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-learn-'));
  await mkdir(path.join(dir, 'fragments'));
  await writeFile(
    path.join(dir, `${template}.yaml`),
    `key: ${template}
version: 1
title: Learning loop test
caseFileSchema:
  type: object
  properties:
    tier: { type: string, enum: [gold, silver] }
goals:
  - key: done
    title: Done within a day
    condition: "'done' in milestones"
    required: true
    deadline: P1D
milestones:
  - { key: done, title: Done }
defaultFragments: [${finish}@1]
discretionaryFragments: [${extra}@1]
roles: [agent, supervisor]
resolution: auto
`,
  );
  await writeFile(
    path.join(dir, 'fragments', `${finish}.yaml`),
    `key: ${finish}
version: 1
title: Finish
machine:
  id: ${finish}
  initial: waiting
  states:
    waiting:
      on:
        FINISH: { target: done, actions: [{ type: setMilestone, params: { key: done } }] }
    done: { type: final }
`,
  );
  await writeFile(
    path.join(dir, 'fragments', `${extra}.yaml`),
    `key: ${extra}
version: 1
title: Extra check
machine:
  id: ${extra}
  initial: checking
  states:
    checking:
      on:
        CHECKED: done
    done: { type: final }
`,
  );
  return { dir, template, finish, extra };
}

/** An inline fragment (POST /v1/cases/:id/fragments { definition }) with one task for an agent. */
export function inlineSupplierCall(title: string) {
  return {
    title,
    machine: {
      id: 'supplier-call',
      initial: 'calling',
      states: {
        calling: { tags: ['task'], meta: { task: { title: 'Call the supplier', role: 'agent', event: 'CALLED' } }, on: { CALLED: 'done' } },
        done: { type: 'final' },
      },
    },
  };
}
