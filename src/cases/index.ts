/** The case aggregate: pure engine (`createEngine().decide`), types and the glossary. */
export { createEngine, type Engine, type EngineOptions } from './engine.js';
export { createEngineCache, type EngineCache } from './engine-cache.js';
export type { AcceptedEventsView } from './accepted-events.js';
export { defaultFragmentServices, type FragmentServices } from './fragment-services.js';
export type * from './types.js';
export { CASE_STATUSES, CONTENT_KINDS, FRAGMENT_STATUSES, GOAL_SLA_STATES, GOAL_STATUSES, PRIORITIES, ROLES, TASK_STATUSES } from './types.js';
