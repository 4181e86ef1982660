/** The customer aggregate: pure (no I/O, no clock). */
export * from './types.js';
export { decideCustomer, decideMerge, foldActivities, newCustomer, type MergeDecision } from './decide.js';
export { normaliseIdentity, describeIdentity, sameIdentity, type NormalisedIdentity } from './identity.js';
export { validateActivities, isRfc3339, type FieldProblem } from './activity.js';
export { customerSnapshot } from './snapshot.js';
