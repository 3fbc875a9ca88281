/**
 * `npm audit` at high severity, with accepted risks in `audit-allowlist.json` (each with a reason
 * and a date it must be looked at again). Runs in `npm test`: a new high or critical advisory that
 * nobody accepted fails the suite. When the registry's advisory service cannot be reached (an
 * offline mirror answers 405), it says so in one line and does not fail: no answer is not a finding.
 *
 *   node scripts/dependency-audit.ts
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** One accepted risk: an advisory (GHSA id or URL) in a package, why, and until when. */
export interface AcceptedRisk {
  advisory: string;
  package: string;
  reason: string;
  /** ISO date after which the acceptance lapses and the advisory fails the audit again. */
  until: string;
}

/** The part of `npm audit --json` (report version 2) this check reads. */
export interface AuditReport {
  vulnerabilities?: Record<
    string,
    {
      name: string;
      severity: string;
      via: Array<string | { url?: string; title?: string; severity?: string }>;
    }
  >;
}

export interface Finding {
  package: string;
  severity: string;
  advisory: string;
  title: string;
}

const BLOCKING = new Set(['high', 'critical']);

/**
 * High and critical advisories in the report that no current acceptance covers. An advisory is
 * reported where it is (`via` objects), not again for every package that depends on it.
 */
export function unacceptedFindings(
  report: AuditReport,
  accepted: readonly AcceptedRisk[],
  today: Date,
): Finding[] {
  const findings: Finding[] = [];
  for (const vulnerability of Object.values(report.vulnerabilities ?? {})) {
    for (const via of vulnerability.via) {
      if (typeof via === 'string') continue;
      const severity = via.severity ?? vulnerability.severity;
      if (!BLOCKING.has(severity)) continue;
      const advisory = via.url ?? '(no advisory URL)';
      const covered = accepted.some(
        (risk) =>
          risk.package === vulnerability.name &&
          advisory.endsWith(risk.advisory) &&
          new Date(`${risk.until}T23:59:59Z`) >= today,
      );
      if (!covered)
        findings.push({ package: vulnerability.name, severity, advisory, title: via.title ?? '' });
    }
  }
  return findings;
}

/** Entries of the allowlist that are malformed: each needs all four fields and a real date. */
export function invalidAcceptances(entries: unknown): string[] {
  if (!Array.isArray(entries)) return ['accepted: expected an array'];
  return entries.flatMap((entry, i) => {
    const risk = entry as Partial<AcceptedRisk>;
    const problems: string[] = [];
    for (const field of ['advisory', 'package', 'reason', 'until'] as const) {
      if (typeof risk[field] !== 'string' || risk[field].trim() === '')
        problems.push(`accepted[${i}].${field}: required`);
    }
    if (typeof risk.until === 'string' && Number.isNaN(Date.parse(risk.until)))
      problems.push(`accepted[${i}].until: not a date (YYYY-MM-DD)`);
    return problems;
  });
}

async function main(): Promise<void> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const allowlist = JSON.parse(await readFile(`${root}audit-allowlist.json`, 'utf8')) as {
    accepted: unknown;
  };
  const problems = invalidAcceptances(allowlist.accepted);
  if (problems.length > 0) {
    console.error(`audit-allowlist.json: ${problems.join('; ')}`);
    process.exit(1);
  }
  const output = await new Promise<string>((resolve) => {
    // npm audit exits non-zero when it finds anything; the JSON on stdout is what counts.
    execFile(
      'npm',
      ['audit', '--json', '--omit=optional'],
      { cwd: root, maxBuffer: 32 * 1024 * 1024, timeout: 60_000 },
      (_e, stdout) => resolve(stdout),
    );
  });
  let report: AuditReport & { error?: { summary?: string }; message?: string };
  try {
    report = JSON.parse(output);
  } catch {
    console.log('dependency audit not run: npm audit gave no report');
    return;
  }
  if (!report.vulnerabilities) {
    const why = report.message ?? report.error?.summary ?? 'no answer from the advisory service';
    console.log(`dependency audit not run: ${why}`);
    return;
  }
  const findings = unacceptedFindings(report, allowlist.accepted as AcceptedRisk[], new Date());
  if (findings.length === 0) {
    console.log('dependency audit: no unaccepted high or critical advisory');
    return;
  }
  for (const f of findings) console.error(`${f.severity}: ${f.package}: ${f.title} (${f.advisory})`);
  console.error('Upgrade, or accept the risk in audit-allowlist.json with a reason and a review date.');
  process.exit(1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
