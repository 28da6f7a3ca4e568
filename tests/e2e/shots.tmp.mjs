// One-off: screenshots of every lab at 1440x900 and 390x844 after a run (not part of the suite).
import { serve, launch, DIST } from './harness.mjs';
const site = await serve(DIST);
const ctx = await launch({ webgpu: false });
for (const lab of ['hebb2d', 'datasets', 'hopfield', 'ising']) {
  for (const [w, h] of [[1440, 900], [390, 844]]) {
    const page = await ctx.newPage();
    await page.setViewportSize({ width: w, height: h });
    await page.goto(`${site.url}/?lab=${lab}&backend=cpu`);
    await page.waitForTimeout(1500);
    const run = page.locator('button', { hasText: /^Run/ }).first();
    if (await run.count()) { await run.click().catch(() => {}); }
    await page.waitForTimeout(lab === 'hopfield' ? 12000 : 6000);
    await page.screenshot({ path: `/tmp/shots/${lab}-${w}.png`, fullPage: true });
    await page.close();
  }
}
await ctx.close(); await site.close();
