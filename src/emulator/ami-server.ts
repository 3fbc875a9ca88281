/**
 * The Asterisk Manager Interface as main/manager.c serves it over TCP: a banner line, then
 * CRLF-separated `Key: Value` messages ended by an empty line, in both directions. Implemented:
 * Login (a failure closes the session, as Asterisk's action_login returning -1 does), Logoff,
 * Ping, PJSIPShowContacts (res_pjsip: Success with `EventList: start`, a ContactList event per
 * registered contact, ContactListComplete) and PJSIPShowEndpoint (EndpointDetail, AorDetail and
 * a ContactStatusDetail per contact, static ones included, then EndpointDetailComplete); any
 * other action is "Invalid/unknown command", and only Login,
 * Logoff and Challenge are allowed before authentication. Events the emulated Asterisk raises
 * (ContactStatus, PeerStatus) reach every logged-in session that did not log in with
 * `Events: off`.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { EmulatorCore, ManagerEvent } from './emulator-core.ts';
import { deviceState, registeredContacts } from './endpoints.ts';

/** The AMI version Asterisk 22 announces in its banner. */
export const AMI_VERSION = '11.0.0';
/** manager.c reads at most this many bytes per line; a longer line is dumped. */
const MAX_LINE = 1024;
/** AST_MAX_MANHEADERS: further headers of a message are ignored. */
const MAX_HEADERS = 128;
/** Privilege names of the event classes used here (manager.c perms table). */
const PRIVILEGE: Record<string, string> = { system: 'system,all' };

export interface AmiServerOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** The manager user (manager.conf). */
  username: string;
  secret: string;
}

export interface AmiServer {
  readonly host: string;
  readonly port: number;
  /** Closes every AMI connection abruptly (network drop); clients must reconnect. */
  dropConnections(): void;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
}

interface Session {
  socket: Socket;
  buffer: string;
  /** Lines of the message being read. */
  lines: string[];
  authenticated: boolean;
  events: boolean;
}

type Fields = [string, string][];

/** Starts the AMI listener for the emulated Asterisk `core`. */
export async function startAmiServer(core: EmulatorCore, options: AmiServerOptions): Promise<AmiServer> {
  const sessions = new Set<Session>();
  const startedAt = Date.now();

  const write = (session: Session, fields: Fields): void => {
    if (session.socket.destroyed || !session.socket.writable) return;
    session.socket.write(`${fields.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
  };

  const offEvents = core.observations.on('manager-event', (event: ManagerEvent) => {
    const fields: Fields = [
      ['Event', event.event],
      ['Privilege', PRIVILEGE[event.privilege] ?? `${event.privilege},all`],
      ...event.fields,
    ];
    for (const session of sessions) if (session.authenticated && session.events) write(session, fields);
  });

  const server: Server = createServer((socket) => {
    const session: Session = { socket, buffer: '', lines: [], authenticated: false, events: true };
    sessions.add(session);
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sessions.delete(session));
    socket.on('data', (chunk: Buffer) => receive(session, chunk.toString('utf8')));
    socket.write(`Asterisk Call Manager/${AMI_VERSION}\r\n`);
  });

  function receive(session: Session, text: string): void {
    session.buffer += text;
    for (;;) {
      const end = session.buffer.indexOf('\r\n');
      if (end < 0) {
        if (session.buffer.length > MAX_LINE) session.buffer = '';
        return;
      }
      const line = session.buffer.slice(0, end);
      session.buffer = session.buffer.slice(end + 2);
      if (line.length > MAX_LINE) continue;
      if (line.length > 0) {
        if (session.lines.length < MAX_HEADERS) session.lines.push(line);
        continue;
      }
      if (session.lines.length === 0) continue;
      const headers = session.lines;
      session.lines = [];
      handle(session, headers);
      if (session.socket.destroyed) return;
    }
  }

  /** `astman_get_header`: the first header of that name, case-insensitive, leading blanks skipped. */
  const header = (lines: string[], name: string): string => {
    const prefix = `${name.toLowerCase()}:`;
    const line = lines.find((l) => l.toLowerCase().startsWith(prefix));
    return line === undefined ? '' : line.slice(prefix.length).replace(/^[ \t]+/, '');
  };

  /** `astman_send_response_full`: Response, ActionID, EventList, Message. */
  const respond = (
    session: Session,
    lines: string[],
    response: string,
    message?: string,
    eventList?: string,
  ): void => {
    const actionId = header(lines, 'ActionID');
    const fields: Fields = [['Response', response]];
    if (actionId) fields.push(['ActionID', actionId]);
    if (eventList) fields.push(['EventList', eventList]);
    if (message !== undefined) fields.push(['Message', message]);
    write(session, fields);
  };

  function handle(session: Session, lines: string[]): void {
    const action = header(lines, 'Action');
    if (action === '') {
      respond(session, lines, 'Error', 'Missing action in request');
      return;
    }
    const name = action.toLowerCase();
    if (!session.authenticated && name !== 'login' && name !== 'logoff' && name !== 'challenge') {
      respond(session, lines, 'Error', 'Permission denied');
      return;
    }
    switch (name) {
      case 'login':
        login(session, lines);
        return;
      case 'logoff':
        respond(session, lines, 'Goodbye', 'Thanks for all the fish.');
        session.socket.end();
        return;
      case 'ping': {
        const now = Date.now();
        const actionId = header(lines, 'ActionID');
        write(session, [
          ['Response', 'Success'],
          ...(actionId ? ([['ActionID', actionId]] as Fields) : []),
          ['Ping', 'Pong'],
          ['Timestamp', `${Math.floor(now / 1000)}.${String((now % 1000) * 1000).padStart(6, '0')}`],
        ]);
        return;
      }
      case 'pjsipshowcontacts':
        showContacts(session, lines);
        return;
      case 'pjsipshowendpoint':
        showEndpoint(session, lines);
        return;
      default:
        respond(
          session,
          lines,
          'Error',
          `Invalid/unknown command: ${action}. Use Action: ListCommands to show available commands.`,
        );
    }
  }

  function login(session: Session, lines: string[]): void {
    if (session.authenticated) {
      respond(session, lines, 'Success', 'Already authenticated');
      return;
    }
    if (header(lines, 'Username') !== options.username || header(lines, 'Secret') !== options.secret) {
      respond(session, lines, 'Error', 'Authentication failed');
      session.socket.end();
      return;
    }
    session.authenticated = true;
    const events = header(lines, 'Events').toLowerCase();
    session.events = events !== 'off' && events !== 'no' && events !== 'false' && events !== '0';
    respond(session, lines, 'Success', 'Authentication accepted');
    if (session.events) {
      const uptime = String(Math.floor((Date.now() - startedAt) / 1000));
      write(session, [
        ['Event', 'FullyBooted'],
        ['Privilege', 'system,all'],
        ['Uptime', uptime],
        ['LastReload', uptime],
        ['Status', 'Fully Booted'],
      ]);
    }
  }

  function showContacts(session: Session, lines: string[]): void {
    const contacts = registeredContacts(core);
    if (contacts.length === 0) {
      respond(session, lines, 'Error', 'No Contacts found');
      return;
    }
    respond(
      session,
      lines,
      'Success',
      'A listing of Contacts follows, presented as ContactList events',
      'start',
    );
    const actionId = header(lines, 'ActionID');
    const id: Fields = actionId ? [['ActionID', actionId]] : [];
    for (const { endpoint, contact } of contacts) {
      const reachable = contact.status === 'Reachable';
      write(session, [
        ['Event', 'ContactList'],
        ...id,
        ['ObjectType', 'contact'],
        ['ObjectName', contact.objectName],
        ['ViaAddr', contact.viaAddr],
        ['ViaPort', String(contact.viaPort)],
        ['QualifyTimeout', '3.000000'],
        ['CallId', contact.callId],
        ['RegServer', ''],
        ['PruneOnBoot', 'no'],
        ['Path', ''],
        ['Endpoint', endpoint.resource],
        ['AuthenticateQualify', 'no'],
        ['Uri', contact.uri],
        ['QualifyFrequency', '60'],
        ['UserAgent', contact.userAgent],
        ['ExpirationTime', String(contact.expirationTime)],
        ['OutboundProxy', ''],
        ['Status', contact.status],
        ['RoundtripUsec', reachable ? String(contact.roundtripUsec) : 'N/A'],
      ]);
    }
    write(session, [
      ['Event', 'ContactListComplete'],
      ...id,
      ['EventList', 'Complete'],
      ['ListItems', String(contacts.length)],
    ]);
  }

  /**
   * pjsip_configuration.c ami_show_endpoint. EndpointDetail carries a few of the endpoint's
   * fields (Asterisk sends its whole configuration); ActiveChannels is empty as in Asterisk 22,
   * whose active_channels_to_str returns early when the endpoint has a snapshot. Then the
   * formatters: location.c's AorDetail and pjsip_options.c's ContactStatusDetail per contact of
   * the AOR (ast_sip_for_each_contact: registered and static). ListItems counts the events after
   * EndpointDetail, plus one.
   */
  function showEndpoint(session: Session, lines: string[]): void {
    let name = header(lines, 'Endpoint');
    if (name === '') {
      respond(session, lines, 'Error', 'PJSIPShowEndpoint requires an endpoint name');
      return;
    }
    if (name.toLowerCase().startsWith('pjsip/')) name = name.slice('pjsip/'.length);
    const endpoint = core.endpoints.get(`PJSIP/${name}`);
    if (!endpoint) {
      respond(session, lines, 'Error', `Unable to retrieve endpoint ${name}`);
      return;
    }
    respond(
      session,
      lines,
      'Success',
      'Following are Events for each object associated with the Endpoint',
      'start',
    );
    const actionId = header(lines, 'ActionID');
    const id: Fields = actionId ? [['ActionID', actionId]] : [];
    const contact = endpoint.contact;
    write(session, [
      ['Event', 'EndpointDetail'],
      ...id,
      ['ObjectType', 'endpoint'],
      ['ObjectName', endpoint.resource],
      ['Aors', contact?.aor ?? ''],
      ['DeviceState', deviceState(core, endpoint)],
      ['ActiveChannels', ''],
    ]);
    let count = 0;
    if (contact) {
      write(session, [
        ['Event', 'AorDetail'],
        ...id,
        ['ObjectType', 'aor'],
        ['ObjectName', contact.aor],
        ['QualifyFrequency', '60'],
        ['QualifyTimeout', '3.000000'],
        ['Contacts', `${contact.aor}/${contact.uri}`],
        ['TotalContacts', '1'],
        ['ContactsRegistered', contact.permanent ? '0' : '1'],
        ['EndpointName', endpoint.resource],
      ]);
      write(session, [
        ['Event', 'ContactStatusDetail'],
        ...id,
        ['AOR', contact.aor],
        ['URI', contact.uri],
        ['UserAgent', contact.userAgent],
        ['RegExpire', String(contact.expirationTime)],
        ...(contact.viaAddr ? ([['ViaAddress', `${contact.viaAddr}:${contact.viaPort}`]] as Fields) : []),
        ...(contact.callId ? ([['CallID', contact.callId]] as Fields) : []),
        ['Status', contact.status],
        // N/A only while never qualified (Unknown); an unreachable contact's last RTT is 0.
        ['RoundtripUsec', String(contact.roundtripUsec)],
        ['EndpointName', endpoint.resource],
        ['ID', contact.objectName],
        ['AuthenticateQualify', '0'],
        ['OutboundProxy', ''],
        ['Path', ''],
        ['QualifyFrequency', '60'],
        ['QualifyTimeout', '3.000'],
      ]);
      count += 2;
    }
    write(session, [
      ['Event', 'EndpointDetailComplete'],
      ...id,
      ['EventList', 'Complete'],
      ['ListItems', String(count + 1)],
    ]);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('AMI server has no TCP address');

  const dropConnections = (): void => {
    for (const session of [...sessions]) {
      sessions.delete(session);
      session.socket.destroy();
    }
  };
  let closed: Promise<void> | undefined;
  return {
    host: address.address,
    port: address.port,
    dropConnections,
    close() {
      closed ??= (async () => {
        offEvents();
        dropConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closed;
    },
  };
}
