/**
 * The templates of the mount paths a request passed through, for its route template.
 *
 * A route's template is its mount paths plus its own path. Express keeps the mount paths only as
 * the request's `req.baseUrl`, which holds the values the client sent: a router mounted at
 * `/users/:uid` gives `/users/42`, one span name and one histogram series per user. So where a
 * mount path has parameters, its template is noted when the request enters the mount's layer,
 * keyed by the `req.baseUrl` value it stands for; a route entered under it finds the template of
 * its `req.baseUrl` here. Literal mount paths are their own template and are not noted. A mount
 * path given as a RegExp (or one whose value cannot be told from the rest) has no template: the
 * routes under it get none either.
 *
 * Express 5's layers (the `router` package) keep the mount path as given (`rawPath`); Express 4's
 * keep the part of the path they matched (`path`), their parameter names (`keys`) and values
 * (`params`), from which the template is rebuilt.
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

/** Per request scope: `req.baseUrl` values whose template differs from the value (null: none). */
const templatesByScope = new WeakMap<object, Map<string, string | null>>();

/** A mount path's own template and the part of `req.baseUrl` it matched; `template` null when it has none. */
interface OwnMount {
  readonly template: string | null;
  readonly value: string | undefined;
}

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

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Express 4: the template of a matched mount path (`/users/42`), each segment that is the value of
 * the next parameter replaced by its name (`/users/:uid`); null when a parameter is not a whole
 * segment (optional, unnamed, or part of a segment).
 */
function templateFromValue(value: string, keys: readonly { readonly name?: unknown }[], params: unknown): string | null {
  const values = (params ?? {}) as Record<string, unknown>;
  const segments = value.split('/');
  let next = 0;
  for (let i = 1; i < segments.length && next < keys.length; i++) {
    const name = keys[next]!.name;
    if (typeof name !== 'string') return null;
    const parameter = values[name];
    if (typeof parameter === 'string' && (segments[i] === parameter || decoded(segments[i]!) === parameter)) {
      segments[i] = ':' + name;
      next++;
    }
  }
  return next === keys.length ? segments.join('/') : null;
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

/** The mount of `layer` as the request entered it with `baseUrl`; undefined when it is literal (or no mount). */
function ownMount(layer: MountLayer, baseUrl: string): OwnMount | undefined {
  if ('rawPath' in layer) {
    const raw = layer.rawPath;
    if (raw === '/') return undefined;
    if (typeof raw !== 'string') return { template: null, value: undefined };
    if (raw.indexOf(':') === -1 && !hasUncountablePattern(raw)) return undefined;
    const template = withoutTrailingSlash(raw);
    if (hasUncountablePattern(template)) return { template: null, value: undefined };
    return { template, value: lastSegments(baseUrl, segmentCount(template)) };
  }
  const matched = layer.path;
  if (typeof matched !== 'string' || matched === '' || matched === '/') return undefined;
  const value = withoutTrailingSlash(matched);
  const source = layer.regexp?.source;
  // Declared as a RegExp: Express 4 keeps the user's own expression.
  if (typeof source !== 'string' || !source.endsWith(COMPILED_MOUNT_END)) return { template: null, value };
  const keys = layer.keys;
  if (!Array.isArray(keys) || keys.length === 0) return undefined;
  return { template: templateFromValue(value, keys as { name?: unknown }[], layer.params), value };
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
 * Notes the template of the mount path of `layer` (not a route's layer), entered for the request
 * of `scope` with `baseUrl` (`req.baseUrl`, the mount's value included). Does nothing for a
 * literal mount path, the usual case.
 *
 * @example
 * ```ts
 * if (layer.route === undefined) noteMount(scope, layer, req.baseUrl);
 * ```
 */
export function noteMount(scope: object, layer: MountLayer, baseUrl: unknown): void {
  if (typeof baseUrl !== 'string' || baseUrl === '') return;
  const own = ownMount(layer, baseUrl);
  if (own === undefined) return;
  let templates = templatesByScope.get(scope);
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
