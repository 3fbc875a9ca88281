// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Asterisk dialplan, whose ${...} is not JavaScript
/**
 * The Asterisk configuration of asterisk-conf/ agrees with siaga112: install.sh is run into a
 * temporary directory (as an operator runs it into /etc/asterisk) and what it writes is parsed and
 * checked against siaga112's own defaults (src/config.ts) and against itself.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARI_OPERATIONS } from '../../../src/ari/ari-operations.ts';
import {
  type ConfFile,
  type ConfSection,
  effectiveValue,
  ownValue,
  ownValues,
  parseConf,
  sectionsNamed,
} from '../../../src/asterisk-conf/conf-file.ts';
import {
  type DialplanStep,
  dialplanSteps,
  extensionMatches,
  functionsCalled,
  parseGoto,
  parseGotoIf,
  splitArgs,
} from '../../../src/asterisk-conf/dialplan.ts';
import {
  PROMPT_FORMAT,
  PROMPT_LANGUAGES,
  parsePromptCatalog,
  parsePromptManifest,
  promptFiles,
  promptNameOfMedia,
  promptPath,
  sha256,
} from '../../../src/asterisk-conf/prompt-catalog.ts';
import { readWavFormat } from '../../../src/asterisk-conf/wav-header.ts';
import { loadConfig } from '../../../src/config.ts';

const run = promisify(execFile);
const confDir = resolve(import.meta.dirname, '../../../asterisk-conf');
const installScript = join(confDir, 'install.sh');

/** siaga112's defaults: what it expects of Asterisk when nothing is configured. */
const config = loadConfig({
  ARI_USERNAME: 'siaga112',
  ARI_PASSWORD: 'not-used-here',
  DATABASE_URL: 'postgres://127.0.0.1:5432/siaga112',
});

const TAKER_COUNT = 4;
const operatorEnv = {
  TELKOMSEL_IP: '203.0.113.10',
  INDOSAT_IP: '203.0.113.20:5070',
  INDOSAT_MATCH: '203.0.113.20,198.51.100.0/24',
  XL_IP: '203.0.113.30',
  SMARTFREN_IP: '203.0.113.40',
  OVERFLOW_DIAL: 'PJSIP/0401312112@telkomsel',
};
const TRUNKS = ['telkomsel', 'indosat', 'xl', 'smartfren'];

interface Installed {
  targetDir: string;
  soundsDir: string;
  stdout: string;
  conf: (name: string) => ConfFile;
  text: (name: string) => Promise<string>;
}

let workDir: string;

/** Runs install.sh with exactly these variables (and PATH); rejects with its stderr on failure. */
async function install(env: Record<string, string>): Promise<{ stdout: string; stderr: string }> {
  return run('bash', [installScript], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
}

async function installInto(name: string, env: Record<string, string>): Promise<Installed> {
  const targetDir = join(workDir, name, 'etc-asterisk');
  const soundsDir = join(workDir, name, 'sounds');
  const { stdout } = await install({ TARGET_DIR: targetDir, SOUNDS_DIR: soundsDir, ...env });
  const files = new Map<string, ConfFile>();
  for (const file of await readdir(targetDir)) {
    if (file.endsWith('.conf')) files.set(file, parseConf(await readFile(join(targetDir, file), 'utf8')));
  }
  return {
    targetDir,
    soundsDir,
    stdout,
    conf: (file) => {
      const parsed = files.get(file);
      if (!parsed) throw new Error(`install.sh wrote no ${file}`);
      return parsed;
    },
    text: (file) => readFile(join(targetDir, file), 'utf8'),
  };
}

/** The one non-template section of a pjsip.conf object type with that name. */
function pjsipObject(pjsip: ConfFile, name: string, type: string): ConfSection | undefined {
  return sectionsNamed(pjsip, name).find(
    (section) => !section.template && effectiveValue(pjsip, section, 'type') === type,
  );
}

/** `${NAME}` replaced by the [globals] value of extensions.conf. */
function withGlobals(extensions: ConfFile, text: string): string {
  const globals = sectionsNamed(extensions, 'globals')[0]!;
  return text.replace(/\$\{(\w+)\}/g, (whole, name: string) => ownValue(globals, name) ?? whole);
}

/** The steps a call to `number` runs in `context`, from priority 1 on (one extension). */
function stepsFor(extensions: ConfFile, context: string, number: string): DialplanStep[] {
  const steps = dialplanSteps(extensions, context);
  const exact = steps.filter((step) => step.exten === number);
  if (exact.length > 0) return exact;
  const pattern = steps.find((step) => extensionMatches(step.exten, number))?.exten;
  return steps.filter((step) => step.exten === pattern);
}

/** The loaded modules of modules.conf (load, require, preload). */
function loadedModules(modules: ConfFile): Set<string> {
  const section = sectionsNamed(modules, 'modules')[0]!;
  return new Set(
    section.entries
      .filter((entry) => ['load', 'require', 'preload', 'preload-require'].includes(entry.key))
      .map((entry) => entry.value),
  );
}

let installed: Installed;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'siaga112-asterisk-conf-'));
  installed = await installInto('first', { ...operatorEnv, TAKER_COUNT: String(TAKER_COUNT) });
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('the dialplan', () => {
  it('hands 112 and every listed legacy number to siaga112 (the configured Stasis app) with the trunk', () => {
    const extensions = installed.conf('extensions.conf');
    const numbers = dialplanSteps(extensions, 'from-trunk').map((step) => step.exten);
    expect(numbers).toEqual(expect.arrayContaining(['112', '110', '113', '115', '118', '119']));
    for (const number of numbers) {
      const [entry] = stepsFor(extensions, 'from-trunk', number);
      expect(entry?.app, `from-trunk ${number}`).toBe('Goto');
      const target = parseGoto(entry!.args);
      const exten = target.exten === '${EXTEN}' ? number : target.exten!;
      const steps = stepsFor(extensions, target.context!, exten);
      const stasis = steps.find((step) => step.app === 'Stasis');
      expect(stasis, `${number} reaches Stasis()`).toBeDefined();
      expect(splitArgs(stasis!.args)).toEqual([config.ari.app, '${CHANNEL(endpoint)}']);
    }
  });

  it('rings every call taker, then the overflow number, when Stasis() fails', () => {
    const extensions = installed.conf('extensions.conf');
    const steps = stepsFor(extensions, 'emergency', '112');
    const stasisAt = steps.findIndex((step) => step.app === 'Stasis');
    const gotoIf = steps[stasisAt + 1]!;
    expect(gotoIf.app).toBe('GotoIf');
    const { condition, ifTrue } = parseGotoIf(gotoIf.args);
    expect(condition).toBe('$["${STASISSTATUS}" = "FAILED"]');
    const fallback = stepsFor(extensions, ifTrue!.context!, ifTrue!.exten!);
    // Unanswered until a person picks up: the caller hears ringing, not silence.
    expect(fallback.map((step) => step.app)).toEqual(['NoOp', 'Dial', 'NoOp', 'Dial', 'Hangup']);

    const [takersDial, overflowDial] = fallback.filter((step) => step.app === 'Dial');
    const takers = withGlobals(extensions, splitArgs(takersDial!.args)[0]!).split('&');
    expect(takers).toEqual(Array.from({ length: TAKER_COUNT }, (_, i) => `PJSIP/taker${i + 1}`));
    expect(Number(withGlobals(extensions, splitArgs(takersDial!.args)[1]!))).toBeGreaterThan(0);
    expect(withGlobals(extensions, splitArgs(overflowDial!.args)[0]!)).toBe(operatorEnv.OVERFLOW_DIAL);

    const pjsip = installed.conf('pjsip.conf');
    for (const taker of takers) {
      const name = taker.slice('PJSIP/'.length);
      const endpoint = pjsipObject(pjsip, name, 'endpoint');
      expect(endpoint, `${taker} is an endpoint in pjsip.conf`).toBeDefined();
      expect(effectiveValue(pjsip, endpoint!, 'context')).toBe('call-takers');
      expect(pjsipObject(pjsip, effectiveValue(pjsip, endpoint!, 'aors')!, 'aor')).toBeDefined();
      const auth = pjsipObject(pjsip, effectiveValue(pjsip, endpoint!, 'auth')!, 'auth');
      expect(effectiveValue(pjsip, auth!, 'username')).toBe(name);
    }
  });

  it('lets call-taker phones dial nothing', () => {
    const extensions = installed.conf('extensions.conf');
    const steps = dialplanSteps(extensions, 'call-takers');
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.every((step) => step.app === 'Hangup')).toBe(true);
    for (const dialled of ['112', '0812345678', '*43', '#1']) {
      expect(
        steps.some((step) => extensionMatches(step.exten, dialled)),
        dialled,
      ).toBe(true);
    }
  });
});

describe('the trunks', () => {
  it('are one endpoint per operator, identified by source address, into [from-trunk] in Indonesian', () => {
    const pjsip = installed.conf('pjsip.conf');
    const extensions = installed.conf('extensions.conf');
    for (const trunk of TRUNKS) {
      const endpoint = pjsipObject(pjsip, trunk, 'endpoint');
      expect(endpoint, trunk).toBeDefined();
      const context = effectiveValue(pjsip, endpoint!, 'context')!;
      expect(context).toBe('from-trunk');
      expect(sectionsNamed(extensions, context)).toHaveLength(1);
      expect(effectiveValue(pjsip, endpoint!, 'language')).toBe('id');
      expect(effectiveValue(pjsip, endpoint!, 'direct_media')).toBe('no');
      expect(effectiveValue(pjsip, endpoint!, 'outbound_auth')).toBeUndefined();

      const identify = pjsipObject(pjsip, trunk, 'identify');
      expect(ownValue(identify!, 'endpoint')).toBe(trunk);
      const env = operatorEnv as Record<string, string>;
      const address = env[`${trunk.toUpperCase()}_IP`]!;
      expect(ownValue(identify!, 'match')).toBe(env[`${trunk.toUpperCase()}_MATCH`] ?? address.split(':')[0]);

      // A static, qualified contact: AMI reports the trunk's reachability; no registration.
      const aor = pjsipObject(pjsip, effectiveValue(pjsip, endpoint!, 'aors')!, 'aor');
      expect(effectiveValue(pjsip, aor!, 'contact')).toBe(`sip:${address}`);
      expect(Number(effectiveValue(pjsip, aor!, 'qualify_frequency'))).toBeGreaterThan(0);
    }
    expect(pjsip.sections.some((section) => effectiveValue(pjsip, section, 'type') === 'registration')).toBe(
      false,
    );
    expect(installed.stdout).toContain(`TRUNKS=${TRUNKS.join(',')}`);
  });

  it('are the ones siaga112 dials agencies through', () => {
    const pjsip = installed.conf('pjsip.conf');
    for (const agency of config.calls.agencies) {
      const trunk = /^PJSIP\/[^@]+@(.+)$/.exec(agency.dial)?.[1];
      // Each agency is dialled through a trunk (`PJSIP/<number>@<trunk>`) that pjsip.conf defines.
      expect(trunk, agency.dial).toMatch(/^[a-z0-9_-]+$/);
      expect(pjsipObject(pjsip, trunk ?? '', 'endpoint'), agency.dial).toBeDefined();
    }
  });
});

describe('the modules', () => {
  /** Dialplan applications built into Asterisk's core; the others come from a module. */
  const BUILTIN_APPS = new Set(['Answer', 'Goto', 'GotoIf', 'Hangup', 'NoOp', 'Set', 'Wait']);
  const APP_MODULES: Record<string, string> = { Stasis: 'app_stasis.so', Dial: 'app_dial.so' };
  const FUNCTION_MODULES: Record<string, string> = {
    CHANNEL: 'func_channel.so',
    CALLERID: 'func_callerid.so',
    TALK_DETECT: 'func_talkdetect.so',
  };
  /** Modules and what they need loaded (their MODULEINFO dependencies in Asterisk 22). */
  const DEPENDENCIES: Record<string, string[]> = {
    'chan_pjsip.so': ['res_pjsip.so', 'res_pjsip_session.so'],
    'res_pjsip.so': [
      'res_pjproject.so',
      'res_sorcery_config.so',
      'res_sorcery_memory.so',
      'res_sorcery_astdb.so',
    ],
    'res_pjsip_session.so': ['res_pjsip.so'],
    'res_ari.so': ['res_http_websocket.so', 'res_stasis.so'],
    'res_ari_channels.so': [
      'res_ari.so',
      'res_ari_model.so',
      'res_stasis.so',
      'res_stasis_answer.so',
      'res_stasis_playback.so',
      'res_stasis_recording.so',
      'res_stasis_snoop.so',
    ],
    'res_ari_bridges.so': ['res_ari.so', 'res_ari_model.so', 'res_stasis.so', 'res_stasis_playback.so'],
    'res_ari_playbacks.so': ['res_ari.so', 'res_ari_model.so', 'res_stasis.so', 'res_stasis_playback.so'],
    'res_ari_events.so': ['res_ari.so', 'res_ari_model.so', 'res_stasis.so', 'res_http_websocket.so'],
    'res_ari_applications.so': ['res_ari.so', 'res_ari_model.so', 'res_stasis.so'],
    'res_ari_endpoints.so': ['res_ari.so', 'res_ari_model.so', 'res_stasis.so'],
    'res_ari_recordings.so': ['res_ari.so', 'res_ari_model.so', 'res_stasis.so', 'res_stasis_recording.so'],
    'app_stasis.so': ['res_stasis.so'],
    'res_pjsip_transport_websocket.so': ['res_pjsip.so', 'res_http_websocket.so'],
  };

  it('are only those listed (autoload = no), and each one the configuration uses is among them', async () => {
    const modules = installed.conf('modules.conf');
    expect(ownValue(sectionsNamed(modules, 'modules')[0]!, 'autoload')).toBe('no');
    const loaded = loadedModules(modules);
    const needed = new Map<string, string>();
    const need = (module: string, why: string) => needed.set(module, why);

    // The dialplan's applications and functions.
    const extensions = installed.conf('extensions.conf');
    for (const context of ['from-trunk', 'emergency', 'fallback', 'call-takers']) {
      for (const step of dialplanSteps(extensions, context)) {
        if (!BUILTIN_APPS.has(step.app)) {
          expect(APP_MODULES[step.app], `which module provides ${step.app}()?`).toBeDefined();
          need(APP_MODULES[step.app]!, `${step.app}() in [${context}]`);
        }
        for (const name of functionsCalled(step)) {
          expect(FUNCTION_MODULES[name], `which module provides ${name}()?`).toBeDefined();
          need(FUNCTION_MODULES[name]!, `${name}() in [${context}]`);
        }
      }
    }
    // The dialplan functions siaga112 sets over ARI (setVariable), e.g. TALK_DETECT(set), found in
    // its sources (the emulator, which only imitates Asterisk, aside).
    const srcDir = resolve(import.meta.dirname, '../../../src');
    const setByService: string[] = [];
    for (const file of await readdir(srcDir, { recursive: true })) {
      if (!file.endsWith('.ts') || file.startsWith('emulator')) continue;
      const source = await readFile(join(srcDir, file), 'utf8');
      for (const match of source.matchAll(/setVariable\([^,]+,\s*'([A-Z_]+)\(/g)) {
        setByService.push(match[1]!);
      }
    }
    expect(setByService).toContain('TALK_DETECT');
    for (const name of setByService) need(FUNCTION_MODULES[name]!, `${name}() set by siaga112`);

    // Every ARI resource siaga112 calls, and the events WebSocket.
    const resources = new Set<string>(Object.values(ARI_OPERATIONS).map((operation) => operation.resource));
    for (const resource of [...resources, 'events']) need(`res_ari_${resource}.so`, `ARI /${resource}`);
    // A bridge is recorded by a Recorder channel Asterisk puts in it (resource_bridges.c).
    if (Object.values(ARI_OPERATIONS).some((op) => op.resource === 'bridges' && op.nickname === 'record')) {
      need('chan_bridge_media.so', 'the Recorder channel of a bridge recording');
    }

    // pjsip.conf: the channel driver, identification, authentication, the codecs, WebSocket phones.
    const pjsip = installed.conf('pjsip.conf');
    need('chan_pjsip.so', 'PJSIP endpoints');
    need('res_pjsip_endpoint_identifier_ip.so', 'type = identify');
    need('res_pjsip_endpoint_identifier_user.so', 'identify_by = username');
    need('res_pjsip_authenticator_digest.so', 'type = auth');
    need('res_pjsip_registrar.so', 'phones register to their AOR');
    need('res_pjsip_sdp_rtp.so', 'audio');
    need('res_rtp_asterisk.so', 'audio');
    need('res_pjsip_transport_websocket.so', 'protocol = ws');
    need('res_srtp.so', 'webrtc = yes');
    const anyEndpoint = (key: string, value: string) =>
      pjsip.sections.some((section) => effectiveValue(pjsip, section, key) === value);
    if (anyEndpoint('rewrite_contact', 'yes')) need('res_pjsip_nat.so', 'rewrite_contact = yes');
    if (anyEndpoint('trust_id_inbound', 'yes')) need('res_pjsip_caller_id.so', 'trust_id_inbound = yes');
    if (anyEndpoint('dtmf_mode', 'auto')) need('res_pjsip_dtmf_info.so', 'key presses sent as SIP INFO');
    need('res_pjsip_rfc3326.so', 'hang-up causes in Reason headers (ring-no-answer, rejected)');
    need('res_pjsip_logger.so', 'pjsip set logger on, for the operator');
    for (const section of pjsip.sections) {
      for (const codec of (effectiveValue(pjsip, section, 'allow') ?? '').split(',')) {
        if (/^\w+$/.test(codec) && codec !== 'all') need(`codec_${codec}.so`, `allow = ${codec}`);
      }
    }
    // Playing WAV prompts and hold music, bridging, timing.
    need('format_wav.so', 'prompts and hold music are .wav');
    need('res_musiconhold.so', 'MOH_CLASS');
    need('bridge_simple.so', 'caller and call taker');
    need('bridge_softmix.so', 'agency conference, supervisor listen-in');
    need('bridge_native_rtp.so', 'two G.711 legs bridged without decoding');
    need('res_timing_timerfd.so', 'playback and hold music timing');
    need('pbx_config.so', 'extensions.conf');

    for (const [module, why] of needed) {
      expect(loaded.has(module), `modules.conf loads ${module} (${why})`).toBe(true);
      for (const dependency of DEPENDENCIES[module] ?? []) {
        expect(loaded.has(dependency), `modules.conf loads ${dependency}, which ${module} needs`).toBe(true);
      }
    }
    // Nothing listed twice, nothing unknown to this check (every module has a reason).
    const listed = sectionsNamed(modules, 'modules')[0]!.entries.filter((entry) => entry.key !== 'autoload');
    expect(new Set(listed.map((entry) => entry.value)).size).toBe(listed.length);
    const reasons = new Set([...needed.keys(), ...Object.values(DEPENDENCIES).flat()]);
    const extra = [...loaded].filter((module) => !reasons.has(module));
    expect(extra, 'modules.conf loads modules nothing here needs').toEqual([]);
  });
});

describe('the prompts', () => {
  const defaultMedia = [
    ...config.calls.greetingMedia,
    ...config.calls.announcement.media,
    ...config.calls.ivr.warningMedia,
    ...config.calls.ivr.challengeMedia,
    ...config.calls.ivr.silentPromptMedia,
  ];

  it('exist for every medium siaga112 plays by default, in Indonesian and English, as 8 kHz mono 16-bit PCM', async () => {
    expect(defaultMedia.length).toBeGreaterThanOrEqual(5);
    for (const media of defaultMedia) {
      const name = promptNameOfMedia(media);
      expect(name, `${media} is one of siaga112's prompts`).toBeDefined();
      for (const language of PROMPT_LANGUAGES) {
        for (const soundsDir of [join(confDir, 'sounds'), installed.soundsDir]) {
          const path = join(soundsDir, promptPath(language, name!));
          const format = readWavFormat(await readFile(path));
          expect(format, path).toMatchObject({
            audioFormat: 1,
            channels: PROMPT_FORMAT.channels,
            sampleRate: PROMPT_FORMAT.sampleRate,
            bitsPerSample: PROMPT_FORMAT.bitsPerSample,
          });
          expect(format.durationSeconds, path).toBeGreaterThan(1);
        }
      }
    }
  });

  it('were generated from the current texts (npm run prompts after every wording change)', async () => {
    const catalog = parsePromptCatalog(
      JSON.parse(await readFile(join(confDir, 'prompts', 'prompts.json'), 'utf8')),
    );
    const manifest = parsePromptManifest(
      JSON.parse(await readFile(join(confDir, 'prompts', 'manifest.json'), 'utf8')),
    );
    const files = promptFiles(catalog);
    expect(Object.keys(manifest.files).sort()).toEqual(files.map((file) => file.path).sort());
    for (const file of files) {
      const entry = manifest.files[file.path]!;
      expect(entry.sourceSha256, `${file.path}: its text changed; run npm run prompts`).toBe(
        file.sourceSha256,
      );
      const wav = await readFile(join(confDir, 'sounds', file.path));
      expect(sha256(wav), `${file.path} is not the file npm run prompts wrote`).toBe(entry.wavSha256);
    }
    // No stray prompt files beside the generated ones.
    for (const language of PROMPT_LANGUAGES) {
      const present = await readdir(join(confDir, 'sounds', language, 'siaga112'));
      expect(present.map((file) => `${language}/siaga112/${file}`).sort()).toEqual(
        files
          .filter((file) => file.kind === 'speech' && file.language === language)
          .map((file) => file.path)
          .sort(),
      );
    }
  });

  it('greet in Indonesian, saying 112, with a short English line', async () => {
    const catalog = parsePromptCatalog(
      JSON.parse(await readFile(join(confDir, 'prompts', 'prompts.json'), 'utf8')),
    );
    const name = promptNameOfMedia(config.calls.greetingMedia[0]!)!;
    const segments = catalog.prompts[name]!.languages.id;
    expect(catalog.voices[segments[0]!.voice]!.espeak).toBe('id');
    expect(segments[0]!.text).toMatch(/satu satu dua|seratus dua belas/);
    const english = segments.filter((segment) => catalog.voices[segment.voice]!.espeak.startsWith('en'));
    expect(english).toHaveLength(1);
    expect(english[0]!.text.split(/\s+/).length).toBeLessThanOrEqual(12);
  });

  it('are short enough for the windows siaga112 gives the caller', async () => {
    const seconds = async (media: string, language: string) =>
      readWavFormat(
        await readFile(join(confDir, 'sounds', promptPath(language as 'id', promptNameOfMedia(media)!))),
      ).durationSeconds;
    const { silenceWindowSeconds, challengeWindowSeconds } = config.calls.ivr;
    for (const language of PROMPT_LANGUAGES) {
      // The silence window starts at answer: a caller listening quietly must hear the whole greeting
      // before being taken for one who cannot speak.
      for (const media of config.calls.greetingMedia) {
        expect(await seconds(media, language), `${language} ${media}`).toBeLessThan(silenceWindowSeconds);
      }
      // The key-press window starts with the prompt: at least 3 s must be left after it ends.
      for (const media of [...config.calls.ivr.challengeMedia, ...config.calls.ivr.silentPromptMedia]) {
        expect(await seconds(media, language), `${language} ${media}`).toBeLessThanOrEqual(
          challengeWindowSeconds - 3,
        );
      }
    }
  });

  it('include hold music for the configured music-on-hold class', async () => {
    const musiconhold = installed.conf('musiconhold.conf');
    const [mohClass] = sectionsNamed(musiconhold, config.calls.mohClass);
    expect(ownValue(mohClass!, 'mode')).toBe('files');
    const directory = ownValue(mohClass!, 'directory')!;
    expect(directory.startsWith(installed.soundsDir)).toBe(true);
    const files = await readdir(directory);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      expect(readWavFormat(await readFile(join(directory, file)))).toMatchObject({
        audioFormat: 1,
        sampleRate: PROMPT_FORMAT.sampleRate,
        channels: 1,
      });
    }
  });
});

describe('ARI, HTTP and AMI', () => {
  it('listen on localhost only', () => {
    const http = sectionsNamed(installed.conf('http.conf'), 'general')[0]!;
    expect(ownValue(http, 'enabled')).toBe('yes');
    expect(ownValue(http, 'bindaddr')).toBe('127.0.0.1');
    expect(ownValue(http, 'tlsenable') ?? 'no').toBe('no');
    const ariUrl = new URL(config.ari.url);
    expect([ariUrl.hostname, ariUrl.port]).toEqual([ownValue(http, 'bindaddr'), ownValue(http, 'bindport')]);

    const manager = installed.conf('manager.conf');
    const general = sectionsNamed(manager, 'general')[0]!;
    expect(ownValue(general, 'bindaddr')).toBe('127.0.0.1');
    expect(ownValue(general, 'webenabled')).toBe('no');
    const users = manager.sections.filter((section) => section.name !== 'general');
    expect(users).toHaveLength(1);
    expect(ownValues(users[0]!, 'deny')).toEqual(['0.0.0.0/0.0.0.0']);
    expect(ownValues(users[0]!, 'permit')).toEqual(['127.0.0.1/255.255.255.255']);

    const ari = installed.conf('ari.conf');
    expect(ownValue(sectionsNamed(ari, 'general')[0]!, 'allowed_origins')).toBe('');
  });

  it('give siaga112 exactly what it needs: an ARI user that can act, an AMI user reading system events', () => {
    const printed = Object.fromEntries(
      installed.stdout
        .split('\n')
        .filter((line) => /^[A-Z_]+=/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    const service = loadConfig({ ...printed, DATABASE_URL: 'postgres://127.0.0.1:5432/siaga112' });

    const ari = installed.conf('ari.conf');
    const [user] = sectionsNamed(ari, service.ari.username);
    expect(ownValue(user!, 'type')).toBe('user');
    expect(ownValue(user!, 'read_only')).toBe('no');
    expect(ownValue(user!, 'password')).toBe(service.ari.password);
    expect(service.ari.url).toBe(config.ari.url);

    const manager = installed.conf('manager.conf');
    const [ami] = sectionsNamed(manager, service.ami!.username);
    expect(ownValue(ami!, 'secret')).toBe(service.ami!.secret);
    expect(ownValue(ami!, 'read')).toBe('system');
    expect(ownValue(ami!, 'write')).toBe('system');
    const general = sectionsNamed(manager, 'general')[0]!;
    expect([service.ami!.host, String(service.ami!.port)]).toEqual([
      ownValue(general, 'bindaddr'),
      ownValue(general, 'port'),
    ]);
    expect(service.trunks).toEqual(TRUNKS);
  });
});

describe('secrets', () => {
  const SECRET_KEY = /pass|secret/i;

  it('are never in the repository: every password or secret in asterisk-conf/ is a placeholder', async () => {
    const files = (await readdir(confDir)).filter((file) => /\.conf(\.template)?$/.test(file));
    expect(files).toEqual(
      expect.arrayContaining(['ari.conf.template', 'manager.conf.template', 'pjsip.conf.template']),
    );
    let placeholders = 0;
    for (const file of files) {
      const text = await readFile(join(confDir, file), 'utf8');
      for (const [index, line] of text.split('\n').entries()) {
        const entry = /^\s*([\w.-]+)\s*=>?\s*(.*?)\s*(;.*)?$/.exec(line);
        if (!entry || !SECRET_KEY.test(entry[1]!) || entry[1] === 'password_format') continue;
        expect(entry[2], `${file}:${index + 1}`).toMatch(/^\{\{[A-Z][A-Z0-9_]*\}\}$/);
        placeholders += 1;
      }
      expect(text, file).not.toMatch(/\b[0-9a-f]{32,}\b/);
    }
    expect(placeholders).toBe(3);
  });

  it('are generated at install, strong and all different, in files only root (and Asterisk) can read', async () => {
    const secretsText = await installed.text('siaga112-secrets.env');
    const secrets = Object.fromEntries(
      secretsText
        .trim()
        .split('\n')
        .map((line) => line.split('=')),
    );
    expect(Object.keys(secrets).sort()).toEqual(
      [
        'AMI_SECRET',
        'ARI_PASSWORD',
        ...Array.from({ length: TAKER_COUNT }, (_, i) => `TAKER${i + 1}_PASSWORD`),
      ].sort(),
    );
    for (const value of Object.values(secrets)) expect(value).toMatch(/^[0-9a-f]{48}$/);
    expect(new Set(Object.values(secrets)).size).toBe(Object.keys(secrets).length);

    const pjsip = installed.conf('pjsip.conf');
    for (let i = 1; i <= TAKER_COUNT; i += 1) {
      expect(ownValue(pjsipObject(pjsip, `taker${i}`, 'auth')!, 'password')).toBe(
        secrets[`TAKER${i}_PASSWORD`],
      );
    }
    for (const file of await readdir(installed.targetDir)) {
      expect(await installed.text(file), file).not.toContain('{{');
    }
    expect((await stat(join(installed.targetDir, 'siaga112-secrets.env'))).mode & 0o077).toBe(0);
    for (const file of ['pjsip.conf', 'ari.conf', 'manager.conf']) {
      expect((await stat(join(installed.targetDir, file))).mode & 0o007, file).toBe(0);
    }
    expect((await stat(join(installed.targetDir, 'extensions.conf'))).mode & 0o004).toBe(0o004);
  });
});

describe('install.sh', () => {
  it('keeps every password when run again, adds new call takers, and keeps the replaced files', async () => {
    const again = await installInto('again', { ...operatorEnv, TAKER_COUNT: '2' });
    const before = await again.text('siaga112-secrets.env');
    const { stdout } = await install({
      TARGET_DIR: again.targetDir,
      SOUNDS_DIR: again.soundsDir,
      ...operatorEnv,
      TAKER_COUNT: '3',
      TAKER_PHONES: 'webrtc',
    });
    const after = (await readFile(join(again.targetDir, 'siaga112-secrets.env'), 'utf8')).trim().split('\n');
    for (const line of before.trim().split('\n')) expect(after).toContain(line);
    expect(after.filter((line) => line.startsWith('TAKER3_PASSWORD='))).toHaveLength(1);
    expect(stdout).toMatch(/kept the previous .*pjsip\.conf as .*\.bak/);

    const pjsip = parseConf(await readFile(join(again.targetDir, 'pjsip.conf'), 'utf8'));
    const taker3 = pjsipObject(pjsip, 'taker3', 'endpoint')!;
    expect(effectiveValue(pjsip, taker3, 'webrtc')).toBe('yes');
    expect(effectiveValue(pjsip, taker3, 'context')).toBe('call-takers');
    const backups = (await readdir(again.targetDir)).filter((file) => file.endsWith('.bak'));
    expect(backups.some((file) => file.startsWith('pjsip.conf.siaga112-'))).toBe(true);
    expect(backups.some((file) => file.startsWith('extensions.conf.siaga112-'))).toBe(true);
    expect(backups.some((file) => file.startsWith('ari.conf.'))).toBe(false);
  });

  it.each([
    [{ TELKOMSEL_IP: '' }, 'TELKOMSEL_IP is required'],
    [{ XL_IP: '203.0.113.300' }, 'XL_IP is invalid: expected an IPv4 address'],
    [{ INDOSAT_IP: '203.0.113.20:99999' }, 'INDOSAT_IP is invalid: the port must be 1 to 65535'],
    [{ SMARTFREN_MATCH: '203.0.113.40,203.0.113.0/33' }, 'SMARTFREN_MATCH is invalid'],
    [{ TAKER_COUNT: '' }, 'TAKER_COUNT is required'],
    [{ TAKER_COUNT: 'eight' }, 'TAKER_COUNT is invalid: expected a whole number from 1 to 500'],
    [{ TAKER_COUNT: '501' }, 'TAKER_COUNT is invalid'],
    [{ OVERFLOW_DIAL: '' }, 'OVERFLOW_DIAL is required'],
    [{ OVERFLOW_DIAL: 'PJSIP/1&PJSIP/2' }, 'OVERFLOW_DIAL is invalid'],
    [{ TAKER_PHONES: 'skype' }, 'TAKER_PHONES is invalid: expected sip or webrtc'],
    [{ ARI_USERNAME: 'Admin User' }, 'ARI_USERNAME is invalid'],
    [{ TARGET_DIR: 'relative/dir' }, 'TARGET_DIR and SOUNDS_DIR must be absolute paths'],
  ])('refuses %j with one clear line and writes nothing', async (override, message) => {
    const targetDir = join(workDir, `refused-${Math.random().toString(36).slice(2)}`);
    const env = {
      TARGET_DIR: targetDir,
      SOUNDS_DIR: join(targetDir, 'sounds'),
      TAKER_COUNT: '2',
      ...operatorEnv,
      ...override,
    };
    const failure = await install(env).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain(`install.sh: ${message}`);
    expect(failure?.stderr.trim().split('\n')).toHaveLength(1);
    await expect(stat(targetDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
