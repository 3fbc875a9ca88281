/**
 * Where a CPU profile's time went: self time by package or source folder, by function, and the
 * total (self + callees) of the heaviest siaga112 functions. For `npm run bench -- --profile DIR`.
 *
 *   node bench/profile-summary.ts DIR/one-1.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
const file = positionals[0];
if (!file) {
  process.stderr.write('usage: node bench/profile-summary.ts FILE.cpuprofile [--top N]\n');
  process.exit(2);
}
const top = Number(values.top);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => {
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

/** node_modules/<package>, src/<folder>, node:<internal>, or V8's own (GC, idle, program). */
function area(url: string, name: string): string {
  if (url === '') return `(${name || 'native'})`;
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  const source = /\/(src|bench)\/([^/]+)\//.exec(url);
  if (source) return `${source[1]}/${source[2]}`;
  if (url.startsWith('node:')) return url.split('/')[0]!;
  return url;
}
const label = (node: ProfileNode) => {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url.replace(/^.*\/(node_modules|src|bench)\//, '$1/');
  return `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
};

const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const idle = [...selfUs.entries()]
  .filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)')
  .reduce((a, [, us]) => a + us, 0);
const busy = total - idle;
const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);

/** The nearest frame up the stack from a package or our source: who asked for native work. */
const owner = (id: number): string => {
  for (let at: number | undefined = parent.get(id); at !== undefined; at = parent.get(at)) {
    const frame = byId.get(at)!;
    if (/node_modules|\/src\/|\/bench\//.test(frame.callFrame.url)) return label(frame);
  }
  return '(no package frame)';
};

/** The package or source folder of the nearest such frame at or above the sample. */
const responsible = (id: number): string => {
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const frame = byId.get(at)!;
    if (/node_modules|\/src\/|\/bench\//.test(frame.callFrame.url)) {
      return area(frame.callFrame.url, frame.callFrame.functionName);
    }
  }
  const leaf = byId.get(id)!.callFrame;
  return leaf.url === '' ? `(${leaf.functionName || 'native'})` : 'node (no package on the stack)';
};

const areas = new Map<string, number>();
const charged = new Map<string, number>();
const owners = new Map<string, number>();
const functions = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id)!;
  if (node.callFrame.functionName === '(idle)') continue;
  add(areas, area(node.callFrame.url, node.callFrame.functionName), us);
  add(functions, label(node), us);
  add(charged, responsible(id), us);
  if (node.callFrame.url === '' || node.callFrame.url.startsWith('node:')) add(owners, owner(id), us);
  // Charge the sample to every distinct siaga112 function on its stack.
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const frame = byId.get(at)!;
    if (!/\/src\//.test(frame.callFrame.url)) continue;
    const key = label(frame);
    if (seen.has(key)) continue;
    seen.add(key);
    add(inclusive, key, us);
  }
}

const print = (title: string, map: Map<string, number>) => {
  process.stdout.write(`\n${title}\n`);
  for (const [key, us] of [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(
      `${((us / busy) * 100).toFixed(1).padStart(6)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}\n`,
    );
  }
};
process.stdout.write(
  `${file}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s busy (percentages of busy)\n`,
);
print('self time by package / folder', areas);
print('time by package / folder, native and Node work charged to the nearest one asking for it', charged);
print('self time by function', functions);
print('native and Node-internal self time, by the package or source frame that asked for it', owners);
print('total time of siaga112 functions (self + callees)', inclusive);
