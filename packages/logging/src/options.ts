/**
 * The options shared by `traceFields`, `pinoMixin` and `winstonFormat`, and their validation.
 * Options are checked and resolved once, when the mixin or format is created, so that a log call
 * does no option parsing; a bad option throws `InvalidOptionError` naming it and the fix.
 */
import { InvalidOptionError, defaultSensitiveDataGuard, rejectUnknownOptions, type SensitiveDataGuard } from '@ctxprop/core';
import { FIELD_PRESETS, GCP_PROJECT_ENV, PRESET_FIELDS, type FieldNames, type FieldPreset, type FieldRole, type IdEncoding } from './presets.js';

/**
 * What to write when a line is logged outside any trace context (no request, or a span context
 * that is not valid): `'omit'` leaves the id fields out, `'zeros'` writes all-zero ids (and
 * `trace_flags: '00'`, `trace_sampled: false`), so that every line has the same keys.
 *
 * @example
 * ```ts
 * traceFields({ whenNoContext: 'zeros' }); // outside a request: { trace_id: '000…0', span_id: '0000000000000000', trace_flags: '00' }
 * ```
 */
export type WhenNoContext = 'omit' | 'zeros';

/**
 * Options of {@link traceFields}, {@link createTraceFields}, {@link pinoMixin} and
 * {@link winstonFormat}.
 *
 * @example
 * ```ts
 * const options: TraceFieldsOptions = { preset: 'datadog', serviceName: 'checkout', baggageKeys: ['customer.tier'] };
 * ```
 */
export interface TraceFieldsOptions {
  /**
   * The field convention of the log backend.
   * @default 'otel'
   * @example { preset: 'gcp', projectId: 'my-project' }
   */
  preset?: FieldPreset;
  /**
   * Renames the preset's keys by role, or leaves a field out with `false`. Values keep the
   * preset's encoding (hex ids for `otel`, decimal for `datadog`).
   * @default the preset's names
   * @example { fields: { traceId: 'traceId', spanId: 'spanId', traceFlags: 'traceFlags' } }
   */
  fields?: FieldNames;
  /**
   * Google Cloud project id for the `gcp` preset's `projects/PROJECT/traces/TRACE_ID`. Required
   * with `gcp`, only allowed with `gcp`.
   * @default process.env.GOOGLE_CLOUD_PROJECT
   * @example { preset: 'gcp', projectId: 'shop-prod' }
   */
  projectId?: string;
  /**
   * The service name written on every line.
   * @default process.env.OTEL_SERVICE_NAME (`datadog`: DD_SERVICE, then OTEL_SERVICE_NAME); none when unset
   * @example { serviceName: 'checkout' }
   */
  serviceName?: string;
  /**
   * The service version written on every line.
   * @default none (`datadog`: process.env.DD_VERSION)
   * @example { serviceVersion: '1.4.2' }
   */
  serviceVersion?: string;
  /**
   * The deployment environment written on every line.
   * @default none (`datadog`: process.env.DD_ENV)
   * @example { environment: 'production' }
   */
  environment?: string;
  /**
   * Baggage keys written as log fields when the active baggage has them (an allowlist: no other
   * baggage reaches the log). Values refused by `sensitiveDataGuard` are left out. A field name
   * (after `baggagePrefix`) that the loggers write themselves (`level`, `time`, `msg`, `pid`,
   * `hostname`, `message`, `timestamp`) is refused; a pino `messageKey` of your own is not checked.
   * @default []
   * @example { baggageKeys: ['customer.tier', 'tenant.id'] }
   */
  baggageKeys?: readonly string[];
  /**
   * Prefix of the log field name of each baggage key.
   * @default ''
   * @example { baggageKeys: ['customer.tier'], baggagePrefix: 'baggage.' } // field "baggage.customer.tier"
   */
  baggagePrefix?: string;
  /**
   * Decides whether a baggage value may be logged: returns a reason to refuse it, or `undefined`.
   * @default defaultSensitiveDataGuard from @ctxprop/core
   * @example { sensitiveDataGuard: createSensitiveDataGuard({ allowKeys: ['user.id'] }) }
   */
  sensitiveDataGuard?: SensitiveDataGuard;
  /**
   * What to write outside any trace context.
   * @default 'omit'
   * @example { whenNoContext: 'zeros' }
   */
  whenNoContext?: WhenNoContext;
}

/** Options after validation, ready for the hot path. */
export interface ResolvedOptions {
  readonly preset: FieldPreset;
  /** Final key of each id role; absent roles are not written. */
  readonly traceIdKey: string | undefined;
  readonly spanIdKey: string | undefined;
  readonly traceFlagsKey: string | undefined;
  readonly traceSampledKey: string | undefined;
  readonly transactionIdKey: string | undefined;
  readonly traceIdEncoding: IdEncoding;
  readonly spanIdEncoding: IdEncoding;
  readonly projectId: string | undefined;
  /** Fields that are the same on every line (service name, version, environment). */
  readonly staticFields: readonly (readonly [key: string, value: string])[];
  readonly baggageKeys: readonly string[];
  /** Log field name of each entry of `baggageKeys`. */
  readonly baggageFieldNames: readonly string[];
  readonly sensitiveDataGuard: SensitiveDataGuard;
  readonly zeros: boolean;
}

const KNOWN_OPTIONS = [
  'preset',
  'fields',
  'projectId',
  'serviceName',
  'serviceVersion',
  'environment',
  'baggageKeys',
  'baggagePrefix',
  'sensitiveDataGuard',
  'whenNoContext',
] as const;

/**
 * Keys the loggers write themselves: pino's `level`, `time`, `msg`, `pid`, `hostname`, winston's
 * `level`, `message` and its `timestamp()` format's `timestamp`. A baggage field of one of these
 * names would replace the logger's own (a value from an inbound header as the log message), or
 * repeat the key in the line. A `messageKey` configured in pino is not known here.
 */
/** The keys pino writes on every line itself (its default `messageKey` among them). */
export const PINO_KEYS: ReadonlySet<string> = new Set(['level', 'time', 'msg', 'pid', 'hostname']);
/** The keys winston's entries carry (`message`, `level`) and its `timestamp()` format writes. */
export const WINSTON_KEYS: ReadonlySet<string> = new Set(['level', 'message', 'timestamp']);
/** For `traceFields()`, spread into any logger's line: the keys of either (bunyan's `level`, `time`, `msg`, `pid`, `hostname` among them). */
const ANY_LOGGER_KEYS: ReadonlySet<string> = new Set([...PINO_KEYS, ...WINSTON_KEYS]);

const ROLES: readonly FieldRole[] = [
  'traceId',
  'spanId',
  'traceFlags',
  'traceSampled',
  'transactionId',
  'serviceName',
  'serviceVersion',
  'environment',
];

/**
 * Validates `options` and resolves presets, renames and environment defaults. `extraOptions`
 * names options the caller handles itself (`mixin` for pino); `loggerKeys` are the keys the
 * logger writes itself, which no baggage field may take.
 */
export function resolveOptions(
  options: unknown,
  extraOptions: readonly string[] = [],
  loggerKeys: ReadonlySet<string> = ANY_LOGGER_KEYS,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ResolvedOptions {
  const given = options ?? {};
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new InvalidOptionError('options', 'an object', given, 'Pass an object such as { preset: "otel" }, or nothing.');
  }
  rejectUnknownOptions(given, [...KNOWN_OPTIONS, ...extraOptions], '', '@ctxprop/logging');
  const opts = given as TraceFieldsOptions;

  const preset = opts.preset ?? 'otel';
  if (!FIELD_PRESETS.includes(preset)) {
    throw new InvalidOptionError('preset', `one of ${FIELD_PRESETS.map((p) => `"${p}"`).join(', ')}`, preset, 'For other key names use { fields: { traceId: "...", spanId: "..." } }.');
  }
  const definition = PRESET_FIELDS[preset];
  const keys = resolveKeys(preset, opts.fields);

  const projectId = resolveProjectId(preset, opts.projectId, env);

  const staticFields: (readonly [string, string])[] = [];
  for (const role of ['serviceName', 'serviceVersion', 'environment'] as const) {
    const value = opts[role];
    if (value !== undefined && (typeof value !== 'string' || value.length === 0)) {
      throw new InvalidOptionError(role, 'a non-empty string', value);
    }
    const resolved = value ?? firstEnv(env, definition.env[role]);
    const key = keys[role];
    if (resolved !== undefined && key !== undefined) staticFields.push([key, resolved]);
  }

  const listedKeys = opts.baggageKeys ?? [];
  if (!Array.isArray(listedKeys) || listedKeys.some((key) => typeof key !== 'string' || key.length === 0)) {
    throw new InvalidOptionError('baggageKeys', 'an array of non-empty strings', listedKeys, 'List the baggage keys to log, e.g. ["customer.tier"].');
  }
  // A key listed twice is logged once.
  const baggageKeys = [...new Set(listedKeys)];
  const baggagePrefix = opts.baggagePrefix ?? '';
  if (typeof baggagePrefix !== 'string') {
    throw new InvalidOptionError('baggagePrefix', 'a string', baggagePrefix, 'Use e.g. "baggage." or leave it out.');
  }
  const taken = new Set(Object.values(keys));
  const baggageFieldNames = baggageKeys.map((key) => {
    const field = baggagePrefix + key;
    if (loggerKeys.has(field)) {
      throw new InvalidOptionError(
        'baggageKeys',
        `keys whose log fields are not keys the logger writes itself (${[...loggerKeys].join(', ')})`,
        field,
        `Set baggagePrefix (e.g. "baggage.") to log it as "baggage.${key}".`,
      );
    }
    if (taken.has(field)) {
      throw new InvalidOptionError('baggageKeys', `keys whose log fields do not clash with the trace fields`, key, `Set baggagePrefix (e.g. "baggage.") or rename the field with the "fields" option.`);
    }
    taken.add(field);
    return field;
  });

  const guard = opts.sensitiveDataGuard ?? defaultSensitiveDataGuard;
  if (typeof guard !== 'function') {
    throw new InvalidOptionError('sensitiveDataGuard', 'a function (key, value) => reason | undefined', guard, 'Use createSensitiveDataGuard() from @ctxprop/core.');
  }

  const whenNoContext = opts.whenNoContext ?? 'omit';
  if (whenNoContext !== 'omit' && whenNoContext !== 'zeros') {
    throw new InvalidOptionError('whenNoContext', '"omit" or "zeros"', whenNoContext);
  }

  return {
    preset,
    traceIdKey: keys.traceId,
    spanIdKey: keys.spanId,
    traceFlagsKey: keys.traceFlags,
    traceSampledKey: keys.traceSampled,
    transactionIdKey: keys.transactionId,
    traceIdEncoding: definition.traceIdEncoding,
    spanIdEncoding: definition.spanIdEncoding,
    projectId,
    staticFields,
    baggageKeys,
    baggageFieldNames,
    sensitiveDataGuard: guard,
    zeros: whenNoContext === 'zeros',
  };
}

function resolveKeys(preset: FieldPreset, fields: unknown): Partial<Record<FieldRole, string>> {
  const keys: Partial<Record<FieldRole, string>> = { ...PRESET_FIELDS[preset].keys };
  if (fields === undefined) return keys;
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new InvalidOptionError('fields', 'an object of key names by role', fields, 'For example { traceId: "traceId", spanId: "spanId" }.');
  }
  const supported = ROLES.filter((role) => keys[role] !== undefined);
  for (const [role, name] of Object.entries(fields as Record<string, unknown>)) {
    if (!supported.includes(role as FieldRole)) {
      throw new InvalidOptionError(`fields.${role}`, `one of the roles of preset "${preset}"`, name, `Roles of "${preset}": ${supported.join(', ')}.`);
    }
    if (name === false) delete keys[role as FieldRole];
    else if (typeof name === 'string' && name.length > 0) keys[role as FieldRole] = name;
    else if (name !== undefined) {
      throw new InvalidOptionError(`fields.${role}`, 'a non-empty string, or false to leave the field out', name);
    }
  }
  const seen = new Set<string>();
  for (const name of Object.values(keys)) {
    if (seen.has(name)) {
      throw new InvalidOptionError('fields', 'distinct key names', name, 'Give each role its own key.');
    }
    seen.add(name);
  }
  return keys;
}

function resolveProjectId(preset: FieldPreset, projectId: unknown, env: NodeJS.ProcessEnv): string | undefined {
  if (preset !== 'gcp') {
    if (projectId !== undefined) {
      throw new InvalidOptionError('projectId', 'used only with preset "gcp"', projectId, `Remove it, or set { preset: "gcp" }.`);
    }
    return undefined;
  }
  const resolved = projectId ?? firstEnv(env, [GCP_PROJECT_ENV]);
  if (typeof resolved !== 'string' || !isProjectId(resolved)) {
    throw new InvalidOptionError(
      'projectId',
      'a Google Cloud project id with preset "gcp"',
      resolved,
      `Pass { preset: "gcp", projectId: "my-project" } or set ${GCP_PROJECT_ENV}.`,
    );
  }
  return resolved;
}

// Project ids are letters, digits, hyphens (and a legacy "domain:" prefix); reject only what
// would break the "projects/PROJECT/traces/ID" path.
function isProjectId(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x20 || c === 0x2f /* / */ || c >= 0x7f) return false;
  }
  return true;
}

function firstEnv(env: NodeJS.ProcessEnv, names: readonly string[] | undefined): string | undefined {
  if (names === undefined) return undefined;
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value.trim().length > 0) return value.trim();
  }
  return undefined;
}
