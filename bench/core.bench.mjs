// Core wire formats: extract + inject of traceparent and of baggage (3 and 64 members), ours and
// @opentelemetry/core 2.12 in the same process; and a 1 MB hostile header parsed in linear time.
// Targets (issue 2): at least 3x OTel's throughput on traceparent and on 3-member baggage.
import { propagation, ROOT_CONTEXT, defaultTextMapGetter, defaultTextMapSetter } from '@opentelemetry/api';
import { W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { BaggagePropagator, TraceContextPropagator } from '@ctxprop/core';
import { compareOps } from './lib/micro.mjs';

const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const members = (n) => Array.from({ length: n }, (_, i) => `key${i}=value-${i}`).join(',');
const baggage3 = 'customer.tier=gold,tenant.id=acme-42,request.origin=web';
const baggage64 = members(64);

function roundTrip(propagator, carrier) {
  return () => {
    const ctx = propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
    const out = {};
    propagator.inject(ctx, out, defaultTextMapSetter);
    return out;
  };
}

function check(name, fn, header, expected) {
  const out = fn();
  if (out[header] !== expected) throw new Error(`bench: ${name} wrote ${header}=${out[header]}, expected ${expected}`);
}

const cases = [
  ['traceparent extract+inject', new TraceContextPropagator(), new W3CTraceContextPropagator(), { traceparent }, 'traceparent', traceparent, 3],
  ['baggage (3 members) extract+inject', new BaggagePropagator(), new W3CBaggagePropagator(), { baggage: baggage3 }, 'baggage', baggage3, 3],
  ['baggage (64 members) extract+inject', new BaggagePropagator(), new W3CBaggagePropagator(), { baggage: baggage64 }, 'baggage', baggage64, undefined],
];

let failed = false;
console.log(`${'case'.padEnd(38)} ${'ours ops/s'.padStart(12)} ${'OTel ops/s'.padStart(12)} ${'ours / OTel'.padStart(12)}  target`);
for (const [title, ours, otel, carrier, header, expected, target] of cases) {
  const oursFn = roundTrip(ours, carrier);
  const otelFn = roundTrip(otel, carrier);
  check(`ours (${title})`, oursFn, header, expected);
  const rows = compareOps({ ours: oursFn, otel: otelFn });
  const speedup = rows.ours.speedupOver('otel');
  const verdict = target === undefined ? '' : speedup >= target ? `>= ${target}x: met` : `>= ${target}x: NOT MET`;
  if (target !== undefined && speedup < target) failed = true;
  console.log(
    `${title.padEnd(38)} ${Math.round(rows.ours.opsPerSec).toLocaleString('en').padStart(12)} ${Math.round(rows.otel.opsPerSec).toLocaleString('en').padStart(12)} ${speedup.toFixed(2).padStart(11)}x  ${verdict}`,
  );
}

// Linear time on hostile input: 100 KB and 1 MB headers; time per byte must not grow with size.
console.log('\nhostile headers (time must grow linearly with size):');
const hostile = {
  'traceparent: "00-" + 1 MB of hex': (n) => ({ traceparent: `00-${'a'.repeat(n)}` }),
  'baggage: 1 MB of "k=v," members': (n) => ({ baggage: 'k=v,'.repeat(n / 4) }),
  'baggage: one 1 MB member of "="': (n) => ({ baggage: `k=${'='.repeat(n)}` }),
  'baggage: 1 MB of ";" properties': (n) => ({ baggage: `k=v${';p'.repeat(n / 2)}` }),
};
const tc = new TraceContextPropagator();
const bg = new BaggagePropagator();
for (const [title, make] of Object.entries(hostile)) {
  const timeFor = (size) => {
    const carrier = make(size);
    const start = process.hrtime.bigint();
    for (let i = 0; i < 5; i++) {
      tc.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
      propagation.getBaggage(bg.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter));
    }
    return Number(process.hrtime.bigint() - start) / 5 / 1e6;
  };
  timeFor(100_000);
  const small = timeFor(100_000);
  const large = timeFor(1_000_000);
  const growth = large / small;
  console.log(`  ${title.padEnd(36)} 100 KB ${small.toFixed(2).padStart(7)} ms   1 MB ${large.toFixed(2).padStart(7)} ms   x${growth.toFixed(1)} ${growth < 20 ? '(linear)' : '(NOT linear)'}`);
}
if (failed) console.log('\nbench: a throughput target was not met');
