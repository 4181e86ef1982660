/**
 * The `deviation:` block of a case template: a proactive case of this template opens for a
 * customer whose activity is overdue by their own rhythm (src/customers/behaviour-deviation.ts).
 *
 * The schema is shape only; what makes sense (k > 1, minEvents >= 2, known activity kinds,
 * priority thresholds in descending order) is checked by `deviationProblems`, which names the fix.
 */
import Type, { type Static } from 'typebox';
import type { DeviationRule } from '../customers/behaviour-deviation.js';
import type { Priority } from '../cases/types.js';

/**
 * Activity kinds a customer's history records (the customer aggregate's `ACTIVITY_KINDS`). A rule
 * over a kind nothing records would never arm: refused at load.
 */
export const DEVIATION_ACTIVITY_KINDS = ['purchase', 'refund', 'contact', 'login', 'visit', 'referral', 'subscription', 'cancellation'] as const;

const Priority = Type.Union([Type.Literal('low'), Type.Literal('normal'), Type.Literal('high'), Type.Literal('urgent')], {
  description: 'Case priority.',
});

export const DeviationSpecSchema = Type.Object(
  {
    kinds: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
      minItems: 1,
      maxItems: 8,
      description: `Activity kinds that form the series (${DEVIATION_ACTIVITY_KINDS.join(', ')}); several kinds count as one series.`,
    }),
    k: Type.Number({ description: 'Overdue factor: the trip wire is last + k x own mean gap; > 1 (Novo: 1.25).' }),
    minEvents: Type.Integer({ description: 'Events needed for an own mean gap; >= 2 (Novo: 3).' }),
    minValue: Type.Number({ description: "Minimum lifetime value of the customer; below it nothing is armed." }),
    fallback: Type.Optional(
      Type.Union([Type.Literal('none'), Type.Literal('population')], {
        description: 'population: customers with fewer than minEvents events are expected at last + L_n (the population latency). Default none.',
      }),
    ),
    priority: Type.Optional(Priority),
    priorityByValue: Type.Optional(
      Type.Array(
        Type.Object(
          {
            percentile: Type.Number({ description: "The customer's value percentile over the customer base, in [0, 1]." }),
            priority: Priority,
          },
          { additionalProperties: false },
        ),
        { maxItems: 8, description: 'First entry whose percentile the customer reaches sets the priority; descending percentiles.' },
      ),
    ),
  },
  { additionalProperties: false, description: 'Open a proactive case of this template when a customer is overdue by their own rhythm.' },
);

export type DeviationSpec = Static<typeof DeviationSpecSchema>;

/** The rule a checked `deviation:` block describes, with defaults filled in. */
export function deviationRuleOf(spec: DeviationSpec): DeviationRule {
  return {
    kinds: [...spec.kinds].sort(),
    k: spec.k,
    minEvents: spec.minEvents,
    minValue: spec.minValue,
    fallback: spec.fallback ?? 'none',
    priority: (spec.priority ?? 'normal') as Priority,
    priorityByValue: (spec.priorityByValue ?? []).map((e) => ({ percentile: e.percentile, priority: e.priority as Priority })),
  };
}

/** What does not make sense in a `deviation:` block, as JSON pointers (under `/deviation`) with the fix. */
export function deviationProblems(spec: DeviationSpec): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const known = new Set<string>(DEVIATION_ACTIVITY_KINDS);
  const seen = new Set<string>();
  spec.kinds.forEach((kind, i) => {
    if (!known.has(kind)) {
      problems.push({ path: `/deviation/kinds/${i}`, message: `unknown activity kind \`${kind}\`; customers record ${DEVIATION_ACTIVITY_KINDS.join(', ')}` });
    } else if (seen.has(kind)) {
      problems.push({ path: `/deviation/kinds/${i}`, message: `activity kind \`${kind}\` is listed twice` });
    }
    seen.add(kind);
  });
  if (!(spec.k > 1)) {
    problems.push({
      path: '/deviation/k',
      message: `k is ${spec.k}, but the trip wire is last + k x the customer's own mean gap: with k <= 1 it fires before the customer is even late; use a value above 1 (Novo uses 1.25)`,
    });
  } else if (spec.k > 100) {
    problems.push({ path: '/deviation/k', message: `k is ${spec.k}: a trip wire at more than 100 mean gaps never fires in time; use a value between 1 and 100 (Novo uses 1.25)` });
  }
  if (spec.minEvents < 2) {
    problems.push({ path: '/deviation/minEvents', message: `minEvents is ${spec.minEvents}, but a mean gap needs at least two events; use 2 or more (Novo uses 3)` });
  } else if (spec.minEvents > 1000) {
    problems.push({ path: '/deviation/minEvents', message: `minEvents is ${spec.minEvents}; use at most 1000` });
  }
  if (!(spec.minValue >= 0)) {
    problems.push({ path: '/deviation/minValue', message: `minValue is ${spec.minValue}; a lifetime value threshold is 0 or more (0: every customer)` });
  }
  let previous = Infinity;
  (spec.priorityByValue ?? []).forEach((entry, i) => {
    if (!(entry.percentile >= 0 && entry.percentile <= 1)) {
      problems.push({ path: `/deviation/priorityByValue/${i}/percentile`, message: `percentile ${entry.percentile} is outside [0, 1]; write 0.9 for the top 10 %` });
    } else if (entry.percentile >= previous) {
      problems.push({
        path: `/deviation/priorityByValue/${i}/percentile`,
        message: `percentile ${entry.percentile} is not below the one before (${previous}); list entries from the highest percentile down (the first reached wins)`,
      });
    }
    previous = entry.percentile;
  });
  return problems;
}
