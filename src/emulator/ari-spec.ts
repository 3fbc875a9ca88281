/**
 * Loads and indexes the Asterisk ARI Swagger description (../shared/asterisk-ari) so the emulator,
 * its router and the contract tests all read routes, parameters and models from one place.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface AriParameter {
  name: string;
  paramType: 'path' | 'query' | 'body';
  dataType: string;
  required: boolean;
  allowMultiple: boolean;
  allowableValues?: string[];
  defaultValue?: unknown;
}

export interface AriErrorResponse {
  code: number;
  reason: string;
}

export interface AriOperation {
  /** The api-docs file the operation is declared in, e.g. `channels`. */
  resource: string;
  method: HttpMethod;
  /** Path template relative to `/ari`, e.g. `/channels/{channelId}/answer`. */
  path: string;
  nickname: string;
  responseClass: string;
  parameters: AriParameter[];
  errorResponses: AriErrorResponse[];
  /** True for the events WebSocket (`upgrade: websocket`). */
  websocket: boolean;
}

export interface AriModelProperty {
  type: string;
  required: boolean;
  allowableValues?: string[];
}

export interface AriModel {
  id: string;
  resource: string;
  properties: Record<string, AriModelProperty>;
  subTypes: string[];
  /** The model this one is a subtype of (Event for StasisStart, Message for Event). */
  parent?: string;
}

export interface AriSpec {
  specDir: string;
  /** resources.json as shipped. */
  resourceListing: Record<string, unknown>;
  /** api-docs/{name}.json as shipped, keyed by name (`channels`, `events`, ...). */
  apiDocs: Map<string, Record<string, unknown>>;
  operations: AriOperation[];
  models: Map<string, AriModel>;
}

/**
 * `ASTERISK_ARI_SPEC_DIR`, else `<repo>/../shared/asterisk-ari` (found from this file so it works
 * from any cwd): Asterisk 22's own Swagger files, which the project keeps beside the checkout.
 */
export function defaultSpecDir(): string {
  return (
    process.env.ASTERISK_ARI_SPEC_DIR ??
    path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'asterisk-ari')
  );
}

interface RawParameter {
  name: string;
  paramType: string;
  dataType: string;
  required?: boolean;
  allowMultiple?: boolean;
  allowableValues?: { values?: string[] };
  defaultValue?: unknown;
}

interface RawOperation {
  httpMethod: string;
  nickname: string;
  responseClass?: string;
  parameters?: RawParameter[];
  errorResponses?: AriErrorResponse[];
  upgrade?: string;
}

interface RawApiDoc {
  apis: { path: string; operations: RawOperation[] }[];
  models?: Record<
    string,
    {
      id: string;
      properties?: Record<
        string,
        { type: string; required?: boolean; allowableValues?: { values?: string[] } }
      >;
      subTypes?: string[];
    }
  >;
}

const readJson = (file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

const cache = new Map<string, AriSpec>();

/** Reads and indexes the spec once per directory (the files never change while running). */
export function loadAriSpec(specDir: string = defaultSpecDir()): AriSpec {
  const cached = cache.get(specDir);
  if (cached) return cached;
  if (!existsSync(path.join(specDir, 'resources.json'))) {
    throw new Error(
      `Asterisk's ARI description (resources.json) is not in ${specDir}: keep the shared folder beside ` +
        'the checkout (../shared/asterisk-ari) or set ASTERISK_ARI_SPEC_DIR',
    );
  }
  const resourceListing = readJson(path.join(specDir, 'resources.json'));
  const apiDocs = new Map<string, Record<string, unknown>>();
  const operations: AriOperation[] = [];
  const models = new Map<string, AriModel>();
  const listed = resourceListing.apis as { path: string }[];
  for (const entry of listed) {
    const name = path.basename(entry.path).replace('.{format}', '');
    const raw = readJson(path.join(specDir, 'api-docs', `${name}.json`));
    apiDocs.set(name, raw);
    const doc = raw as unknown as RawApiDoc;
    for (const api of doc.apis) {
      for (const op of api.operations) {
        operations.push({
          resource: name,
          method: op.httpMethod.toUpperCase() as HttpMethod,
          path: api.path,
          nickname: op.nickname,
          responseClass: op.responseClass ?? 'void',
          parameters: (op.parameters ?? []).map(toParameter),
          errorResponses: op.errorResponses ?? [],
          websocket: op.upgrade === 'websocket',
        });
      }
    }
    for (const [id, model] of Object.entries(doc.models ?? {})) {
      const properties: Record<string, AriModelProperty> = {};
      for (const [prop, def] of Object.entries(model.properties ?? {})) {
        properties[prop] = {
          type: def.type,
          required: def.required === true,
          ...(def.allowableValues?.values ? { allowableValues: def.allowableValues.values } : {}),
        };
      }
      models.set(id, { id, resource: name, properties, subTypes: model.subTypes ?? [] });
    }
  }
  for (const model of models.values()) {
    for (const sub of model.subTypes) {
      const child = models.get(sub);
      if (child) child.parent = model.id;
    }
  }
  const spec: AriSpec = { specDir, resourceListing, apiDocs, operations, models };
  cache.set(specDir, spec);
  return spec;
}

function toParameter(raw: RawParameter): AriParameter {
  return {
    name: raw.name,
    paramType: raw.paramType as AriParameter['paramType'],
    dataType: raw.dataType,
    required: raw.required === true,
    allowMultiple: raw.allowMultiple === true,
    ...(raw.allowableValues?.values ? { allowableValues: raw.allowableValues.values } : {}),
    ...(raw.defaultValue !== undefined ? { defaultValue: raw.defaultValue } : {}),
  };
}

/** Every operation as `{method, path, nickname, parameters}` (for contract tests). */
export function listOperations(spec: AriSpec = loadAriSpec()): AriOperation[] {
  return spec.operations;
}

/** Every model (Channel, Bridge, StasisStart, ...), each with the api-docs file declaring it. */
export function listModels(spec: AriSpec = loadAriSpec()): AriModel[] {
  return [...spec.models.values()];
}

/** A model's properties including those inherited from its parents (Event, Message). */
export function allProperties(spec: AriSpec, modelId: string): Record<string, AriModelProperty> | undefined {
  const model = spec.models.get(modelId);
  if (!model) return undefined;
  const inherited = model.parent ? allProperties(spec, model.parent) : {};
  return { ...inherited, ...model.properties };
}

/** Is `modelId` (transitively) a subtype of `ancestor`? */
export function isSubtypeOf(spec: AriSpec, modelId: string, ancestor: string): boolean {
  let current = spec.models.get(modelId);
  while (current?.parent) {
    if (current.parent === ancestor) return true;
    current = spec.models.get(current.parent);
  }
  return false;
}

/** Key that names an operation uniquely: nicknames repeat across resources (`get`, `play`). */
export const operationKey = (op: { resource: string; nickname: string }): string =>
  `${op.resource}.${op.nickname}`;
