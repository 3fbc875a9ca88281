/**
 * Call takers' softphone reachability, operator trunks' reachability and Asterisk's liveness from
 * Asterisk's AMI: res_pjsip qualifies each contact and raises `ContactStatus` (Reachable,
 * Unreachable, Created, Removed, ...); on every (re)connection `PJSIPShowContacts` lists the
 * phones' registrations and `PJSIPShowEndpoint` each trunk's contacts (a trunk's contact is
 * static, and PJSIPShowContacts leaves static contacts out), so changes missed while
 * disconnected are caught up. Liveness is the connection plus its last Ping answered. Only this
 * module knows AMI or imports asterisk-manager; the rest of siaga112 sees
 * {@link SoftphonePresenceSource} and {@link AsteriskMonitor}.
 *
 * asterisk-manager 0.2.0 parses the protocol and correlates ActionIDs; everything around it is
 * ours: its reconnect waits 10-60 s and logs to stdout, its actions wait forever, it only ends an
 * *open* socket (a half-open or still-connecting one stays), and a repeated `UserEvent` header
 * makes it throw inside the socket's data handler. So each connection is a fresh Manager whose
 * socket we hold and destroy, every action has a timeout, a Ping detects half-open connections,
 * and its parser runs inside a try/catch.
 */
import net, { type Socket } from 'node:net';
import AsteriskManager, { type Manager, type ManagerMessage } from 'asterisk-manager';
import type { Logger } from '../logger.ts';
import {
  type ContactReport,
  field,
  type ReachabilityChange,
  ReachabilityTable,
  reportFromContactList,
  reportFromContactStatus,
  reportFromContactStatusDetail,
} from './contact-reachability.ts';

export interface ReachabilityDetail {
  /** The contact status behind the change (`Reachable`, `Unreachable`, `Removed`, ...). */
  status: string;
  /** The contact's SIP URI. */
  uri?: string;
}

/** `endpoint` is `PJSIP/<name>`, e.g. `PJSIP/taker1`. */
export type ReachabilityListener = (endpoint: string, reachable: boolean, detail: ReachabilityDetail) => void;

/** Where siaga112 learns whether a call taker's softphone can be rung. */
export interface SoftphonePresenceSource {
  /** Told each time an endpoint's reachability flips; returns the unsubscribe function. */
  onReachability(listener: ReachabilityListener): () => void;
  /** Every endpoint with a registered contact and whether it is reachable, asked live. */
  listReachability(): Promise<Map<string, boolean>>;
  /** Connects; see the implementation for when it resolves and rejects. */
  start(): Promise<void>;
  /** Disconnects and stops reconnecting. */
  close(): Promise<void>;
  /** Logged in and listed; false while reconnecting. */
  readonly connected: boolean;
}

/** `trunk` is the endpoint name, e.g. `telkomsel`. */
export type TrunkReachabilityListener = (
  trunk: string,
  reachable: boolean,
  detail: ReachabilityDetail,
) => void;

/** What siaga112 learns about Asterisk itself and its operator trunks (for /ready and /metrics). */
export interface AsteriskMonitor {
  /** Logged in and listed, and the last keep-alive Ping was answered. */
  readonly alive: boolean;
  /** The trunks watched (endpoint names), as configured. */
  readonly trunks: readonly string[];
  /**
   * Each watched trunk and whether one of its contacts answers qualify; empty while not
   * connected (unknown). A trunk Asterisk reports no contact for is unreachable.
   */
  trunkReachability(): Map<string, boolean>;
  /** Told each time a trunk's reachability flips; returns the unsubscribe function. */
  onTrunkReachability(listener: TrunkReachabilityListener): () => void;
  /** Told on every (re)connection and every loss of it; returns the unsubscribe function. */
  onConnectionChange(listener: (connected: boolean) => void): () => void;
}

export type AmiErrorCode =
  | 'auth-failed' // Login refused: wrong username or secret
  | 'rejected' // Response: Error to an action
  | 'timeout' // no answer within the action timeout
  | 'unavailable'; // not connected (or the connection went away)

export class AmiError extends Error {
  readonly code: AmiErrorCode;
  readonly action: string;

  constructor(action: string, code: AmiErrorCode, message: string) {
    super(`AMI ${action}: ${message}`);
    this.name = 'AmiError';
    this.code = code;
    this.action = action;
  }
}

export const isAmiError = (error: unknown, code?: AmiErrorCode): error is AmiError =>
  error instanceof AmiError && (code === undefined || error.code === code);

export interface AmiPresenceOptions {
  host: string;
  port: number;
  /** The manager.conf user; it needs `read = system` for ContactStatus events. */
  username: string;
  secret: string;
  logger: Logger;
  /** Bound on connecting, logging in and on every action. Default 3000. */
  actionTimeoutMs?: number;
  /** How often the connection is pinged; an unanswered Ping drops it. Default 10000. */
  keepAliveMs?: number;
  /** Reconnect delay bounds (exponential with jitter between them). Default 200..10000. */
  reconnectDelayMs?: { min: number; max: number };
  /** How long start() waits for the first connection. Default 3 × actionTimeoutMs. */
  startTimeoutMs?: number;
  /**
   * Operator trunks to watch, as PJSIP endpoint names (`telkomsel`): their contacts are kept
   * apart from the softphones'. Default none.
   */
  trunks?: readonly string[];
}

/** manager.c lines are short; a "line" this long is garbage, not AMI. */
const MAX_LINE_CHARS = 64 * 1024;

/** The SoftphonePresenceSource and AsteriskMonitor on top of asterisk-manager. */
export class AmiPresence implements SoftphonePresenceSource, AsteriskMonitor {
  readonly #options: Required<AmiPresenceOptions>;
  /** The phones' contacts. */
  readonly #table = new ReachabilityTable();
  /** The watched trunks' contacts, and the trunks as endpoint ids (`PJSIP/telkomsel`). */
  readonly #trunkTable = new ReachabilityTable();
  readonly #trunkIds: ReadonlySet<string>;
  readonly #listeners = new Set<ReachabilityListener>();
  readonly #trunkListeners = new Set<TrunkReachabilityListener>();
  readonly #connectionListeners = new Set<(connected: boolean) => void>();
  #session: AmiSession | undefined;
  #connected = false;
  /** The current connection's last keep-alive Ping was answered (its login counts as one). */
  #pingAnswered = false;
  #everConnected = false;
  #closed = false;
  #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #started: Promise<void> | undefined;
  #settleStart: ((error?: AmiError) => void) | undefined;
  /** The listing under way and the connection it runs on. */
  #listing: { session: AmiSession; done: Promise<void> } | undefined;
  /** ContactStatus reports that arrive while a listing is under way: applied after it. */
  #buffered: ContactReport[] | undefined;

  constructor(options: AmiPresenceOptions) {
    const actionTimeoutMs = options.actionTimeoutMs ?? 3000;
    this.#options = {
      actionTimeoutMs,
      keepAliveMs: 10_000,
      reconnectDelayMs: { min: 200, max: 10_000 },
      startTimeoutMs: actionTimeoutMs * 3,
      trunks: [],
      ...options,
    };
    this.#trunkIds = new Set(this.#options.trunks.map((trunk) => `PJSIP/${trunk}`));
  }

  get connected(): boolean {
    return this.#connected;
  }

  get alive(): boolean {
    return this.#connected && this.#pingAnswered;
  }

  get trunks(): readonly string[] {
    return this.#options.trunks;
  }

  trunkReachability(): Map<string, boolean> {
    if (!this.#connected) return new Map();
    return new Map(
      this.#options.trunks.map((trunk) => [trunk, this.#trunkTable.reachable(`PJSIP/${trunk}`)]),
    );
  }

  onTrunkReachability(listener: TrunkReachabilityListener): () => void {
    this.#trunkListeners.add(listener);
    return () => this.#trunkListeners.delete(listener);
  }

  onReachability(listener: ReachabilityListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Told on every (re)connection and every loss of it. */
  onConnectionChange(listener: (connected: boolean) => void): () => void {
    this.#connectionListeners.add(listener);
    return () => this.#connectionListeners.delete(listener);
  }

  /**
   * Starts the connect/reconnect loop. Resolves once logged in and the contacts are listed.
   * Rejects with `auth-failed` when the first login is refused (and stops: a wrong secret does
   * not fix itself, and each retry is a security event in Asterisk's log), or with `unavailable`
   * when not connected within `startTimeoutMs` (the loop keeps trying; watch `connected`).
   */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new AmiError('start', 'unavailable', 'closed'));
    this.#started ??= new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          settle(
            new AmiError('start', 'unavailable', `not connected within ${this.#options.startTimeoutMs} ms`),
          ),
        this.#options.startTimeoutMs,
      );
      const settle = (error?: AmiError): void => {
        clearTimeout(timer);
        this.#settleStart = undefined;
        if (error) reject(error);
        else resolve();
      };
      this.#settleStart = settle;
      this.#loop = this.#run(this.#stop.signal);
    });
    return this.#started;
  }

  async listReachability(): Promise<Map<string, boolean>> {
    const session = this.#session;
    if (!session || !this.#connected) {
      throw new AmiError('PJSIPShowContacts', 'unavailable', 'not connected to AMI');
    }
    await this.#reconcile(session);
    return this.#table.snapshot();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#stop.abort();
    this.#session?.destroy();
    this.#settleStart?.(new AmiError('start', 'unavailable', 'closed'));
    await this.#loop;
    this.#setConnected(false);
  }

  async #run(stop: AbortSignal): Promise<void> {
    const { min, max } = this.#options.reconnectDelayMs;
    let failures = 0;
    while (!stop.aborted) {
      let session: AmiSession | undefined;
      try {
        session = await AmiSession.open(
          this.#options,
          (message) => this.#onEvent(message),
          (answered) => {
            if (this.#session === session) this.#pingAnswered = answered;
          },
        );
        if (stop.aborted) {
          session.destroy();
          break;
        }
        this.#session = session;
        this.#pingAnswered = true;
        await this.#reconcile(session);
        failures = 0;
        this.#everConnected = true;
        this.#setConnected(true);
        this.#settleStart?.();
        await session.closed;
        if (!stop.aborted) this.#options.logger.warn('AMI connection lost; reconnecting');
      } catch (error) {
        session?.destroy();
        if (stop.aborted) break;
        if (isAmiError(error, 'auth-failed') && !this.#everConnected) {
          this.#options.logger.error({ err: error }, 'AMI login refused; not retrying');
          this.#settleStart?.(error);
          this.#stop.abort();
          break;
        }
        this.#options.logger.warn({ err: error }, 'AMI connection attempt failed');
      } finally {
        if (this.#session === session) this.#session = undefined;
      }
      session?.destroy();
      this.#setConnected(false);
      if (stop.aborted) break;
      const delay = Math.min(max, min * 2 ** failures++) * (0.5 + Math.random() / 2);
      await sleep(delay, stop);
    }
    this.#session?.destroy();
    this.#session = undefined;
  }

  /** One listing at a time; events arriving meanwhile are applied after it. */
  #reconcile(session: AmiSession): Promise<void> {
    const current = this.#listing;
    if (current?.session === session) return current.done;
    const done = (async () => {
      // A listing left over from a lost connection fails soon; ours starts after it.
      await current?.done.catch(() => {});
      this.#buffered = [];
      try {
        const items = await this.#listContacts(session);
        const reports: ContactReport[] = [];
        for (const item of items) {
          const report = reportFromContactList(item);
          if (!report)
            this.#options.logger.warn('AMI ContactList item without endpoint, URI or status; ignored');
          // A trunk that registers has its registrations here too: its own listing covers them.
          else if (!this.#trunkIds.has(report.endpoint)) reports.push(report);
        }
        const trunkReports = await this.#listTrunkContacts(session);
        for (const change of this.#table.replace(reports)) this.#notify(change);
        for (const change of this.#trunkTable.replace(trunkReports)) this.#notifyTrunk(change);
      } finally {
        const buffered = this.#buffered ?? [];
        this.#buffered = undefined;
        for (const report of buffered) this.#apply(report);
        if (this.#listing?.session === session) this.#listing = undefined;
      }
    })();
    this.#listing = { session, done };
    return done;
  }

  async #listContacts(session: AmiSession): Promise<ManagerMessage[]> {
    try {
      return await session.list('PJSIPShowContacts', 'ContactListComplete');
    } catch (error) {
      // res_pjsip answers an empty registry with an error, not an empty list; AMI gives no code,
      // so its message is the only way to tell.
      if (isAmiError(error, 'rejected') && /no contacts found/i.test(error.message)) return [];
      throw error;
    }
  }

  /** Each watched trunk's contacts (registered and static) from PJSIPShowEndpoint. */
  async #listTrunkContacts(session: AmiSession): Promise<ContactReport[]> {
    const { logger } = this.#options;
    const listings = await Promise.all(
      this.#options.trunks.map(async (trunk) => {
        let items: ManagerMessage[];
        try {
          items = await session.list('PJSIPShowEndpoint', 'EndpointDetailComplete', { Endpoint: trunk });
        } catch (error) {
          if (!isAmiError(error, 'rejected')) throw error;
          // e.g. "Unable to retrieve endpoint telkomsel": TRUNKS names an endpoint Asterisk lacks.
          logger.warn({ err: error, trunk }, 'AMI could not show a trunk; counted unreachable');
          return [];
        }
        const reports: ContactReport[] = [];
        for (const item of items) {
          if (field(item, 'Event')?.toLowerCase() !== 'contactstatusdetail') continue;
          const report = reportFromContactStatusDetail(item);
          // Reported for the endpoint asked about: a shared AOR's contacts count for this trunk.
          if (report) reports.push({ ...report, endpoint: `PJSIP/${trunk}` });
        }
        if (reports.length === 0) {
          logger.warn(
            { trunk },
            'trunk has no contact to qualify (AOR with contact= and qualify_frequency); counted unreachable',
          );
        }
        return reports;
      }),
    );
    return listings.flat();
  }

  #onEvent(message: ManagerMessage): void {
    if (field(message, 'Event')?.toLowerCase() !== 'contactstatus') return;
    const report = reportFromContactStatus(message);
    if (!report) {
      this.#options.logger.warn('AMI ContactStatus without endpoint, URI or status; ignored');
      return;
    }
    if (this.#buffered) this.#buffered.push(report);
    else this.#apply(report);
  }

  #apply(report: ContactReport): void {
    if (this.#trunkIds.has(report.endpoint)) {
      const change = this.#trunkTable.apply(report);
      if (change) this.#notifyTrunk(change);
      return;
    }
    const change = this.#table.apply(report);
    if (change) this.#notify(change);
  }

  #notifyTrunk(change: ReachabilityChange): void {
    const { reachable, status, uri } = change;
    const trunk = change.endpoint.slice('PJSIP/'.length);
    // An operator trunk down means that operator's 112 callers may not reach us at all.
    if (reachable) this.#options.logger.info({ trunk, status, uri }, 'operator trunk reachable');
    else this.#options.logger.warn({ trunk, status, uri }, 'operator trunk unreachable (qualify unanswered)');
    const detail: ReachabilityDetail = uri === undefined ? { status } : { status, uri };
    for (const listener of [...this.#trunkListeners]) {
      try {
        listener(trunk, reachable, detail);
      } catch (error) {
        this.#options.logger.error({ err: error, trunk }, 'trunk reachability listener failed');
      }
    }
  }

  #notify(change: ReachabilityChange): void {
    const { endpoint, reachable, status, uri } = change;
    this.#options.logger.info({ endpoint, reachable, status }, 'softphone reachability changed');
    const detail: ReachabilityDetail = uri === undefined ? { status } : { status, uri };
    for (const listener of [...this.#listeners]) {
      try {
        listener(endpoint, reachable, detail);
      } catch (error) {
        this.#options.logger.error({ err: error, endpoint }, 'reachability listener failed');
      }
    }
  }

  #setConnected(connected: boolean): void {
    if (this.#connected === connected) return;
    this.#connected = connected;
    for (const listener of [...this.#connectionListeners]) {
      try {
        listener(connected);
      } catch (error) {
        this.#options.logger.error({ err: error }, 'AMI connection listener failed');
      }
    }
  }
}

type SessionOptions = Required<AmiPresenceOptions>;

/** One logged-in AMI connection: a Manager, the socket it opened, timeouts and keep-alive. */
class AmiSession {
  readonly closed: Promise<void>;
  readonly #manager: Manager;
  readonly #socket: Socket;
  readonly #options: SessionOptions;
  /** Watchers of list-action events, by ActionID. */
  readonly #listWatchers = new Map<string, (message: ManagerMessage) => void>();
  /** Rejecters of actions under way, run when the connection goes. */
  readonly #pending = new Set<(error: AmiError) => void>();
  #gone = false;
  #keepAlive: NodeJS.Timeout | undefined;
  #sequence = 0;

  private constructor(manager: Manager, socket: Socket, options: SessionOptions) {
    this.#manager = manager;
    this.#socket = socket;
    this.#options = options;
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#gone = true;
        clearInterval(this.#keepAlive);
        for (const reject of [...this.#pending]) reject(new AmiError('connection', 'unavailable', 'closed'));
        resolve();
      });
    });
  }

  /** Connects and logs in, each within the action timeout; `onPing` hears each keep-alive's fate. */
  static async open(
    options: SessionOptions,
    onEvent: (message: ManagerMessage) => void,
    onPing: (answered: boolean) => void,
  ): Promise<AmiSession> {
    const manager = new AsteriskManager(0, options.host, options.username, options.secret, true);
    guardParser(manager, options.logger);
    let connected = false;
    let resolveConnect: () => void = () => {};
    const connecting = new Promise<void>((resolve) => {
      resolveConnect = resolve;
    });
    const socket = captureSocket(() =>
      manager.connect(options.port, options.host, () => {
        connected = true;
        resolveConnect();
      }),
    );
    const session = new AmiSession(manager, socket, options);
    manager.on('managerevent', (message: ManagerMessage) => session.#dispatch(message, onEvent));
    guardReader(socket, options.logger);
    let socketError = '';
    socket.on('error', (error: NodeJS.ErrnoException) => {
      socketError = `: ${error.code ?? error.message}`;
    });
    try {
      await session.#bounded('connect', connecting, () =>
        connected ? 'connection closed' : `no connection to ${options.host}:${options.port}${socketError}`,
      );
      await session.#bounded(
        'Login',
        new Promise<void>((resolve, reject) =>
          manager.login((error) => {
            if (!error) resolve();
            else {
              const reason = field(error, 'Message') ?? 'refused';
              reject(
                new AmiError('Login', 'auth-failed', `login as '${options.username}' refused: ${reason}`),
              );
            }
          }),
        ),
        () => 'connection closed during login',
      );
    } catch (error) {
      session.destroy();
      throw error;
    }
    session.#keepAlive = setInterval(() => {
      session.action('Ping').then(
        () => onPing(true),
        (error: unknown) => {
          if (session.#gone) return;
          onPing(false);
          options.logger.warn({ err: error }, 'AMI Ping unanswered; dropping the connection');
          session.destroy();
        },
      );
    }, options.keepAliveMs);
    return session;
  }

  /** Sends an action; resolves with its response, rejects on `Response: Error` or timeout. */
  action(name: string, fields: Record<string, string> = {}): Promise<ManagerMessage> {
    return this.#bounded(
      name,
      new Promise<ManagerMessage>((resolve, reject) => {
        this.#manager.action({ ...fields, action: name, actionid: this.#nextId() }, (error, response) => {
          if (error) reject(new AmiError(name, 'rejected', field(error, 'Message') ?? 'error'));
          else resolve(response ?? {});
        });
      }),
      () => 'connection closed',
    );
  }

  /** A list action: its events (with our ActionID) until `completeEvent`. */
  list(name: string, completeEvent: string, fields: Record<string, string> = {}): Promise<ManagerMessage[]> {
    const actionId = this.#nextId();
    const items: ManagerMessage[] = [];
    const done = new Promise<ManagerMessage[]>((resolve, reject) => {
      this.#listWatchers.set(actionId, (message) => {
        if (field(message, 'Event')?.toLowerCase() === completeEvent.toLowerCase()) resolve(items);
        else items.push(message);
      });
      this.#manager.action({ ...fields, action: name, actionid: actionId }, (error) => {
        if (error) reject(new AmiError(name, 'rejected', field(error, 'Message') ?? 'error'));
      });
    });
    return this.#bounded(name, done, () => 'connection closed').finally(() =>
      this.#listWatchers.delete(actionId),
    );
  }

  destroy(): void {
    this.#gone = true;
    clearInterval(this.#keepAlive);
    this.#socket.destroy();
  }

  #dispatch(message: ManagerMessage, onEvent: (message: ManagerMessage) => void): void {
    try {
      const actionId = field(message, 'ActionID');
      const watcher = actionId === undefined ? undefined : this.#listWatchers.get(actionId);
      if (watcher) watcher(message);
      else onEvent(message);
    } catch (error) {
      this.#options.logger.error({ err: error }, 'AMI event handling failed');
    }
  }

  /** Races `work` against the action timeout and the connection's end. */
  #bounded<T>(action: string, work: Promise<T>, closedReason: () => string): Promise<T> {
    if (this.#gone) return Promise.reject(new AmiError(action, 'unavailable', closedReason()));
    return new Promise<T>((resolve, reject) => {
      const finish = (error: AmiError | undefined, value?: T): void => {
        clearTimeout(timer);
        this.#pending.delete(onClose);
        if (error) reject(error);
        else resolve(value as T);
      };
      const onClose = (): void => finish(new AmiError(action, 'unavailable', closedReason()));
      const timer = setTimeout(
        () => finish(new AmiError(action, 'timeout', `no answer within ${this.#options.actionTimeoutMs} ms`)),
        this.#options.actionTimeoutMs,
      );
      this.#pending.add(onClose);
      work.then(
        (value) => finish(undefined, value),
        (error: unknown) =>
          finish(isAmiError(error) ? error : new AmiError(action, 'rejected', String(error))),
      );
    });
  }

  #nextId(): string {
    this.#sequence += 1;
    return `siaga112-${process.pid}-${this.#sequence}`;
  }
}

/**
 * asterisk-manager opens its socket inside connect() and keeps it private; we take it as it is
 * created (connect() calls net.createConnection synchronously) so it can be destroyed.
 */
function captureSocket(connect: () => void): Socket {
  const original = net.createConnection;
  let socket: Socket | undefined;
  net.createConnection = ((...args: Parameters<typeof net.createConnection>) => {
    socket = original.apply(net, args);
    return socket;
  }) as typeof net.createConnection;
  try {
    connect();
  } finally {
    net.createConnection = original;
  }
  if (!socket) throw new AmiError('connect', 'unavailable', 'asterisk-manager opened no socket');
  return socket;
}

/** Runs asterisk-manager's message handler inside a try/catch: its throws would kill the process. */
function guardParser(manager: Manager, logger: Logger): void {
  for (const handler of manager.listeners('rawevent')) {
    manager.removeListener('rawevent', handler);
    manager.on('rawevent', (message: ManagerMessage) => {
      try {
        (handler as (message: ManagerMessage) => void)(message);
      } catch (error) {
        logger.warn({ err: error }, 'AMI message asterisk-manager could not handle; ignored');
      }
    });
  }
}

/**
 * Runs asterisk-manager's reader inside a try/catch (a throw in a socket's data handler kills
 * the process) and drops a connection that sends an endless line (it would buffer it forever).
 */
function guardReader(socket: Socket, logger: Logger): void {
  for (const reader of socket.listeners('data')) {
    socket.removeListener('data', reader as (chunk: unknown) => void);
    socket.on('data', (chunk: unknown) => {
      try {
        (reader as (chunk: unknown) => void)(chunk);
      } catch (error) {
        logger.warn({ err: error }, 'AMI data asterisk-manager could not parse; ignored');
      }
    });
  }
  let partial = 0;
  socket.on('data', (chunk: string | Buffer) => {
    const text = String(chunk);
    const newline = text.lastIndexOf('\n');
    partial = newline < 0 ? partial + text.length : text.length - newline - 1;
    if (partial > MAX_LINE_CHARS) {
      logger.warn('AMI sent a line longer than 64 KiB; dropping the connection');
      socket.destroy();
    }
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
