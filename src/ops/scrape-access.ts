/**
 * Who may read /metrics: a scraper with TESSERA_METRICS_TOKEN, the bootstrap admin key, or an
 * admin API key. Metrics name templates and queues, never personal data, but they do tell an
 * outsider how busy the deployment is — so they are not public.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const BEARER = /^Bearer\s+(\S+)$/i;

function same(a: string, b: string): boolean {
  // Equal-length digests, so the comparison takes the same time whatever the input.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export interface ScrapeAccess {
  metricsToken: string | undefined;
  adminKey: string | undefined;
  /** The role of an API key (null: unknown or revoked). Absent: only the tokens above are accepted. */
  roleOfKey?: (key: string) => Promise<string | null>;
}

export type ScrapeVerdict = 'ok' | 'unauthenticated' | 'forbidden';

export async function checkScrape(authorization: string | undefined, access: ScrapeAccess): Promise<ScrapeVerdict> {
  const match = authorization ? BEARER.exec(authorization) : null;
  if (!match) return 'unauthenticated';
  const key = match[1]!;
  if (access.metricsToken !== undefined && same(key, access.metricsToken)) return 'ok';
  if (access.adminKey !== undefined && same(key, access.adminKey)) return 'ok';
  const role = access.roleOfKey ? await access.roleOfKey(key) : null;
  if (role === null) return 'unauthenticated';
  return role === 'admin' ? 'ok' : 'forbidden';
}
