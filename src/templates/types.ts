/**
 * Case templates (case-templates/*.yaml): what a kind of case must achieve, not how.
 * Versions are immutable; the stored copy of a version is what running cases use.
 */
import type { FragmentRef } from '../fragments/types.js';

export interface GoalSpec {
  key: string;
  title: string;
  /** CEL over { caseFile, milestones, fragments, case } that makes the goal achieved. */
  condition: string;
  required: boolean;
  /** Deadline as an ISO 8601 duration from case open (`PT1H`, `P2D`), if any. */
  deadline?: string;
}

export interface MilestoneSpec {
  key: string;
  title: string;
}

export interface CaseTemplate {
  key: string;
  version: number;
  title: string;
  description?: string;
  /** JSON Schema for the case file. */
  caseFileSchema: Record<string, unknown>;
  goals: GoalSpec[];
  milestones: MilestoneSpec[];
  /** Started when the case opens. */
  defaultFragments: FragmentRef[];
  /** Offered to workers on the planning table; any of these may be added at runtime. */
  discretionaryFragments: FragmentRef[];
  /** Roles that work this case type, e.g. agent, supervisor; and the default queue. */
  roles: string[];
  defaultQueue?: string;
  /** `auto`: resolve when all required goals are achieved; `owner`: wait for the owner to close. */
  resolution: 'auto' | 'owner';
}
