/**
 * Finding out, cheaply and on every request, whether an OpenTelemetry SDK is there to record: the
 * tracer to start server spans with (none with no TracerProvider registered, so no span object is
 * made just to be thrown away) and the `http.server.request.duration` histogram (none with no
 * MeterProvider). Both are resolved again when the registered provider changes (tests, and SDKs
 * started after the app), and cached otherwise: the providers are read from the API's globals
 * object ({@link followApiGlobal}), the API's own getters run only when an entry changes.
 */
import {
  createNoopMeter,
  metrics,
  ProxyTracerProvider,
  trace,
  type Histogram,
  type MeterProvider,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { followApiGlobal } from '../context/api-globals.js';
import { HTTP_SERVER_DURATION_BUCKETS, METRIC_HTTP_SERVER_REQUEST_DURATION } from './http-semconv.js';

// With no SDK, the API hands out a no-op provider and a no-op histogram singleton: learn them
// from the API's own factories (neither class is exported).
const NOOP_TRACER_PROVIDER: TracerProvider = new ProxyTracerProvider().getDelegate();
const NOOP_HISTOGRAM: Histogram = createNoopMeter().createHistogram('ctxprop.probe');

function isNoopHistogram(histogram: Histogram): boolean {
  return histogram === NOOP_HISTOGRAM || histogram.constructor === NOOP_HISTOGRAM.constructor;
}

/**
 * The tracer and histogram of one instrumentation scope (`@ctxprop/express`, `@ctxprop/fastify`),
 * following whichever providers are registered when asked.
 *
 * @example
 * ```ts
 * const telemetry = new InboundTelemetry('@ctxprop/express', '0.1.0');
 * const tracer = telemetry.tracer(); // undefined with no TracerProvider registered
 * ```
 */
export class InboundTelemetry {
  readonly #name: string;
  readonly #version: string;
  readonly #tracerProvider = followApiGlobal('trace', () => trace.getTracerProvider());
  // Made again only when another MeterProvider is registered.
  readonly #histogram = followApiGlobal('metrics', () => this.#createHistogram(metrics.getMeterProvider()));
  #tracerDelegate: TracerProvider | undefined;
  #tracer: Tracer | undefined;

  constructor(name: string, version: string) {
    this.#name = name;
    this.#version = version;
  }

  /** The tracer to start server spans with, or undefined when no TracerProvider is registered. */
  tracer(): Tracer | undefined {
    const provider = this.#tracerProvider();
    // The global is the API's proxy (of whichever API copy registered it): its delegate is what
    // an SDK registers.
    const getDelegate = (provider as Partial<ProxyTracerProvider>).getDelegate;
    const delegate = typeof getDelegate === 'function' ? getDelegate.call(provider) : provider;
    if (delegate !== this.#tracerDelegate) {
      this.#tracerDelegate = delegate;
      this.#tracer = delegate === NOOP_TRACER_PROVIDER ? undefined : provider.getTracer(this.#name, this.#version);
    }
    return this.#tracer;
  }

  /** The request-duration histogram, or undefined when no MeterProvider is registered. */
  histogram(): Histogram | undefined {
    return this.#histogram();
  }

  #createHistogram(provider: MeterProvider): Histogram | undefined {
    const histogram = provider.getMeter(this.#name, this.#version).createHistogram(METRIC_HTTP_SERVER_REQUEST_DURATION, {
      description: 'Duration of HTTP server requests.',
      unit: 's',
      advice: { explicitBucketBoundaries: [...HTTP_SERVER_DURATION_BUCKETS] },
    });
    return isNoopHistogram(histogram) ? undefined : histogram;
  }
}
