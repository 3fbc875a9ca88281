import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { ARI_MESSAGE_REJECTIONS, type AriMessageRejection } from '../ari/ari-event-parser.ts';
import type { ConnectionState } from '../ari/ari-port.ts';
import type { Logger } from '../logger.ts';
import type { TakerPresence, WaitingCall } from '../queues/call-queue.ts';
import type { TakerState } from '../queues/taker-state.ts';
import type { CallRecord, Disposition, ScreeningDecision } from '../records/call-record.ts';
import type { RecordBacklog, RecordCommit } from '../records/record-writer.ts';
import { withTimeout } from '../with-timeout.ts';

/** What the metrics read on each scrape, and the ARI connection they follow. */
export interface MetricsSources {
  /** Calls this process is handling now. */
  activeCalls(): number;
  waiting(): Promise<WaitingCall[]>;
  takers(): Promise<TakerPresence[]>;
  /** Record updates not yet committed to Postgres. */
  recordBacklog(): Promise<RecordBacklog>;
  /** Whether this instance holds the call-control lease. */
  leading(): boolean;
  ari: {
    readonly connected: boolean;
    onConnectionChange(listener: (state: ConnectionState) => void): () => void;
    /** Messages on the events socket that were not an event siaga112 can act on. */
    onMessageRejected?(listener: (reason: AriMessageRejection) => void): () => void;
  };
  /** Asterisk seen over AMI (liveness, operator trunks), when AMI is configured; else no AMI metrics. */
  ami?: {
    /** Logged in and the last keep-alive Ping answered. */
    readonly alive: boolean;
    /** Each watched trunk and whether it answers qualify; empty while AMI is not connected. */
    trunkReachability(): Map<string, boolean>;
    onConnectionChange(listener: (connected: boolean) => void): () => void;
  };
  logger: Logger;
  /** How long one Redis read may hold a scrape up before its metric is skipped (default 2000). */
  readTimeoutMs?: number;
}

export interface ServiceMetrics {
  /** This instance's registry (never prom-client's global one: tests run several services). */
  readonly registry: Registry;
  /** Counts an ended call: its disposition, its screening decision, its wait when answered. */
  callEnded(record: Readonly<CallRecord>): void;
  /** Observes how long each record update of a committed batch waited to reach Postgres. */
  recordsCommitted(commit: RecordCommit): void;
  /** Stops following the ARI (and AMI) connection. */
  close(): void;
}

const PRIORITY_NAMES = ['urgent', 'normal', 'low'] as const;
const TAKER_STATES = {
  available: true,
  reserved: true,
  'on-call': true,
  'wrap-up': true,
  break: true,
  offline: true,
} satisfies Record<TakerState, true>;
const DISPOSITIONS = {
  connected: true,
  abandoned: true,
  released: true,
  silent: true,
  overflowed: true,
  failed: true,
  lost: true,
} satisfies Record<Disposition, true>;
const DECISIONS = {
  connect: true,
  'connect-low': true,
  challenge: true,
  'warn-and-release': true,
} satisfies Record<ScreeningDecision, true>;
const BACKLOG_STATES = ['waiting', 'active', 'delayed', 'failed'] as const satisfies ReadonlyArray<
  keyof RecordBacklog
>;
/** Seconds from arrival to a person answering: 112 aims at seconds, minutes are an incident. */
const WAIT_BUCKETS = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300];
const READ_TIMEOUT_MS = 2000;
/** Seconds from a record update to its commit: well under a second normally, minutes in an outage. */
const RECORD_LAG_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60, 300];

/**
 * siaga112's Prometheus metrics on a registry of its own, with Node's process metrics. Gauges
 * read Redis (queue, takers, record backlog) when scraped; a read that fails or hangs leaves its
 * gauge empty for that scrape, logged, and the rest of the scrape is served.
 */
export function createMetrics(sources: MetricsSources): ServiceMetrics {
  const registry = new Registry();
  const registers = [registry];
  const timeoutMs = sources.readTimeoutMs ?? READ_TIMEOUT_MS;
  const { logger } = sources;

  /** Reads for a collect-on-scrape gauge; on failure the gauge is emptied and the scrape goes on. */
  const read = async <T>(
    gauge: Gauge<string>,
    what: string,
    load: () => Promise<T>,
  ): Promise<T | undefined> => {
    try {
      return await withTimeout(
        load(),
        timeoutMs,
        () => new Error(`${what}: no answer within ${timeoutMs} ms`),
      );
    } catch (error) {
      gauge.reset();
      logger.warn({ err: error }, 'metrics: could not read %s; skipped', what);
      return undefined;
    }
  };

  new Gauge({
    name: 'siaga112_calls_in_progress',
    help: 'Calls this process is handling now (from arrival to the end of the call).',
    registers,
    collect() {
      this.set(sources.activeCalls());
    },
  });

  new Gauge({
    name: 'siaga112_calls_waiting',
    help: 'Calls waiting in the queue for a call taker, by priority (all instances, from Redis).',
    labelNames: ['priority'] as const,
    registers,
    async collect() {
      const waiting = await read(this, 'the waiting calls', () => sources.waiting());
      if (!waiting) return;
      const counts = [0, 0, 0];
      for (const call of waiting) counts[call.level] = (counts[call.level] ?? 0) + 1;
      PRIORITY_NAMES.forEach((priority, level) => {
        this.set({ priority }, counts[level] ?? 0);
      });
    },
  });

  new Gauge({
    name: 'siaga112_takers',
    help: 'Call takers by state (all instances, from Redis).',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      const takers = await read(this, 'the takers', () => sources.takers());
      if (!takers) return;
      const counts = new Map<string, number>(Object.keys(TAKER_STATES).map((state) => [state, 0]));
      for (const taker of takers) counts.set(taker.state, (counts.get(taker.state) ?? 0) + 1);
      for (const [state, count] of counts) this.set({ state }, count);
    },
  });

  new Gauge({
    name: 'siaga112_record_backlog',
    help: 'Call record updates not yet committed to Postgres, by job state (failed: given up on).',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      const backlog = await read(this, 'the record backlog', () => sources.recordBacklog());
      if (!backlog) return;
      for (const state of BACKLOG_STATES) this.set({ state }, backlog[state]);
    },
  });

  new Gauge({
    name: 'siaga112_leader',
    help: '1 while this instance holds the call-control lease (it talks to Asterisk), else 0.',
    registers,
    collect() {
      this.set(sources.leading() ? 1 : 0);
    },
  });

  new Gauge({
    name: 'siaga112_ari_connected',
    help: "1 while this instance's ARI events socket to Asterisk is connected, else 0.",
    registers,
    collect() {
      this.set(sources.ari.connected ? 1 : 0);
    },
  });

  const reconnects = new Counter({
    name: 'siaga112_ari_reconnects_total',
    help: 'Times the ARI events socket connected again after having been connected in this process.',
    registers,
  });
  let everConnected = sources.ari.connected;
  const unsubscribe = [
    sources.ari.onConnectionChange((state) => {
      if (state !== 'connected') return;
      if (everConnected) reconnects.inc();
      everConnected = true;
    }),
  ];
  const rejected = new Counter({
    name: 'siaga112_ari_events_rejected_total',
    help: 'Messages on the ARI events socket that were not an event siaga112 can act on (logged and ignored), by reason.',
    labelNames: ['reason'],
    registers,
  });
  for (const reason of ARI_MESSAGE_REJECTIONS) rejected.inc({ reason }, 0);
  if (sources.ari.onMessageRejected) {
    unsubscribe.push(sources.ari.onMessageRejected((reason) => rejected.inc({ reason })));
  }
  if (sources.ami) unsubscribe.push(amiMetrics(sources.ami, registers));

  const waitSeconds = new Histogram({
    name: 'siaga112_call_wait_seconds',
    help: 'Seconds from arrival to a call taker answering, per answered call (observed when it ends).',
    buckets: WAIT_BUCKETS,
    registers,
  });

  const ended = new Counter({
    name: 'siaga112_calls_ended_total',
    help: 'Calls this process ended, by disposition.',
    labelNames: ['disposition'] as const,
    registers,
  });
  for (const disposition of Object.keys(DISPOSITIONS)) ended.inc({ disposition }, 0);

  const screened = new Counter({
    name: 'siaga112_screening_decisions_total',
    help: 'Screening decisions, per screened call this process ended.',
    labelNames: ['decision'] as const,
    registers,
  });
  for (const decision of Object.keys(DECISIONS)) screened.inc({ decision }, 0);

  const recordLag = new Histogram({
    name: 'siaga112_record_write_lag_seconds',
    help: 'Seconds from a call record update or timeline event being queued to its commit in Postgres.',
    buckets: RECORD_LAG_BUCKETS,
    registers,
  });

  collectDefaultMetrics({ register: registry });

  return {
    registry,
    callEnded(record) {
      ended.inc({ disposition: record.disposition ?? 'unknown' });
      if (record.screening) screened.inc({ decision: record.screening.decision });
      if (record.connectedAt && record.waitMs !== null) waitSeconds.observe(record.waitMs / 1000);
    },
    recordsCommitted(commit) {
      for (const lagMs of commit.lagsMs) recordLag.observe(lagMs / 1000);
    },
    close: () => {
      for (const off of unsubscribe.splice(0)) off();
    },
  };
}

/** AMI's gauges and counter; returns the function that stops following its connection. */
function amiMetrics(ami: NonNullable<MetricsSources['ami']>, registers: Registry[]): () => void {
  new Gauge({
    name: 'siaga112_ami_connected',
    help: '1 while AMI is logged in to Asterisk and its last keep-alive Ping was answered, else 0.',
    registers,
    collect() {
      this.set(ami.alive ? 1 : 0);
    },
  });
  new Gauge({
    name: 'siaga112_trunk_reachable',
    help: "1 while an operator trunk's contact answers Asterisk's qualify, else 0 (TRUNKS; no sample while AMI is down).",
    labelNames: ['trunk'] as const,
    registers,
    collect() {
      // Unknown while AMI is down: no sample rather than a guess (siaga112_ami_connected says why).
      this.reset();
      for (const [trunk, reachable] of ami.trunkReachability()) this.set({ trunk }, reachable ? 1 : 0);
    },
  });
  const reconnects = new Counter({
    name: 'siaga112_ami_reconnects_total',
    help: 'Times the AMI connection was made again after having been made in this process.',
    registers,
  });
  let everConnected = ami.alive;
  return ami.onConnectionChange((connected) => {
    if (!connected) return;
    if (everConnected) reconnects.inc();
    everConnected = true;
  });
}
