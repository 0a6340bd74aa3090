/**
 * Explicit injection for clients ctxprop cannot see (gRPC metadata, message headers, custom
 * transports), under the same destination policy and sensitive-data guard as the automatic hooks.
 */
import { context as contextApi, defaultTextMapSetter, type Context, type TextMapPropagator, type TextMapSetter } from '@opentelemetry/api';
import { headerSetter, removeHeader } from '../carrier/headers.js';
import { countDiagnostic } from '../diagnostics/diagnostics.js';
import type { DestinationPolicy } from '../policy/destination.js';
import type { SensitiveDataGuard } from '../policy/sensitive-data.js';
import { contextForDestination } from './apply-policy.js';
import { isHeaderName, isHeaderValue } from './header-safety.js';
import { currentOutboundConfig } from './outbound-state.js';

/**
 * Options of {@link inject}.
 *
 * @example
 * ```ts
 * const headers: Record<string, string> = {};
 * const options: InjectOptions = { url: 'amqp://broker.svc:5672', context: jobContext };
 * inject(headers, options);
 * channel.publish('jobs', 'job.created', body, { headers });
 * ```
 */
export interface InjectOptions {
  /** Where the carrier goes: the destination policy decides by it (`grpc://orders.svc:50051` works too). */
  url: string | URL;
  /**
   * The context to inject.
   * @default context.active()
   */
  context?: Context;
  /**
   * The propagator.
   * @default the one given to enableOutboundPropagation(), else createPropagator()
   */
  propagator?: TextMapPropagator;
  /**
   * The destination policy.
   * @default the one given to enableOutboundPropagation(), else the default policy
   */
  policy?: DestinationPolicy;
  /**
   * The sensitive-data guard.
   * @default the one given to enableOutboundPropagation(), else the default guard
   */
  sensitiveData?: SensitiveDataGuard;
  /**
   * How to write into the carrier.
   * @default a case-insensitive setter for header objects, `Headers` and `Map`s
   * @example { setter: { set: (metadata, key, value) => metadata.set(key, value) } } // @grpc/grpc-js Metadata
   */
  setter?: TextMapSetter;
}

function hostOf(url: string | URL): string {
  try {
    return (typeof url === 'string' ? new URL(url) : url).hostname || String(url);
  } catch {
    return String(url);
  }
}

/**
 * Writes the context's trace headers and baggage into `carrier` for a call to `url`, as the
 * destination policy and the sensitive-data guard allow: trace headers withheld when the policy
 * says so, baggage cut to the allowed keys, members that look like secrets refused. Each item
 * withheld or refused is counted in the diagnostics and warned about once. Headers whose value
 * holds control characters are never written. A plain-object, `Map` or `Headers` carrier loses
 * the propagator's headers it already held (in any spelling) before the context's are written;
 * one written through `options.setter` is only written to. Never throws: a failure is counted as
 * `internal.error` and the carrier is left as it was.
 *
 * @example
 * ```ts
 * const metadata = new Metadata();
 * inject(metadata, {
 *   url: 'grpc://orders.svc:50051',
 *   setter: { set: (carrier, key, value) => carrier.set(key, value) },
 * });
 * client.getOrder(request, metadata, callback);
 * ```
 */
export function inject(carrier: unknown, options: InjectOptions): void {
  try {
    const config = currentOutboundConfig();
    const ctx = options.context ?? contextApi.active();
    const propagator = options.propagator ?? config.propagator;
    const decision = (options.policy ?? config.policy)(options.url);
    const safe = contextForDestination(ctx, decision, options.sensitiveData ?? config.guard, hostOf(options.url));
    const ownSetter = options.setter !== undefined && options.setter !== defaultTextMapSetter;
    // Collected first and written after, so that a propagator that fails half-way leaves the
    // carrier as it was.
    const writes: string[] = [];
    propagator.inject(safe, carrier, {
      set(_into, name, value) {
        if (!isHeaderName(name) || !isHeaderValue(value)) {
          countDiagnostic('inject.header.invalid');
          return;
        }
        writes.push(name, value);
      },
    });
    // A carrier ctxprop can edit (a plain object, a Map, Headers) loses the propagator's headers it
    // held (a reused or forwarded message's): what goes is what this context and the policy give,
    // never a stale tracestate beside the new traceparent or baggage the policy withholds.
    if (!ownSetter) for (const field of propagator.fields()) removeHeader(carrier, field);
    const target = ownSetter ? options.setter! : headerSetter;
    for (let i = 0; i < writes.length; i += 2) target.set(carrier, writes[i]!, writes[i + 1]!);
  } catch {
    countDiagnostic('internal.error');
  }
}
