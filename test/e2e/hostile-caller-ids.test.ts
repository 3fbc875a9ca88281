/**
 * Caller IDs from the junk end of real trunks: each caller still reaches a person, the raw value is
 * stored as delivered (or, where Postgres cannot hold a character, visibly escaped), and no search,
 * report or CSV export breaks on it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type CallCenterUnderTest, eventually, startCallCenter } from './call-center-harness.ts';

let center: CallCenterUnderTest | undefined;
afterEach(async () => {
  await center?.close();
  center = undefined;
});

const JUNK: Array<{ from: string; kind: string; number?: string }> = [
  { from: '', kind: 'empty' },
  { from: 'anonymous', kind: 'anonymous' },
  { from: '9'.repeat(300), kind: 'invalid' },
  { from: "0812'; drop table calls; --", kind: 'invalid' },
  { from: '<script>alert(1)</script>', kind: 'invalid' },
  { from: '0812\r\n34567890', kind: 'invalid' },
  { from: '🚑📞', kind: 'invalid' },
  { from: '112', kind: 'invalid' },
  { from: '=HYPERLINK("http://x")', kind: 'invalid' },
  { from: '"quoted, with commas"', kind: 'invalid' },
  { from: '+62 812-3456-7890', kind: 'e164', number: '+6281234567890' },
];

/** RFC 4180: quoted fields may hold commas, quotes (doubled) and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += char;
  }
  return rows;
}

describe('junk caller IDs', () => {
  it('reach a person, are stored as delivered, and break no search, report or export', async () => {
    center = await startCallCenter({ takers: 1 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 5, hangupAfterMs: 20 });
    await center.makeAvailable('taker1');
    for (const { from } of JUNK) {
      const call = center.emulator.placeCall({ from });
      await call.ended;
    }
    const c = center;
    const rows = await eventually(async () => {
      const found = await c.database.db
        .selectFrom('calls')
        .select(['caller_id_raw', 'caller_id_kind', 'caller_number', 'disposition', 'taker_id'])
        .where('disposition', 'is not', null)
        .execute();
      return found.length === JUNK.length ? found : undefined;
    }, 'every record');
    for (const junk of JUNK) {
      const row = rows.find((r) => r.caller_id_raw === junk.from);
      expect(row, JSON.stringify(junk.from)).toMatchObject({
        caller_id_kind: junk.kind,
        caller_number: junk.number ?? null,
        // Nobody is locked out for a caller ID: every one reached the call taker.
        disposition: 'connected',
        taker_id: 'taker1',
      });
    }

    const range = `from=2026-01-01T00:00:00Z&to=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`;
    const csv = await c.service.app.inject({ method: 'GET', url: `/exports/calls.csv?${range}` });
    expect(csv.statusCode).toBe(200);
    const [header, ...lines] = parseCsv(csv.body);
    const raw = header!.indexOf('caller_id_raw');
    expect(lines).toHaveLength(JUNK.length);
    for (const line of lines) expect(line).toHaveLength(header!.length);
    // A value a spreadsheet would run as a formula (= + - @ first) is prefixed with ' ; the rest is as stored.
    expect(lines.map((line) => line[raw]).sort()).toEqual(
      JUNK.map(({ from }) => (/^[=+\-@]/.test(from) ? `'${from}` : from)).sort(),
    );

    const listed = await c.service.app.inject({ method: 'GET', url: `/calls?${range}&limit=50` });
    expect(listed.statusCode).toBe(200);
    expect(listed.json().items).toHaveLength(JUNK.length);
    const byNumber = await c.service.app.inject({
      method: 'GET',
      url: `/calls?${range}&number=0812-3456-7890`,
    });
    expect(byNumber.json().items).toHaveLength(1);
    for (const number of ["0812'; drop table calls; --", '<script>', '🚑']) {
      const refused = await c.service.app.inject({
        method: 'GET',
        url: `/calls?${range}&number=${encodeURIComponent(number)}`,
      });
      expect(refused.statusCode, number).toBe(400);
      expect(refused.json().detail).toMatch(/^querystring\.number: /);
    }
    const report = await c.service.app.inject({ method: 'GET', url: `/reports/calls?${range}&by=trunk` });
    expect(report.json().rows[0]).toMatchObject({ offered: JUNK.length, answered: JUNK.length });
  });
});
