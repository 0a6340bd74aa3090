/**
 * The house rule for public APIs, checked: every export named in a package's `src/index.ts` has
 * TSDoc with an `@example`. Reads the declarations through the TypeScript compiler, so a
 * re-export (`export { a as b } from './x.js'`) is followed to the declaration it names.
 */
import * as ts from 'typescript';

/** An export of an entry point and whether its declaration carries an `@example`. */
export interface ExportDoc {
  readonly name: string;
  readonly hasExample: boolean;
}

function hasExample(declaration: ts.Declaration): boolean {
  // Variable declarations carry their comment on the statement; getJSDocTags walks up to it.
  return ts.getJSDocTags(declaration).some((tag) => tag.tagName.text === 'example');
}

/**
 * The exports of each entry point (absolute paths of `index.ts` files), in one program.
 * `paths` maps package names (`@ctxprop/core`) to entry points, as the workspace does.
 */
export function exportDocs(entryPoints: readonly string[], paths: Record<string, string[]> = {}): Map<string, ExportDoc[]> {
  const program = ts.createProgram(entryPoints, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: ['node'],
    skipLibCheck: true,
    noEmit: true,
    paths,
  });
  const checker = program.getTypeChecker();
  const result = new Map<string, ExportDoc[]>();
  for (const entryPoint of entryPoints) {
    const source = program.getSourceFile(entryPoint);
    const moduleSymbol = source === undefined ? undefined : checker.getSymbolAtLocation(source);
    if (moduleSymbol === undefined) throw new Error(`api-docs: ${entryPoint} is not a module the compiler could read`);
    result.set(
      entryPoint,
      checker.getExportsOfModule(moduleSymbol).map((exported) => {
        const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
        return { name: exported.name, hasExample: (target.declarations ?? []).some(hasExample) };
      }),
    );
  }
  return result;
}
