// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Asterisk dialplan, whose ${...} is not JavaScript
import { describe, expect, it } from 'vitest';
import {
  ConfSyntaxError,
  effectiveEntries,
  effectiveValue,
  ownValue,
  ownValues,
  parseConf,
  sectionsNamed,
} from '../../../src/asterisk-conf/conf-file.ts';

describe('parseConf', () => {
  it('reads sections, key = value and key => value, with their line numbers', () => {
    const file = parseConf(
      [
        '[general]',
        'static = yes',
        '',
        '[from-trunk]',
        'exten => 112,1,Answer()',
        ' same => n,Hangup()',
      ].join('\n'),
    );
    expect(file.sections.map((section) => section.name)).toEqual(['general', 'from-trunk']);
    expect(file.sections[0]!.entries).toEqual([{ key: 'static', value: 'yes', object: false, line: 2 }]);
    expect(file.sections[1]!.entries).toEqual([
      { key: 'exten', value: '112,1,Answer()', object: true, line: 5 },
      { key: 'same', value: 'n,Hangup()', object: true, line: 6 },
    ]);
  });

  it('splits at the first = only, so values keep theirs', () => {
    const [section] = parseConf('[s]\nexten=>1,1,GotoIf($["${A}" = "B"]?x,1)\nmatch=10.0.0.1').sections;
    expect(ownValue(section!, 'exten')).toBe('1,1,GotoIf($["${A}" = "B"]?x,1)');
    expect(ownValue(section!, 'match')).toBe('10.0.0.1');
  });

  it('drops ; comments, keeps \\; as a semicolon, and skips ;-- block comments --; across lines', () => {
    const file = parseConf(
      [
        '; a header comment',
        '[s] ; after a header',
        'a = 1 ; after a value',
        'b = x\\;y',
        ';-- a block',
        'c = hidden',
        'still hidden --; d = after the block',
        'e = 5',
      ].join('\n'),
    );
    const section = file.sections[0]!;
    expect(section.entries.map((entry) => [entry.key, entry.value])).toEqual([
      ['a', '1'],
      ['b', 'x;y'],
      ['d', 'after the block'],
      ['e', '5'],
    ]);
  });

  it('reads template markers and inheritance, and resolves inherited values in order', () => {
    const file = parseConf(
      [
        '[base](!)',
        'type = endpoint',
        'allow = alaw',
        '[web](!,base)',
        'allow = ulaw',
        'webrtc = yes',
        '[taker1](web)',
        'auth = taker1',
        '[taker1](+)',
        'aors = taker1',
      ].join('\n'),
    );
    const [base, web, taker1, appended] = file.sections;
    expect(base).toMatchObject({ template: true, inherits: [] });
    expect(web).toMatchObject({ template: true, inherits: ['base'] });
    expect(taker1).toMatchObject({ template: false, append: false, inherits: ['web'] });
    expect(appended).toMatchObject({ append: true });
    expect(effectiveEntries(file, taker1!).map((entry) => entry.key)).toEqual([
      'type',
      'allow',
      'allow',
      'webrtc',
      'auth',
    ]);
    expect(effectiveValue(file, taker1!, 'type')).toBe('endpoint');
    expect(effectiveValue(file, taker1!, 'allow')).toBe('ulaw');
    expect(effectiveValue(file, taker1!, 'missing')).toBeUndefined();
  });

  it('keeps sections that share a name apart (an endpoint, its AOR and its auth)', () => {
    const file = parseConf('[t1]\ntype=endpoint\n[t1]\ntype=aor\n[t1]\ntype=auth\nallow=a\nallow=b');
    const named = sectionsNamed(file, 't1');
    expect(named.map((section) => ownValue(section, 'type'))).toEqual(['endpoint', 'aor', 'auth']);
    expect(ownValues(named[2]!, 'allow')).toEqual(['a', 'b']);
  });

  it('collects #include and #exec directives', () => {
    const file = parseConf('#include "pjsip_extra.conf"\n#tryinclude more.conf\n[s]\na=1');
    expect(file.directives).toEqual([
      { name: 'include', argument: 'pjsip_extra.conf', line: 1 },
      { name: 'tryinclude', argument: 'more.conf', line: 2 },
    ]);
  });

  it.each([
    ['a = 1', 'line 1: "a = 1" comes before any [section]'],
    ['[s]\njust words', 'line 2: "just words" is not "key = value"'],
    ['[s]\n= value', 'line 2: "= value" is not "key = value"'],
    ['[s', 'line 1: "[s" is not a [section]'],
    ['[s](nope)\na=1', 'line 1: [s] inherits "nope", which is not defined above it'],
    ['[s](?x)', 'line 1: [s] has an option "?x" Asterisk does not know'],
    ['[s](+)', 'line 1: [s](+) adds to a section that is not defined above it'],
    ['[s]\n;-- never closed\na=1', 'a ;-- block comment is never closed'],
    ['#includ x', 'line 1: unknown directive'],
  ])('rejects %j as Asterisk would', (text, message) => {
    expect(() => parseConf(text)).toThrow(ConfSyntaxError);
    expect(() => parseConf(text)).toThrow(message);
  });

  it('reports the line of a bad entry', () => {
    try {
      parseConf('[s]\na=1\n\nbroken');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfSyntaxError);
      expect((error as ConfSyntaxError).line).toBe(4);
      expect((error as ConfSyntaxError).code).toBe('conf-syntax');
    }
  });
});
