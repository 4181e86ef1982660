/** The agent screens' initial JavaScript stays under 80 KB gzip (UI.md: small pages; measured from the build). */
import { describe, expect, it } from 'vitest';
import { initialJavaScript } from '../../bench/ui-bundle.js';

describe('the UI bundle budget', () => {
  it('the initial JavaScript named by dist/ui/index.html is under 80 KB gzip and comes from /assets', () => {
    const js = initialJavaScript();
    expect(js.files.length).toBeGreaterThan(0);
    for (const f of js.files) expect(f).toMatch(/^\/assets\/[\w.-]+\.js$/);
    expect(js.gzipBytes).toBeGreaterThan(1_000);
    expect(js.gzipBytes).toBeLessThan(80 * 1024);
  });
});
