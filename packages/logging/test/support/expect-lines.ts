/**
 * Checks captured log records against what each request's client sent: every record names its
 * request (`n`), and its trace fields must be that request's, with the span id the caller
 * expects (the client's parent id with no SDK, the recorded server span's id with one).
 */
import type { LogRecord } from './capture';
import type { SentContext } from './trace-headers';

export interface Expected {
  readonly sent: SentContext;
  readonly spanId: string;
}

/** Returns a description of each mismatch (empty when every line is right). */
export function mismatches(records: readonly LogRecord[], expected: ReadonlyMap<number, Expected>, linesPerRequest: number): string[] {
  const problems: string[] = [];
  const counts = new Map<number, number>();
  for (const record of records) {
    const n = record.n as number;
    const want = expected.get(n);
    if (want === undefined) {
      problems.push(`line for unknown request ${String(n)}: ${JSON.stringify(record)}`);
      continue;
    }
    counts.set(n, (counts.get(n) ?? 0) + 1);
    const got = [record.trace_id, record.span_id, record.trace_flags, record['customer.tier']];
    const exp = [want.sent.traceId, want.spanId, want.sent.flags, want.sent.tier];
    if (got.some((value, i) => value !== exp[i])) problems.push(`request ${n}: got ${JSON.stringify(got)}, expected ${JSON.stringify(exp)}`);
  }
  for (const n of expected.keys()) {
    if (counts.get(n) !== linesPerRequest) problems.push(`request ${n}: ${counts.get(n) ?? 0} lines, expected ${linesPerRequest}`);
  }
  return problems;
}
