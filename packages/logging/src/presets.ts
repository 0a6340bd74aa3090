/**
 * Field presets: which keys carry the trace context in a log line and how the ids are written,
 * for each log backend's convention. Resolved once, when a mixin or format is created.
 */

/**
 * The log-field conventions ctxprop writes.
 *
 * - `otel`: `trace_id`, `span_id`, `trace_flags` (OpenTelemetry, "Trace Context in non-OTLP Log
 *   Formats").
 * - `ecs`: `trace.id`, `span.id`, `transaction.id` (Elastic Common Schema, tracing fields).
 * - `datadog`: `dd.trace_id`, `dd.span_id` as decimal strings of the low 64 bits, `dd.service`,
 *   `dd.env`, `dd.version`.
 * - `gcp`: `logging.googleapis.com/trace` (`projects/PROJECT/traces/TRACE_ID`),
 *   `logging.googleapis.com/spanId`, `logging.googleapis.com/trace_sampled` (Cloud Logging).
 *
 * @example
 * ```ts
 * const preset: FieldPreset = 'ecs';
 * pino({ mixin: pinoMixin({ preset }) });
 * ```
 */
export type FieldPreset = 'otel' | 'ecs' | 'datadog' | 'gcp';

/**
 * Every {@link FieldPreset}, in documentation order.
 *
 * @example
 * ```ts
 * if (!FIELD_PRESETS.includes(process.env.LOG_PRESET as FieldPreset)) throw new Error('unknown LOG_PRESET');
 * ```
 */
export const FIELD_PRESETS: readonly FieldPreset[] = ['otel', 'ecs', 'datadog', 'gcp'];

/**
 * Key names by role, to rename a preset's fields (`'traceId'`) or leave one out (`false`). A
 * preset accepts only the roles it writes (see {@link PRESET_FIELDS}).
 *
 * @example
 * ```ts
 * // camelCase keys with the otel encodings:
 * traceFields({ fields: { traceId: 'traceId', spanId: 'spanId', traceFlags: 'traceFlags' } });
 * ```
 */
export interface FieldNames {
  /** The trace id. @default the preset's (`trace_id`, `trace.id`, `dd.trace_id`, `logging.googleapis.com/trace`) */
  traceId?: string | false;
  /** The span id. @default the preset's (`span_id`, `span.id`, `dd.span_id`, `logging.googleapis.com/spanId`) */
  spanId?: string | false;
  /** The W3C trace flags as two lowercase hex digits (`otel` only). @default 'trace_flags' */
  traceFlags?: string | false;
  /** Whether the trace is sampled, a boolean (`gcp` only). @default 'logging.googleapis.com/trace_sampled' */
  traceSampled?: string | false;
  /** The id of the service's entry span (`ecs` only). @default 'transaction.id' */
  transactionId?: string | false;
  /** The service name. @default the preset's (`service.name`, `dd.service`) */
  serviceName?: string | false;
  /** The service version. @default the preset's (`service.version`, `dd.version`) */
  serviceVersion?: string | false;
  /** The deployment environment. @default the preset's (`deployment.environment.name`, `service.environment`, `dd.env`) */
  environment?: string | false;
}

/**
 * One role of {@link FieldNames}.
 *
 * @example
 * ```ts
 * const dropped: FieldRole = 'traceFlags';
 * traceFields({ fields: { [dropped]: false } });
 * ```
 */
export type FieldRole = keyof FieldNames;

/** How a preset writes an id. */
export type IdEncoding = 'hex' | 'decimal' | 'gcp-trace';

/** What one preset writes. */
export interface PresetDefinition {
  /** Default key of each role the preset writes. */
  readonly keys: Readonly<Partial<Record<FieldRole, string>>>;
  readonly traceIdEncoding: IdEncoding;
  readonly spanIdEncoding: IdEncoding;
  /** Environment variables read, in order, when the option is not given. */
  readonly env: Readonly<Partial<Record<'serviceName' | 'serviceVersion' | 'environment', readonly string[]>>>;
}

/**
 * The presets. OpenTelemetry's resource attribute names (`service.name`, `service.version`,
 * `deployment.environment.name`) serve `otel` and `gcp`; ECS and Datadog have their own.
 *
 * @see https://opentelemetry.io/docs/specs/otel/compatibility/logging_trace_context/
 * @see https://www.elastic.co/docs/reference/ecs/ecs-tracing
 * @see https://docs.datadoghq.com/tracing/other_telemetry/connect_logs_and_traces/opentelemetry/
 * @see https://cloud.google.com/logging/docs/structured-logging#structured_logging_special_fields
 *
 * @example
 * ```ts
 * PRESET_FIELDS.datadog.keys.traceId; // 'dd.trace_id'
 * ```
 */
export const PRESET_FIELDS: Readonly<Record<FieldPreset, PresetDefinition>> = {
  otel: {
    keys: {
      traceId: 'trace_id',
      spanId: 'span_id',
      traceFlags: 'trace_flags',
      serviceName: 'service.name',
      serviceVersion: 'service.version',
      environment: 'deployment.environment.name',
    },
    traceIdEncoding: 'hex',
    spanIdEncoding: 'hex',
    env: { serviceName: ['OTEL_SERVICE_NAME'] },
  },
  ecs: {
    keys: {
      traceId: 'trace.id',
      spanId: 'span.id',
      transactionId: 'transaction.id',
      serviceName: 'service.name',
      serviceVersion: 'service.version',
      environment: 'service.environment',
    },
    traceIdEncoding: 'hex',
    spanIdEncoding: 'hex',
    env: { serviceName: ['OTEL_SERVICE_NAME'] },
  },
  datadog: {
    keys: {
      traceId: 'dd.trace_id',
      spanId: 'dd.span_id',
      serviceName: 'dd.service',
      serviceVersion: 'dd.version',
      environment: 'dd.env',
    },
    traceIdEncoding: 'decimal',
    spanIdEncoding: 'decimal',
    // Datadog's unified service tagging variables first; its tracers also honour OTEL_SERVICE_NAME.
    env: { serviceName: ['DD_SERVICE', 'OTEL_SERVICE_NAME'], serviceVersion: ['DD_VERSION'], environment: ['DD_ENV'] },
  },
  gcp: {
    keys: {
      traceId: 'logging.googleapis.com/trace',
      spanId: 'logging.googleapis.com/spanId',
      traceSampled: 'logging.googleapis.com/trace_sampled',
      serviceName: 'service.name',
      serviceVersion: 'service.version',
      environment: 'deployment.environment.name',
    },
    traceIdEncoding: 'gcp-trace',
    spanIdEncoding: 'hex',
    env: { serviceName: ['OTEL_SERVICE_NAME'] },
  },
};

/** The environment variable holding the Google Cloud project id for the `gcp` preset. */
export const GCP_PROJECT_ENV = 'GOOGLE_CLOUD_PROJECT';
