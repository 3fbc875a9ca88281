import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];

/**
 * The Chromium (or Chrome) the browser tests drive with playwright-core: Debian's `chromium`
 * package, found on PATH. Missing, it is one line saying what to install, never a silent skip.
 */
export function findChromium(path = process.env.PATH ?? '', alsoIn = ['/usr/bin', '/snap/bin']): string {
  for (const dir of [...path.split(delimiter).filter(Boolean), ...alsoIn]) {
    for (const name of NAMES) {
      const candidate = join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
  }
  throw new Error(
    'the browser tests need Chromium: apt-get install chromium (Debian/Ubuntu), or put chromium on PATH',
  );
}
