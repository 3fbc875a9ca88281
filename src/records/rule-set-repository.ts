import type { Kysely } from 'kysely';
import type { ScreeningRules } from '../routing/screening.ts';
import { storableText } from './call-repository.ts';
import type { Database } from './database.ts';

export interface RuleSetVersion {
  version: number;
  rules: ScreeningRules;
  comment: string;
  createdBy: string;
  createdAt: Date;
  activatedBy: string | null;
  activatedAt: Date | null;
}

export interface RuleSetRepository {
  /** Stores a new version (never changes an old one). */
  create(rules: ScreeningRules, comment: string, by: string): Promise<RuleSetVersion>;
  /** Makes `version` the active set; false when there is no such version. */
  activate(version: number, by: string, at: Date): Promise<boolean>;
  /** The most recently activated version, if any was. */
  active(): Promise<RuleSetVersion | undefined>;
  list(): Promise<RuleSetVersion[]>;
}

export function createRuleSetRepository(db: Kysely<Database>): RuleSetRepository {
  const select = () => db.selectFrom('screening_rule_sets').selectAll();
  return {
    async create(rules, comment, by) {
      const row = await db
        .insertInto('screening_rule_sets')
        .values({
          rules: JSON.stringify(rules),
          comment: storableText(comment),
          created_by: storableText(by),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return fromRow(row);
    },
    async activate(version, by, at) {
      const result = await db
        .updateTable('screening_rule_sets')
        .set({ activated_by: storableText(by), activated_at: at })
        .where('version', '=', version)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },
    async active() {
      const row = await select()
        .where('activated_at', 'is not', null)
        .orderBy('activated_at', 'desc')
        .orderBy('version', 'desc')
        .executeTakeFirst();
      return row ? fromRow(row) : undefined;
    },
    async list() {
      return (await select().orderBy('version', 'desc').execute()).map(fromRow);
    },
  };
}

function fromRow(row: {
  version: number;
  rules: unknown;
  comment: string;
  created_by: string;
  created_at: Date;
  activated_by: string | null;
  activated_at: Date | null;
}): RuleSetVersion {
  return {
    version: row.version,
    rules: row.rules as ScreeningRules,
    comment: row.comment,
    createdBy: row.created_by,
    createdAt: row.created_at,
    activatedBy: row.activated_by,
    activatedAt: row.activated_at,
  };
}
