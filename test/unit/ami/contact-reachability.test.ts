import { describe, expect, it } from 'vitest';
import {
  ReachabilityTable,
  reportFromContactList,
  reportFromContactStatus,
  reportFromContactStatusDetail,
} from '../../../src/ami/contact-reachability.ts';

const URI_A = 'sip:taker1@192.0.2.11:5060';
const URI_B = 'sip:taker1@192.0.2.99:5060';

describe('contact reachability', () => {
  it('reads ContactStatus and ContactList messages as asterisk-manager parses them', () => {
    expect(
      reportFromContactStatus({
        event: 'ContactStatus',
        uri: URI_A,
        contactstatus: 'Unreachable',
        aor: 'taker1',
        endpointname: 'taker1',
        roundtripusec: '0',
      }),
    ).toEqual({ endpoint: 'PJSIP/taker1', uri: URI_A, status: 'Unreachable' });
    // No endpoint name: the AOR names the phone; repeated headers arrive as arrays.
    expect(
      reportFromContactStatus({
        uri: [URI_A, URI_B],
        contactstatus: 'Reachable',
        aor: 'taker1',
        endpointname: '',
      }),
    ).toEqual({ endpoint: 'PJSIP/taker1', uri: URI_A, status: 'Reachable' });
    expect(
      reportFromContactList({
        objectname: 'taker2;@0123abcd',
        endpoint: '',
        uri: URI_B,
        status: 'NonQualified',
      }),
    ).toEqual({ endpoint: 'PJSIP/taker2', uri: URI_B, status: 'NonQualified' });
    // A static contact (a trunk's `contact=`), should a listing ever include one.
    expect(
      reportFromContactList({
        objectname: 'telkomsel@@0123abcd',
        uri: 'sip:203.0.113.5',
        status: 'Reachable',
      }),
    ).toEqual({ endpoint: 'PJSIP/telkomsel', uri: 'sip:203.0.113.5', status: 'Reachable' });
    expect(
      reportFromContactStatusDetail({
        event: 'ContactStatusDetail',
        aor: 'telkomsel',
        uri: 'sip:203.0.113.5:5060',
        useragent: '',
        regexpire: '0',
        status: 'Unreachable',
        roundtripusec: '0',
        endpointname: 'telkomsel',
        id: 'telkomsel@@0123abcd',
      }),
    ).toEqual({ endpoint: 'PJSIP/telkomsel', uri: 'sip:203.0.113.5:5060', status: 'Unreachable' });
    expect(reportFromContactStatusDetail({ aor: 'telkomsel', status: 'Reachable' })).toBeUndefined();
    expect(reportFromContactStatus({ uri: URI_A, contactstatus: 'Reachable' })).toBeUndefined();
    expect(
      reportFromContactStatus({ uri: URI_A, contactstatus: 'Reachable', endpointname: 'a b' }),
    ).toBeUndefined();
    expect(
      reportFromContactStatus({ uri: 7, contactstatus: 'Reachable', endpointname: 'x' }),
    ).toBeUndefined();
  });

  it('an endpoint is reachable while any contact is Reachable or NonQualified', () => {
    const table = new ReachabilityTable();
    const report = (uri: string, status: string) => ({ endpoint: 'PJSIP/taker1', uri, status });
    expect(table.apply(report(URI_A, 'Created'))).toBeUndefined();
    expect(table.apply(report(URI_A, 'Reachable'))).toEqual({
      ...report(URI_A, 'Reachable'),
      reachable: true,
    });
    expect(table.apply(report(URI_B, 'NonQualified'))).toBeUndefined();
    expect(table.apply(report(URI_A, 'Unreachable'))).toBeUndefined();
    expect(table.apply(report(URI_B, 'Updated'))).toBeUndefined();
    expect(table.apply(report(URI_B, 'Removed'))).toEqual({ ...report(URI_B, 'Removed'), reachable: false });
    expect(table.snapshot()).toEqual(new Map([['PJSIP/taker1', false]]));
    table.apply(report(URI_A, 'Removed'));
    expect(table.snapshot()).toEqual(new Map());
  });

  it('a full listing replaces what was known and reports only the flips', () => {
    const table = new ReachabilityTable();
    table.apply({ endpoint: 'PJSIP/taker1', uri: URI_A, status: 'Reachable' });
    table.apply({ endpoint: 'PJSIP/taker3', uri: 'sip:taker3@x', status: 'Reachable' });
    const changes = table.replace([
      { endpoint: 'PJSIP/taker1', uri: URI_A, status: 'Unreachable' },
      { endpoint: 'PJSIP/taker2', uri: URI_B, status: 'Reachable' },
    ]);
    expect(changes).toEqual([
      { endpoint: 'PJSIP/taker1', uri: URI_A, status: 'Unreachable', reachable: false },
      { endpoint: 'PJSIP/taker3', uri: undefined, status: 'Removed', reachable: false },
      { endpoint: 'PJSIP/taker2', uri: URI_B, status: 'Reachable', reachable: true },
    ]);
    expect(table.snapshot()).toEqual(
      new Map([
        ['PJSIP/taker1', false],
        ['PJSIP/taker2', true],
      ]),
    );
  });
});
