import { describe, expect, it } from 'vitest';
import {
  type AuditReport,
  invalidAcceptances,
  unacceptedFindings,
} from '../../../scripts/dependency-audit.ts';

// The shape of `npm audit --json` (auditReportVersion 2): advisories sit in `via` where they are,
// and packages depending on a vulnerable one list its name as a string.
const REPORT: AuditReport = {
  vulnerabilities: {
    'path-to-regexp': {
      name: 'path-to-regexp',
      severity: 'high',
      via: [
        {
          url: 'https://github.com/advisories/GHSA-9wv6-86v2-598j',
          title: 'path-to-regexp outputs backtracking regular expressions',
          severity: 'high',
        },
      ],
    },
    router: { name: 'router', severity: 'high', via: ['path-to-regexp'] },
    cookie: {
      name: 'cookie',
      severity: 'low',
      via: [
        { url: 'https://github.com/advisories/GHSA-pxg6-pf52-xh8x', title: 'out of bounds', severity: 'low' },
      ],
    },
  },
};
const TODAY = new Date('2026-11-23T12:00:00Z');

describe('the dependency audit', () => {
  it('fails on a high advisory once, where it is, and not on low ones', () => {
    expect(unacceptedFindings(REPORT, [], TODAY)).toEqual([
      {
        package: 'path-to-regexp',
        severity: 'high',
        advisory: 'https://github.com/advisories/GHSA-9wv6-86v2-598j',
        title: 'path-to-regexp outputs backtracking regular expressions',
      },
    ]);
  });

  it('lets an accepted risk pass until its review date, then fails again', () => {
    const accepted = [
      {
        advisory: 'GHSA-9wv6-86v2-598j',
        package: 'path-to-regexp',
        reason: 'only our own fixed route patterns reach it',
        until: '2026-12-31',
      },
    ];
    expect(unacceptedFindings(REPORT, accepted, TODAY)).toEqual([]);
    expect(unacceptedFindings(REPORT, accepted, new Date('2027-01-01T00:00:00Z'))).toHaveLength(1);
    // An acceptance for another package does not cover it.
    expect(unacceptedFindings(REPORT, [{ ...accepted[0]!, package: 'router' }], TODAY)).toHaveLength(1);
  });

  it('refuses an allowlist entry without a reason or a date', () => {
    expect(invalidAcceptances([{ advisory: 'GHSA-x', package: 'p', reason: '', until: 'soon' }])).toEqual([
      'accepted[0].reason: required',
      'accepted[0].until: not a date (YYYY-MM-DD)',
    ]);
    expect(invalidAcceptances({})).toEqual(['accepted: expected an array']);
  });
});
