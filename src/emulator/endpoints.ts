/**
 * Endpoints as Asterisk 22 keeps them: call-taker phones (a PJSIP endpoint with one registered
 * contact whose qualify makes the endpoint online or offline) and operator trunks (identified by
 * IP, optionally with a static, qualified contact that does the same for them); the
 * `/endpoints` handlers of res/ari/resource_endpoints.c; and the `endpoint:` event subscriptions
 * of res/stasis/app.c. What a reachability change publishes, and in which order, follows
 * res_pjsip's pjsip_options.c (endpoint state, then PeerStatus, then ContactStatus).
 */
import { createHash } from 'node:crypto';
import type {
  ContactRecord,
  EmulatorCore,
  EndpointRecord,
  EndpointStateName,
  TakerBehaviour,
} from './emulator-core.ts';
import { errorResult, type HandlerResult, type OperationHandler } from './spec-router.ts';

/** Technologies whose channel driver is loaded: their aggregate endpoint always exists. */
const LOADED_TECHNOLOGIES = ['PJSIP'];
/** Seconds a registration lasts (aor default_expiration). */
const REGISTRATION_SECONDS = 3600;
const QUALIFY_RTT_USEC = 1800;

/** Splits `PJSIP/taker1`; throws on anything else (a test or demo bug, not a request). */
export function parseEndpointId(id: string): { technology: string; resource: string } {
  const slash = id.indexOf('/');
  if (slash <= 0 || slash === id.length - 1) throw new Error(`endpoint must look like PJSIP/taker1: '${id}'`);
  return { technology: id.slice(0, slash), resource: id.slice(slash + 1) };
}

/**
 * Declares a call taker's phone. A new one registers (AMI ContactStatus Created) and its first
 * qualify answers, so it starts online; an existing one only gets the new behaviour.
 */
export function declarePhone(core: EmulatorCore, id: string, behaviour: TakerBehaviour): void {
  const existing = core.endpoints.get(id);
  if (existing) {
    existing.behaviour = behaviour;
    return;
  }
  const { technology, resource } = parseEndpointId(id);
  const endpoint: EndpointRecord = {
    id,
    technology,
    resource,
    kind: 'phone',
    behaviour,
    // res_pjsip creates persistent endpoints offline; qualify brings them online.
    state: 'offline',
    contact: undefined,
  };
  core.endpoints.set(id, endpoint);
  core.publishEndpointSnapshot(id);
  const address = `192.0.2.${10 + (core.endpoints.size % 240)}`;
  const uri = `sip:${resource}@${address}:5060`;
  endpoint.contact = {
    uri,
    aor: resource,
    objectName: `${resource};@${createHash('md5').update(uri).digest('hex')}`,
    permanent: false,
    status: 'Unreachable',
    roundtripUsec: 0,
    userAgent: 'siaga112-emulated-softphone/1.0',
    expirationTime: Math.floor(Date.now() / 1000) + REGISTRATION_SECONDS,
    callId: `${createHash('md5').update(`${uri}-register`).digest('hex')}@${address}`,
    viaAddr: address,
    viaPort: 5060,
  };
  emitContactStatus(core, endpoint, 'Created');
  changeReachability(core, endpoint, true);
}

/** An operator trunk endpoint, known from the first call on it (identified by IP: no contact). */
export function ensureTrunk(core: EmulatorCore, id: string): void {
  if (core.endpoints.has(id)) return;
  const { technology, resource } = parseEndpointId(id);
  core.endpoints.set(id, {
    id,
    technology,
    resource,
    kind: 'trunk',
    behaviour: undefined,
    state: 'online',
    contact: undefined,
  });
}

/**
 * Declares an operator trunk whose AOR has a static contact with qualify (`contact=` and
 * `qualify_frequency` in pjsip.conf), as a trunk to an operator's SBC is set up. A static contact
 * is not registered: no ContactStatus `Created`; its first qualify answers (ContactStatus
 * `Reachable`) and the endpoint is online. A trunk already known from a call gains the contact;
 * one that has a contact is left as it is.
 */
export function declareTrunk(core: EmulatorCore, id: string, uri?: string): void {
  const { technology, resource } = parseEndpointId(id);
  let endpoint = core.endpoints.get(id);
  if (endpoint?.kind === 'phone') throw new Error(`${id} is a call-taker phone, not a trunk`);
  if (endpoint?.contact) return;
  if (!endpoint) {
    // As for phones: persistent endpoints start offline until their contacts are qualified.
    endpoint = {
      id,
      technology,
      resource,
      kind: 'trunk',
      behaviour: undefined,
      state: 'offline',
      contact: undefined,
    };
    core.endpoints.set(id, endpoint);
    core.publishEndpointSnapshot(id);
  }
  const contactUri = uri ?? `sip:198.51.100.${10 + (core.endpoints.size % 240)}:5060`;
  endpoint.contact = {
    uri: contactUri,
    aor: resource,
    // location.c permanent_uri_handler: `<aor>@@<md5 of the uri>`.
    objectName: `${resource}@@${createHash('md5').update(contactUri).digest('hex')}`,
    permanent: true,
    status: 'Unreachable',
    roundtripUsec: 0,
    userAgent: '',
    expirationTime: 0,
    callId: '',
    viaAddr: '',
    viaPort: 0,
  };
  changeReachability(core, endpoint, true);
}

/**
 * The endpoint's contact (a phone's registration or a trunk's static contact) becomes reachable
 * or unreachable (a qualify OPTIONS answered or timed out). False when `id` has no contact.
 * Nothing is published when nothing changes.
 */
export function setContactReachable(core: EmulatorCore, id: string, reachable: boolean): boolean {
  const endpoint = core.endpoints.get(id);
  if (!endpoint?.contact) return false;
  if ((endpoint.contact.status === 'Reachable') === reachable) return true;
  changeReachability(core, endpoint, reachable);
  return true;
}

/**
 * Removes an endpoint from the configuration. A phone's contact is deleted first (ContactStatus
 * Removed, the endpoint going offline if it was online); apps lose their subscription to it
 * without an event, as on Asterisk's endpoint cache clear.
 */
export function removeEndpoint(core: EmulatorCore, id: string): void {
  const endpoint = core.endpoints.get(id);
  if (!endpoint) return;
  if (endpoint.contact) {
    setEndpointState(core, endpoint, 'offline');
    endpoint.contact.roundtripUsec = 0;
    emitContactStatus(core, endpoint, 'Removed');
  }
  core.endpoints.delete(id);
  for (const ids of core.endpointSubscriptions.values()) ids.delete(id);
}

/**
 * The contacts PJSIPShowContacts lists: it reads sorcery's contact store, which holds
 * registrations only, so a trunk's static contact is not among them (asterisk/asterisk#807:
 * "No Contacts found" while `pjsip show contacts` shows it); PJSIPShowEndpoint does show it.
 */
export function registeredContacts(
  core: EmulatorCore,
): { endpoint: EndpointRecord; contact: ContactRecord }[] {
  return [...core.endpoints.values()].flatMap((endpoint) =>
    endpoint.contact && !endpoint.contact.permanent ? [{ endpoint, contact: endpoint.contact }] : [],
  );
}

/**
 * `ast_devstate2str` of chan_pjsip's device state: `Unavailable` while the endpoint is offline,
 * else `In use` with a channel on it and `Not in use` without (ringing and busy are not told apart).
 */
export function deviceState(core: EmulatorCore, endpoint: EndpointRecord): string {
  if (endpoint.state === 'offline') return 'Unavailable';
  for (const channel of core.channels.values()) {
    if (!channel.gone && channel.endpointId === endpoint.id) return 'In use';
  }
  return 'Not in use';
}

/**
 * Whether an originate to this endpoint can create a channel. chan_pjsip dials only reachable
 * contacts (res_pjsip_session.c ast_sip_session_create_outgoing filters with
 * AST_SIP_CONTACT_FILTER_REACHABLE); with none left it dials the AOR name as a URI, which
 * res_pjsip.c ast_sip_create_dialog_uac rejects ("Could not create dialog to invalid URI
 * 'taker1'. Is endpoint registered and reachable?"), so the request fails before any channel
 * exists and resource_channels.c answers 500 {"error":"Allocation failed"}, as for an unknown one.
 */
export function canCreateOutboundChannel(endpoint: EndpointRecord): boolean {
  return endpoint.kind === 'phone' && endpoint.contact?.status === 'Reachable';
}

function changeReachability(core: EmulatorCore, endpoint: EndpointRecord, reachable: boolean): void {
  const contact = endpoint.contact;
  if (!contact) return;
  contact.status = reachable ? 'Reachable' : 'Unreachable';
  contact.roundtripUsec = reachable ? QUALIFY_RTT_USEC : 0;
  setEndpointState(core, endpoint, reachable ? 'online' : 'offline');
  emitContactStatus(core, endpoint, contact.status);
}

/** `ast_sip_persistent_endpoint_update_state`: the snapshot, then PeerStatus; only on a change. */
function setEndpointState(core: EmulatorCore, endpoint: EndpointRecord, state: EndpointStateName): void {
  if (endpoint.state === state) return;
  endpoint.state = state;
  core.publishEndpointSnapshot(endpoint.id);
  const peerStatus = state === 'online' ? 'Reachable' : 'Unreachable';
  core.emitEvent(core.endpointSubscribers(endpoint.id), {
    type: 'PeerStatusChange',
    endpoint: core.endpointJson(endpoint),
    peer: { peer_status: peerStatus },
  });
  core.emitManagerEvent('PeerStatus', [
    ['ChannelType', endpoint.technology],
    ['Peer', endpoint.id],
    ['PeerStatus', peerStatus],
  ]);
}

/**
 * `ast_sip_persistent_endpoint_publish_contact_state`: AMI ContactStatus and, for the statuses
 * the ARI ContactInfo model allows, ContactStatusChange to subscribed apps.
 */
function emitContactStatus(
  core: EmulatorCore,
  endpoint: EndpointRecord,
  status: 'Created' | 'Reachable' | 'Unreachable' | 'Removed',
): void {
  const contact = endpoint.contact;
  if (!contact) return;
  const rtt = String(contact.roundtripUsec);
  if (status !== 'Created') {
    core.emitEvent(core.endpointSubscribers(endpoint.id), {
      type: 'ContactStatusChange',
      endpoint: core.endpointJson(endpoint),
      contact_info: { uri: contact.uri, contact_status: status, aor: contact.aor, roundtrip_usec: rtt },
    });
  }
  core.emitManagerEvent('ContactStatus', [
    ['URI', contact.uri],
    ['ContactStatus', status],
    ['AOR', contact.aor],
    ['EndpointName', endpoint.resource],
    ['RoundtripUsec', rtt],
  ]);
}

/** Whether `endpoint:<id>` names an endpoint (`PJSIP/taker1`) or a technology's aggregate (`PJSIP`). */
function eventSourceExists(core: EmulatorCore, id: string): boolean {
  // ast_endpoint_find_by_id: exact, case-sensitive id match.
  if (core.endpoints.has(id)) return true;
  return knownTechnologies(core).includes(id);
}

function knownTechnologies(core: EmulatorCore): string[] {
  return [...new Set([...LOADED_TECHNOLOGIES, ...[...core.endpoints.values()].map((e) => e.technology)])];
}

const SCHEMES = ['channel:', 'bridge:', 'endpoint:', 'deviceState:'] as const;
const notImplemented = errorResult(501, 'Not implemented in the siaga112 emulator');

/** The endpoint id of an `endpoint:` event source, or the error Asterisk (or the emulator) gives. */
function endpointSourceId(uri: string): string | HandlerResult {
  const scheme = SCHEMES.find((s) => uri.startsWith(s));
  if (!scheme) return errorResult(400, 'Invalid event source URI scheme');
  if (scheme !== 'endpoint:') return notImplemented;
  return uri.slice(scheme.length);
}

/**
 * `stasis_app_subscribe`: each event source in order (earlier ones stay subscribed when a later
 * one fails). Only `endpoint:` sources are emulated. Undefined on success.
 */
export function subscribeEventSources(
  core: EmulatorCore,
  app: string,
  uris: string[],
): HandlerResult | undefined {
  for (const uri of uris) {
    const id = endpointSourceId(uri);
    if (typeof id !== 'string') return id;
    if (!eventSourceExists(core, id)) return errorResult(422, 'Event source does not exist');
    let ids = core.endpointSubscriptions.get(app);
    if (!ids) {
      ids = new Map();
      core.endpointSubscriptions.set(app, ids);
    }
    ids.set(id, (ids.get(id) ?? 0) + 1);
  }
  return undefined;
}

/**
 * `stasis_app_unsubscribe`: a source the app is not subscribed to is 422 "Event source was not
 * subscribed to" (Asterisk never answers the 409 the spec lists). Undefined on success.
 */
export function unsubscribeEventSources(
  core: EmulatorCore,
  app: string,
  uris: string[],
): HandlerResult | undefined {
  for (const uri of uris) {
    const id = endpointSourceId(uri);
    if (typeof id !== 'string') return id;
    const ids = core.endpointSubscriptions.get(app);
    const count = ids?.get(id) ?? 0;
    if (!ids || count === 0) return errorResult(422, 'Event source was not subscribed to');
    if (count === 1) ids.delete(id);
    else ids.set(id, count - 1);
  }
  return undefined;
}

/** The Application's `endpoint_ids`: what it is subscribed to, sorted as res_stasis's rbtree. */
export function subscribedEndpointIds(core: EmulatorCore, app: string): string[] {
  return [...(core.endpointSubscriptions.get(app)?.keys() ?? [])].sort();
}

export const endpointHandlers: OperationHandler[] = [
  {
    resource: 'endpoints',
    nickname: 'list',
    reads: [],
    handle: (ctx) => ({
      status: 200,
      body: [...ctx.core.endpoints.values()].map((e) => ctx.core.endpointJson(e)),
    }),
  },
  {
    resource: 'endpoints',
    nickname: 'listByTech',
    reads: ['tech'],
    handle(ctx) {
      const tech = ctx.string('tech') ?? '';
      // The technology must exist exactly as named (ast_endpoint_find_by_id); the listing then
      // matches it case-insensitively (strcasecmp).
      if (!knownTechnologies(ctx.core).includes(tech)) {
        return errorResult(404, `No Endpoints found - invalid tech ${tech}`);
      }
      const matching = [...ctx.core.endpoints.values()].filter(
        (e) => e.technology.toLowerCase() === tech.toLowerCase(),
      );
      return { status: 200, body: matching.map((e) => ctx.core.endpointJson(e)) };
    },
  },
  {
    resource: 'endpoints',
    nickname: 'get',
    reads: ['tech', 'resource'],
    handle(ctx) {
      // ast_endpoint_latest_snapshot upper-cases the technology; the resource is exact.
      const id = `${(ctx.string('tech') ?? '').toUpperCase()}/${ctx.string('resource') ?? ''}`;
      const endpoint = ctx.core.endpoints.get(id);
      return endpoint
        ? { status: 200, body: ctx.core.endpointJson(endpoint) }
        : errorResult(404, 'Endpoint not found');
    },
  },
];
