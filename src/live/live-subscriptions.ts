/**
 * What a stream may watch, checked once at the edge (connect and PUT): case ids, lists (`inbox`,
 * `queues` = the user's teams, `queue:<name>`), tiles. Agents may watch only their own teams'
 * queues and no tiles (supervisor views); a refusal is a 4xx naming the field before anything starts.
 */
import { TesseraError } from '../errors.js';
import type { Principal } from '../persistence/api-key-store.js';
import type { Subscriptions } from './live-stream.js';

export const MAX_WATCHED_CASES = 50;
export const MAX_LISTS = 20;
const CASE_ID = /^[^\s,]{1,200}$/;
const QUEUE = /^queue:([^\s,]{1,200})$/;

export interface RequestedSubscriptions {
  cases: readonly string[];
  lists: readonly string[];
  tiles: boolean;
}

/** `a,b,,c` -> ['a', 'b', 'c']. */
export function commaList(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

function invalid(where: 'querystring' | 'body', name: string, detail: string): TesseraError {
  return new TesseraError('VALIDATION_FAILED', `${where} /${name} ${detail}`, { errors: [{ pointer: `/${name}`, in: where, detail }] });
}

/**
 * The subscriptions a stream keeps after its user's teams or role changed: `queues` follows the
 * teams, an agent loses queues of teams they left and the tiles. Cases need nothing here: each
 * change is checked against the current principal as it is delivered.
 */
export function followPrincipal(principal: Principal, current: Subscriptions, previousTeams: readonly string[]): Subscriptions {
  const lists = new Set<string>();
  for (const list of current.lists) {
    const queue = QUEUE.exec(list)?.[1];
    if (queue === undefined) lists.add(list);
    else if (current.teamQueues && previousTeams.includes(queue) && !principal.teams.includes(queue)) continue;
    else if (principal.role === 'agent' && !principal.teams.includes(queue)) continue;
    else lists.add(list);
  }
  if (current.teamQueues) for (const team of principal.teams) lists.add(`queue:${team}`);
  return { cases: current.cases, lists: [...lists].slice(0, MAX_LISTS), tiles: current.tiles && principal.role !== 'agent', teamQueues: current.teamQueues === true };
}

export function checkSubscriptions(principal: Principal, requested: RequestedSubscriptions, where: 'querystring' | 'body'): Subscriptions {
  const cases = [...new Set(requested.cases)];
  if (cases.length > MAX_WATCHED_CASES) throw invalid(where, 'cases', `names ${cases.length} cases; watch at most ${MAX_WATCHED_CASES} on one stream`);
  const bad = cases.find((id) => !CASE_ID.test(id));
  if (bad !== undefined) throw invalid(where, 'cases', `contains "${bad.slice(0, 40)}", which is not a case id; send case ids separated by commas`);

  const lists = new Set<string>();
  for (const name of requested.lists) {
    if (name === 'inbox') lists.add('inbox');
    else if (name === 'queues') for (const team of principal.teams) lists.add(`queue:${team}`);
    else {
      const queue = QUEUE.exec(name)?.[1];
      if (queue === undefined) throw invalid(where, 'lists', `contains "${name.slice(0, 40)}"; lists are inbox, queues (your teams) or queue:<name>`);
      if (principal.role === 'agent' && !principal.teams.includes(queue)) {
        throw new TesseraError('FORBIDDEN', `lists: queue:${queue} is not one of your teams (${principal.teams.join(', ') || 'none'}); agents watch their own teams' queues`, {
          errors: [{ pointer: '/lists', in: where, detail: `queue ${queue} is not one of your teams` }],
        });
      }
      lists.add(`queue:${queue}`);
    }
  }
  if (lists.size > MAX_LISTS) throw invalid(where, 'lists', `names ${lists.size} lists; watch at most ${MAX_LISTS}`);
  if (requested.tiles && principal.role === 'agent') {
    throw new TesseraError('FORBIDDEN', 'tiles: the SLA tiles are a supervisor view; watch your inbox and queues instead', {
      errors: [{ pointer: '/tiles', in: where, detail: 'needs the supervisor or admin role' }],
    });
  }
  return { cases, lists: [...lists], tiles: requested.tiles, teamQueues: requested.lists.includes('queues') };
}
