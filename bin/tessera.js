#!/usr/bin/env node
// The `tessera` command. The TypeScript sources are compiled to dist/ by `npm ci` (prepare).
import('../dist/src/cli/main.js').catch((err) => {
  process.stderr.write(`tessera: ${err.message}\n(run \`npm run build\` if dist/ is missing)\n`);
  process.exit(1);
});
