import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { storableText } from '../records/call-repository.ts';
import type { Database, Role } from '../records/database.ts';

export type { Role } from '../records/database.ts';
export const ROLES: readonly Role[] = ['admin', 'supervisor', 'call-taker', 'metrics'];

/** Who is calling the API, as their key says. */
export interface Principal {
  keyId: string;
  name: string;
  role: Role;
  /** For a call taker's key: the only taker it may act for. */
  takerId: string | null;
}

const KEY_PREFIX = 's112_';

/** Only the hash is stored: a stolen database holds no usable key. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export interface ApiKeyRepository {
  /** Creates a key; the returned `key` is the only time it is ever shown. */
  create(input: { name: string; role: Role; takerId?: string | null; createdBy: string }): Promise<{
    principal: Principal;
    key: string;
  }>;
  /** The principal of a valid, unrevoked key. */
  verify(key: string): Promise<Principal | undefined>;
  /** The principal of key `keyId` while it is not revoked (a wallboard session rests on its key). */
  findActive(keyId: string): Promise<Principal | undefined>;
  revoke(keyId: string, at: Date): Promise<boolean>;
  audit(entry: {
    principal: Principal;
    method: string;
    route: string;
    url: string;
    status: number;
    body: unknown;
  }): Promise<void>;
}

export function createApiKeyRepository(db: Kysely<Database>): ApiKeyRepository {
  return {
    async create({ name, role, takerId = null, createdBy }) {
      const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
      const id = randomUUID();
      await db
        .insertInto('api_keys')
        .values({
          id,
          name: storableText(name),
          role,
          taker_id: role === 'call-taker' ? takerId : null,
          key_hash: hashKey(key),
          created_by: storableText(createdBy),
          revoked_at: null,
        })
        .execute();
      return { principal: { keyId: id, name, role, takerId: role === 'call-taker' ? takerId : null }, key };
    },

    async verify(key) {
      if (!key.startsWith(KEY_PREFIX) || key.length > 200) return undefined;
      const row = await db
        .selectFrom('api_keys')
        .select(['id', 'name', 'role', 'taker_id'])
        .where('key_hash', '=', hashKey(key))
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return row ? { keyId: row.id, name: row.name, role: row.role, takerId: row.taker_id } : undefined;
    },

    async findActive(keyId) {
      const row = await db
        .selectFrom('api_keys')
        .select(['id', 'name', 'role', 'taker_id'])
        .where('id', '=', keyId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return row ? { keyId: row.id, name: row.name, role: row.role, takerId: row.taker_id } : undefined;
    },

    async revoke(keyId, at) {
      const result = await db
        .updateTable('api_keys')
        .set({ revoked_at: at })
        .where('id', '=', keyId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    async audit({ principal, method, route, url, status, body }) {
      await db
        .insertInto('audit_log')
        .values({
          key_id: principal.keyId,
          actor: storableText(principal.name),
          role: principal.role,
          method,
          route,
          url: storableText(url),
          status,
          body: body === undefined ? null : storableText(JSON.stringify(body)),
        })
        .execute();
    },
  };
}
