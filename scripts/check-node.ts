// Runs first in `npm test`: the project targets Node 24 LTS, which npm puts on PATH from the
// `node` devDependency. A different version here means node_modules is missing or stale.
const major = Number(process.versions.node.split('.')[0]);
if (major !== 24) {
  console.error(
    `siaga112 needs Node 24 LTS, but this is Node ${process.versions.node}: run \`npm install\` (it installs Node 24 from the npm registry) and use the npm scripts.`,
  );
  process.exit(1);
}
