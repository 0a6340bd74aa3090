// The `Express.Request` augmentation and the option types, as a TypeScript user sees them: a
// consumer file is type-checked strictly with Express's own typings.
import { join } from 'node:path';
import ts from 'typescript';

describe('TypeScript typings', () => {
  it('type-check a consumer app strictly: req.baggage, req.traceContext, req.setBaggage and the options', () => {
    const root = join(__dirname, '..', '..', '..');
    const program = ts.createProgram([join(__dirname, 'fixtures', 'typed-app.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      esModuleInterop: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(root, 'node_modules', '@types')],
      paths: { '@ctxprop/core': [join(root, 'packages', 'core', 'src', 'index.ts')] },
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
  });
});
