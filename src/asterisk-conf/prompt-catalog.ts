/**
 * The prompts callers hear, as text (`asterisk-conf/prompts/prompts.json`), and the manifest that
 * records which text each committed WAV was generated from (`manifest.json`). Pure: parsing,
 * validation and hashing; `scripts/generate-prompts.ts` runs espeak-ng and sox, the config-check
 * test compares the manifest with the texts.
 *
 * Files are laid out as Asterisk looks sounds up by channel language: `sound:siaga112/greeting` on a
 * channel with `language=id` plays `<sounds>/id/siaga112/greeting.wav`.
 */
import { createHash } from 'node:crypto';

/** Every prompt exists in each of these channel languages. */
export const PROMPT_LANGUAGES = ['id', 'en'] as const;
export type PromptLanguage = (typeof PROMPT_LANGUAGES)[number];

/** What Asterisk's format_wav plays without transcoding on a G.711 call. */
export const PROMPT_FORMAT = { sampleRate: 8000, channels: 1, bitsPerSample: 16 } as const;

/**
 * The version of the way the generator turns text into audio (its espeak-ng and sox steps). It is
 * part of every source hash: change it with those steps and every prompt must be generated again.
 */
export const RENDERING_VERSION = 2;

/** The Asterisk sound directory siaga112's prompts live under (`sound:siaga112/<name>`). */
export const PROMPT_DIRECTORY = 'siaga112';

export interface Voice {
  /** An espeak-ng voice, e.g. `id` or `en-us`. */
  readonly espeak: string;
  readonly wordsPerMinute: number;
  /** espeak-ng pitch, 0 to 99. */
  readonly pitch: number;
}

/** A piece of a prompt spoken by one voice; a prompt may mix Indonesian and English. */
export interface Segment {
  readonly voice: string;
  readonly text: string;
}

export interface Prompt {
  /** Where siaga112 plays it (for whoever edits the wording). */
  readonly use: string;
  readonly languages: Readonly<Record<PromptLanguage, readonly Segment[]>>;
}

/** The music-on-hold loop: plucked notes synthesized by sox (no recording, no licence). */
export interface HoldLoop {
  /** Relative to the sounds directory. */
  readonly file: string;
  readonly noteMs: number;
  /** Peak level of the loop in dBFS (quiet: the caller must still hear the announcements). */
  readonly peakDb: number;
  /** sox note names (`C4`, `E4`, ...); `-` is a rest. */
  readonly notes: readonly string[];
}

export interface PromptCatalog {
  readonly voices: Readonly<Record<string, Voice>>;
  /** Silence between two segments of one prompt. */
  readonly pauseMs: number;
  readonly prompts: Readonly<Record<string, Prompt>>;
  readonly hold: HoldLoop;
}

/** One WAV file the generator writes. */
export type PromptFile =
  | {
      readonly kind: 'speech';
      /** Relative to the sounds directory, e.g. `id/siaga112/greeting.wav`. */
      readonly path: string;
      readonly name: string;
      readonly language: PromptLanguage;
      readonly segments: readonly (Segment & { readonly settings: Voice })[];
      readonly sourceSha256: string;
    }
  | { readonly kind: 'hold'; readonly path: string; readonly hold: HoldLoop; readonly sourceSha256: string };

export interface ManifestEntry {
  /** {@link PromptFile.sourceSha256} of the text the file was generated from. */
  readonly sourceSha256: string;
  /** SHA-256 of the WAV file itself. */
  readonly wavSha256: string;
  readonly seconds: number;
}

export interface PromptManifest {
  /** The tools that generated the files (for the record). */
  readonly generator: string;
  readonly files: Readonly<Record<string, ManifestEntry>>;
}

/** prompts.json or manifest.json does not have the expected shape. */
export class PromptCatalogError extends Error {
  override readonly name = 'PromptCatalogError';
  readonly code = 'prompt-catalog';
}

/** The prompt a media URI plays, e.g. `sound:siaga112/greeting` → `greeting`; undefined for other media. */
export function promptNameOfMedia(media: string): string | undefined {
  const match = new RegExp(`^sound:${PROMPT_DIRECTORY}/([\\w-]+)$`).exec(media);
  return match?.[1];
}

/** The speech file of a prompt in a language, relative to the sounds directory. */
export function promptPath(language: PromptLanguage, name: string): string {
  return `${language}/${PROMPT_DIRECTORY}/${name}.wav`;
}

/** Validates prompts.json. */
export function parsePromptCatalog(json: unknown): PromptCatalog {
  const root = record(json, 'prompts.json');
  const voicesJson = record(root.voices, 'voices');
  const voices: Record<string, Voice> = {};
  for (const [key, value] of Object.entries(voicesJson)) {
    const voice = record(value, `voices.${key}`);
    voices[key] = {
      espeak: text(voice.espeak, `voices.${key}.espeak`),
      wordsPerMinute: number(voice.wordsPerMinute, `voices.${key}.wordsPerMinute`, 80, 300),
      pitch: number(voice.pitch, `voices.${key}.pitch`, 0, 99),
    };
  }
  const prompts: Record<string, Prompt> = {};
  for (const [name, value] of Object.entries(record(root.prompts, 'prompts'))) {
    if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(name))
      throw new PromptCatalogError(`prompt name "${name}" is not kebab-case`);
    const prompt = record(value, `prompts.${name}`);
    const languages = {} as Record<PromptLanguage, Segment[]>;
    for (const language of PROMPT_LANGUAGES) {
      const segments = prompt[language];
      if (!Array.isArray(segments) || segments.length === 0) {
        throw new PromptCatalogError(`prompts.${name}.${language} must be a non-empty list of {voice, text}`);
      }
      languages[language] = segments.map((segmentJson, index) => {
        const where = `prompts.${name}.${language}[${index}]`;
        const segment = record(segmentJson, where);
        const voice = text(segment.voice, `${where}.voice`);
        if (!voices[voice]) throw new PromptCatalogError(`${where}.voice "${voice}" is not one of voices`);
        return { voice, text: text(segment.text, `${where}.text`) };
      });
    }
    prompts[name] = { use: text(prompt.use, `prompts.${name}.use`), languages };
  }
  const holdJson = record(root.hold, 'hold');
  const notes = holdJson.notes;
  if (
    !Array.isArray(notes) ||
    notes.length === 0 ||
    !notes.every((note) => /^(-|[A-G][#b]?[0-8])$/.test(note))
  ) {
    throw new PromptCatalogError(
      'hold.notes must be a non-empty list of notes such as C4, F#4, or - for a rest',
    );
  }
  const hold: HoldLoop = {
    file: text(holdJson.file, 'hold.file'),
    noteMs: number(holdJson.noteMs, 'hold.noteMs', 100, 5000),
    peakDb: number(holdJson.peakDb, 'hold.peakDb', -40, 0),
    notes,
  };
  return { voices, pauseMs: number(root.pauseMs, 'pauseMs', 0, 5000), prompts, hold };
}

/** Every file the catalog makes, with the hash of what it is made from. */
export function promptFiles(catalog: PromptCatalog): PromptFile[] {
  const files: PromptFile[] = [];
  for (const [name, prompt] of Object.entries(catalog.prompts)) {
    for (const language of PROMPT_LANGUAGES) {
      const segments = prompt.languages[language].map((segment) => ({
        ...segment,
        settings: catalog.voices[segment.voice]!,
      }));
      const source = {
        rendering: RENDERING_VERSION,
        format: PROMPT_FORMAT,
        pauseMs: catalog.pauseMs,
        segments: segments.map(({ settings, text }) => ({
          espeak: settings.espeak,
          wordsPerMinute: settings.wordsPerMinute,
          pitch: settings.pitch,
          text,
        })),
      };
      files.push({
        kind: 'speech',
        path: promptPath(language, name),
        name,
        language,
        segments,
        sourceSha256: sha256(JSON.stringify(source)),
      });
    }
  }
  const { file, noteMs, peakDb, notes } = catalog.hold;
  const holdSource = { rendering: RENDERING_VERSION, format: PROMPT_FORMAT, noteMs, peakDb, notes };
  files.push({
    kind: 'hold',
    path: file,
    hold: catalog.hold,
    sourceSha256: sha256(JSON.stringify(holdSource)),
  });
  return files;
}

/** Validates manifest.json. */
export function parsePromptManifest(json: unknown): PromptManifest {
  const root = record(json, 'manifest.json');
  const files: Record<string, ManifestEntry> = {};
  for (const [path, value] of Object.entries(record(root.files, 'files'))) {
    const entry = record(value, `files.${path}`);
    files[path] = {
      sourceSha256: hex(entry.sourceSha256, `files.${path}.sourceSha256`),
      wavSha256: hex(entry.wavSha256, `files.${path}.wavSha256`),
      seconds: number(entry.seconds, `files.${path}.seconds`, 0, 600),
    };
  }
  return { generator: text(root.generator, 'generator'), files };
}

/** Lowercase hex SHA-256. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new PromptCatalogError(`${where} must be an object`);
  }
  return value as Record<string, unknown>;
}

function text(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw new PromptCatalogError(`${where} must be a non-empty string`);
  return value;
}

function number(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new PromptCatalogError(`${where} must be a number from ${min} to ${max}`);
  }
  return value;
}

function hex(value: unknown, where: string): string {
  if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) {
    throw new PromptCatalogError(`${where} must be a lowercase hex SHA-256`);
  }
  return value;
}
