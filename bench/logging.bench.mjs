#!/usr/bin/env node
// The cost of @ctxprop/logging's pino mixin per log line: real pino, with and without
// `pinoMixin()`, inside an active context that holds a span context, writing to a no-op stream
// (pino's own work only, the strictest ratio) and to pino.destination('/dev/null'), synchronous
// (a write(2) per line) and asynchronous (sonic-boom's buffered mode). Interleaved rounds; prints
// the median ns per line of each case and the median of the per-round ratios. Target (issue #5):
// under 10% more time per line.
// A third case is a mixin returning the same three fields as a constant: what pino itself pays
// for any mixin that adds them. The ratio to it is the cost of our code (reading the context).
// Imports the BUILT package (run `pnpm build` or `node scripts/build.mjs core logging` first).
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { ensureContextManager } from '@ctxprop/core';
import { pinoMixin } from '@ctxprop/logging';
import { createRequire } from 'node:module';
import pino from 'pino';

const require = createRequire(import.meta.url);

/**
 * A private copy of pino and of the built @ctxprop/logging (CommonJS build) for one case. In one
 * process, cases sharing pino's code make its inline caches see every case's object shapes, which
 * slows whichever case runs against polluted feedback; an application has one logger setup.
 */
function freshCopy() {
  for (const key of Object.keys(require.cache)) delete require.cache[key];
  return { pino: require('pino'), logging: require('@ctxprop/logging') };
}

const TARGET = 1.1;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const LINES_PER_SAMPLE = Number(process.env.BENCH_LINES ?? 20_000);

ensureContextManager();

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * A sampler per case: ns per call of `logLine` over `LINES_PER_SAMPLE` calls. Compiled separately
 * for each case so that no loop call site is shared between cases.
 */
function makeSampler() {
  return new Function(
    'logLine',
    'lines',
    'const start = process.hrtime.bigint(); for (let i = 0; i < lines; i++) logLine(i); return Number(process.hrtime.bigint() - start) / lines;',
  );
}

/** Runs each case once per round, rotating the order, so a slow phase hits every case alike. */
function compare(cases) {
  const names = Object.keys(cases);
  const samplers = Object.fromEntries(names.map((name) => [name, makeSampler()]));
  const sample = (name) => samplers[name](cases[name], LINES_PER_SAMPLE);
  for (const name of names) for (let i = 0; i < 3; i++) sample(name); // warm up the JIT
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + round) % names.length];
      if (globalThis.gc) globalThis.gc();
      samples[name].push(sample(name));
    }
  }
  const ns = Object.fromEntries(names.map((name) => [name, median(samples[name])]));
  const ratio = (name, base) => median(samples[name].map((value, i) => value / samples[base][i]));
  return { ns, ratio };
}

const noop = { write() {} };
const DESTINATIONS = [
  ['no-op stream', () => noop],
  ['/dev/null sync', (copy) => copy.destination({ dest: '/dev/null', sync: true })],
  ['/dev/null async', (copy) => copy.destination({ dest: '/dev/null', sync: false, minLength: 4096 })],
];

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

// The fields pinoMixin() writes here, as a constant: the floor for any mixin that adds them.
const constantMixin = () => ({ trace_id: TRACE_ID, span_id: SPAN_ID, trace_flags: '01' });

const LINES = {
  'message only': (logger) => () => logger.info('order created'),
  'object + message': (logger) => (i) => logger.info({ orderId: i, route: '/orders/:id', status: 201 }, 'order created'),
};

const active = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, isRemote: true });

const rows = [];
context.with(active, () => {
  const check = pino({ mixin: pinoMixin() }, { write: (line) => (check.line = line) });
  check.info('check');
  if (!check.line.includes(`"trace_id":"${TRACE_ID}"`)) throw new Error(`mixin wrote no trace_id: ${check.line}`);

  for (const [destinationName, destination] of DESTINATIONS) {
    for (const [lineName, line] of Object.entries(LINES)) {
      const [a, b, c, d] = [freshCopy(), freshCopy(), freshCopy(), freshCopy()];
      const { ns, ratio } = compare({
        bare: line(a.pino({}, destination(a.pino))),
        constant: line(b.pino({ mixin: constantMixin }, destination(b.pino))),
        mixin: line(c.pino({ mixin: c.logging.pinoMixin() }, destination(c.pino))),
        datadog: line(d.pino({ mixin: d.logging.pinoMixin({ preset: 'datadog' }) }, destination(d.pino))),
      });
      rows.push({
        destination: destinationName,
        line: lineName,
        'pino ns': Math.round(ns.bare),
        'constant mixin ns': Math.round(ns.constant),
        'pinoMixin() ns': Math.round(ns.mixin),
        'datadog ns': Math.round(ns.datadog),
        'mixin / pino': Number(ratio('mixin', 'bare').toFixed(3)),
        'mixin / constant mixin': Number(ratio('mixin', 'constant').toFixed(3)),
      });
    }
  }
});

console.log(`pino ${pino.version}; ${ROUNDS} interleaved rounds of ${LINES_PER_SAMPLE} lines each, inside an active span context`);
console.table(rows);
const overBare = Math.max(...rows.map((row) => row['mixin / pino']));
const overConstant = Math.max(...rows.map((row) => row['mixin / constant mixin']));
console.log(`worst ratio pinoMixin() / pino without ids: ${overBare.toFixed(3)} (target under ${TARGET}: ${overBare < TARGET ? 'met' : 'missed'})`);
console.log(`worst ratio pinoMixin() / a constant mixin adding the same fields (our code's own cost): ${overConstant.toFixed(3)} (target under ${TARGET}: ${overConstant < TARGET ? 'met' : 'missed'})`);
console.log('Most of the gap to pino without ids is pino serializing three more string fields, paid however the ids reach the line.');
