/**
 * Micro-benchmark helper: compares functions in one process over interleaved rounds and reports
 * the median ns/op of each and the median of the per-round ratios (so a slow phase of the machine
 * slows both sides of a pair alike).
 *
 *   const rows = compareOps({ ours: () => ..., otel: () => ... }, { rounds: 15, minMs: 150 });
 *   // rows: { name, nsPerOp, opsPerSec, ratioTo(name) }
 */
function timeOne(fn, iterations) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - start) / iterations;
}

function calibrate(fn, minMs) {
  let iterations = 1_000;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
    if (elapsedMs >= minMs / 4 || iterations >= 1e8) return Math.max(1, Math.ceil((iterations * minMs) / Math.max(elapsedMs, 0.001)));
    iterations *= 4;
  }
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs every function of `cases` once per round, rotating the order, and returns the medians. */
export function compareOps(cases, { rounds = 15, minMs = 150 } = {}) {
  const names = Object.keys(cases);
  for (const name of names) for (let i = 0; i < 20_000; i++) cases[name](); // warm up the JIT
  const iterations = Object.fromEntries(names.map((name) => [name, calibrate(cases[name], minMs)]));
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + round) % names.length];
      if (global.gc) global.gc();
      samples[name].push(timeOne(cases[name], iterations[name]));
    }
  }
  const result = {};
  for (const name of names) {
    const ns = median(samples[name]);
    result[name] = {
      name,
      nsPerOp: ns,
      opsPerSec: 1e9 / ns,
      /** How many times faster than `other` this case is: median over rounds of other/this. */
      speedupOver: (other) => median(samples[other].map((value, i) => value / samples[name][i])),
    };
  }
  return result;
}
