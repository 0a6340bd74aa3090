/**
 * Builds the propagator set from `OTEL_PROPAGATORS` names.
 *
 * Spec: https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#general-sdk-configuration
 *
 * - Names are case-insensitive, trimmed, and de-duplicated ("Values MUST be deduplicated in order
 *   to register a Propagator only once"); their order is the extraction precedence.
 * - Unset or empty means `tracecontext,baggage` ("The SDK MUST interpret an empty value of an
 *   environment variable the same way as when the variable is unset").
 * - An unknown name throws at start-up. The spec would have an SDK warn and ignore it; ctxprop treats
 *   it as the configuration error it is (DESIGN decision 4), so a typo cannot silently break traces.
 * - `none` alone gives a propagator that does nothing. The spec does not say what `none` among other
 *   names means; like OpenTelemetry Java's autoconfigure, ctxprop refuses the contradiction.
 */
import type { TextMapPropagator } from '@opentelemetry/api';
import { CtxpropError, InvalidOptionError, describe } from '../errors.js';
import { B3Propagator } from './b3.js';
import { BaggagePropagator } from './baggage.js';
import { CompositePropagator } from './composite.js';
import { JaegerPropagator } from './jaeger.js';
import { NonePropagator } from './none.js';
import { OTTracePropagator } from './ot-trace.js';
import { TraceContextPropagator } from './trace-context.js';
import { XRayPropagator } from './xray.js';

/**
 * Every name `OTEL_PROPAGATORS` knows, in the spec's order.
 *
 * @example
 * ```ts
 * console.log(PROPAGATOR_NAMES.join(', ')); // 'tracecontext, baggage, b3, b3multi, jaeger, xray, ottrace, none'
 * ```
 */
export const PROPAGATOR_NAMES = ['tracecontext', 'baggage', 'b3', 'b3multi', 'jaeger', 'xray', 'ottrace', 'none'] as const;

/**
 * One `OTEL_PROPAGATORS` name.
 *
 * @example
 * ```ts
 * const names: PropagatorName[] = ['tracecontext', 'baggage', 'b3multi'];
 * ```
 */
export type PropagatorName = (typeof PROPAGATOR_NAMES)[number];

/** The spec's default value of `OTEL_PROPAGATORS`. */
const DEFAULT_PROPAGATORS: readonly PropagatorName[] = ['tracecontext', 'baggage'];

const ENV_VAR = 'OTEL_PROPAGATORS';

/**
 * Builds a propagator from `OTEL_PROPAGATORS` names: an array or a comma-separated string. Called
 * without an argument, it reads `process.env.OTEL_PROPAGATORS` (default `tracecontext,baggage`).
 * The result is a {@link CompositePropagator} (first configured trace format wins, baggage of all
 * formats is merged), or a {@link NonePropagator} for `none`.
 *
 * Throws `CtxpropError` (`CTXPROP_UNKNOWN_PROPAGATOR`) for an unknown name and
 * `InvalidOptionError` for `none` mixed with other names or an argument of the wrong type.
 *
 * @example
 * ```ts
 * propagation.setGlobalPropagator(createPropagator()); // honours OTEL_PROPAGATORS
 * const legacy = createPropagator('tracecontext, baggage, b3multi');
 * const jaegerFirst = createPropagator(['jaeger', 'tracecontext', 'baggage']);
 * ```
 */
export function createPropagator(names?: string | readonly string[]): TextMapPropagator {
  const fromEnv = names === undefined;
  const source: unknown = fromEnv ? process.env[ENV_VAR] : names;
  const option = fromEnv ? ENV_VAR : 'names';
  const items = splitNames(source, option);
  const selected: PropagatorName[] = [];
  for (const item of items) {
    const name = item.trim().toLowerCase();
    if (name === '') continue;
    if (!isPropagatorName(name)) throw unknownPropagator(item.trim(), source, fromEnv);
    if (!selected.includes(name)) selected.push(name);
  }
  if (selected.length === 0) selected.push(...DEFAULT_PROPAGATORS);
  if (selected.includes('none')) {
    if (selected.length > 1) {
      throw new InvalidOptionError(
        option,
        '"none" alone, or a list of propagators without "none"',
        typeof source === 'string' ? source : selected.join(','),
        `Remove "none" to propagate with ${selected.filter((name) => name !== 'none').join(', ')}, or use "none" alone to propagate nothing.`,
      );
    }
    return new NonePropagator();
  }
  const formats = selected as Exclude<PropagatorName, 'none'>[];
  return new CompositePropagator(formats.map(propagatorFor), { names: formats });
}

function splitNames(source: unknown, option: string): string[] {
  if (source === undefined || source === null) return [];
  if (typeof source === 'string') return source.split(',');
  if (Array.isArray(source)) {
    const items: string[] = [];
    for (const item of source) {
      if (typeof item !== 'string') {
        throw new InvalidOptionError(option, `an array of propagator names (${PROPAGATOR_NAMES.join(', ')})`, item);
      }
      items.push(...item.split(','));
    }
    return items;
  }
  throw new InvalidOptionError(option, `a comma-separated string or an array of propagator names (${PROPAGATOR_NAMES.join(', ')})`, source);
}

function isPropagatorName(name: string): name is PropagatorName {
  return (PROPAGATOR_NAMES as readonly string[]).includes(name);
}

function unknownPropagator(name: string, source: unknown, fromEnv: boolean): CtxpropError {
  const where = fromEnv
    ? `the ${ENV_VAR} environment variable (${describe(source)})`
    : `the names given to createPropagator() (${Array.isArray(source) ? describe(source.join(',')) : describe(source)})`;
  return new CtxpropError(
    'CTXPROP_UNKNOWN_PROPAGATOR',
    `ctxprop: unknown propagator ${describe(name)} in ${where}. Valid names: ${PROPAGATOR_NAMES.join(', ')}.`,
  );
}

function propagatorFor(name: Exclude<PropagatorName, 'none'>): TextMapPropagator {
  switch (name) {
    case 'tracecontext':
      return new TraceContextPropagator();
    case 'baggage':
      return new BaggagePropagator();
    case 'b3':
      return new B3Propagator({ injectEncoding: 'single' });
    case 'b3multi':
      return new B3Propagator({ injectEncoding: 'multi' });
    case 'jaeger':
      return new JaegerPropagator();
    case 'xray':
      return new XRayPropagator();
    case 'ottrace':
      return new OTTracePropagator();
  }
}
