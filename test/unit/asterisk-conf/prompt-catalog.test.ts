import { describe, expect, it } from 'vitest';
import {
  PromptCatalogError,
  parsePromptCatalog,
  parsePromptManifest,
  promptFiles,
  promptNameOfMedia,
  promptPath,
} from '../../../src/asterisk-conf/prompt-catalog.ts';

const catalogJson = () => ({
  voices: {
    id: { espeak: 'id', wordsPerMinute: 160, pitch: 50 },
    en: { espeak: 'en-us', wordsPerMinute: 160, pitch: 50 },
  },
  pauseMs: 300,
  prompts: {
    greeting: {
      use: 'GREETING_MEDIA',
      id: [
        { voice: 'id', text: 'Layanan darurat satu satu dua.' },
        { voice: 'en', text: 'Emergency one one two.' },
      ],
      en: [{ voice: 'en', text: 'Emergency one one two.' }],
    },
  },
  hold: { file: 'siaga112-hold/hold-loop.wav', noteMs: 450, peakDb: -18, notes: ['C4', '-', 'F#3'] },
});

const hashes = (json: unknown) =>
  Object.fromEntries(promptFiles(parsePromptCatalog(json)).map((file) => [file.path, file.sourceSha256]));

describe('prompt catalog', () => {
  it('lists a speech file per prompt and language, where Asterisk looks for it, and the hold loop', () => {
    const files = promptFiles(parsePromptCatalog(catalogJson()));
    expect(files.map((file) => [file.kind, file.path])).toEqual([
      ['speech', 'id/siaga112/greeting.wav'],
      ['speech', 'en/siaga112/greeting.wav'],
      ['hold', 'siaga112-hold/hold-loop.wav'],
    ]);
    const greeting = files[0]!;
    expect(greeting.kind === 'speech' && greeting.segments.map((segment) => segment.settings.espeak)).toEqual(
      ['id', 'en-us'],
    );
  });

  it('maps a media URI to its prompt and file', () => {
    expect(promptNameOfMedia('sound:siaga112/press-5-twice')).toBe('press-5-twice');
    expect(promptNameOfMedia('sound:other/greeting')).toBeUndefined();
    expect(promptNameOfMedia('recording:siaga112/greeting')).toBeUndefined();
    expect(promptPath('id', 'greeting')).toBe('id/siaga112/greeting.wav');
  });

  it('hashes what a file is made from: the words, the voice settings and the pause, nothing else', () => {
    const base = hashes(catalogJson());
    const reworded = catalogJson();
    reworded.prompts.greeting.id[0]!.text = 'Layanan panggilan darurat satu satu dua.';
    expect(hashes(reworded)['id/siaga112/greeting.wav']).not.toBe(base['id/siaga112/greeting.wav']);
    expect(hashes(reworded)['en/siaga112/greeting.wav']).toBe(base['en/siaga112/greeting.wav']);

    const slower = catalogJson();
    slower.voices.en.wordsPerMinute = 140;
    expect(hashes(slower)['en/siaga112/greeting.wav']).not.toBe(base['en/siaga112/greeting.wav']);

    const paused = catalogJson();
    paused.pauseMs = 500;
    expect(hashes(paused)['id/siaga112/greeting.wav']).not.toBe(base['id/siaga112/greeting.wav']);

    const described = catalogJson();
    described.prompts.greeting.use = 'played on answer';
    expect(hashes(described)).toEqual(base);

    const retuned = catalogJson();
    retuned.hold.notes = ['C4', '-', 'G3'];
    expect(hashes(retuned)['siaga112-hold/hold-loop.wav']).not.toBe(base['siaga112-hold/hold-loop.wav']);
  });

  it.each([
    [
      (json: ReturnType<typeof catalogJson>) => delete (json.prompts.greeting as { en?: unknown }).en,
      'greeting.en must be',
    ],
    [
      (json: ReturnType<typeof catalogJson>) => (json.prompts.greeting.id[1]!.voice = 'fr'),
      '"fr" is not one of voices',
    ],
    [
      (json: ReturnType<typeof catalogJson>) => (json.prompts.greeting.id[0]!.text = ' '),
      'text must be a non-empty string',
    ],
    [
      (json: ReturnType<typeof catalogJson>) => (json.voices.id.pitch = 120),
      'voices.id.pitch must be a number from 0 to 99',
    ],
    [(json: ReturnType<typeof catalogJson>) => (json.hold.notes = ['H2']), 'hold.notes must be'],
    [
      (json: ReturnType<typeof catalogJson>) =>
        Object.assign(json.prompts, { Greeting_2: json.prompts.greeting }),
      'is not kebab-case',
    ],
  ])('refuses a catalog that is wrong (%#)', (spoil, message) => {
    const json = catalogJson();
    spoil(json);
    expect(() => parsePromptCatalog(json)).toThrow(PromptCatalogError);
    expect(() => parsePromptCatalog(json)).toThrow(message);
  });

  it('reads a manifest and refuses one whose hashes are not SHA-256', () => {
    const entry = { sourceSha256: 'a'.repeat(64), wavSha256: 'b'.repeat(64), seconds: 2.5 };
    expect(
      parsePromptManifest({ generator: 'espeak-ng', files: { 'id/siaga112/greeting.wav': entry } }),
    ).toEqual({
      generator: 'espeak-ng',
      files: { 'id/siaga112/greeting.wav': entry },
    });
    expect(() =>
      parsePromptManifest({ generator: 'x', files: { a: { ...entry, wavSha256: 'not a hash' } } }),
    ).toThrow('files.a.wavSha256 must be a lowercase hex SHA-256');
  });
});
