import type { PlaceCallOptions, TakerBehaviour } from '../emulator/asterisk-emulator.ts';

/** The virtual call takers of the demo and how their softphones behave. */
export const DEMO_TAKERS: ReadonlyArray<{
  id: string;
  name: string;
  endpoint: string;
  phone: TakerBehaviour;
  describe: string;
}> = [
  {
    id: 'taker3',
    name: 'Rina',
    endpoint: 'PJSIP/taker3',
    phone: { answer: 'never' },
    describe: 'away from the desk: her phone rings out',
  },
  {
    id: 'taker1',
    name: 'Budi',
    endpoint: 'PJSIP/taker1',
    phone: { answer: 'after', delayMs: 700, hangupAfterMs: 2500 },
    describe: 'answers in 0.7 s, talks 2.5 s',
  },
  {
    id: 'taker2',
    name: 'Sari',
    endpoint: 'PJSIP/taker2',
    phone: { answer: 'after', delayMs: 1200, hangupAfterMs: 3000 },
    describe: 'answers in 1.2 s, talks 3 s',
  },
];

/** Scripted callers: caller IDs as trunks deliver them, including the untrusted kinds. */
export const DEMO_CALLS: ReadonlyArray<{
  atMs: number;
  from: string;
  trunk: string;
  describe: string;
  options?: Partial<PlaceCallOptions>;
}> = [
  { atMs: 0, from: '081234567890', trunk: 'telkomsel', describe: '081234567890 on telkomsel' },
  { atMs: 400, from: '+6285712345678', trunk: 'indosat', describe: '+6285712345678 on indosat' },
  { atMs: 800, from: 'anonymous', trunk: 'xl', describe: 'a withheld number on xl' },
  {
    atMs: 1200,
    from: '<script>alert(1)</script>',
    trunk: 'smartfren',
    describe: 'junk caller ID on smartfren (stored as delivered, never trusted)',
  },
  {
    atMs: 1600,
    from: '0401 312 3456',
    trunk: 'telkomsel',
    describe: 'a landline caller who gives up after 2 s in the queue',
    options: { patienceMs: 2000 },
  },
];
