/**
 * The rules on a user's fields that a JSON Schema does not say well: skill levels 1-5,
 * capacities positive integers, team and skill names. Each problem names its field as a JSON
 * pointer into the request body, so a 422 says exactly what to fix. Pure.
 */
export interface UserFields {
  id?: string | undefined;
  username?: string | undefined;
  displayName?: string | undefined;
  teams?: readonly string[] | undefined;
  skills?: Record<string, number> | undefined;
  capacity?: Record<string, number> | undefined;
}

export interface FieldProblem {
  pointer: string;
  detail: string;
}

/** Usernames and ids: what fits in a URL path and a log line unescaped. */
export const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/;
/** Queue names: no spaces or commas (the CLI takes comma-separated lists), 1-200 characters. */
export const TEAM_NAME = /^[^\s,]{1,200}$/;
/** Skill names and kinds of work. */
export const SKILL_NAME = /^[a-z0-9][a-z0-9_.-]{0,99}$/;

export const MAX_TEAMS = 50;
export const MAX_SKILLS = 100;
export const MAX_SKILL_LEVEL = 5;
export const MAX_CAPACITY = 1000;

const escape = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');
const isInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

export function userProblems(f: UserFields): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (f.id !== undefined && !USERNAME.test(f.id)) {
    problems.push({ pointer: '/id', detail: 'must be 1-100 letters, digits, ".", "_", "@" or "-", starting with a letter or digit' });
  }
  if (f.username !== undefined && !USERNAME.test(f.username)) {
    problems.push({ pointer: '/username', detail: 'must be 1-100 letters, digits, ".", "_", "@" or "-", starting with a letter or digit' });
  }
  if (f.displayName !== undefined && f.displayName.trim() === '') {
    problems.push({ pointer: '/display_name', detail: 'must not be blank' });
  }
  if (f.teams !== undefined) {
    if (f.teams.length > MAX_TEAMS) problems.push({ pointer: '/teams', detail: `must list at most ${MAX_TEAMS} teams` });
    f.teams.forEach((team, i) => {
      if (!TEAM_NAME.test(team)) problems.push({ pointer: `/teams/${i}`, detail: 'must be a queue name of 1-200 characters without spaces or commas' });
    });
    if (new Set(f.teams).size !== f.teams.length) problems.push({ pointer: '/teams', detail: 'must not list a team twice' });
  }
  if (f.skills !== undefined) {
    const entries = Object.entries(f.skills);
    if (entries.length > MAX_SKILLS) problems.push({ pointer: '/skills', detail: `must list at most ${MAX_SKILLS} skills` });
    for (const [skill, level] of entries) {
      if (!SKILL_NAME.test(skill)) problems.push({ pointer: `/skills/${escape(skill)}`, detail: 'skill names are 1-100 lower-case letters, digits, "_", "." or "-"' });
      else if (!isInteger(level) || level < 1 || level > MAX_SKILL_LEVEL) {
        problems.push({ pointer: `/skills/${escape(skill)}`, detail: `must be a level from 1 to ${MAX_SKILL_LEVEL} (got ${JSON.stringify(level)})` });
      }
    }
  }
  if (f.capacity !== undefined) {
    const entries = Object.entries(f.capacity);
    if (entries.length > MAX_SKILLS) problems.push({ pointer: '/capacity', detail: `must list at most ${MAX_SKILLS} kinds of work` });
    for (const [kind, units] of entries) {
      if (!SKILL_NAME.test(kind)) problems.push({ pointer: `/capacity/${escape(kind)}`, detail: 'kinds of work are 1-100 lower-case letters, digits, "_", "." or "-" (or "default")' });
      else if (!isInteger(units) || units < 1 || units > MAX_CAPACITY) {
        problems.push({ pointer: `/capacity/${escape(kind)}`, detail: `must be a whole number of work units from 1 to ${MAX_CAPACITY} (got ${JSON.stringify(units)})` });
      }
    }
  }
  return problems;
}
