/** What a benchmark's or soak's results say about the run itself: the code measured, the machine. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';

/** Which code was measured: the commit, and whether src/ had changes not committed yet. */
export function sourceState(): { commit: string; uncommittedSrcFiles: number } {
  const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
  try {
    const changed = git('status', '--porcelain', '--', 'src', 'migrations');
    return {
      commit: git('rev-parse', 'HEAD'),
      uncommittedSrcFiles: changed ? changed.split('\n').length : 0,
    };
  } catch {
    return { commit: 'unknown', uncommittedSrcFiles: -1 };
  }
}

export function describeMachine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`;
}
