/**
 * The templates of the mount paths a request passed through, for its route template.
 *
 * A route's template is its mount paths plus its own path. Express keeps the mount paths only as
 * the request's `req.baseUrl`, which holds what the client sent: a router mounted at
 * `/users/:uid` gives `/users/42`, and one mounted at `/api` gives `/API` to a client that spells
 * it so (Express matches mount paths without regard to case): one span name and one histogram
 * series per user, or per spelling. So where a mount path's value differs from its declared path,
 * the declared one is noted when the request enters the mount's layer, keyed by the
 * `req.baseUrl` value it stands for; a route entered under it finds the template of its
 * `req.baseUrl` here. A literal mount path spelt as declared is its own template and is not
 * noted. A mount path given as a RegExp (or one whose value cannot be told from the rest) has no
 * template: the routes under it get none either.
 *
 * Express 5's layers (the `router` package) keep the mount path as given (`rawPath`); Express 4's
 * keep the part of the path they matched (`path`), their parameter names (`keys`) and the
 * expression the path was compiled to, from which the declared path is read back.
 */

/** The parts of an Express 4 or 5 `Layer` read here. */
export interface MountLayer {
  /** Express 5: the path the layer was declared with: a string, a RegExp or an array. */
  readonly rawPath?: unknown;
  /** Express 4: the part of the request's path the layer matched. */
  readonly path?: unknown;
  /** Express 4: the names of the layer's parameters, in order. */
  readonly keys?: unknown;
  /** Express 4: the values of the layer's parameters. */
  readonly params?: unknown;
  /** Express 4: the layer's regular expression (the declared one when declared as a RegExp). */
  readonly regexp?: { readonly source?: unknown } | null;
}

/** How the regular expression Express 4 compiles from a mount path string ends (path-to-regexp 0.1, `end: false`). */
const COMPILED_MOUNT_END = '(?=\\/|$)';
/** The optional trailing slash before it (not in a `strict` router's). */
const OPTIONAL_SLASH = '\\/?';
/** What path-to-regexp 0.1 compiles a `/:name` segment to. */
const COMPILED_PARAMETER = '(?:\\/([^/]+?))';
/** Characters of a compiled path that are regular-expression syntax, not text. */
const PATTERN_SYNTAX = '()[]{}*+?|^$.';

/** Per request scope: `req.baseUrl` values whose template differs from the value (null: none). */
const templatesByScope = new WeakMap<object, Map<string, string | null>>();

/** Express 4 layers' declared mount templates, read back from their compiled expressions once. */
const declaredTemplates = new WeakMap<object, readonly (string | null)[]>();

/** A mount path's declared template and the part of `req.baseUrl` it matched; `template` null when it has none. */
interface OwnMount {
  readonly template: string | null;
  readonly value: string | undefined;
}

const NO_TEMPLATE: OwnMount = Object.freeze({ template: null, value: undefined });

function withoutTrailingSlash(path: string): string {
  return path.length > 1 && path.charCodeAt(path.length - 1) === 0x2f ? path.slice(0, -1) : path;
}

function segmentCount(path: string): number {
  let count = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 0x2f && i + 1 < path.length && path.charCodeAt(i + 1) !== 0x2f) count++;
  return count;
}

/** The last `count` segments of `path` (`/users/42` of `/a/users/42` for 2), or undefined when it has fewer. */
function lastSegments(path: string, count: number): string | undefined {
  let start = path.length;
  for (let found = 0; found < count; found++) {
    start = path.lastIndexOf('/', start - 1);
    if (start === -1) return undefined;
  }
  return path.slice(start);
}

/**
 * Express 4: the mount paths a layer was declared with (one, or each of an array's), read back
 * from the expression path-to-regexp 0.1 compiled them to (`^\/users(?:\/([^/]+?))\/?(?=\/|$)` is
 * `/users/:uid`; an array's are joined by `|`): literal text, and `/:name` segments named by the
 * layer's keys. Null for anything else (a RegExp the app gave, an optional or custom parameter, a
 * wildcard; a parameter in an array's path, whose keys cannot be told apart).
 */
function declaredTemplatesOf(layer: MountLayer): readonly (string | null)[] {
  const cached = declaredTemplates.get(layer);
  if (cached !== undefined) return cached;
  const source = layer.regexp?.source;
  const keys = Array.isArray(layer.keys) ? (layer.keys as readonly { readonly name?: unknown }[]) : [];
  let templates: (string | null)[];
  if (typeof source !== 'string') templates = [null];
  else {
    const alternatives = source.split('|^');
    templates = alternatives.map((alternative, index) => readCompiledTemplate(index === 0 ? alternative : '^' + alternative, alternatives.length === 1 ? keys : []));
  }
  declaredTemplates.set(layer, templates);
  return templates;
}

function readCompiledTemplate(source: string, keys: readonly { readonly name?: unknown }[]): string | null {
  if (source.charCodeAt(0) !== 0x5e || !source.endsWith(COMPILED_MOUNT_END)) return null;
  let end = source.length - COMPILED_MOUNT_END.length;
  if (source.startsWith(OPTIONAL_SLASH, end - OPTIONAL_SLASH.length)) end -= OPTIONAL_SLASH.length;
  let template = '';
  let next = 0;
  for (let i = 1; i < end; ) {
    if (source.startsWith(COMPILED_PARAMETER, i)) {
      const name = keys[next++]?.name;
      if (typeof name !== 'string') return null;
      template += '/:' + name;
      i += COMPILED_PARAMETER.length;
    } else if (source.charCodeAt(i) === 0x5c) {
      template += source.charAt(i + 1);
      i += 2;
    } else if (PATTERN_SYNTAX.includes(source.charAt(i))) {
      return null;
    } else {
      template += source.charAt(i);
      i++;
    }
  }
  return next === keys.length && template !== '' ? withoutTrailingSlash(template) : null;
}

/** The description of the symbol under which the router package (2.3+) keeps the path a layer matched. */
const MATCHED_ROUTE_DESCRIPTION = 'router.tracing.matchedRoute';

/** The path of an array the router package says the request matched (its own symbol, found by description). */
function matchedPatternOf(req: object): unknown {
  for (const symbol of Object.getOwnPropertySymbols(req)) {
    if (symbol.description === MATCHED_ROUTE_DESCRIPTION) return (req as Record<symbol, unknown>)[symbol];
  }
  return undefined;
}

/** The one of an array's literal mount paths that `value` (the client's spelling) is, without regard to case. */
function literalMatching(templates: readonly unknown[], value: string | undefined): string | null {
  if (value === undefined) return null;
  const lower = value.toLowerCase();
  for (const template of templates) {
    if (typeof template !== 'string' || template.indexOf(':') !== -1 || hasUncountablePattern(template)) continue;
    const literal = withoutTrailingSlash(template);
    if (literal.toLowerCase() === lower) return literal;
  }
  return null;
}

/** Characters of a path-to-regexp path other than `:` that make its segments impossible to count. */
function hasUncountablePattern(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    // * ( ) { } ? +
    if (c === 0x2a || c === 0x28 || c === 0x29 || c === 0x7b || c === 0x7d || c === 0x3f || c === 0x2b) return true;
  }
  return false;
}

/**
 * The mount of `layer` as the request entered it with `baseUrl`: the path it was declared with
 * (Express matches it without regard to case, so the client's spelling is not it) and the part
 * of `baseUrl` it matched; undefined for a layer that is not mounted on a path.
 */
function ownMount(layer: MountLayer, baseUrl: string, req: object): OwnMount | undefined {
  if ('rawPath' in layer) {
    const raw = layer.rawPath;
    if (raw === '/' || raw === '') return undefined;
    if (Array.isArray(raw)) {
      // An array of paths: the literal one the request matched (a parameter's could be any). The
      // router package (2.3+) keeps the path it matched on the request; before, the first path
      // that the end of `baseUrl` spells is taken.
      const pattern = matchedPatternOf(req);
      const candidates = typeof pattern === 'string' && (raw as unknown[]).includes(pattern) ? [pattern] : (raw as unknown[]);
      for (const candidate of candidates) {
        if (typeof candidate !== 'string') continue;
        const value = lastSegments(baseUrl, segmentCount(withoutTrailingSlash(candidate)));
        const template = literalMatching([candidate], value);
        if (template !== null) return { template, value };
      }
      return NO_TEMPLATE;
    }
    if (typeof raw !== 'string') return NO_TEMPLATE;
    const template = withoutTrailingSlash(raw);
    if (hasUncountablePattern(template)) return NO_TEMPLATE;
    return { template, value: lastSegments(baseUrl, segmentCount(template)) };
  }
  const matched = layer.path;
  if (typeof matched !== 'string' || matched === '' || matched === '/') return undefined;
  const value = withoutTrailingSlash(matched);
  const templates = declaredTemplatesOf(layer);
  return { template: templates.length === 1 ? templates[0]! : literalMatching(templates, value), value };
}

/** The template of `baseUrl` from the noted mounts: the longest noted value it is or starts with, the rest literal. */
function templateOf(templates: Map<string, string | null> | undefined, baseUrl: string): string | null {
  if (templates === undefined) return baseUrl;
  let best: string | undefined;
  for (const key of templates.keys()) {
    if ((baseUrl === key || (baseUrl.startsWith(key) && baseUrl.charCodeAt(key.length) === 0x2f)) && (best === undefined || key.length > best.length)) best = key;
  }
  if (best === undefined) return baseUrl;
  const template = templates.get(best)!;
  return template === null ? null : template + baseUrl.slice(best.length);
}

/**
 * Notes the template of the mount path of `layer` (not a route's layer), entered for `req`, the
 * request of `scope` (its `req.baseUrl` holds the mount's value by then). Does nothing for a
 * literal mount path the client spelt as declared, the usual case.
 *
 * @example
 * ```ts
 * if (layer.route === undefined) noteMount(scope, layer, req);
 * ```
 */
export function noteMount(scope: object, layer: MountLayer, req: object): void {
  const baseUrl = (req as { baseUrl?: unknown }).baseUrl;
  if (typeof baseUrl !== 'string' || baseUrl === '') return;
  const own = ownMount(layer, baseUrl, req);
  if (own === undefined) return;
  let templates = templatesByScope.get(scope);
  // A literal mount path spelt as declared, under mounts that were too: `baseUrl` is the template.
  if (templates === undefined && own.template === own.value) return;
  let template: string | null = null;
  if (own.template !== null && own.value !== undefined && baseUrl.endsWith(own.value)) {
    const parent = templateOf(templates, baseUrl.slice(0, baseUrl.length - own.value.length));
    if (parent !== null) template = parent + own.template;
  }
  if (templates === undefined) templatesByScope.set(scope, (templates = new Map()));
  templates.set(baseUrl, template);
}

/**
 * The template of the mount paths behind a route entered with `baseUrl` (`req.baseUrl`) for the
 * request of `scope`: `baseUrl` itself when every mount path on the way was literal, the noted
 * templates otherwise, null when one of them has none.
 *
 * @example
 * ```ts
 * const base = mountTemplateOf(scope, req.baseUrl); // '/users/:uid' for '/users/42'
 * ```
 */
export function mountTemplateOf(scope: object, baseUrl: unknown): string | null {
  return templateOf(templatesByScope.get(scope), typeof baseUrl === 'string' ? baseUrl : '');
}
