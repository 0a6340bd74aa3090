/**
 * Hex helpers shared by every trace-id format. Hand-written loops over char codes: no regex runs
 * on wire input (DESIGN decision 6), so the cost is linear and allocation-free.
 */

/** A 32-hex-digit trace id of all zeros: invalid in every format. */
export const INVALID_TRACE_ID = '00000000000000000000000000000000';
/** A 16-hex-digit span id of all zeros: invalid in every format. */
export const INVALID_SPAN_ID = '0000000000000000';

/** True when `text[start..end)` is only `0-9a-f`. */
export function isLowerHex(text: string, start = 0, end = text.length): boolean {
  if (end > text.length) return false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    // 0-9 or a-f
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** True when `text[start..end)` is only `0-9a-fA-F`. */
export function isHex(text: string, start = 0, end = text.length): boolean {
  if (end > text.length) return false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) continue;
    // Letters only are folded (A-F onto a-f): folding first would also turn U+0010-U+0019 into digits.
    const letter = c | 0x20;
    if (letter < 97 || letter > 102) return false;
  }
  return true;
}

/** True when `text[start..end)` is only `0`. */
export function isAllZeros(text: string, start = 0, end = text.length): boolean {
  for (let i = start; i < end; i++) if (text.charCodeAt(i) !== 48) return false;
  return true;
}

/**
 * Two lowercase hex digits of a byte: `5` -> `'05'`, `0x1f` -> `'1f'`. Never
 * `` `0${n.toString(16)}` ``, which writes `'010'` for 0x10.
 */
export function byteToHex(value: number): string {
  return BYTE_HEX[value & 0xff]!;
}

const BYTE_HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Parses two hex digits at `start` (either case) into a byte, or -1. */
export function hexByteAt(text: string, start: number): number {
  const high = hexDigit(text.charCodeAt(start));
  const low = hexDigit(text.charCodeAt(start + 1));
  return high < 0 || low < 0 ? -1 : (high << 4) | low;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const folded = c | 0x20;
  if (folded >= 97 && folded <= 102) return folded - 87;
  return -1;
}

/**
 * Left-pads a 16-digit id to 32 digits with zeros (B3, Jaeger and OT allow 64-bit trace ids;
 * W3C needs 128 bits).
 */
export function padTraceId(id: string): string {
  return id.length === 32 ? id : id.padStart(32, '0');
}
