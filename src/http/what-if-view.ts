/** The answer to a dry run (`dry_run: true` on an adaptation command): see commands/what-if.ts. */
import { Type } from 'typebox';
import { CaseView } from './schemas.js';

const Loose = (description: string) => Type.Object({}, { additionalProperties: true, description });

export const WhatIfView = Type.Object(
  {
    dry_run: Type.Literal(true),
    case: Type.Intersect([CaseView], { description: 'The case as it is: unchanged (the ETag is its version)' }),
    plan: Loose('The plan after the command, the shape GET /v1/cases/:id/plan answers: fragments and states, goals with SLA, open tasks, milestones'),
    result: Loose("The command's result as the real command would answer it, with dry_run: true"),
    goals_projection: Type.Array(
      Loose('Per open goal: deadline_at, sla, projected_done_at and projected_sla (from the medians of the running fragments in resolved cases), basis'),
    ),
    capacity: Type.Array(
      Type.Object({
        user_id: Type.String(),
        used_before: Type.Number(),
        used_after: Type.Number(),
        limit: Type.Union([Type.Number(), Type.Null()]),
        over_capacity: Type.Boolean(),
      }),
      { description: 'The people the command touches: units of open task effort they hold now and after it, against their capacity' },
    ),
  },
  { description: 'What the command would do; nothing was written' },
);
