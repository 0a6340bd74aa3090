// Writes N pino lines to a no-op stream inside an active context holding a span context and
// baggage, configured one of four ways, then exits: the workload bench/instructions.mjs counts
// under callgrind (per line: the difference between two line counts, so start-up cancels out).
//   node bench/cases/pino-lines.mjs <pino|pinoMixin|constant-mixin|pinoCorrelation> <lines>
// `constant-mixin` returns the fields pinoMixin() writes, as constants: what pino itself pays for
// any mixin adding them. Imports the BUILT packages (CommonJS builds, as an application would).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { context, propagation, ROOT_CONTEXT, trace } = require('@opentelemetry/api');
const { ensureContextManager } = require('@ctxprop/core');
const { pinoCorrelation, pinoMixin } = require('@ctxprop/logging');
const pino = require('pino');

const CASES = {
  pino: () => ({}),
  pinoMixin: () => ({ mixin: pinoMixin() }),
  'constant-mixin': () => ({ mixin: () => ({ trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331', trace_flags: '01' }) }),
  pinoCorrelation: () => ({ ...pinoCorrelation() }),
};

const [name, count] = process.argv.slice(2);
const lines = Number(count);
if (!(name in CASES) || !Number.isInteger(lines) || lines <= 0) {
  console.error(`usage: pino-lines.mjs <${Object.keys(CASES).join('|')}> <lines>`);
  process.exit(2);
}
ensureContextManager();
let written = 0;
const logger = pino(CASES[name](), { write: () => void written++ });
const spanContext = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true };
const active = propagation.setBaggage(trace.setSpanContext(ROOT_CONTEXT, spanContext), propagation.createBaggage({ 'customer.tier': { value: 'gold' } }));
context.with(active, () => {
  for (let i = 0; i < lines; i++) logger.info({ order: i }, 'order placed');
});
if (written !== lines) throw new Error(`pino-lines: wrote ${written} lines of ${lines}`);
