import type { Migration } from 'kysely/migration';
import * as initial from './2026-11-23-0001-initial.ts';
import * as takerEvents from './2026-11-23-0002-taker-events.ts';
import * as screening from './2026-11-23-0003-screening.ts';
import * as callerLists from './2026-11-23-0004-caller-lists.ts';
import * as screeningRules from './2026-11-23-0005-screening-rules.ts';
import * as callbacks from './2026-11-23-0006-callbacks.ts';
import * as verdictNotes from './2026-11-23-0007-verdict-notes.ts';
import * as apiKeys from './2026-11-23-0008-api-keys.ts';
import * as callRecordings from './2026-11-23-0009-call-recordings.ts';

/**
 * Every migration, imported statically so the set is the same from the TypeScript sources and
 * from the compiled `dist/` (no directory scanning, no file-extension guessing). Names sort in
 * the order they apply; a new migration adds one line here.
 */
export const migrations: Readonly<Record<string, Migration>> = {
  '2026-11-23-0001-initial': initial,
  '2026-11-23-0002-taker-events': takerEvents,
  '2026-11-23-0003-screening': screening,
  '2026-11-23-0004-caller-lists': callerLists,
  '2026-11-23-0005-screening-rules': screeningRules,
  '2026-11-23-0006-callbacks': callbacks,
  '2026-11-23-0007-verdict-notes': verdictNotes,
  '2026-11-23-0008-api-keys': apiKeys,
  '2026-11-23-0009-call-recordings': callRecordings,
};
