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
 *
 * The other is the disk. Every commit waits until its WAL is flushed (fdatasync), and on these
 * VMs' virtual disk a flush that usually takes 0.1–0.3 ms now and then takes 30–800 ms, with
 * nothing else running (2026-12-03: 9 flushes over 20 ms in 20 s at 200 flushes/s, the longest
 * 826 ms). While one flush is stuck, every commit behind it waits, so every request in flight
 * does. `startFlushProbe` flushes a file on the database's filesystem a few times a second
 * during a step, and `burstsOnStalls` counts the slow bursts that a stuck flush explains.
 */
import { open, readdir, readFile, rm } from 'node:fs/promises';
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

/** A flush of the probe's file that took longer than the probe's threshold. */
export interface FlushStall {
  /** performance.now() when the flush began. */
  at: number;
  ms: number;
}

export interface FlushProbeResult {
  flushes: number;
  p50Ms: number;
  maxMs: number;
  stalls: FlushStall[];
}

export interface FlushProbe {
  /** Ends the probe, deletes its file and reports. */
  stop(): Promise<FlushProbeResult>;
}

/**
 * Writes 8 kB to a file in `dir` and fdatasyncs it, `perSecond` times a second (one at a time,
 * as the WAL writer does), until stopped: what a commit's flush meets on that filesystem. A few
 * dozen flushes a second add nothing a database under load would notice.
 */
export async function startFlushProbe(dir: string, perSecond = 50, stallMs = 20): Promise<FlushProbe> {
  const file = path.join(dir, `.tessera-flush-probe-${process.pid}`);
  const handle = await open(file, 'w');
  const block = Buffer.alloc(8192, 0x5a);
  const times: number[] = [];
  const stalls: FlushStall[] = [];
  let stopped = false;
  const loop = (async () => {
    const started = performance.now();
    for (let i = 0; !stopped; i++) {
      const at = performance.now();
      // A ring of 2 MB: the file stays small, every write still dirties a block to flush.
      await handle.write(block, 0, block.length, (i % 256) * block.length);
      await handle.datasync();
      const ms = performance.now() - at;
      times.push(ms);
      if (ms > stallMs) stalls.push({ at, ms });
      const next = started + ((i + 1) * 1000) / perSecond;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop.finally(async () => {
        await handle.close();
        await rm(file, { force: true });
      });
      const sorted = [...times].sort((a, b) => a - b);
      return { flushes: times.length, p50Ms: sorted[Math.floor(sorted.length / 2)] ?? 0, maxMs: sorted[sorted.length - 1] ?? 0, stalls };
    },
  };
}

/**
 * The bursts of slow requests (`at_ms`: the first one's intended send time after `origin`, a
 * performance.now() value; `worst_ms` its worst latency) that overlap a stuck flush: a request
 * that was in flight while a flush was stuck waited for it.
 */
export function burstsOnStalls(
  bursts: readonly { at_ms: number; requests: number; worst_ms: number }[],
  origin: number,
  stalls: readonly FlushStall[],
): { bursts: number; requests: number } {
  let count = 0;
  let requests = 0;
  for (const b of bursts) {
    const from = origin + b.at_ms;
    const to = from + b.worst_ms;
    if (stalls.some((s) => s.at <= to && s.at + s.ms >= from)) {
      count += 1;
      requests += b.requests;
    }
  }
  return { bursts: count, requests };
}
