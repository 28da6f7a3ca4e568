// End-to-end tests of the embed API's defences (www/embed.js), through the example host page
// (www/host-example.html): state versions, size limits, bursts of set_state, message types that are names of
// Object.prototype's members, and a link with "__proto__" in its params (refused by the page and the CLI alike).
//
// Run: node --test tests/e2e/embed.test.mjs
// Builds dist/ with `trunk build` first unless HEBBIAN_SKIP_BUILD is set (the test script builds beforehand).
// Needs /usr/bin/chromium, `npm ci`, and the native CLI (the harness's cliBinary, else `cargo run --bin hebbian`).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { DIST, REPO, buildSite, cli, cliBinary, launch, serve, watchConsole } from './harness.mjs';

const LONG = 120_000; // the first lab start on 2 busy cores
const REPLY = 15_000; // an answer the lab gives at once; long enough for a loaded machine, short enough to fail fast

let server;
let context;
let tmp;

before(async () => {
  buildSite();
  tmp = await mkdtemp(join(tmpdir(), 'hebbian-embed-'));
  server = await serve(DIST);
  context = await launch({ webgpu: false }); // the CPU engine: these tests are about messages, not kernels
});

after(async () => {
  await context?.close();
  await server?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Opens the host page with the hebb2d lab embedded; waits until the lab is ready and has drawn step 0. */
async function openHost() {
  const page = await context.newPage();
  const errors = watchConsole(page);
  await page.goto(`${server.url}/host-example.html?backend=cpu`);
  await page.waitForFunction(() => window.received.some((m) => m.type === 'hebbian:ready'), null, { timeout: LONG });
  const lab = page.frames().find((f) => f.url().includes('embed=1'));
  assert.ok(lab, 'the lab iframe');
  await settled(lab);
  return { page, lab, errors };
}

/** Waits until the lab shows a drawn step-0 frame and nothing runs. */
async function settled(lab) {
  await lab.waitForFunction(() => {
    const p = window.playground;
    return p && p.frame && p.frame.step === 0 && !p.running && document.getElementById('app').dataset.drawnStep === '0';
  }, null, { timeout: LONG });
}

/** Posts `msg` from the host page to the lab, as a course page does. */
const send = (page, msg) => page.evaluate((msg) => {
  document.getElementById('lab').contentWindow.postMessage(msg, location.origin);
}, msg);

/** The lab's answer with `id` of `type` (waits for it). */
async function reply(page, type, id) {
  await page.waitForFunction(({ type, id }) => window.received.some((m) => m.type === type && m.id === id), { type, id }, { timeout: REPLY });
  return page.evaluate(({ type, id }) => window.received.find((m) => m.type === type && m.id === id), { type, id });
}

/** The lab's state now, asked through the API (every message before it has been handled when it answers). */
async function getState(page, id) {
  await send(page, { type: 'hebbian:get_state', id });
  return (await reply(page, 'hebbian:state', id)).state;
}

const errorsReceived = (page) => page.evaluate(() => window.received.filter((m) => m.type === 'hebbian:error'));
const labMessages = (lab) => lab.locator('#messages .message.error span').allTextContents();

/** Exit status and stderr of the native CLI (which exits 2 when it refuses its input). */
function cliRefusal(args) {
  const bin = cliBinary();
  const [cmd, argv] = bin ? [bin, args] : ['cargo', ['run', '-q', '--bin', 'hebbian', '--', ...args]];
  const { status, stderr } = spawnSync(cmd, argv, { cwd: REPO, encoding: 'utf8' });
  return { status, stderr };
}

test('set_state refuses state versions this page cannot read, and the URL keeps the lab\'s experiment', async () => {
  const { page, lab, errors } = await openHost();
  const base = await getState(page, 'base');
  const hash = await lab.evaluate(() => location.hash);
  const cases = [
    { version: 99, message: /newer release \(state version 99/ },
    { version: 4, message: /newer release \(state version 4/ },
    { version: 0, message: /unknown state version 0/ },
  ];
  for (const { version, message } of cases) {
    await send(page, { type: 'hebbian:set_state', state: { ...base, version, seed: 7 }, id: `v${version}` });
    const refused = await reply(page, 'hebbian:error', `v${version}`);
    assert.match(refused.message, message, `version ${version}`);
    assert.equal(await lab.evaluate(() => location.hash), hash, `version ${version}: the URL is unchanged`);
    assert.deepEqual(await getState(page, `after v${version}`), base, `version ${version}: the state is unchanged`);
  }
  // The lab's own link still opens (a version written into the URL made it fail before).
  const own = await context.newPage();
  const ownErrors = watchConsole(own);
  await own.goto(`${server.url}/?lab=hebb2d&backend=cpu${hash}`);
  await settled(own.mainFrame());
  assert.deepEqual(await labMessages(own.mainFrame()), []);
  assert.deepEqual(ownErrors, []);
  await own.close();
  assert.deepEqual(errors, []);
  await page.close();
});

test('oversized set_state and set_link are refused at once and the lab stays responsive', async () => {
  const { page, lab, errors } = await openHost();
  const base = await getState(page, 'base');
  const hash = await lab.evaluate(() => location.hash);
  // Each message is built in the host page (50 MB do not travel through the test driver) and timed there, from
  // posting until the refusal arrives; the lab runs on the host's thread (same origin).
  for (const id of ['long hidden', 'many hidden', 'long link']) {
    const ms = await page.evaluate(async ({ id, base }) => {
      const msg = {
        'long hidden': () => ({ type: 'hebbian:set_state', state: { ...base, hidden: ['x'.repeat(50_000_000)] }, id }),
        'many hidden': () => ({ type: 'hebbian:set_state', state: { ...base, hidden: new Array(1_000_000).fill('steps') }, id }),
        'long link': () => ({ type: 'hebbian:set_link', link: `#s=1.${'A'.repeat(20_000_000)}`, id }),
      }[id]();
      const t0 = performance.now();
      document.getElementById('lab').contentWindow.postMessage(msg, location.origin);
      await new Promise((resolve) => {
        const answered = () => window.received.some((m) => m.type === 'hebbian:error' && m.id === id);
        const wait = () => (answered() || performance.now() - t0 > 15_000 ? resolve() : setTimeout(wait, 5));
        wait();
      });
      return performance.now() - t0;
    }, { id, base });
    const refused = await reply(page, 'hebbian:error', id);
    assert.match(refused.message, /too large/, id);
    assert.match(refused.message, /256 KiB/, id);
    assert.ok(ms < 2000, `${id}: refused after ${Math.round(ms)} ms`);
    assert.equal(await lab.evaluate(() => location.hash), hash, `${id}: the URL is unchanged`);
  }
  assert.deepEqual(await getState(page, 'after'), base);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a burst of 2000 set_state messages: the lab answers at once and the last state wins', async () => {
  const { page, lab, errors } = await openHost();
  const base = await getState(page, 'base');
  const N = 2000;
  const ms = await page.evaluate(async ({ base, N }) => {
    const frame = document.getElementById('lab').contentWindow;
    const t0 = performance.now();
    for (let i = 0; i < N; i++) frame.postMessage({ type: 'hebbian:set_state', state: { ...base, seed: 1000 + i } }, location.origin);
    frame.postMessage({ type: 'hebbian:get_state', id: 'after burst' }, location.origin);
    await new Promise((resolve) => {
      const answered = () => window.received.some((m) => m.id === 'after burst');
      const wait = () => (answered() || performance.now() - t0 > 60_000 ? resolve() : setTimeout(wait, 5));
      wait();
    });
    return performance.now() - t0;
  }, { base, N });
  const { state } = await reply(page, 'hebbian:state', 'after burst');
  assert.equal(state.seed, 1000 + N - 1, 'the last state sent is the one shown');
  assert.ok(ms < 1000, `the lab answered ${Math.round(ms)} ms after the burst began`);
  await settled(lab);
  assert.equal(await lab.evaluate(() => window.playground.state.seed), 1000 + N - 1);
  assert.equal(await lab.inputValue('input[name="seed"]'), String(1000 + N - 1));
  assert.deepEqual(await errorsReceived(page), []);

  // A burst whose last state cannot run: that one is refused with its id, and the lab keeps its experiment.
  await page.evaluate(({ base, N }) => {
    const frame = document.getElementById('lab').contentWindow;
    for (let i = 0; i < N; i++) {
      const state = structuredClone(base);
      state.seed = i;
      if (i === N - 1) state.params.inputs[0].corr = 1.5;
      frame.postMessage({ type: 'hebbian:set_state', state, id: `burst ${i}` }, location.origin);
    }
  }, { base, N });
  const refused = await reply(page, 'hebbian:error', `burst ${N - 1}`);
  assert.match(refused.message, /inputs\/0\/corr: .*positive semidefinite/);
  assert.equal((await getState(page, 'after refused burst')).seed, 1000 + N - 1);
  assert.equal((await errorsReceived(page)).length, 1);
  assert.deepEqual(errors, []);
  await page.close();
});

test('message types named like Object.prototype members: the embed API ignores them, the worker calls them unknown', async () => {
  const { page, lab, errors } = await openHost();
  const base = await getState(page, 'base');
  const types = ['hasOwnProperty', 'valueOf', '__proto__', 'constructor', 'toString', 'isPrototypeOf'];
  for (const type of types) await send(page, { type, id: type, state: { ...base, seed: 5 } });
  // Messages are handled in order: once this answers, every message above has been handled.
  assert.deepEqual(await getState(page, 'barrier'), base);
  assert.deepEqual(await errorsReceived(page), []);
  assert.deepEqual(await labMessages(lab), []);

  // The engine worker's handler table, sent the same names by the page.
  await lab.evaluate((types) => {
    for (const type of types) window.playground.client.worker.postMessage({ type });
  }, types);
  await lab.waitForFunction((n) => document.querySelectorAll('#messages .message.error').length >= n, types.length, { timeout: REPLY })
    .catch(async () => assert.fail(JSON.stringify(await labMessages(lab))));
  assert.deepEqual(await labMessages(lab), types.map((type) => `unknown worker message ${JSON.stringify(type)}`));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a link with "__proto__" in its params is refused by the page, the embed API and the CLI alike', async () => {
  // JSON.parse keeps "__proto__" as an ordinary key; an object literal would make it the prototype.
  const text = JSON.stringify(cli(['state', 'hebb2d'])).replace('"params":{', '"params":{"__proto__":{"polluted":1},');
  assert.ok(Object.hasOwn(JSON.parse(text).params, '__proto__'));
  const link = `s=1.${deflateRawSync(Buffer.from(text)).toString('base64url')}`;
  const field = /__proto__: unknown field `__proto__`/;

  // The CLI: `link` and `run` refuse the state document, `run` the link too.
  const file = join(tmp, 'proto.json');
  await writeFile(file, text);
  for (const args of [['link', file], ['run', file, '--backend', 'cpu'], ['run', `#${link}`, '--backend', 'cpu']]) {
    const { status, stderr } = cliRefusal(args);
    assert.equal(status, 2, `${args.join(' ')}: ${stderr}`);
    assert.match(stderr, field, args.join(' '));
  }

  // The page opened on the link shows why and the defaults.
  const page = await context.newPage();
  const errors = watchConsole(page);
  await page.goto(`${server.url}/?lab=hebb2d&backend=cpu#${link}`);
  await settled(page.mainFrame());
  const shown = await labMessages(page.mainFrame());
  assert.equal(shown.length, 1, JSON.stringify(shown));
  assert.match(shown[0], field);
  assert.match(shown[0], /Showing the lab's defaults instead/);
  assert.equal(await page.evaluate(() => /** @type {any} */ ({}).polluted), undefined);
  assert.deepEqual(errors, []);
  await page.close();

  // The embed API: as a link, and as a state document holding "__proto__" as an own key.
  const host = await openHost();
  const base = await getState(host.page, 'base');
  await send(host.page, { type: 'hebbian:set_link', link: `https://example.org/?lab=hebb2d#${link}`, id: 'link' });
  assert.match((await reply(host.page, 'hebbian:error', 'link')).message, field);
  await host.page.evaluate((text) => {
    document.getElementById('lab').contentWindow.postMessage({ type: 'hebbian:set_state', state: JSON.parse(text), id: 'state' }, location.origin);
  }, text);
  assert.match((await reply(host.page, 'hebbian:error', 'state')).message, field);
  assert.deepEqual(await getState(host.page, 'after'), base);
  assert.deepEqual(host.errors, []);
  await host.page.close();
});
