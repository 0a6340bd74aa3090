/**
 * winston transports for tests: one that keeps each formatted line as winston hands it over, and
 * one that takes a while to write each entry, so that winston buffers entries behind it and runs
 * the formats later, outside the log call.
 */
import winston from 'winston';

export const MESSAGE = Symbol.for('message');

// winston exports its base transport class (winston-transport) as `Transport` at run time; its
// types do not declare that name, so the class is typed from what `logger.add()` takes.
type TransportInstance = Parameters<winston.Logger['add']>[0];
const TransportBase = (winston as unknown as { Transport: new () => TransportInstance }).Transport;

/** A transport that keeps each formatted line as winston hands it over. */
export class MemoryTransport extends TransportBase {
  readonly lines: string[] = [];

  override log(info: Record<string | symbol, unknown>, callback: () => void): void {
    this.lines.push(info[MESSAGE] as string);
    callback();
  }
}

/** A transport that takes `delayMs` to write each entry (a JSON line), so winston buffers behind it. */
export class SlowTransport extends TransportBase {
  readonly records: Record<string, unknown>[] = [];

  constructor(private readonly delayMs: number) {
    super();
  }

  override log(info: Record<string | symbol, unknown>, callback: () => void): void {
    setTimeout(() => {
      this.records.push(JSON.parse(info[MESSAGE] as string) as Record<string, unknown>);
      callback();
    }, this.delayMs);
  }
}

/** Waits until `check()` holds (10 s at most). */
export async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
