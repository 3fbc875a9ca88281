import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { AmiPresence, type AsteriskMonitor } from './ami/ami-presence.ts';
import { buildApp } from './api/build-app.ts';
import { createMetrics } from './api/metrics.ts';
import { advisory, type ReadinessCheck } from './api/routes/health-routes.ts';
import { AriClientAdapter } from './ari/ari-client-adapter.ts';
import { createApiKeyRepository } from './auth/api-keys.ts';
import { createWallboardSessions } from './auth/wallboard-sessions.ts';
import { createCallTimeline } from './callbacks/call-timeline.ts';
import { startCallbackService } from './callbacks/callback-service.ts';
import { type Clock, realClock } from './clock.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { CallCommandBus } from './queues/call-commands.ts';
import { CallQueue } from './queues/call-queue.ts';
import { CallerHistoryStore } from './queues/caller-history.ts';
import { CallerListCache } from './queues/caller-lists.ts';
import { DeskEvents } from './queues/desk-events.ts';
import { LeaderLease } from './queues/leader-lease.ts';
import { type SupervisorNotice, SupervisorNotices } from './queues/supervisor-notices.ts';
import { type RecordingService, startRecordingService } from './recording/recording-service.ts';
import { callReport } from './records/call-reports.ts';
import { createCallRepository } from './records/call-repository.ts';
import { allCalls, searchCalls } from './records/call-search.ts';
import { createCallerListRepository } from './records/caller-list-repository.ts';
import { createDatabase } from './records/database.ts';
import { migrateToLatest } from './records/migrator.ts';
import {
  createRecordWriter,
  type RecordCommit,
  type RecordWriter,
  startRecordWorker,
} from './records/record-writer.ts';
import { startRetention } from './records/retention.ts';
import { createRuleSetRepository } from './records/rule-set-repository.ts';
import { createDeskPublisher } from './records/screen-pop.ts';
import { startTakerEventDrain } from './records/taker-event-drain.ts';
import { createTakerEventRepository } from './records/taker-event-repository.ts';
import { createTakerRepository } from './records/taker-repository.ts';
import { startVerdictDeadline } from './records/verdict-deadline.ts';
import { wallboardSummary } from './records/wallboard-summary.ts';
import { backtest } from './routing/backtest.ts';
import { CallCenter, type CallCenterOptions } from './routing/call-center.ts';
import { CallMonitor } from './routing/call-monitor.ts';
import { RuleBook } from './routing/rule-book.ts';
import { rebuildAllCallerHistory, Screener } from './routing/screener.ts';
import { SoftphonePresence } from './routing/softphone-presence.ts';

export interface Service {
  readonly app: FastifyInstance;
  readonly center: CallCenter;
  readonly ari: AriClientAdapter;
  readonly queue: CallQueue;
  readonly lease: LeaderLease;
  readonly notices: SupervisorNotices;
  /** Record updates not yet committed to Postgres. */
  recordBacklog(): ReturnType<RecordWriter['backlog']>;
  /** Resolves once the database schema is current (the service takes calls before that). */
  readonly databaseReady: Promise<void>;
  /** Call recording: the recordings' routes, health and retention. */
  readonly recordings: RecordingService;
  /** Stops taking calls, finishes record writes, closes every connection. */
  close(): Promise<void>;
}

const MIGRATION_RETRY_MS = 2000;

export interface ServiceOptions {
  /** Places each new call in the queue (priority, skill); the menu plugs in here. Default: normal. */
  classify?: CallCenterOptions['classify'];
  /** The call's time: real unless a replay runs a day in minutes. */
  clock?: Clock;
}

/**
 * Builds and starts siaga112: the call-control lease, ARI, the call center with screening and
 * presence, the record writer, the taker-event drain and the HTTP API (not listening). Postgres
 * may be away at start: calls are still taken, and records wait in Redis.
 */
export async function startService(
  config: Config,
  logger: Logger,
  options: ServiceOptions = {},
): Promise<Service> {
  const clock = options.clock ?? realClock;
  const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
  // BullMQ's blocking worker needs a connection that never gives up on a command.
  const bullConnection = { url: config.redis.url, maxRetriesPerRequest: null };
  const db = createDatabase(config.databaseUrl, { maxConnections: 10, applicationName: config.instanceId });
  const calls = createCallRepository(db);
  const takers = createTakerRepository(db);

  const migrated = migrateUntilDone(db, logger);
  const recorder = createRecordWriter({ connection: bullConnection, prefix: config.redis.keyPrefix });
  // Commits are observed by the metrics, which are made further down (they watch ARI and AMI).
  let observeCommit: (commit: RecordCommit) => void = () => {};
  const recordWorker = startRecordWorker({
    connection: bullConnection,
    prefix: config.redis.keyPrefix,
    repository: calls,
    logger,
    onCommit: (commit) => observeCommit(commit),
  });

  const retention = startRetention({
    db,
    days: config.privacy.retentionDays,
    key: config.privacy.pseudonymKey,
    schemaReady: migrated.done,
    logger: logger.child({ component: 'privacy' }),
  });
  const takerEventDrain = startTakerEventDrain({
    redisUrl: config.redis.url,
    prefix: config.redis.keyPrefix,
    repository: createTakerEventRepository(db),
    logger: logger.child({ component: 'taker-events' }),
    consumerName: config.instanceId,
  });
  const queue = new CallQueue(redis, {
    prefix: config.redis.keyPrefix,
    leaderId: config.instanceId,
    policy: {
      agingMs: config.distribution.agingSeconds * 1000,
      skillFallbackMs: config.distribution.skillFallbackSeconds * 1000,
    },
    now: clock.now,
  });
  // Events on a call's timeline from outside its session (verdicts, monitoring).
  const timeline = createCallTimeline({ queue, writer: recorder, now: clock.now });
  const appendEvent = (callId: string, type: string, detail: Record<string, unknown>, state?: string) => {
    timeline
      .append(callId, [{ type, detail }], state)
      .catch((error: unknown) => logger.warn({ err: error, callId }, 'could not append a call event'));
  };
  const verdictDeadline = startVerdictDeadline({
    calls,
    wrapUpSeconds: config.calls.wrapUpSeconds,
    clock,
    logger: logger.child({ component: 'verdicts' }),
    filed: (callIds) => {
      for (const callId of callIds) appendEvent(callId, 'verdict-missing', { filedAs: 'unknown' });
    },
    schemaReady: migrated.done,
  });
  const notices = new SupervisorNotices(redis, config.redis.keyPrefix);
  const lease = new LeaderLease({
    redis,
    prefix: config.redis.keyPrefix,
    instanceId: config.instanceId,
    ttlMs: config.distribution.leaderLeaseMs,
    logger: logger.child({ component: 'lease' }),
  });
  const ari = new AriClientAdapter({
    url: config.ari.url,
    username: config.ari.username,
    password: config.ari.password,
    app: config.ari.app,
    requestTimeoutMs: config.ari.requestTimeoutMs,
    logger: logger.child({ component: 'ari' }),
  });
  const callerHistory = new CallerHistoryStore(redis, config.redis.keyPrefix);
  const callerLists = new CallerListCache(redis, config.redis.keyPrefix);
  const ruleSets = createRuleSetRepository(db);
  const ruleBook = new RuleBook({
    repository: ruleSets,
    redis,
    prefix: config.redis.keyPrefix,
    logger: logger.child({ component: 'rules' }),
    schemaReady: migrated.done,
  });
  await ruleBook
    .start()
    .catch((error: unknown) => logger.error({ err: error }, 'rule announcements unavailable'));
  void ruleBook.reload();
  const listEntries = createCallerListRepository(db);
  // Postgres is the truth for the lists; the cache is reloaded once the schema is there.
  void migrated.done
    .then(async () => callerLists.reload(await listEntries.listActive(new Date())))
    .catch((error: unknown) => logger.error({ err: error }, 'could not load the caller lists'));
  const toPastCall = (call: Awaited<ReturnType<typeof calls.listCallerCalls>>[number]) => ({
    callId: call.id,
    arrivedAt: call.arrivedAt.getTime(),
    verdict: call.verdict,
    verdictAt: call.verdictAt?.getTime() ?? null,
    ivrHangup: false,
    releasedAt: call.disposition === 'released' ? (call.endedAt?.getTime() ?? null) : null,
  });
  void migrated.done
    .then(() =>
      rebuildAllCallerHistory({
        history: callerHistory,
        loadSince: async (since) =>
          (await calls.listCallsSince(new Date(since))).map((call) => ({
            ...toPastCall(call),
            number: call.callerNumber,
          })),
        now: clock.now(),
        logger,
      }),
    )
    .catch((error: unknown) => logger.error({ err: error }, 'could not rebuild caller history'));
  const screener = new Screener({
    history: callerHistory,
    loadPast: async (number, since) => (await calls.listCallerCalls(number, new Date(since))).map(toPastCall),
    listOf: (number) => callerLists.lookup(number, clock.now()),
    rules: () => ruleBook.current,
    logger: logger.child({ component: 'screening' }),
    now: clock.now,
  });
  const desk = new DeskEvents(redis, config.redis.keyPrefix);
  const tellDesk = createDeskPublisher({
    desk,
    calls,
    now: clock.now,
    logger: logger.child({ component: 'desk' }),
  });
  // --- callbacks (issue #5) ---
  const callbacks = startCallbackService({
    config,
    db,
    redis,
    connection: bullConnection,
    ari,
    queue,
    timeline,
    isBlocked: async (number) => (await callerLists.lookup(number, clock.now())) === 'block',
    findTaker: (takerId) => takers.getTaker(takerId),
    requestDispatch: () => center.requestDispatch(),
    schemaReady: migrated.done,
    desk: tellDesk,
    clock,
    logger: logger.child({ component: 'callbacks' }),
  });
  // --- end callbacks ---
  // AMI's ContactStatus is a second witness of softphone reachability (chan_pjsip qualify); it
  // also tells whether Asterisk answers and whether the operator trunks (TRUNKS) do.
  const ami = config.ami
    ? new AmiPresence({ ...config.ami, trunks: config.trunks, logger: logger.child({ component: 'ami' }) })
    : null;
  // A trunk gone means no 112 call arrives through it: supervisors must know at once, and when it
  // is back (a trunk found up at start is no news). The lease holder tells them, so several
  // instances watching the same trunk give one notice.
  const trunksDown = new Set<string>();
  ami?.onTrunkReachability((trunk, reachable, detail) => {
    if (reachable ? !trunksDown.delete(trunk) : trunksDown.has(trunk)) return;
    if (!reachable) trunksDown.add(trunk);
    if (!lease.leading) return;
    publishNotice({
      kind: reachable ? 'trunk-reachable' : 'trunk-unreachable',
      at: clock.now(),
      detail: { trunk, status: detail.status, ...(detail.uri === undefined ? {} : { uri: detail.uri }) },
    });
  });
  // Prometheus metrics on a registry of this instance's own (GET /metrics).
  const metrics = createMetrics({
    activeCalls: () => center.activeCalls.length,
    waiting: () => queue.waiting(),
    takers: () => queue.listTakers(),
    recordBacklog: () => recorder.backlog(),
    leading: () => lease.leading,
    ari,
    ami: ami ?? undefined,
    logger: logger.child({ component: 'metrics' }),
  });
  observeCommit = (commit) => metrics.recordsCommitted(commit);
  // --- call recording (issue #11) ---
  const recordings = startRecordingService({
    config: config.recordings,
    prefix: config.redis.keyPrefix,
    db,
    connection: bullConnection,
    ari,
    timeline,
    registry: metrics.registry,
    audit: (entry) => apiKeys.audit(entry),
    stateOf: (callId) => center.activeCalls.find((session) => session.callId === callId)?.state,
    clock,
    logger: logger.child({ component: 'recording' }),
  });
  // --- end call recording ---
  const center = new CallCenter({
    onCallEnded: (record) => {
      callbacks.callEnded(record);
      metrics.callEnded(record);
      recordings.callEnded(record);
    },
    ...(recordings.hooks ? { recording: recordings.hooks } : {}),
    screen: (identity, callId) => screener.screen(identity, callId),
    released: (identity) => {
      if (!identity.number) return;
      callerHistory
        .recordRelease(identity.number, clock.now())
        .catch((error: unknown) =>
          logger.warn({ err: error }, 'could not record a release in caller history'),
        );
    },
    ari,
    queue,
    recorder,
    logger,
    settings: config.calls,
    ...(options.classify ? { classify: options.classify } : {}),
    notify: (notice) => publishNotice(notice),
    prompts: () => ruleBook.current.prompts,
    desk: tellDesk,
    clock,
  });
  function publishNotice(notice: SupervisorNotice): void {
    notices
      .publish(notice)
      .catch((error: unknown) => logger.warn({ err: error }, 'could not publish a notice'));
  }
  center.start();
  center.addChannelHandler(callbacks.dialer);
  await callbacks.start();
  // Supervisors listen in or whisper; who monitored what goes on the call's timeline.
  const monitor = new CallMonitor({
    ari,
    findCall: (callId) => {
      const snapshot = center.activeCalls.find((session) => session.callId === callId)?.snapshot;
      if (!snapshot) return undefined;
      const connected = snapshot.state === 'connected' && !snapshot.takerLeft;
      return {
        callerChannelId: snapshot.callerChannelId,
        takerChannelId: connected ? (snapshot.takerChannelId ?? '') : '',
      };
    },
    timeline: (callId, type, detail) => timeline.append(callId, [{ type, detail }], 'connected'),
    ringSeconds: config.calls.ringTimeoutSeconds,
    logger: logger.child({ component: 'monitor' }),
  });
  center.addChannelHandler(monitor);
  const commands = new CallCommandBus(redis, {
    prefix: config.redis.keyPrefix,
    instanceId: config.instanceId,
  });
  await commands
    .start((callId, actor, command) =>
      command.kind === 'monitor' ? monitor.start(callId, command) : center.command(callId, actor, command),
    )
    .catch((error: unknown) => logger.error({ err: error }, 'desk commands unavailable'));
  // A taker freed through any instance's API: the leader (whichever instance it is) dispatches now
  // instead of at its next tick. A subscribed connection can do nothing else: it gets its own.
  const dispatchChannel = `${config.redis.keyPrefix}:dispatch`;
  const dispatchSubscriber = redis.duplicate();
  dispatchSubscriber.on('message', () => center.requestDispatch());
  await dispatchSubscriber
    .subscribe(dispatchChannel)
    .catch((error: unknown) => logger.warn({ err: error }, 'dispatch announcements unavailable'));
  const announceDispatch = () => {
    redis.publish(dispatchChannel, '1').catch((error: unknown) => {
      logger.warn({ err: error }, 'could not announce a free taker');
    });
  };
  ami?.start().catch((error: unknown) => {
    logger.error({ err: error }, 'AMI not available; softphone presence from ARI only until it is');
  });
  const presence = new SoftphonePresence({
    ari,
    queue,
    logger: logger.child({ component: 'presence' }),
    notify: publishNotice,
    requestDispatch: () => center.requestDispatch(),
    sources: ami ? [ami] : [],
  });
  presence.start();
  // Only the lease holder listens to Asterisk; the others stand by and serve the API.
  let leadership: Promise<void> = Promise.resolve();
  lease.onChange((leading, why) => {
    leadership = leadership.then(async () => {
      if (leading) {
        await ari.start();
      } else {
        // Redis away: no instance can take the waiting callers over, the dialplan's fallback can.
        if (why === 'unreachable') await center.handOffWaiting();
        await ari.pause();
        center.relinquish();
      }
    });
  });
  await lease.start();

  const apiKeys = createApiKeyRepository(db);
  const wallboardSessions = createWallboardSessions({
    redis,
    prefix: config.redis.keyPrefix,
    findKey: (keyId) => apiKeys.findActive(keyId),
  });
  const app = await buildApp({
    logger,
    trustProxy: config.http.trustProxy,
    auth: { verify: apiKeys.verify, audit: apiKeys.audit, verifySession: wallboardSessions.verify },
    readiness: {
      ari: async () => ari.connected,
      redis: async () => (await redis.ping()) === 'PONG',
      postgres: async () => {
        await sql`select 1`.execute(db);
        return true;
      },
      ...(ami ? amiChecks(ami) : {}),
      // Advisory: a call is never refused for want of a recording.
      ...(config.recordings.enabled ? { recording: advisory(async () => recordings.healthy()) } : {}),
    },
    takers: {
      findTaker: (takerId) => takers.getTaker(takerId),
      setPresence: async (taker, state, reason) => {
        const result = await queue.setTakerState(taker.id, state, {
          endpoint: taker.endpoint,
          skills: taker.skills,
          reason: reason ?? '',
          guard: true,
        });
        if (result.state === 'available') announceDispatch();
        return result;
      },
      listPresence: () => queue.listTakers(),
    },
    calls: {
      setVerdict: async (callId, verdict, takerId, filed) => {
        const result = await calls.setVerdict(callId, verdict, takerId, new Date(clock.now()), filed);
        if (result?.answered && !result.refused) {
          appendEvent(callId, 'verdict', {
            verdict,
            takerId,
            incidentCategory: filed.incidentCategory ?? null,
            note: filed.note !== undefined,
          });
        }
        return result;
      },
      recordVerdict: (number, callId, verdict) =>
        callerHistory.recordVerdict(number, callId, verdict, clock.now()),
    },
    lists: {
      put: async (entry) => {
        const saved = await listEntries.upsert(entry);
        await callerLists.put(saved.number, saved.list, saved.expiresAt);
        return saved;
      },
      remove: async (number) => {
        const removed = await listEntries.remove(number);
        await callerLists.remove(number);
        return removed;
      },
      list: () => listEntries.listActive(new Date()),
    },
    rules: {
      create: (rules, comment, by) => ruleSets.create(rules, comment, by),
      activate: async (version, by) => {
        if (!(await ruleSets.activate(version, by, new Date()))) return false;
        await ruleBook.reload();
        await redis.publish(RuleBook.channel(config.redis.keyPrefix), String(version));
        return true;
      },
      list: () => ruleSets.list(),
      inForce: () => ({ version: ruleBook.version, rules: ruleBook.current }),
      backtest: async (candidate, from, to, limit) => {
        const week = 7 * 24 * 3600_000;
        const [stored, lists] = await Promise.all([
          calls.listCallsBetween(new Date(from.getTime() - week), to),
          listEntries.listActive(new Date(clock.now())),
        ]);
        const listed = new Map(lists.map((entry) => [entry.number, entry.list]));
        return backtest(
          stored.map((call) => ({
            callId: call.id,
            callerNumber: call.callerNumber,
            callerIdKind: call.callerIdKind,
            arrivedAt: call.arrivedAt.getTime(),
            verdict: call.verdict,
            verdictAt: call.verdictAt?.getTime() ?? null,
            ivrHangup: false,
            releasedAt: call.disposition === 'released' ? (call.endedAt?.getTime() ?? null) : null,
          })),
          { from: from.getTime(), to: to.getTime() },
          { inForce: ruleBook.current, candidate },
          { limit, listOf: (number) => listed.get(number) ?? null },
        );
      },
    },
    takerDirectory: {
      list: () => takers.listTakers(),
      put: async (taker) => {
        const holder = await takers.findTakerByEndpoint(taker.endpoint);
        if (holder && holder.id !== taker.id) return 'endpoint-taken';
        return takers.upsertTaker(taker);
      },
      signOff: async (takerId) => {
        const taker = await takers.getTaker(takerId);
        if (!taker) return true;
        const result = await queue.setTakerState(taker.id, 'offline', {
          endpoint: taker.endpoint,
          skills: taker.skills,
          reason: 'deactivated',
          guard: true,
        });
        return !result.busy;
      },
    },
    records: {
      search: (filter, page) => searchCalls(db, filter, page),
      all: (filter) => allCalls(db, filter),
      getCall: (callId) => calls.getCall(callId),
      listCallEvents: (callId) => calls.listCallEvents(callId),
      report: (range, by, timeZone) => callReport(db, range, by, timeZone),
    },
    desk: {
      agencies: config.calls.agencies,
      takerExists: async (takerId) => (await takers.getTaker(takerId)) !== undefined,
      listen: (takerId, listener) =>
        desk.listen((forTaker, event) => {
          if (forTaker === takerId) listener(event);
        }),
      callIsLive: async (callId) => (await queue.getSnapshot(callId)) !== null,
      command: (callId, takerId, command) => commands.request(callId, takerId, command),
    },
    callbacks: callbacks.routes,
    recordings: recordings.routes,
    metrics: metrics.registry,
    live: {
      waiting: () => queue.waiting(),
      takers: () => queue.listTakers(),
      notices: (limit) => notices.recent(limit),
      now: clock.now,
    },
    wallboard: {
      waiting: () => queue.waiting(),
      takers: () => queue.listTakers(),
      summary: (day, timeZone) => wallboardSummary(db, day, timeZone),
      sessions: wallboardSessions,
      keyActive: async (keyId) => (await apiKeys.findActive(keyId)) !== undefined,
      now: clock.now,
      clockRate: clock.rate,
    },
  });

  let closing: Promise<void> | undefined;
  return {
    app,
    center,
    ari,
    queue,
    lease,
    notices,
    recordBacklog: () => recorder.backlog(),
    databaseReady: migrated.done,
    recordings,
    close: () => {
      closing ??= (async () => {
        await app.close();
        center.stop();
        await callbacks.close();
        presence.stop();
        await ami?.close();
        await lease.stop();
        await leadership;
        await ari.close();
        await recordings.close();
        metrics.close();
        verdictDeadline.stop();
        retention.stop();
        await recorder.close();
        await recordWorker.close();
        await takerEventDrain.close();
        ruleBook.close();
        desk.close();
        commands.close();
        dispatchSubscriber.disconnect();
        await migrated.cancel();
        redis.disconnect();
        await db.destroy();
      })();
      return closing;
    },
  };
}

/**
 * `ami` and `trunk:<name>` for /ready: advisory, so an instance whose AMI or a trunk is down says
 * it is degraded and keeps taking calls over ARI.
 */
function amiChecks(ami: AsteriskMonitor): Record<string, ReadinessCheck> {
  const checks: Record<string, ReadinessCheck> = { ami: advisory(async () => ami.alive) };
  for (const trunk of ami.trunks) {
    checks[`trunk:${trunk}`] = advisory(async () => ami.trunkReachability().get(trunk) === true);
  }
  return checks;
}

/** Runs the migrations, retrying while Postgres is away; record writes wait meanwhile. */
function migrateUntilDone(
  db: Parameters<typeof migrateToLatest>[0],
  logger: Logger,
): { done: Promise<void>; cancel(): Promise<void> } {
  let cancelled = false;
  let timer: NodeJS.Timeout | undefined;
  const done = (async () => {
    while (!cancelled) {
      try {
        const applied = await migrateToLatest(db);
        if (applied.length > 0) logger.info({ applied }, 'database migrated');
        return;
      } catch (error) {
        logger.error({ err: error }, 'database migration failed; retrying');
        await new Promise<void>((resolve) => {
          timer = setTimeout(resolve, MIGRATION_RETRY_MS);
        });
      }
    }
  })();
  return {
    done,
    cancel: async () => {
      cancelled = true;
      clearTimeout(timer);
      await done;
    },
  };
}
