/**
 * One siaga112 process under benchmark, started from the environment the benchmark gives it, with
 * the same startService() as production. It reports its own CPU time, memory and event-loop delay
 * (process-probe.ts), so the figures are the service's alone.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { getHeapSpaceStatistics } from 'node:v8';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { type Service, startService } from '../src/service.ts';
import type { ServiceApi } from './bench-api.ts';
import { serve } from './ipc.ts';
import { createProcessProbe } from './process-probe.ts';

/** Log-on requests in flight at once. */
const LOG_ON_BATCH = 50;
/** A verdict for a call whose record has not landed yet is tried again this often, this many times. */
const VERDICT_RETRY_MS = 100;
const VERDICT_ATTEMPTS = 100;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const LEVEL_VALUES = [10, 20, 30, 40, 50, 60];
const LEVEL_NAMES: Record<number, string> = { 40: 'warn', 50: 'error', 60: 'fatal' };

const probe = createProcessProbe();
const logCounts = new Map<string, number>();
let service: Service | undefined;
let profiler: Session | undefined;

serve<ServiceApi>({
  async start({ env, expectLeading }) {
    const config = loadConfig(env);
    // Warnings and errors are counted for the report (what breaks under overload); lines at the
    // level asked for (--service-log) also go to the benchmark's stderr.
    const echo = LEVELS.indexOf(config.logLevel);
    const destination = {
      write(line: string) {
        const { level, msg } = JSON.parse(line) as { level: number; msg?: string };
        const key = `${LEVEL_NAMES[level] ?? level}: ${msg ?? ''}`;
        logCounts.set(key, (logCounts.get(key) ?? 0) + 1);
        if (echo >= 0 && level >= LEVEL_VALUES[echo]!) process.stderr.write(line);
      },
    };
    service = await startService(config, createLogger('warn', {}, destination));
    if (expectLeading) await service.ari.waitUntilConnected(15_000);
    await service.databaseReady;
    return { leading: service.lease.leading };
  },
  async logOn({ takerIds, apiKey }) {
    const app = service?.app;
    if (!app) throw new Error('not started');
    let loggedOn = 0;
    for (let i = 0; i < takerIds.length; i += LOG_ON_BATCH) {
      const replies = await Promise.all(
        takerIds.slice(i, i + LOG_ON_BATCH).map((takerId) =>
          app.inject({
            method: 'PUT',
            url: `/takers/${takerId}/state`,
            headers: { authorization: `Bearer ${apiKey}` },
            payload: { state: 'available' },
          }),
        ),
      );
      loggedOn += replies.filter((reply) => reply.statusCode === 200).length;
    }
    return { loggedOn };
  },
  sample: ({ gc }) => probe.sample({ gc }),
  async status() {
    if (!service) throw new Error('not started');
    const backlog = await service.recordBacklog();
    return {
      activeCalls: service.center.activeCalls.length,
      recordBacklog: backlog.waiting + backlog.active + backlog.delayed,
    };
  },
  resources() {
    const byKind: Record<string, number> = {};
    const kinds = process.getActiveResourcesInfo();
    for (const kind of kinds) byKind[kind] = (byKind[kind] ?? 0) + 1;
    const heapSpaces: Record<string, { size: number; used: number }> = {};
    for (const space of getHeapSpaceStatistics()) {
      heapSpaces[space.space_name] = { size: space.space_size, used: space.space_used_size };
    }
    return { total: kinds.length, byKind, heapSpaces };
  },
  async verdict({ callId, takerId, verdict, apiKey }) {
    const app = service?.app;
    if (!app) throw new Error('not started');
    let status = 0;
    for (let attempt = 0; attempt < VERDICT_ATTEMPTS; attempt++) {
      const reply = await app.inject({
        method: 'PUT',
        url: `/calls/${callId}/verdict`,
        headers: { authorization: `Bearer ${apiKey}` },
        payload: { verdict, takerId },
      });
      status = reply.statusCode;
      // 404 / 409: the call's record has not landed yet (the record writer is asynchronous).
      if (status !== 404 && status !== 409) break;
      await new Promise((resolve) => setTimeout(resolve, VERDICT_RETRY_MS));
    }
    return { status };
  },
  logCounts() {
    const counts = Object.fromEntries(logCounts);
    logCounts.clear();
    return counts;
  },
  async profile(args) {
    if (args.action === 'start') {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
      return null;
    }
    if (!profiler) return null;
    const { profile } = await profiler.post('Profiler.stop');
    profiler.disconnect();
    profiler = undefined;
    await writeFile(args.file, JSON.stringify(profile));
    return null;
  },
  async stop() {
    await service?.close();
    // Let the reply leave before the process does.
    setImmediate(() => process.exit(0));
    return null;
  },
});
