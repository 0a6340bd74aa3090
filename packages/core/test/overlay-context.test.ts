import { createContextKey, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import fc from 'fast-check';
import { overlayContext } from '../src/context/overlay-context';

const KEYS = Array.from({ length: 12 }, (_, i) => createContextKey(`key ${i}`));

type Operation = { kind: 'set'; key: number; value: number } | { kind: 'delete'; key: number };
const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key: fc.nat(KEYS.length - 1), value: fc.integer() }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.nat(KEYS.length - 1) }),
);

function apply(ctx: Context, op: Operation): Context {
  return op.kind === 'set' ? ctx.setValue(KEYS[op.key]!, op.value) : ctx.deleteValue(KEYS[op.key]!);
}

const read = (ctx: Context) => KEYS.map((key) => ctx.getValue(key));

describe('overlayContext()', () => {
  it('reads, sets and deletes exactly as the API context does, for any sequence of operations', () => {
    // The parent holds values of its own, which the overlay's sets and deletes must hide.
    const parent = ROOT_CONTEXT.setValue(KEYS[1]!, 'parent 1').setValue(KEYS[2]!, 'parent 2');
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 40 }), fc.integer(), (operations, first) => {
        let expected = parent.setValue(KEYS[0]!, first);
        let actual = overlayContext(parent, KEYS[0]!, first);
        for (const op of operations) {
          const beforeExpected = read(expected);
          const beforeActual = read(actual);
          expected = apply(expected, op);
          actual = apply(actual, op);
          expect(read(actual)).toEqual(read(expected));
          // Contexts are immutable: the one before the operation is unchanged.
          expect(beforeActual).toEqual(beforeExpected);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('leaves the parent context unchanged and reads through to it', () => {
    const parent = ROOT_CONTEXT.setValue(KEYS[1]!, 'parent');
    const ctx = overlayContext(parent, KEYS[0]!, 'own').setValue(KEYS[2]!, 'more');
    expect(read(ctx).slice(0, 3)).toEqual(['own', 'parent', 'more']);
    expect(read(parent).slice(0, 3)).toEqual([undefined, 'parent', undefined]);
  });

  it('hides a parent value that is deleted', () => {
    const parent = ROOT_CONTEXT.setValue(KEYS[1]!, 'parent');
    expect(overlayContext(parent, KEYS[0]!, 'own').deleteValue(KEYS[1]!).getValue(KEYS[1]!)).toBeUndefined();
  });
});
