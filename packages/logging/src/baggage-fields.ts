/**
 * Chosen baggage entries as log fields. Only allowlisted keys are read, and each value passes the
 * sensitive-data guard first: a value that looks like a secret or personal data never reaches a
 * log line. Baggage objects are immutable, so the guarded fields of one are computed once and
 * reused for every line logged under it.
 */
import type { Baggage } from '@opentelemetry/api';
import { countDiagnostic, warnOnce, type SensitiveDataGuard } from '@ctxprop/core';

/** Writes the allowlisted baggage entries of a baggage into a log record. */
export type BaggageFieldWriter = (target: Record<string, unknown>, baggage: Baggage | undefined) => void;

/** Flat `[field, value, field, value, …]` list of one baggage's loggable entries. */
type GuardedFields = readonly string[];

const NONE: GuardedFields = [];

/**
 * Builds the writer for `keys` (baggage keys) logged under `fieldNames`, with `guard` deciding
 * which values may be logged.
 */
export function createBaggageFieldWriter(
  keys: readonly string[],
  fieldNames: readonly string[],
  guard: SensitiveDataGuard,
): BaggageFieldWriter {
  const cache = new WeakMap<Baggage, GuardedFields>();

  function guardedFields(baggage: Baggage): GuardedFields {
    let fields = cache.get(baggage);
    if (fields !== undefined) return fields;
    let out: string[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const entry = baggage.getEntry(keys[i]!);
      if (entry === undefined || typeof entry.value !== 'string') continue;
      const refusal = safeGuard(guard, keys[i]!, entry.value);
      if (refusal !== undefined) {
        countDiagnostic('baggage.sensitive.refused');
        warnOnce(
          'CTXPROP_LOG_BAGGAGE_REFUSED',
          `ctxprop: baggage key "${keys[i]}" was not written to the log: ${refusal}. Remove it from baggageKeys or pass a sensitiveDataGuard that allows it.`,
        );
        continue;
      }
      (out ??= []).push(fieldNames[i]!, entry.value);
    }
    fields = out ?? NONE;
    cache.set(baggage, fields);
    return fields;
  }

  return function writeBaggageFields(target, baggage) {
    if (baggage === undefined) return;
    const fields = guardedFields(baggage);
    for (let i = 0; i < fields.length; i += 2) target[fields[i]!] = fields[i + 1];
  };
}

// A guard that throws must not break the log call: the value is refused instead.
function safeGuard(guard: SensitiveDataGuard, key: string, value: string): string | undefined {
  try {
    return guard(key, value);
  } catch {
    countDiagnostic('internal.error');
    return 'the sensitive-data guard threw';
  }
}
