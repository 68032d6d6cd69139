'use strict';
// What a target costs the machine, read from /proc: the process tree under some roots, its CPU time and its memory.
// The parsers are pure (text in, numbers out) so that they can be checked without a running process.
const fs = require('fs');

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on every Linux the platform runs on). */
const CLOCK_TICKS = 100;

/**
 * One /proc/<pid>/stat line: its parent and its CPU time in ms, own (utime+stime) plus that of its children that
 * exited and were waited for (cutime+cstime), so that the CPU of a worker that ended during a run is not lost.
 * The command name is in parentheses and may itself hold spaces and parentheses: fields are counted after the last ')'.
 */
function parseStat(text) {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error(`not a /proc/<pid>/stat line: ${text.slice(0, 80)}`);
  const pid = Number(text.slice(0, text.indexOf(' ')));
  const fields = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 of proc(5) (state): ppid is field 4, utime..cstime are fields 14..17.
  const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number);
  return { pid, ppid: Number(fields[1]), cpuMs: ((utime + stime + cutime + cstime) * 1000) / CLOCK_TICKS };
}

/** The "Rss:" and "Pss:" lines of /proc/<pid>/smaps_rollup, in kB. */
function parseSmapsRollup(text) {
  const kb = (name) => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { rssKb: kb('Rss'), pssKb: kb('Pss') };
}

/** Every process's stat, by pid (processes that end while being read are skipped). */
function readAllStats() {
  const stats = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const s = parseStat(fs.readFileSync(`/proc/${name}/stat`, 'utf8'));
      stats.set(s.pid, s);
    } catch {
      // it ended meanwhile
    }
  }
  return stats;
}

/** The pids of `roots` and all their descendants, from a pid -> {ppid} map. */
function descendants(stats, roots) {
  const children = new Map();
  for (const s of stats.values()) {
    if (!children.has(s.ppid)) children.set(s.ppid, []);
    children.get(s.ppid).push(s.pid);
  }
  const seen = new Set();
  const queue = roots.filter((p) => stats.has(p));
  while (queue.length) {
    const pid = queue.pop();
    if (seen.has(pid)) continue;
    seen.add(pid);
    queue.push(...(children.get(pid) || []));
  }
  return [...seen];
}

/** CPU ms used so far by the tree under `roots` (sample before and after a run; the difference is the run's). */
function treeCpuMs(roots) {
  const stats = readAllStats();
  return descendants(stats, roots).reduce((sum, pid) => sum + stats.get(pid).cpuMs, 0);
}

/** RSS and PSS summed over the tree under `roots`, and how many processes it has. */
function treeMemory(roots) {
  const pids = descendants(readAllStats(), roots);
  let rssKb = 0;
  let pssKb = 0;
  for (const pid of pids) {
    try {
      const m = parseSmapsRollup(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      rssKb += m.rssKb;
      pssKb += m.pssKb;
    } catch {
      // it ended meanwhile
    }
  }
  return { rssMb: rssKb / 1024, pssMb: pssKb / 1024, processes: pids.length };
}

const median = (values) => {
  const s = values.filter((v) => v !== undefined && v !== null && !Number.isNaN(v)).sort((a, b) => a - b);
  if (!s.length) return undefined;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

module.exports = { CLOCK_TICKS, parseStat, parseSmapsRollup, readAllStats, descendants, treeCpuMs, treeMemory, median };
