/**
 * `npm run prompts [-- --all]`: turns asterisk-conf/prompts/prompts.json into the WAV files
 * Asterisk plays (asterisk-conf/sounds/<language>/siaga112/<name>.wav, 8 kHz mono 16-bit PCM) and
 * the hold-music loop, then rewrites asterisk-conf/prompts/manifest.json with the hash of the text
 * each file was made from. Only files whose text changed (or that are missing) are made again,
 * unless --all. Needs espeak-ng and sox (`apt-get install espeak-ng sox`).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import {
  type ManifestEntry,
  PROMPT_DIRECTORY,
  PROMPT_FORMAT,
  PROMPT_LANGUAGES,
  type PromptFile,
  parsePromptCatalog,
  parsePromptManifest,
  promptFiles,
  sha256,
} from '../src/asterisk-conf/prompt-catalog.ts';
import { readWavFormat } from '../src/asterisk-conf/wav-header.ts';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..', 'asterisk-conf');
const catalogPath = join(root, 'prompts', 'prompts.json');
const manifestPath = join(root, 'prompts', 'manifest.json');
const soundsDir = join(root, 'sounds');

/** sox output options: the format Asterisk plays; -R repeatable (seeded), -D no dither. */
const SOX_OUT = [
  '-r',
  String(PROMPT_FORMAT.sampleRate),
  '-c',
  '1',
  '-b',
  String(PROMPT_FORMAT.bitsPerSample),
];

async function tool(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(command, args, { maxBuffer: 1 << 20 });
    return stdout;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`${command} is not installed: apt-get install espeak-ng sox`);
    }
    throw error;
  }
}

/** The files sox joins into one, and the effects it applies to the result. */
interface Recipe {
  inputs: string[];
  effects: string[];
}

async function speech(
  file: Extract<PromptFile, { kind: 'speech' }>,
  work: string,
  pauseMs: number,
): Promise<Recipe> {
  const pause = join(work, 'pause.wav');
  await tool('sox', ['-R', '-D', '-n', ...SOX_OUT, pause, 'trim', '0', String(pauseMs / 1000)]);
  const parts: string[] = [];
  for (const [index, segment] of file.segments.entries()) {
    const raw = join(work, `segment-${index}-raw.wav`);
    const resampled = join(work, `segment-${index}.wav`);
    const { espeak, wordsPerMinute, pitch } = segment.settings;
    await tool('espeak-ng', [
      '-v',
      espeak,
      '-s',
      String(wordsPerMinute),
      '-p',
      String(pitch),
      '-w',
      raw,
      segment.text,
    ]);
    await tool('sox', ['-R', '-D', raw, ...SOX_OUT, resampled]);
    if (index > 0) parts.push(pause);
    parts.push(resampled);
  }
  // A fifth of a second of lead-in so the first syllable survives the media path opening at answer.
  return { inputs: parts, effects: ['norm', '-3', 'pad', '0.2', '0.1'] };
}

async function hold(file: Extract<PromptFile, { kind: 'hold' }>, work: string): Promise<Recipe> {
  const seconds = String(file.hold.noteMs / 1000);
  const parts: string[] = [];
  for (const [index, note] of file.hold.notes.entries()) {
    const path = join(work, `note-${index}.wav`);
    const effect =
      note === '-' ? ['trim', '0', seconds] : ['synth', seconds, 'pluck', note, 'fade', '0', seconds];
    await tool('sox', ['-R', '-D', '-n', ...SOX_OUT, path, ...effect]);
    parts.push(path);
  }
  return { inputs: parts, effects: ['norm', String(file.hold.peakDb)] };
}

async function generate(file: PromptFile, pauseMs: number): Promise<ManifestEntry> {
  const work = await mkdtemp(join(tmpdir(), 'siaga112-prompt-'));
  try {
    const { inputs, effects } =
      file.kind === 'speech' ? await speech(file, work, pauseMs) : await hold(file, work);
    const output = join(soundsDir, file.path);
    await mkdir(dirname(output), { recursive: true });
    await tool('sox', ['-R', '-D', ...inputs, ...SOX_OUT, output, ...effects]);
    const bytes = await readFile(output);
    const format = readWavFormat(bytes);
    if (
      format.audioFormat !== 1 ||
      format.channels !== PROMPT_FORMAT.channels ||
      format.sampleRate !== PROMPT_FORMAT.sampleRate ||
      format.bitsPerSample !== PROMPT_FORMAT.bitsPerSample
    ) {
      throw new Error(`${file.path} came out as ${JSON.stringify(format)}, not 8 kHz mono 16-bit PCM`);
    }
    return {
      sourceSha256: file.sourceSha256,
      wavSha256: sha256(bytes),
      seconds: Math.round(format.durationSeconds * 100) / 100,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function readManifest(): Promise<Record<string, ManifestEntry>> {
  try {
    return { ...parsePromptManifest(JSON.parse(await readFile(manifestPath, 'utf8'))).files };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
}

async function isCurrent(file: PromptFile, entry: ManifestEntry | undefined): Promise<boolean> {
  if (!entry || entry.sourceSha256 !== file.sourceSha256) return false;
  try {
    return sha256(await readFile(join(soundsDir, file.path))) === entry.wavSha256;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const all = process.argv.includes('--all');
  const catalog = parsePromptCatalog(JSON.parse(await readFile(catalogPath, 'utf8')));
  const files = promptFiles(catalog);
  const previous = await readManifest();
  const entries: Record<string, ManifestEntry> = {};
  for (const file of files) {
    const current = !all && (await isCurrent(file, previous[file.path]));
    entries[file.path] = current ? previous[file.path]! : await generate(file, catalog.pauseMs);
    console.info(`${current ? 'unchanged' : 'generated'}  ${file.path}  ${entries[file.path]!.seconds} s`);
  }
  // Prompts renamed or removed from prompts.json leave no stale file behind.
  const wanted = new Set(files.map((file) => file.path));
  for (const language of PROMPT_LANGUAGES) {
    const dir = join(soundsDir, language, PROMPT_DIRECTORY);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const path = `${language}/${PROMPT_DIRECTORY}/${name}`;
      if (name.endsWith('.wav') && !wanted.has(path)) {
        await unlink(join(dir, name));
        console.info(`removed    ${path}`);
      }
    }
  }
  const versions = await Promise.all([tool('espeak-ng', ['--version']), tool('sox', ['--version'])]);
  const generator = versions
    .map((version) =>
      version
        .trim()
        .split('\n')[0]!
        .replace(/^sox:\s+/, '')
        .replace(/\s+Data at:.*$/, ''),
    )
    .join('; ');
  const manifest = {
    $comment:
      'Written by `npm run prompts` from prompts.json; test/unit/asterisk-conf checks it. Do not edit by hand.',
    generator,
    files: entries,
  };
  await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  console.info(`manifest   ${manifestPath}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
