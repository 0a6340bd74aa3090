/**
 * Builds the id part of a log record. Each preset with its own key names gets an object literal
 * of one fixed shape: pino iterates the mixin's object on every line, and objects built by
 * assigning computed keys take one shape per key set, which, with several mixins in a process,
 * makes the shared code polymorphic and measurably slower (see bench/logging.bench.mjs). Renamed
 * keys take the generic path.
 */
import type { ResolvedOptions } from './options.js';
import { PRESET_FIELDS } from './presets.js';

/** Ids of one span context, already encoded for the preset. */
export interface FormattedIds {
  readonly traceId: string;
  readonly spanId: string;
  /** The span id in hex, whatever the preset's encoding (ECS `transaction.id`). */
  readonly spanHex: string;
  readonly traceFlags: string;
  readonly traceSampled: boolean;
}

/** Returns a fresh record holding the id fields; `transactionId` is written only when defined. */
export type IdFieldsBuilder = (ids: FormattedIds, transactionId: string | undefined) => Record<string, unknown>;

const ID_ROLES = ['traceId', 'spanId', 'traceFlags', 'traceSampled', 'transactionId'] as const;

function keyOf(resolved: ResolvedOptions, role: (typeof ID_ROLES)[number]): string | undefined {
  switch (role) {
    case 'traceId':
      return resolved.traceIdKey;
    case 'spanId':
      return resolved.spanIdKey;
    case 'traceFlags':
      return resolved.traceFlagsKey;
    case 'traceSampled':
      return resolved.traceSampledKey;
    default:
      return resolved.transactionIdKey;
  }
}

/** The builder for `resolved`: a fixed-shape literal when the keys are the preset's own. */
export function createIdFieldsBuilder(resolved: ResolvedOptions): IdFieldsBuilder {
  const defaults = PRESET_FIELDS[resolved.preset].keys;
  const presetKeys = ID_ROLES.every((role) => keyOf(resolved, role) === defaults[role]);
  if (presetKeys) {
    switch (resolved.preset) {
      case 'otel':
        return (ids) => ({ trace_id: ids.traceId, span_id: ids.spanId, trace_flags: ids.traceFlags });
      case 'ecs':
        return (ids, transactionId) =>
          transactionId === undefined
            ? { 'trace.id': ids.traceId, 'span.id': ids.spanId }
            : { 'trace.id': ids.traceId, 'span.id': ids.spanId, 'transaction.id': transactionId };
      case 'datadog':
        return (ids) => ({ 'dd.trace_id': ids.traceId, 'dd.span_id': ids.spanId });
      case 'gcp':
        return (ids) => ({
          'logging.googleapis.com/trace': ids.traceId,
          'logging.googleapis.com/spanId': ids.spanId,
          'logging.googleapis.com/trace_sampled': ids.traceSampled,
        });
    }
  }
  const { traceIdKey, spanIdKey, traceFlagsKey, traceSampledKey, transactionIdKey } = resolved;
  return function buildRenamedIdFields(ids, transactionId) {
    const fields: Record<string, unknown> = {};
    if (traceIdKey !== undefined) fields[traceIdKey] = ids.traceId;
    if (spanIdKey !== undefined) fields[spanIdKey] = ids.spanId;
    if (traceFlagsKey !== undefined) fields[traceFlagsKey] = ids.traceFlags;
    if (traceSampledKey !== undefined) fields[traceSampledKey] = ids.traceSampled;
    if (transactionIdKey !== undefined && transactionId !== undefined) fields[transactionIdKey] = transactionId;
    return fields;
  };
}
