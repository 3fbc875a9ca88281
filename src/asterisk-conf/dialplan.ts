/**
 * The steps of an `extensions.conf` context as pbx_config reads them (pure): `exten => 112,1,App(args)`
 * starts an extension, `same => n,App(args)` continues the last one, `n(label)` names a step, and
 * application arguments split on commas outside quotes and brackets, as Asterisk splits them.
 */
import { type ConfFile, ConfSyntaxError, sectionsNamed } from './conf-file.ts';

export interface DialplanStep {
  readonly context: string;
  readonly exten: string;
  /** `1`, `2`, ... or `n` (the next one). */
  readonly priority: string;
  readonly label: string | undefined;
  /** The application, e.g. `Stasis`, `Dial`, `GotoIf`. */
  readonly app: string;
  /** The text between the application's parentheses, unsplit. */
  readonly args: string;
  readonly line: number;
}

/** A `[[context,]exten,]priority` jump target (Goto, GotoIf). */
export interface GotoTarget {
  readonly context: string | undefined;
  readonly exten: string | undefined;
  readonly priority: string;
}

export interface GotoIf {
  readonly condition: string;
  readonly ifTrue: GotoTarget | undefined;
  readonly ifFalse: GotoTarget | undefined;
}

/** Sections of extensions.conf that hold settings, not dialplan. */
const NOT_CONTEXTS = new Set(['general', 'globals']);

/** Every dialplan context of the file (all sections but [general] and [globals]). */
export function contextNames(file: ConfFile): string[] {
  return [...new Set(file.sections.map((section) => section.name))].filter((name) => !NOT_CONTEXTS.has(name));
}

/** The steps of a context in file order; `include`, `ignorepat`, `switch` and hints are not steps. */
export function dialplanSteps(file: ConfFile, context: string): DialplanStep[] {
  const steps: DialplanStep[] = [];
  for (const section of sectionsNamed(file, context)) {
    let exten: string | undefined;
    for (const entry of section.entries) {
      if (entry.key === 'include' || entry.key === 'ignorepat' || entry.key === 'switch') continue;
      if (entry.key !== 'exten' && entry.key !== 'same') {
        throw new ConfSyntaxError(entry.line, `"${entry.key}" is not a dialplan line in [${context}]`);
      }
      let rest = entry.value;
      if (entry.key === 'exten') {
        const [name, remainder] = cutAtComma(rest, entry.line);
        exten = name;
        rest = remainder;
      } else if (exten === undefined) {
        throw new ConfSyntaxError(entry.line, `"same =>" in [${context}] follows no "exten =>"`);
      }
      const [priorityText, application] = cutAtComma(rest, entry.line);
      if (priorityText === 'hint') continue;
      const priority = /^(\d+|n(?:\+\d+)?|s)(?:\(([\w-]+)\))?$/.exec(priorityText);
      if (!priority) throw new ConfSyntaxError(entry.line, `"${priorityText}" is not a priority`);
      const { app, args } = parseApplication(application, entry.line);
      steps.push({
        context,
        exten,
        priority: priority[1]!,
        label: priority[2],
        app,
        args,
        line: entry.line,
      });
    }
  }
  return steps;
}

/** The steps of one extension of a context, in order. */
export function extensionSteps(file: ConfFile, context: string, exten: string): DialplanStep[] {
  return dialplanSteps(file, context).filter((step) => step.exten === exten);
}

/**
 * Whether a dialled number matches an extension: literally, or as a pattern (`_` then `X` = 0-9,
 * `Z` = 1-9, `N` = 2-9, `[1-5*#]` a set, `.` one or more further characters, `!` zero or more).
 */
export function extensionMatches(extension: string, number: string): boolean {
  if (!extension.startsWith('_')) return extension === number;
  let source = '';
  for (let i = 1; i < extension.length; i += 1) {
    const char = extension[i]!;
    if (char === 'X' || char === 'x') source += '[0-9]';
    else if (char === 'Z' || char === 'z') source += '[1-9]';
    else if (char === 'N' || char === 'n') source += '[2-9]';
    else if (char === '.') source += '.+';
    else if (char === '!') source += '.*';
    else if (char === '[') {
      const close = extension.indexOf(']', i);
      if (close < 0) throw new Error(`"${extension}" has a [ without ]`);
      const set = extension.slice(i + 1, close).replace(/[\\^\]]/g, '\\$&');
      source += `[${set}]`;
      i = close;
    } else source += char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`).test(number);
}

/**
 * Splits application arguments on commas that are outside quotes, `()`, `[]` and `{}` (so
 * `${CHANNEL(endpoint)}` and `$[a,b]` stay whole), as `ast_app_separate_args` does.
 */
export function splitArgs(args: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (let i = 0; i < args.length; i += 1) {
    const char = args[i]!;
    if (char === '\\' && i + 1 < args.length) {
      current += char + args[i + 1];
      i += 1;
      continue;
    }
    if (char === '"') quoted = !quoted;
    else if (!quoted && '([{'.includes(char)) depth += 1;
    else if (!quoted && ')]}'.includes(char)) depth = Math.max(0, depth - 1);
    if (char === ',' && depth === 0 && !quoted) {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}

/** `Goto`'s argument: `priority`, `exten,priority` or `context,exten,priority`. */
export function parseGoto(args: string): GotoTarget {
  const parts = splitArgs(args).map((part) => part.trim());
  if (parts.length > 3 || parts.some((part) => part === '')) {
    throw new Error(`"${args}" is not [[context,]exten,]priority`);
  }
  const priority = parts.at(-1)!;
  const exten = parts.length >= 2 ? parts.at(-2) : undefined;
  const context = parts.length === 3 ? parts[0] : undefined;
  return { context, exten, priority };
}

/** `GotoIf`'s argument: `condition?iftrue[:iffalse]`, the `?` being the first one outside `$[...]`. */
export function parseGotoIf(args: string): GotoIf {
  const question = indexOutsideBrackets(args, '?');
  if (question < 0) throw new Error(`"${args}" has no "?": GotoIf(condition?iftrue:iffalse)`);
  const condition = args.slice(0, question).trim();
  const targets = args.slice(question + 1);
  const colon = indexOutsideBrackets(targets, ':');
  const trueText = (colon < 0 ? targets : targets.slice(0, colon)).trim();
  const falseText = colon < 0 ? '' : targets.slice(colon + 1).trim();
  return {
    condition,
    ifTrue: trueText ? parseGoto(trueText) : undefined,
    ifFalse: falseText ? parseGoto(falseText) : undefined,
  };
}

/**
 * Dialplan functions a step calls: `${NAME(...)}` anywhere in its arguments, and the function a
 * `Set(NAME(...)=value)` writes to.
 */
export function functionsCalled(step: DialplanStep): string[] {
  const names = [...step.args.matchAll(/\$\{([A-Za-z_][\w]*)\(/g)].map((match) => match[1]!.toUpperCase());
  if (step.app.toLowerCase() === 'set') {
    const written = /^\s*([A-Za-z_]\w*)\(/.exec(step.args);
    if (written) names.push(written[1]!.toUpperCase());
  }
  return [...new Set(names)];
}

/** Splits at the first comma outside brackets: `112,1,NoOp(a,b)` → `112`, `1,NoOp(a,b)`. */
function cutAtComma(text: string, line: number): [string, string] {
  const comma = indexOutsideBrackets(text, ',');
  if (comma < 0) throw new ConfSyntaxError(line, `"${text}" is missing a comma-separated part`);
  return [text.slice(0, comma).trim(), text.slice(comma + 1).trim()];
}

function indexOutsideBrackets(text: string, wanted: string): number {
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i]!;
    if (char === '\\') {
      i += 1;
      continue;
    }
    if (char === '"') quoted = !quoted;
    else if (!quoted && '([{'.includes(char)) depth += 1;
    else if (!quoted && ')]}'.includes(char)) depth = Math.max(0, depth - 1);
    else if (char === wanted && depth === 0 && !quoted) return i;
  }
  return -1;
}

/** `App(args)` or a bare `App`; the closing parenthesis must end the line, as pbx_config expects. */
function parseApplication(text: string, line: number): { app: string; args: string } {
  const match = /^([A-Za-z_][\w]*)\s*(?:\((.*)\))?$/s.exec(text);
  if (!match) throw new ConfSyntaxError(line, `"${text}" is not App(arguments)`);
  return { app: match[1]!, args: match[2] ?? '' };
}
