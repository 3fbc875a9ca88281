/**
 * Which call-taker phones and operator trunks are reachable, decided from res_pjsip's contact
 * statuses (pure: no I/O). A trunk's contact is static (`contact=` on its AOR) and qualified the
 * same way.
 *
 * A phone (`PJSIP/taker1`) is reachable while at least one of its registered contacts is
 * `Reachable` (its last qualify OPTIONS was answered) or `NonQualified` (registered, qualify
 * off); `Unreachable`, `Unknown` and `Created` (registered, not yet qualified) are not, and
 * `Removed` deletes the contact. `Updated` (a re-registration) keeps the contact's status. This
 * mirrors res_pjsip's endpoint state: online when any AOR has an available contact.
 */

/**
 * A contact status as AMI reports it (ContactStatus `ContactStatus`, ContactList and
 * ContactStatusDetail `Status`).
 */
export interface ContactReport {
  /** `PJSIP/<endpoint>` */
  endpoint: string;
  uri: string;
  status: string;
}

export interface ReachabilityChange {
  endpoint: string;
  reachable: boolean;
  /** The contact status that caused the change. */
  status: string;
  /** The contact that caused it (absent when the endpoint vanished from a listing). */
  uri: string | undefined;
}

const REACHABLE = new Set(['Reachable', 'NonQualified']);

/** A message as asterisk-manager parses it: lower-cased header names, repeated headers as arrays. */
export type AmiFields = Record<string, unknown>;

/** The first value of a header; undefined when absent or not text. */
export function field(fields: AmiFields, name: string): string | undefined {
  const value = fields[name.toLowerCase()];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first.trim() : undefined;
}

/** `PJSIP/<name>` for a usable endpoint or AOR name; undefined for empty or odd input. */
function endpointId(name: string | undefined): string | undefined {
  if (!name || name.length > 200 || /[\s/\p{Cc}]/u.test(name)) return undefined;
  return `PJSIP/${name}`;
}

/** A ContactStatus event: EndpointName, or the AOR when it is empty (contact of no endpoint). */
export function reportFromContactStatus(fields: AmiFields): ContactReport | undefined {
  const endpoint = endpointId(field(fields, 'EndpointName') || field(fields, 'AOR'));
  const uri = field(fields, 'URI');
  const status = field(fields, 'ContactStatus');
  if (!endpoint || !uri || !status) return undefined;
  return { endpoint, uri, status };
}

/**
 * A ContactList item: Endpoint, or the AOR part of ObjectName (`<aor>;@<hash>` for a
 * registration, `<aor>@@<hash>` for a static contact, as res_pjsip's location.c names them).
 */
export function reportFromContactList(fields: AmiFields): ContactReport | undefined {
  const objectName = field(fields, 'ObjectName') ?? '';
  const separator = /;@|@@/.exec(objectName);
  const aor = separator ? objectName.slice(0, separator.index) : undefined;
  const endpoint = endpointId(field(fields, 'Endpoint') || aor);
  const uri = field(fields, 'Uri');
  const status = field(fields, 'Status');
  if (!endpoint || !uri || !status) return undefined;
  return { endpoint, uri, status };
}

/**
 * A ContactStatusDetail item of PJSIPShowEndpoint (pjsip_options.c ast_sip_format_contact_ami):
 * every contact of the endpoint's AORs, static ones included, with EndpointName the endpoint
 * asked about.
 */
export function reportFromContactStatusDetail(fields: AmiFields): ContactReport | undefined {
  const endpoint = endpointId(field(fields, 'EndpointName') || field(fields, 'AOR'));
  const uri = field(fields, 'URI');
  const status = field(fields, 'Status');
  if (!endpoint || !uri || !status) return undefined;
  return { endpoint, uri, status };
}

/** Endpoints' contacts (phones' or trunks') and the reachability they add up to. */
export class ReachabilityTable {
  /** endpoint → contact uri → status */
  readonly #contacts = new Map<string, Map<string, string>>();

  reachable(endpoint: string): boolean {
    const contacts = this.#contacts.get(endpoint);
    if (!contacts) return false;
    for (const status of contacts.values()) if (REACHABLE.has(status)) return true;
    return false;
  }

  /** Every endpoint with a registered contact, and whether it is reachable. */
  snapshot(): Map<string, boolean> {
    return new Map([...this.#contacts.keys()].map((endpoint) => [endpoint, this.reachable(endpoint)]));
  }

  /** Applies one ContactStatus; returns the endpoint's change when its reachability flipped. */
  apply(report: ContactReport): ReachabilityChange | undefined {
    const before = this.reachable(report.endpoint);
    let contacts = this.#contacts.get(report.endpoint);
    if (report.status === 'Removed') {
      contacts?.delete(report.uri);
      if (contacts?.size === 0) this.#contacts.delete(report.endpoint);
    } else {
      if (!contacts) {
        contacts = new Map();
        this.#contacts.set(report.endpoint, contacts);
      }
      const status = report.status === 'Updated' ? (contacts.get(report.uri) ?? 'Unknown') : report.status;
      contacts.set(report.uri, status);
    }
    const after = this.reachable(report.endpoint);
    return after === before ? undefined : { ...report, reachable: after };
  }

  /**
   * Replaces every contact with a full listing (PJSIPShowContacts); returns the changes against
   * what was known, e.g. after events were missed while disconnected.
   */
  replace(reports: ContactReport[]): ReachabilityChange[] {
    const before = this.snapshot();
    this.#contacts.clear();
    const last = new Map<string, ContactReport>();
    for (const report of reports) {
      if (report.status === 'Removed') continue;
      let contacts = this.#contacts.get(report.endpoint);
      if (!contacts) {
        contacts = new Map();
        this.#contacts.set(report.endpoint, contacts);
      }
      contacts.set(report.uri, report.status);
      if (!last.has(report.endpoint) || REACHABLE.has(report.status)) last.set(report.endpoint, report);
    }
    const changes: ReachabilityChange[] = [];
    for (const endpoint of new Set([...before.keys(), ...this.#contacts.keys()])) {
      const was = before.get(endpoint) ?? false;
      const now = this.reachable(endpoint);
      if (was === now) continue;
      const cause = last.get(endpoint);
      changes.push({
        endpoint,
        reachable: now,
        status: cause?.status ?? 'Removed',
        uri: cause?.uri,
      });
    }
    return changes;
  }
}
