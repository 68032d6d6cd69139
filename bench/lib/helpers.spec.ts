import { stats } from './measure';
import { descendants, median, parseSmapsRollup, parseStat, treeCpuMs } from './proc';
import { formatTable, ratio } from './table';
import { durationUs, parseWrk } from './wrk';
import * as fs from 'fs';

// The figures of bench/dataplane.bench.js are only as right as these helpers: percentiles, /proc parsing, wrk's output, the table.

describe('percentiles and medians', () => {
  it('takes p50 and p99 as the value at that rank of the sorted samples', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(stats(samples)).toEqual({ p50: 51, p99: 100, n: 100 });
  });

  it('takes the middle of an odd count, the mean of the two middles of an even one, ignoring missing rounds', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([5, undefined, 1, 3])).toBe(3);
    expect(median([])).toBeUndefined();
  });
});

describe('CPU and memory from /proc', () => {
  it('reads ppid and utime+stime+cutime+cstime (in ms at 100 ticks/s) after a command name holding spaces and parentheses', () => {
    const line = '4242 (node (a) b) S 17 4242 4242 0 -1 4194304 100 0 0 0 250 50 7 3 20 0 11 0 1000 123456 789 18446744073709551615';
    expect(parseStat(line)).toEqual({ pid: 4242, ppid: 17, cpuMs: (250 + 50 + 7 + 3) * 10 });
  });

  it('reads this very process the way the kernel writes it', () => {
    const self = parseStat(fs.readFileSync('/proc/self/stat', 'utf8'));
    expect(self.pid).toBe(process.pid);
    expect(self.ppid).toBe(process.ppid);
    expect(self.cpuMs).toBeGreaterThan(0);
  });

  it("counts a tree's CPU: 300 ms of this process's own CPU time shows in its tree's CPU time", () => {
    const before = treeCpuMs([process.pid]);
    // Spun until Node itself counts 300 ms of CPU (user + system) for this process, however busy the machine is.
    const start = process.cpuUsage();
    const spent = () => {
      const d = process.cpuUsage(start);
      return (d.user + d.system) / 1000;
    };
    while (spent() < 300) Math.sqrt(Math.random());
    // /proc counts in clock ticks (10 ms): allow two of them.
    expect(treeCpuMs([process.pid]) - before).toBeGreaterThanOrEqual(280);
  });

  it('finds every descendant of the roots and nothing outside them', () => {
    const tree = new Map(
      [
        [1, 0],
        [10, 1],
        [11, 10],
        [12, 11],
        [20, 1],
        [21, 20],
      ].map(([pid, ppid]) => [pid, { pid, ppid, cpuMs: 0 }]),
    );
    expect(descendants(tree, [10]).sort((a, b) => a - b)).toEqual([10, 11, 12]);
    expect(descendants(tree, [10, 21, 99]).sort((a, b) => a - b)).toEqual([10, 11, 12, 21]);
  });

  it('reads Rss and Pss of smaps_rollup, not the Pss_* breakdown lines', () => {
    const text = [
      '55d0c0a00000-7ffd1a5f1000 ---p 00000000 00:00 0                          [rollup]',
      'Rss:               51234 kB',
      'Pss:               20480 kB',
      'Pss_Anon:          10000 kB',
      'Pss_File:          10480 kB',
    ].join('\n');
    expect(parseSmapsRollup(text)).toEqual({ rssKb: 51234, pssKb: 20480 });
  });
});

describe("wrk's output", () => {
  const output = `Running 1s test @ http://127.0.0.1:18777/x
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   216.93us  548.04us   8.32ms   92.87%
    Req/Sec    22.87k     6.68k   28.47k    80.00%
  Latency Distribution
     50%   69.00us
     75%   89.00us
     90%  414.00us
     99%    2.74ms
  22690 requests in 1.00s, 3.09MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 40
Requests/sec:  22676.42
Transfer/sec:      3.09MB
`;

  it('turns its durations into microseconds', () => {
    expect(durationUs('69.00us')).toBe(69);
    expect(durationUs('2.74ms')).toBeCloseTo(2740);
    expect(durationUs('1.5s')).toBe(1_500_000);
  });

  it('reads requests, requests/s, p50/p99 from the latency distribution, and errors (non-2xx plus socket errors)', () => {
    const r = parseWrk(output);
    expect(r).toMatchObject({ requests: 22690, seconds: 1, rps: 22676.42, errors: 43 });
    expect(r.latencyUs.p50).toBe(69);
    expect(r.latencyUs.p99).toBeCloseTo(2740);
  });
});

describe('the table', () => {
  it('gives ratios of the first target over each peer, and a dash where a figure is missing', () => {
    expect(ratio(479, 49)).toBe('9.78x');
    expect(ratio(3444, 15375)).toBe('0.22x');
    expect(ratio(925, 1)).toBe('925.0x');
    expect(ratio(1, undefined)).toBe('-');
    expect(ratio(1, 0)).toBe('-');
  });

  it('prints one aligned Markdown row per figure with absolute values, then hks/peer ratios', () => {
    const lines = formatTable(
      ['hks', 'workerd', 'node'],
      [
        { label: 'warm p50', values: [479, 49, 82], format: (v: number) => `${v} us` },
        { label: 'scale RSS', values: [14300, 596], format: (v: number) => `${v} MB` },
      ],
    );
    expect(lines).toEqual([
      '|           |      hks | workerd |  node | hks/workerd | hks/node |',
      '|-----------|---------:|--------:|------:|------------:|---------:|',
      '| warm p50  |   479 us |   49 us | 82 us |       9.78x |    5.84x |',
      '| scale RSS | 14300 MB |  596 MB |     - |       24.0x |        - |',
    ]);
  });
});
