import { serve, launch } from './harness.mjs';
const srv = await serve('/work/main/dist');
const ctx = await launch({ webgpu: process.argv[2] !== 'nogpu' });
const page = await ctx.newPage();
page.on('console', m => console.log('console:', m.type(), m.text().slice(0, 300)));
page.on('pageerror', e => console.log('pageerror:', e.message));
ctx.on('weberror', e => console.log('weberror', e.error().message));
await page.goto(`${srv.url}/?lab=hebb2d`);
await page.waitForSelector('.runbar button', { timeout: 30000 });
await page.waitForTimeout(3000);
console.log('frame0', await page.evaluate(() => window.playground?.frame?.step));
await page.getByRole('button', { name: 'Run', exact: true }).click();
for (let i = 0; i < 8; i++) { await page.waitForTimeout(2000); console.log(await page.evaluate(() => [window.playground?.frame?.step, window.playground.running, document.querySelector('#messages').textContent])); }
await ctx.close(); await srv.close();
