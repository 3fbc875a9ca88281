// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Asterisk dialplan, whose ${...} is not JavaScript
import { describe, expect, it } from 'vitest';
import { ConfSyntaxError, parseConf } from '../../../src/asterisk-conf/conf-file.ts';
import {
  contextNames,
  dialplanSteps,
  extensionMatches,
  extensionSteps,
  functionsCalled,
  parseGoto,
  parseGotoIf,
  splitArgs,
} from '../../../src/asterisk-conf/dialplan.ts';

const dialplan = parseConf(`
[general]
static = yes
[globals]
A = 1
[in]
exten => 112,1,NoOp(call from \${CALLERID(num)})
 same => n(enter),Stasis(siaga112,\${CHANNEL(endpoint)})
 same => n,GotoIf($["\${STASISSTATUS}" = "FAILED"]?fallback,s,1:done)
 same => n(done),Hangup
exten => 113,1,Set(CHANNEL(language)=id)
exten => 113,hint,PJSIP/taker1
include => other
[fallback]
exten => s,1,Dial(PJSIP/taker1&PJSIP/taker2,30)
`);

describe('dialplanSteps', () => {
  it('gives each step its extension, priority, label, application and arguments', () => {
    expect(contextNames(dialplan)).toEqual(['in', 'fallback']);
    const steps = dialplanSteps(dialplan, 'in');
    expect(steps.map((step) => [step.exten, step.priority, step.label, step.app])).toEqual([
      ['112', '1', undefined, 'NoOp'],
      ['112', 'n', 'enter', 'Stasis'],
      ['112', 'n', undefined, 'GotoIf'],
      ['112', 'n', 'done', 'Hangup'],
      ['113', '1', undefined, 'Set'],
    ]);
    expect(steps[1]!.args).toBe('siaga112,${CHANNEL(endpoint)}');
    expect(steps[3]!.args).toBe('');
    expect(extensionSteps(dialplan, 'fallback', 's')[0]!.args).toBe('PJSIP/taker1&PJSIP/taker2,30');
  });

  it('refuses "same" before any "exten", settings in a context, and malformed steps', () => {
    expect(() => dialplanSteps(parseConf('[c]\nsame => n,Hangup()'), 'c')).toThrow(ConfSyntaxError);
    expect(() => dialplanSteps(parseConf('[c]\nvalue = 1'), 'c')).toThrow(
      '"value" is not a dialplan line in [c]',
    );
    expect(() => dialplanSteps(parseConf('[c]\nexten => 112'), 'c')).toThrow(
      'missing a comma-separated part',
    );
    expect(() => dialplanSteps(parseConf('[c]\nexten => 112,x,Answer()'), 'c')).toThrow(
      '"x" is not a priority',
    );
    expect(() => dialplanSteps(parseConf('[c]\nexten => 112,1,Answer(oops'), 'c')).toThrow(
      'is not App(arguments)',
    );
  });
});

describe('application arguments', () => {
  it('split on commas outside brackets and quotes', () => {
    expect(splitArgs('siaga112,${CHANNEL(endpoint)}')).toEqual(['siaga112', '${CHANNEL(endpoint)}']);
    expect(splitArgs('$[${A} = "x,y"],b')).toEqual(['$[${A} = "x,y"]', 'b']);
    expect(splitArgs('a\\,b,c')).toEqual(['a\\,b', 'c']);
    expect(splitArgs('')).toEqual(['']);
  });

  it('read Goto and GotoIf targets', () => {
    expect(parseGoto('fallback,s,1')).toEqual({ context: 'fallback', exten: 's', priority: '1' });
    expect(parseGoto('s,1')).toEqual({ context: undefined, exten: 's', priority: '1' });
    expect(parseGoto('done')).toEqual({ context: undefined, exten: undefined, priority: 'done' });
    expect(() => parseGoto('a,b,c,d')).toThrow('[[context,]exten,]priority');
    const gotoIf = parseGotoIf(dialplanSteps(dialplan, 'in')[2]!.args);
    expect(gotoIf).toEqual({
      condition: '$["${STASISSTATUS}" = "FAILED"]',
      ifTrue: { context: 'fallback', exten: 's', priority: '1' },
      ifFalse: { context: undefined, exten: undefined, priority: 'done' },
    });
    expect(parseGotoIf('$[1]?x,1').ifFalse).toBeUndefined();
    expect(() => parseGotoIf('no question mark')).toThrow('has no "?"');
  });

  it('name the dialplan functions a step reads or writes', () => {
    const steps = dialplanSteps(dialplan, 'in');
    expect(functionsCalled(steps[0]!)).toEqual(['CALLERID']);
    expect(functionsCalled(steps[1]!)).toEqual(['CHANNEL']);
    expect(functionsCalled(steps[2]!)).toEqual([]);
    expect(functionsCalled(steps[4]!)).toEqual(['CHANNEL']);
  });
});

describe('extensionMatches', () => {
  it.each([
    ['112', '112', true],
    ['112', '1120', false],
    ['_X.', '112', true],
    ['_X.', '1', false],
    ['_X!', '1', true],
    ['_11[02-359]', '112', true],
    ['_11[02-359]', '114', false],
    ['_NXX', '211', true],
    ['_NXX', '111', false],
    ['_ZX', '10', true],
    ['_ZX', '01', false],
    ['_[*#+].', '*43', true],
    ['_[*#+].', '43', false],
    ['_+62.', '+62812', true],
  ])('%s matches %s: %s', (extension, number, expected) => {
    expect(extensionMatches(extension, number)).toBe(expected);
  });
});
