/**
 * The propagator of `OTEL_PROPAGATORS=none`: reads and writes nothing.
 */
import type { Context, TextMapGetter, TextMapPropagator, TextMapSetter } from '@opentelemetry/api';

/**
 * A propagator that does nothing: `extract` returns the context unchanged, `inject` writes no
 * header. It is what `createPropagator('none')` returns ("No automatically configured propagator",
 * https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#general-sdk-configuration).
 *
 * @example
 * ```ts
 * const propagator = new NonePropagator();
 * propagator.extract(ctx, req.headers, headerGetter) === ctx; // true
 * ```
 */
export class NonePropagator implements TextMapPropagator {
  inject(_context?: Context, _carrier?: unknown, _setter?: TextMapSetter): void {}

  extract(context: Context, _carrier?: unknown, _getter?: TextMapGetter): Context {
    return context;
  }

  fields(): string[] {
    return [];
  }
}
