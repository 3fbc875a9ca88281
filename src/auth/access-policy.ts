import type { Role } from './api-keys.ts';

/** Who may call a route: nobody needs a key (health, docs), or one of `roles`. */
export type Access =
  | { public: true }
  | {
      roles: readonly Role[];
      /** A call taker's key acts only for its own taker (`takerId` in the path or the body). */
      ownTaker: boolean;
      /**
       * A wallboard session (its cookie, src/auth/wallboard-sessions.ts) is accepted in place of a
       * key: only on the wallboard's own routes, which read and never write.
       */
      session?: true;
    };

const PUBLIC: Access = { public: true };
const desk = (route: string) => ({
  route,
  access: { roles: ['call-taker', 'supervisor', 'admin'], ownTaker: true },
});
const supervise = (route: string) => ({ route, access: { roles: ['supervisor', 'admin'], ownTaker: false } });
const wallboard = (route: string) => ({
  route,
  access: { roles: ['supervisor', 'admin'], ownTaker: false, session: true },
});

/** Method + fastify route pattern → access; anything not listed is for admins only. */
const POLICY: ReadonlyMap<string, Access> = new Map(
  [
    { route: 'GET /health', access: PUBLIC },
    { route: 'GET /ready', access: PUBLIC },
    { route: 'GET /openapi.json', access: PUBLIC },
    { route: 'GET /metrics', access: { roles: ['metrics', 'admin'], ownTaker: false } },
    desk('PUT /takers/:takerId/state'),
    desk('GET /takers/:takerId/desk'),
    desk('PUT /calls/:callId/verdict'),
    desk('POST /calls/:callId/hold'),
    desk('POST /calls/:callId/resume'),
    desk('POST /calls/:callId/conference'),
    desk('POST /calls/:callId/leave'),
    desk('POST /callbacks/:callbackId/claim'),
    { route: 'GET /agencies', access: { roles: ['call-taker', 'supervisor', 'admin'], ownTaker: false } },
    supervise('GET /live'),
    supervise('GET /live/notices'),
    supervise('GET /live/stream'),
    supervise('GET /callers/:number/history'),
    supervise('GET /takers/presence'),
    supervise('GET /callbacks'),
    supervise('POST /calls/:callId/monitor'),
    supervise('GET /rules'),
    supervise('GET /rules/in-force'),
    supervise('GET /rules/schema'),
    supervise('GET /caller-lists'),
    supervise('GET /takers'),
    supervise('GET /calls'),
    supervise('GET /calls/:callId'),
    // Recordings: supervisors list and play them (each playback audited with its reason); legal
    // holds and the police export are for admins.
    supervise('GET /calls/:callId/recordings'),
    supervise('GET /calls/:callId/recordings/:segment'),
    supervise('GET /exports/calls.csv'),
    supervise('GET /reports/calls'),
    // The wallboard: the page and its script and style hold no data; a key opens a session.
    { route: 'GET /wallboard', access: PUBLIC },
    { route: 'GET /wallboard/wallboard.js', access: PUBLIC },
    { route: 'GET /wallboard/wallboard.css', access: PUBLIC },
    supervise('POST /wallboard/session'),
    wallboard('DELETE /wallboard/session'),
    wallboard('GET /wallboard/summary'),
    wallboard('GET /wallboard/stream'),
  ].map(({ route, access }) => [route, access as Access]),
);

const ADMIN_ONLY: Access = { roles: ['admin'], ownTaker: false };

/** Every `METHOD /route` the policy names (a test checks each is a real route). */
export function policyRoutes(): string[] {
  return [...POLICY.keys()];
}

export function accessFor(method: string, route: string): Access {
  // fastify answers HEAD for every GET route: whoever may read it may ask for its headers.
  const verb = method === 'HEAD' ? 'GET' : method;
  // The browsable docs and their assets.
  if (verb === 'GET' && (route === '/docs' || route.startsWith('/docs/'))) return PUBLIC;
  return POLICY.get(`${verb} ${route}`) ?? ADMIN_ONLY;
}
