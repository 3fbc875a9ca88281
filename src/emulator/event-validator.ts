/**
 * Checks JSON payloads against the ARI Swagger models the way Asterisk's generated
 * `ari_model_validators.c` does (required fields, field types, no undocumented fields), plus the
 * `allowableValues` lists, so anything the emulator sends that real Asterisk could not is caught.
 */
import { type AriOperation, type AriSpec, allProperties, isSubtypeOf } from './ari-spec.ts';

/** Asterisk's `ast_json_timeval` format: local time, milliseconds, `+hhmm` offset. */
const ASTERISK_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}$/;
const LIST_TYPE = /^List\[(.+)\]$/;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Errors (empty when valid) of `value` as an instance of the type named `type`. */
export function validateType(spec: AriSpec, type: string, value: unknown, where: string): string[] {
  const list = LIST_TYPE.exec(type);
  if (list) {
    if (!Array.isArray(value)) return [`${where}: expected ${type}, got ${describe(value)}`];
    return value.flatMap((item, i) => validateType(spec, list[1]!, item, `${where}[${i}]`));
  }
  switch (type) {
    case 'string':
      return typeof value === 'string' ? [] : [`${where}: expected string, got ${describe(value)}`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${where}: expected boolean, got ${describe(value)}`];
    case 'int':
    case 'long':
      return Number.isInteger(value) ? [] : [`${where}: expected ${type}, got ${describe(value)}`];
    case 'double':
      return typeof value === 'number' ? [] : [`${where}: expected double, got ${describe(value)}`];
    case 'Date':
      return typeof value === 'string' && ASTERISK_DATE.test(value)
        ? []
        : [`${where}: expected Date like 2026-11-23T09:13:27.123+0000, got ${JSON.stringify(value)}`];
    case 'object':
      return isPlainObject(value) ? [] : [`${where}: expected object, got ${describe(value)}`];
    default:
      return validateModel(spec, type, value, where);
  }
}

/** Errors of `value` as an instance of model `modelId` (inherited properties included). */
export function validateModel(
  spec: AriSpec,
  modelId: string,
  value: unknown,
  where: string = modelId,
): string[] {
  const properties = allProperties(spec, modelId);
  if (!properties) return [`${where}: unknown type ${modelId}`];
  if (!isPlainObject(value)) return [`${where}: expected ${modelId} object, got ${describe(value)}`];
  const errors: string[] = [];
  for (const [name, prop] of Object.entries(properties)) {
    const field = value[name];
    if (field === undefined) {
      if (prop.required) errors.push(`${where}: missing required field ${name}`);
      continue;
    }
    errors.push(...validateType(spec, prop.type, field, `${where}.${name}`));
    if (prop.allowableValues && typeof field === 'string' && !prop.allowableValues.includes(field)) {
      errors.push(
        `${where}.${name}: ${JSON.stringify(field)} is not one of ${prop.allowableValues.join(', ')}`,
      );
    }
  }
  for (const name of Object.keys(value)) {
    if (!(name in properties)) errors.push(`${where}: undocumented field ${name}`);
  }
  return errors;
}

/** Errors of an event as sent on the events WebSocket: its `type` must name an Event subtype. */
export function validateEvent(spec: AriSpec, event: unknown): string[] {
  if (!isPlainObject(event)) return [`event: expected object, got ${describe(event)}`];
  const type = event.type;
  if (typeof type !== 'string') return ['event: missing required field type'];
  if (!spec.models.has(type) || !isSubtypeOf(spec, type, 'Event'))
    return [`event: ${type} is not an ARI event`];
  return validateModel(spec, type, event, type);
}

/**
 * Errors of an HTTP response for `op`: 2xx bodies must match `responseClass` (`void` → no body);
 * error bodies are Asterisk's `{"message": ...}` (or `{"error": ...}` from its allocation failure).
 */
export function validateResponse(spec: AriSpec, op: AriOperation, status: number, body: unknown): string[] {
  const where = `${op.method} ${op.path} ${status}`;
  if (status >= 200 && status < 300) {
    if (op.responseClass === 'void')
      return body === undefined ? [] : [`${where}: void operation returned a body`];
    // A file (a stored recording): raw bytes, never a JSON body.
    if (op.responseClass === 'binary')
      return body === undefined ? [] : [`${where}: binary operation returned a JSON body`];
    if (body === undefined) return [`${where}: missing ${op.responseClass} body`];
    return validateType(spec, op.responseClass, body, where);
  }
  const declared = op.errorResponses.some((e) => e.code === status) || status === 500 || status === 501;
  // Asterisk's generated handlers (AST_DEVMODE) reject undeclared error codes; so do we.
  if (!declared) return [`${where}: status ${status} is not declared for ${op.nickname}`];
  if (body === undefined) return [];
  if (isPlainObject(body)) {
    const keys = Object.keys(body);
    if (
      keys.length === 1 &&
      (keys[0] === 'message' || keys[0] === 'error') &&
      typeof body[keys[0]] === 'string'
    ) {
      return [];
    }
  }
  return [`${where}: error body is not {"message": string}: ${JSON.stringify(body)}`];
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'object' ? 'object' : `${typeof value} ${JSON.stringify(value)}`;
}
