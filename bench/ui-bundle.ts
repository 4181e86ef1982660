/**
 * The initial JavaScript of the built UI: every script and modulepreload that dist/ui/index.html
 * names (what a browser must fetch before the first screen), raw and gzip-compressed. Used by
 * `npm run bench:ui` and the budget test (test/ui/bundle-budget.test.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { defaultUiRoot } from '../src/http/ui-routes.js';

export function initialJavaScript(root = defaultUiRoot()): { files: string[]; rawBytes: number; gzipBytes: number } {
  const html = readFileSync(path.join(root, 'index.html'), 'utf8');
  const files = [...html.matchAll(/<(?:script[^>]*\bsrc|link[^>]*rel="modulepreload"[^>]*\bhref)="([^"]+\.js)"/g)].map((m) => m[1]!);
  let rawBytes = 0;
  let gzipBytes = 0;
  for (const f of files) {
    const body = readFileSync(path.join(root, f.replace(/^\//, '')));
    rawBytes += body.length;
    gzipBytes += gzipSync(body, { level: 9 }).length;
  }
  return { files, rawBytes, gzipBytes };
}
