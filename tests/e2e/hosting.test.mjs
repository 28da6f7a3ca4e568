// The site as built for hosting (`trunk build`, as scripts/test.sh runs it before these tests and README's
// "Hosting" says) holds no live-reload script. `trunk serve` (scripts/serve.sh) writes one into dist/index.html
// that connects to ws://<host>/.well-known/trunk/ws; served as static files, that page logs a failed WebSocket
// every 5 seconds.
//
// Run: node --test tests/e2e/hosting.test.mjs
// Builds dist/ with `trunk build` first unless HEBBIAN_SKIP_BUILD is set (the test script builds beforehand).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DIST, buildSite, launch, serve, watchConsole } from './harness.mjs';

// What trunk 0.21 injects (its src/autoreload.js): the socket's path, and placeholders that `trunk serve` fills
// in as it serves the page.
const MARKERS = ['.well-known/trunk/ws', '{{__TRUNK_'];

test('the hosting build has no live-reload script and opens no WebSocket', async () => {
  buildSite();
  const files = (await readdir(DIST)).filter((f) => /\.(html|js)$/.test(f));
  assert.ok(files.includes('index.html'), JSON.stringify(files));
  for (const file of files) {
    const text = await readFile(join(DIST, file), 'utf8');
    for (const marker of MARKERS) {
      assert.ok(!text.includes(marker), `dist/${file} holds trunk's live-reload script (${marker}): this is a \`trunk serve\` build; build with \`trunk build\``);
    }
  }

  const server = await serve(DIST);
  const context = await launch({ webgpu: false });
  try {
    const page = await context.newPage();
    const errors = watchConsole(page);
    const sockets = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.goto(`${server.url}/`);
    // The landing page is drawn once the page's scripts (the live-reload one among them, when present) have run.
    await page.waitForSelector('.lab-list li', { timeout: 60_000 });
    assert.deepEqual(sockets, []);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await server.close();
  }
});
