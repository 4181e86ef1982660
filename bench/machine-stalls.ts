/**
 * What the machine itself does that stalls every process on it, so `npm run load` can tell
 * Tessera's tail latency from the host's.
 *
 * The one found so far is DAMON, the kernel's data access monitor. The VMs these benches run on
 * start a `kdamond` thread for proactive reclaim (operations `paddr`, sampling every 500 ms).
 * Every sample, it checks and clears the accessed bit of a page in each of its up to 8,192
 * regions of physical memory. That costs 15–25 ms of kernel time in one burst. Requests that are
 * in flight during a burst wait 20–40 ms, even at 63 requests/s, with a CPU to spare. On
 * 2026-12-02, setting its `sample_us` from 500,000 to 1,000,000 moved the load test's stall
 * period from 540 ms to 1,063 ms (README Performance).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

const DAMON_ADMIN = '/sys/kernel/mm/damon/admin/kdamonds';
/** Linux reports /proc/<pid>/stat times in USER_HZ ticks: 100 a second on every mainstream build. */
const USER_HZ = 100;

export interface DamonMonitor {
  /** The kdamond's index under the sysfs admin interface. */
  id: string;
  state: string;
  pid: number | undefined;
  /** The sampling interval of its first context (ms); the period of its bursts. */
  sampleMs: number | undefined;
}

const readText = (file: string) => readFile(file, 'utf8').then((t) => t.trim(), () => undefined);

/** The running DAMON monitors (none where DAMON or its sysfs interface is absent). */
export async function readDamonMonitors(root = DAMON_ADMIN): Promise<DamonMonitor[]> {
  const ids = await readdir(root).catch(() => [] as string[]);
  const monitors: DamonMonitor[] = [];
  for (const id of ids.filter((name) => /^\d+$/.test(name)).sort()) {
    const dir = path.join(root, id);
    const state = (await readText(path.join(dir, 'state'))) ?? 'unknown';
    const pid = Number(await readText(path.join(dir, 'pid')));
    const sampleUs = Number(await readText(path.join(dir, 'contexts/0/monitoring_attrs/intervals/sample_us')));
    monitors.push({ id, state, pid: pid > 0 ? pid : undefined, sampleMs: sampleUs > 0 ? sampleUs / 1000 : undefined });
  }
  return monitors.filter((m) => m.state === 'on');
}

/** CPU time (user + system, ms) a process has used so far; undefined when it cannot be read. */
export async function cpuMsOf(pid: number): Promise<number | undefined> {
  const stat = await readText(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // The name field is in parentheses and may hold spaces: count fields after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5) (utime, stime) are the 12th and 13th after the name.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? (ticks * 1000) / USER_HZ : undefined;
}

/**
 * The period of recurring bursts, from the intervals between them: the longest period that at
 * least `share` of the intervals are a whole multiple of (1 to 4 times, within 6%). A stall that
 * recurs every P ms but does not slow a request every time shows gaps of P, 2P, 3P; the longest
 * fitting period is P, not P/2. Undefined when no period fits (the slow requests are scattered:
 * load, not a timer).
 */
export function recurringPeriod(gapsMs: readonly number[], share = 0.7): number | undefined {
  const gaps = gapsMs.filter((g) => g > 0);
  if (gaps.length < 4) return undefined;
  const fits = (period: number, gap: number) => {
    const k = Math.round(gap / period);
    return k >= 1 && k <= 4 && Math.abs(gap - k * period) <= 0.06 * k * period;
  };
  for (let period = Math.max(...gaps); period >= 50; period -= 1) {
    // Gaps much shorter than the period (two bursts of one stall) are left out, as long as they
    // are the minority: a period that only the few longest gaps fit is no period.
    const considered = gaps.filter((g) => g >= 0.5 * period);
    if (considered.length >= Math.max(4, 0.5 * gaps.length) && considered.filter((g) => fits(period, g)).length >= share * considered.length) {
      // The best-fitting period near this one: the median of the single-period gaps.
      const single = considered.filter((g) => Math.round(g / period) === 1).sort((a, b) => a - b);
      return single.length > 0 ? single[Math.floor(single.length / 2)]! : period;
    }
  }
  return undefined;
}

/** The DAMON monitor whose sampling explains a burst period (a burst runs ~5–15% past its interval). */
export function damonBehind(periodMs: number | undefined, monitors: readonly DamonMonitor[]): DamonMonitor | undefined {
  if (periodMs === undefined) return undefined;
  return monitors.find((m) => m.sampleMs !== undefined && periodMs >= 0.97 * m.sampleMs && periodMs <= 1.25 * m.sampleMs);
}
