/**
 * Asterisk's `.conf` syntax, parsed the way `main/config.c` reads it (pure: text in, structure out).
 *
 * - `[name]` opens a section; `[name](!)` is a template, `[name](tpl1,tpl2)` inherits the named
 *   sections (defined earlier), `[name](!,tpl)` both, `[name](+)` adds to an earlier section.
 * - `key = value` and `key => value` (an "object", as in `exten => ...`) are entries; a dialplan's
 *   `same => n,...` is one too (see dialplan.ts for what it means).
 * - `;` starts a comment, `\;` is a literal semicolon, `;--` ... `--;` is a block comment.
 * - `#include`, `#tryinclude` and `#exec` lines are directives (not followed here).
 *
 * Section names repeat in pjsip.conf (an endpoint, its AOR and its auth may share a name), so a file
 * is a list of sections in order, not a map.
 */

export interface ConfEntry {
  readonly key: string;
  readonly value: string;
  /** Written `key => value`. */
  readonly object: boolean;
  /** 1-based line number in the file. */
  readonly line: number;
}

export interface ConfSection {
  readonly name: string;
  readonly line: number;
  /** `(!)`: a template, never an object of its own. */
  readonly template: boolean;
  /** `(+)`: adds entries to the earlier section of that name. */
  readonly append: boolean;
  /** Sections whose entries this one starts with, in order. */
  readonly inherits: readonly string[];
  readonly entries: readonly ConfEntry[];
}

export interface ConfDirective {
  readonly name: 'include' | 'tryinclude' | 'exec';
  readonly argument: string;
  readonly line: number;
}

export interface ConfFile {
  readonly sections: readonly ConfSection[];
  readonly directives: readonly ConfDirective[];
}

/** A line Asterisk would refuse (it logs the file and line and skips or rejects the file). */
export class ConfSyntaxError extends Error {
  override readonly name = 'ConfSyntaxError';
  readonly code = 'conf-syntax';
  readonly line: number;

  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.line = line;
  }
}

interface MutableSection extends Omit<ConfSection, 'entries'> {
  entries: ConfEntry[];
}

/** Parses one configuration file; throws {@link ConfSyntaxError} on a line Asterisk would not read. */
export function parseConf(text: string): ConfFile {
  const sections: MutableSection[] = [];
  const directives: ConfDirective[] = [];
  const comment = { depth: 0 };
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const lineNumber = index + 1;
    const line = stripComment(raw, comment).trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      directives.push(parseDirective(line, lineNumber));
    } else if (line.startsWith('[')) {
      sections.push(parseSectionHeader(line, lineNumber, sections));
    } else {
      const section = sections.at(-1);
      if (!section) throw new ConfSyntaxError(lineNumber, `"${line}" comes before any [section]`);
      section.entries.push(parseEntry(line, lineNumber));
    }
  }
  if (comment.depth > 0) throw new ConfSyntaxError(lines.length, 'a ;-- block comment is never closed --;');
  return { sections, directives };
}

/** Every section of that name, in file order (pjsip.conf reuses names across object types). */
export function sectionsNamed(file: ConfFile, name: string): ConfSection[] {
  return file.sections.filter((section) => section.name === name);
}

/** The section's own value for a key (the last one written), or undefined. */
export function ownValue(section: ConfSection, key: string): string | undefined {
  return ownValues(section, key).at(-1);
}

/** All of the section's own values for a key, in order. */
export function ownValues(section: ConfSection, key: string): string[] {
  return section.entries.filter((entry) => entry.key === key).map((entry) => entry.value);
}

/**
 * The entries a section ends up with: those of the sections it inherits (recursively, in order),
 * then its own, as Asterisk copies a template's variables into the section that names it.
 */
export function effectiveEntries(file: ConfFile, section: ConfSection): ConfEntry[] {
  const inherited = section.inherits.flatMap((name) => {
    const parent = file.sections
      .filter((candidate) => candidate.name === name && candidate.line < section.line)
      .at(-1);
    if (!parent)
      throw new ConfSyntaxError(
        section.line,
        `[${section.name}] inherits "${name}", which is not defined above it`,
      );
    return effectiveEntries(file, parent);
  });
  return [...inherited, ...section.entries];
}

/** The value a key finally has in a section, templates included (the last assignment wins). */
export function effectiveValue(file: ConfFile, section: ConfSection, key: string): string | undefined {
  return effectiveEntries(file, section)
    .filter((entry) => entry.key === key)
    .at(-1)?.value;
}

/** Removes comments from one line, keeping `\;` as `;`; `state.depth` carries block comments across lines. */
function stripComment(raw: string, state: { depth: number }): string {
  let out = '';
  let i = 0;
  while (i < raw.length) {
    if (state.depth > 0) {
      if (raw.startsWith('--;', i)) {
        state.depth -= 1;
        i += 3;
      } else if (raw.startsWith(';--', i)) {
        state.depth += 1;
        i += 3;
      } else {
        i += 1;
      }
      continue;
    }
    const char = raw[i];
    if (char === '\\' && raw[i + 1] === ';') {
      out += ';';
      i += 2;
    } else if (raw.startsWith(';--', i)) {
      state.depth += 1;
      i += 3;
    } else if (char === ';') {
      break;
    } else {
      out += char;
      i += 1;
    }
  }
  return out;
}

function parseDirective(line: string, lineNumber: number): ConfDirective {
  const match = /^#(include|tryinclude|exec)\s+(.+)$/.exec(line);
  if (!match) throw new ConfSyntaxError(lineNumber, `unknown directive "${line}"`);
  const argument = match[2]!.trim().replace(/^"(.*)"$/, '$1');
  return { name: match[1] as ConfDirective['name'], argument, line: lineNumber };
}

function parseSectionHeader(
  line: string,
  lineNumber: number,
  earlier: readonly MutableSection[],
): MutableSection {
  const match = /^\[([^\]]+)\]\s*(?:\(([^)]*)\))?$/.exec(line);
  if (!match)
    throw new ConfSyntaxError(lineNumber, `"${line}" is not a [section] or [section](options) header`);
  const name = match[1]!.trim();
  if (name === '') throw new ConfSyntaxError(lineNumber, 'a section needs a name');
  const options = match[2] === undefined ? [] : match[2].split(',').map((option) => option.trim());
  let template = false;
  let append = false;
  const inherits: string[] = [];
  for (const option of options) {
    if (option === '!') template = true;
    else if (option === '+') append = true;
    else if (/^[\w.-]+$/.test(option)) inherits.push(option);
    else throw new ConfSyntaxError(lineNumber, `[${name}] has an option "${option}" Asterisk does not know`);
  }
  for (const parent of inherits) {
    if (!earlier.some((section) => section.name === parent)) {
      throw new ConfSyntaxError(lineNumber, `[${name}] inherits "${parent}", which is not defined above it`);
    }
  }
  if (append && !earlier.some((section) => section.name === name)) {
    throw new ConfSyntaxError(lineNumber, `[${name}](+) adds to a section that is not defined above it`);
  }
  return { name, line: lineNumber, template, append, inherits, entries: [] };
}

function parseEntry(line: string, lineNumber: number): ConfEntry {
  const equals = line.indexOf('=');
  if (equals <= 0) throw new ConfSyntaxError(lineNumber, `"${line}" is not "key = value" or "key => value"`);
  const key = line.slice(0, equals).trim();
  const object = line[equals + 1] === '>';
  const value = line.slice(equals + (object ? 2 : 1)).trim();
  if (!/^[\w.()-]+$/.test(key)) throw new ConfSyntaxError(lineNumber, `"${key}" is not a key`);
  return { key, value, object, line: lineNumber };
}
