/**
 * Routes ARI requests with a table built from the Swagger spec, walking path segments the way
 * Asterisk's `ast_ari_invoke` does, and parses parameters by their declared types. Handlers declare
 * the parameters they read (`reads`), and can read nothing else, so the contract test can check
 * structurally that the emulator only serves what the spec declares.
 */
import type { AriOperation, AriParameter, AriSpec, HttpMethod } from './ari-spec.ts';
import { operationKey } from './ari-spec.ts';
import type { EmulatorCore } from './emulator-core.ts';

export type ParamValue = string | number | boolean | string[] | Record<string, unknown>;

export interface HandlerResult {
  status: number;
  /** JSON body; undefined for an empty body (204). */
  body?: unknown;
  /** A body that is not JSON (a `binary` operation: a stored recording's file); `headers` give its type. */
  raw?: Buffer;
  headers?: Record<string, string>;
  /** Runs right after the response is written (events Asterisk sends after replying). */
  after?: () => void;
}

/** What a handler sees of the request: only the parameters it declared in `reads`. */
export interface RequestContext {
  readonly core: EmulatorCore;
  string(name: string): string | undefined;
  int(name: string): number | undefined;
  bool(name: string): boolean | undefined;
  list(name: string): string[] | undefined;
  /** A body (`containers`) parameter: the request's JSON body object. */
  object(name: string): Record<string, unknown> | undefined;
}

export interface OperationHandler {
  resource: string;
  nickname: string;
  /** Every parameter name the handler reads; each must be declared for the operation. */
  reads: readonly string[];
  handle(ctx: RequestContext): HandlerResult;
}

export interface ImplementedOperation {
  resource: string;
  nickname: string;
  method: HttpMethod;
  path: string;
  reads: readonly string[];
}

export interface Route {
  op: AriOperation;
  handler: OperationHandler | undefined;
}

interface Node {
  segment: string;
  wildcard: boolean;
  children: Node[];
  routes: Map<HttpMethod, Route>;
}

export type MatchResult =
  | { kind: 'found'; route: Route; pathParams: Map<string, string> }
  | { kind: 'not-found' }
  | { kind: 'method-not-allowed'; allow: HttpMethod[] };

export type ParseResult =
  | { ok: true; values: Map<string, ParamValue>; unknown: string[] }
  | { ok: false; message: string };

/** Query names Asterisk consumes before routing (authentication), never declared per operation. */
const TRANSPORT_PARAMS = new Set(['api_key']);

export class SpecRouter {
  readonly implemented: ImplementedOperation[];
  readonly #root: Node = { segment: '', wildcard: false, children: [], routes: new Map() };

  constructor(spec: AriSpec, handlers: readonly OperationHandler[]) {
    const byKey = new Map<string, OperationHandler>();
    for (const handler of handlers) byKey.set(operationKey(handler), handler);
    const implemented: ImplementedOperation[] = [];
    for (const op of spec.operations) {
      const handler = byKey.get(operationKey(op));
      if (handler) {
        byKey.delete(operationKey(op));
        const declared = new Set(op.parameters.map((p) => p.name));
        const undeclared = handler.reads.filter((name) => !declared.has(name));
        if (undeclared.length > 0) {
          throw new Error(`${operationKey(op)} reads undeclared parameters: ${undeclared.join(', ')}`);
        }
        implemented.push({
          resource: op.resource,
          nickname: op.nickname,
          method: op.method,
          path: op.path,
          reads: handler.reads,
        });
      }
      this.#insert(op, handler);
    }
    if (byKey.size > 0)
      throw new Error(`handlers for operations not in the spec: ${[...byKey.keys()].join(', ')}`);
    this.implemented = implemented;
  }

  #insert(op: AriOperation, handler: OperationHandler | undefined): void {
    let node = this.#root;
    for (const segment of op.path.split('/').filter((s) => s.length > 0)) {
      const wildcard = segment.startsWith('{') && segment.endsWith('}');
      const name = wildcard ? segment.slice(1, -1) : segment;
      let child = node.children.find((c) => c.segment === name && c.wildcard === wildcard);
      if (!child) {
        child = { segment: name, wildcard, children: [], routes: new Map() };
        node.children.push(child);
      }
      node = child;
    }
    node.routes.set(op.method, { op, handler });
  }

  /**
   * Finds the route for `pathname` (relative to `/ari`, e.g. `/channels/123/answer`). Like
   * Asterisk, each segment takes the first child that matches, literal or wildcard, in spec order.
   */
  match(method: string, pathname: string): MatchResult {
    let node = this.#root;
    const pathParams = new Map<string, string>();
    for (const raw of pathname.split('/').filter((s) => s.length > 0)) {
      const segment = decodeSegment(raw);
      if (segment === undefined) return { kind: 'not-found' };
      const child = node.children.find((c) => c.wildcard || c.segment === segment);
      if (!child) return { kind: 'not-found' };
      if (child.wildcard) pathParams.set(child.segment, segment);
      node = child;
    }
    const route = node.routes.get(method.toUpperCase() as HttpMethod);
    if (!route) {
      if (node.routes.size === 0) return { kind: 'not-found' };
      return { kind: 'method-not-allowed', allow: [...node.routes.keys()] };
    }
    return { kind: 'found', route, pathParams };
  }
}

function decodeSegment(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}

/**
 * Parses an operation's parameters from path, query string and JSON body. As in Asterisk's
 * generated `*_parse_body`, body fields named like query parameters override the query string, and a
 * body (`containers`) parameter receives the whole body. Unlike Asterisk (which `atoi()`s), a value
 * that is not of the declared type is rejected with 400, so a client bug cannot hide as a 0.
 */
export function parseParameters(
  op: AriOperation,
  pathParams: Map<string, string>,
  query: URLSearchParams,
  body: Record<string, unknown> | undefined,
): ParseResult {
  const values = new Map<string, ParamValue>();
  const declared = new Map(op.parameters.map((p) => [p.name, p]));
  const unknown = [...new Set(query.keys())].filter(
    (name) => !declared.has(name) && !TRANSPORT_PARAMS.has(name),
  );
  for (const param of op.parameters) {
    if (param.paramType === 'path') {
      const value = pathParams.get(param.name);
      if (value !== undefined) values.set(param.name, value);
      continue;
    }
    if (param.paramType === 'body') {
      if (body !== undefined) values.set(param.name, body);
      continue;
    }
    const all = query.getAll(param.name);
    const fromQuery = all[all.length - 1];
    if (fromQuery !== undefined) {
      const parsed = parseQueryValue(param, fromQuery);
      if ('error' in parsed) return { ok: false, message: parsed.error };
      values.set(param.name, parsed.value);
    }
    if (body !== undefined && param.name in body) {
      const parsed = parseJsonValue(param, body[param.name]);
      if ('error' in parsed) return { ok: false, message: parsed.error };
      values.set(param.name, parsed.value);
    }
  }
  if (body !== undefined) {
    const bodyParams = op.parameters.filter((p) => p.paramType === 'body').map((p) => p.name);
    for (const key of Object.keys(body)) {
      if (!declared.has(key) && !bodyParams.includes(key)) unknown.push(key);
    }
  }
  return { ok: true, values, unknown };
}

type Parsed = { value: ParamValue } | { error: string };

const TRUE_WORDS = new Set(['yes', 'true', 'y', 't', '1', 'on']);
const FALSE_WORDS = new Set(['no', 'false', 'n', 'f', '0', 'off']);

function parseQueryValue(param: AriParameter, raw: string): Parsed {
  if (param.allowMultiple) return { value: raw === '' ? [''] : raw.split(',') };
  switch (param.dataType) {
    case 'int':
    case 'long':
      return /^-?\d+$/.test(raw.trim()) ? { value: Number.parseInt(raw, 10) } : invalid(param, raw);
    case 'boolean': {
      const word = raw.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) return { value: true };
      if (FALSE_WORDS.has(word)) return { value: false };
      return invalid(param, raw);
    }
    default:
      return { value: raw };
  }
}

function parseJsonValue(param: AriParameter, raw: unknown): Parsed {
  if (param.allowMultiple) {
    if (typeof raw === 'string') return { value: [raw] };
    if (Array.isArray(raw) && raw.every((v) => typeof v === 'string')) return { value: raw as string[] };
    return invalid(param, raw);
  }
  switch (param.dataType) {
    case 'int':
    case 'long':
      return typeof raw === 'number' && Number.isInteger(raw) ? { value: raw } : invalid(param, raw);
    case 'boolean':
      return typeof raw === 'boolean' ? { value: raw } : invalid(param, raw);
    default:
      return typeof raw === 'string' ? { value: raw } : invalid(param, raw);
  }
}

const invalid = (param: AriParameter, raw: unknown): { error: string } => ({
  error: `Invalid value for parameter '${param.name}' (${param.dataType}): ${JSON.stringify(raw)}`,
});

/** Builds the handler's view of parsed values, refusing reads the handler did not declare. */
export function createRequestContext(
  core: EmulatorCore,
  handler: OperationHandler,
  values: Map<string, ParamValue>,
): RequestContext {
  const get = (name: string): ParamValue | undefined => {
    if (!handler.reads.includes(name)) {
      throw new Error(`${operationKey(handler)} read undeclared parameter '${name}'`);
    }
    return values.get(name);
  };
  return {
    core,
    string: (name) => {
      const v = get(name);
      return typeof v === 'string' ? v : undefined;
    },
    int: (name) => {
      const v = get(name);
      return typeof v === 'number' ? v : undefined;
    },
    bool: (name) => {
      const v = get(name);
      return typeof v === 'boolean' ? v : undefined;
    },
    list: (name) => {
      const v = get(name);
      if (Array.isArray(v)) return v;
      return typeof v === 'string' ? [v] : undefined;
    },
    object: (name) => {
      const v = get(name);
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
    },
  };
}

/** Asterisk's error body. */
export const errorResult = (status: number, message: string): HandlerResult => ({
  status,
  body: { message },
});
