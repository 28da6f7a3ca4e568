// Tests of the end-to-end helpers themselves: the static server, and both browser modes of launch().
// Run: node --test tests/e2e/harness.test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countDrawnPixels, launch, serve, watchConsole } from './harness.mjs';

let site;
let server;

before(async () => {
  site = await mkdtemp(join(tmpdir(), 'hebbian-harness-'));
  await mkdir(join(site, 'sub'));
  const files = {
    'index.html': '<!doctype html><link rel="icon" href="data:,"><canvas width="64" height="64"></canvas>',
    'a.js': '', 'a.mjs': '', 'a.wasm': '', 'a.css': '', 'a.json': '{}', 'a.png': '', 'a.svg': '', 'a.woff2': '',
    'a.bin': '', 'a.gz': '', 'a.xyz': '', 'sub/index.html': 'sub',
  };
  for (const [name, body] of Object.entries(files)) await writeFile(join(site, name), body);
  await writeFile(join(tmpdir(), 'hebbian-harness-outside.txt'), 'secret');
  server = await serve(site, { headers: { 'cross-origin-opener-policy': 'same-origin' } });
});

after(async () => {
  await server?.close();
  await rm(site, { recursive: true, force: true });
  await rm(join(tmpdir(), 'hebbian-harness-outside.txt'), { force: true });
});

test('serve answers with the right MIME types', async () => {
  const expected = {
    '/': 'text/html', '/index.html': 'text/html', '/a.js': 'text/javascript', '/a.mjs': 'text/javascript',
    '/a.wasm': 'application/wasm', '/a.css': 'text/css', '/a.json': 'application/json', '/a.png': 'image/png',
    '/a.svg': 'image/svg+xml', '/a.woff2': 'font/woff2', '/a.bin': 'application/octet-stream',
    '/a.gz': 'application/gzip', '/a.xyz': 'application/octet-stream', '/sub/': 'text/html',
  };
  for (const [path, type] of Object.entries(expected)) {
    const res = await fetch(server.url + path);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('content-type').split(';')[0], type, path);
    assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin', path);
    await res.arrayBuffer();
  }
  assert.equal(await (await fetch(`${server.url}/sub/index.html`)).text(), 'sub');
});

test('serve answers 404 for missing files and paths outside its folder', async () => {
  const outside = `/%2e%2e/hebbian-harness-outside.txt`;
  for (const path of ['/missing.js', '/sub/missing', outside, '/%E0%A4%A']) {
    const res = await fetch(server.url + path);
    assert.equal(res.status, 404, path);
    assert.notEqual(await res.text(), 'secret');
  }
  assert.equal((await fetch(`${server.url}/a.js`, { method: 'POST' })).status, 404);
});

test('launch() with WebGPU gives an adapter and a drawable WebGPU canvas', async () => {
  const context = await launch();
  try {
    const page = await context.newPage();
    const errors = watchConsole(page);
    await page.goto(`${server.url}/`);
    const adapterFound = await page.evaluate(async () => {
      const adapter = await navigator.gpu?.requestAdapter();
      if (!adapter) return false;
      // Clear the canvas to opaque red through WebGPU: only counting pixels shows that it really drew.
      const device = await adapter.requestDevice();
      const context = document.querySelector('canvas').getContext('webgpu');
      context.configure({ device, format: navigator.gpu.getPreferredCanvasFormat(), alphaMode: 'opaque' });
      const encoder = device.createCommandEncoder();
      encoder.beginRenderPass({
        colorAttachments: [{ view: context.getCurrentTexture().createView(), loadOp: 'clear', storeOp: 'store',
          clearValue: { r: 1, g: 0, b: 0, a: 1 } }],
      }).end();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      await new Promise(requestAnimationFrame);
      return true;
    });
    assert.ok(adapterFound, 'no WebGPU adapter');
    assert.equal(await countDrawnPixels(page, 'canvas', { minChroma: 200, fromScreen: true }), 64 * 64);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('launch({webgpu: false}) hides WebGPU but draws 2D canvases', async () => {
  const context = await launch({ webgpu: false });
  try {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    const hasAdapter = await page.evaluate(async () => Boolean(await navigator.gpu?.requestAdapter()));
    assert.equal(hasAdapter, false);
    await page.evaluate(() => {
      const ctx = document.querySelector('canvas').getContext('2d');
      ctx.fillStyle = '#00f';
      ctx.fillRect(0, 0, 32, 64);
    });
    assert.equal(await countDrawnPixels(page, 'body'), 32 * 64);
    assert.equal(await countDrawnPixels(page, 'canvas', { fromScreen: true }), 32 * 64);
    assert.equal(await countDrawnPixels(page, 'body', { region: { x: 0, y: 0, width: 16, height: 16 } }), 16 * 16);
  } finally {
    await context.close();
  }
});
