/** What the global setup hands every test worker through vitest's `provide`/`inject`. */
declare module 'vitest' {
  export interface ProvidedContext {
    /** An admin-capable Postgres server URL: tests create their own databases on it. */
    postgresUrl: string;
    /** A database on that server holding every migration: `createTestDatabase` copies it. */
    postgresTemplate: string;
    redisUrl: string;
  }
}

export {};
