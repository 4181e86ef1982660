import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { burstsOnStalls, cpuMsOf, damonBehind, readDamonMonitors, recurringPeriod, startFlushProbe } from '../../bench/machine-stalls.js';

describe('the load test\'s stall finder', () => {
  it('finds the period of a stall that does not slow a request every time', () => {
    // Intervals between slow bursts measured at 125 requests/s on 2026-12-02 (kdamond sampling every 500 ms).
    const gaps = [600, 384, 160, 440, 104, 584, 536, 544, 544, 544, 560, 560, 544, 552, 568, 544, 552, 536, 544, 544, 544, 552, 568, 112, 432, 552, 568, 584, 472, 96, 576, 576, 576, 568, 584, 584, 368, 208, 568, 584];
    expect(recurringPeriod(gaps)).toBeGreaterThanOrEqual(540);
    expect(recurringPeriod(gaps)).toBeLessThanOrEqual(570);
    // Bursts that skip periods: 2P and 3P gaps still give P, not 2P or P/2.
    expect(recurringPeriod([1079, 540, 1047, 540, 524, 539, 540, 540, 1620, 540])).toBe(540);
    // The sampling interval set to 1 s.
    expect(recurringPeriod([1063, 2126, 1063, 1063, 3189, 1063, 1062, 1064])).toBe(1063);
  });

  it('finds no period in scattered slow requests (load, not a timer)', () => {
    expect(recurringPeriod([130, 870, 2210, 45, 610, 1490, 333, 980, 1720, 260])).toBeUndefined();
    expect(recurringPeriod([540, 540])).toBeUndefined();
  });

  it('names the DAMON monitor whose sampling matches, and only that', () => {
    const monitors = [{ id: '0', state: 'on', pid: 78, sampleMs: 500 }];
    expect(damonBehind(540, monitors)?.pid).toBe(78);
    expect(damonBehind(1063, monitors)).toBeUndefined();
    expect(damonBehind(300, monitors)).toBeUndefined();
    expect(damonBehind(undefined, monitors)).toBeUndefined();
  });

  it('reads DAMON monitors from the sysfs admin layout, skipping stopped ones', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'damon-'));
    const kdamond = async (id: string, state: string, pid: string, sampleUs: string) => {
      const dir = path.join(root, id);
      await mkdir(path.join(dir, 'contexts/0/monitoring_attrs/intervals'), { recursive: true });
      await writeFile(path.join(dir, 'state'), `${state}\n`);
      await writeFile(path.join(dir, 'pid'), `${pid}\n`);
      await writeFile(path.join(dir, 'contexts/0/monitoring_attrs/intervals/sample_us'), `${sampleUs}\n`);
    };
    await kdamond('0', 'on', '78', '500000');
    await kdamond('1', 'off', '-1', '5000');
    await writeFile(path.join(root, 'nr_kdamonds'), '2\n');
    expect(await readDamonMonitors(root)).toEqual([{ id: '0', state: 'on', pid: 78, sampleMs: 500 }]);
    expect(await readDamonMonitors(path.join(root, 'absent'))).toEqual([]);
  });

  it('reads a process\'s CPU time from /proc', async () => {
    const before = await cpuMsOf(process.pid);
    const until = Date.now() + 120;
    while (Date.now() < until) Math.sqrt(Math.random());
    const after = await cpuMsOf(process.pid);
    expect(before).toBeTypeOf('number');
    expect(after! - before!).toBeGreaterThanOrEqual(50);
    expect(await cpuMsOf(2 ** 30)).toBeUndefined();
  });
});

describe('the flush probe', () => {
  it('flushes a file in the directory at its rate, and leaves no file behind', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-flush-'));
    const started = performance.now();
    const probe = await startFlushProbe(dir, 100, 1_000);
    expect((await readdir(dir)).length).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const result = await probe.stop();
    const elapsedS = (performance.now() - started) / 1000;
    // 100 a second: one at a time, never ahead of schedule.
    expect(result.flushes).toBeGreaterThanOrEqual(10);
    expect(result.flushes).toBeLessThanOrEqual(Math.ceil(elapsedS * 100) + 1);
    expect(result.maxMs).toBeGreaterThanOrEqual(result.p50Ms);
    expect(await readdir(dir)).toEqual([]);
  });

  it('counts the bursts of slow requests that a stuck flush overlaps, and only those', () => {
    const origin = 10_000;
    const bursts = [
      { at_ms: 100, requests: 30, worst_ms: 250 }, // in flight while the flush at 10,050 was stuck
      { at_ms: 2_000, requests: 4, worst_ms: 40 }, // nothing stuck then
      { at_ms: 5_000, requests: 9, worst_ms: 120 }, // began while the flush of 14,900 was still stuck
    ];
    const stalls = [
      { at: 10_050, ms: 300 },
      { at: 14_900, ms: 150 },
      { at: 30_000, ms: 500 },
    ];
    expect(burstsOnStalls(bursts, origin, stalls)).toEqual({ bursts: 2, requests: 39 });
    expect(burstsOnStalls(bursts, origin, [])).toEqual({ bursts: 0, requests: 0 });
  });
});
