import { launch, serve, watchConsole, countDrawnPixels } from '/work/main/tests/e2e/harness.mjs';
const server = await serve('/work/main/dist');
const ctx = await launch({ webgpu: true });
const page = await ctx.newPage();
await page.setViewportSize({ width: 1200, height: 1000 });
const errors = watchConsole(page);
await page.goto(`${server.url}/?lab=hebb2d`);
await page.waitForFunction(() => window.playground?.engine && window.playground.frame, null, { timeout: 60000 });
await page.getByRole('button', { name: 'Run', exact: true }).click();
await page.waitForFunction(() => window.playground.frame?.done, null, { timeout: 120000 });
await page.waitForFunction(() => document.getElementById('app').dataset.drawnStep === '2000');
const ids = ['inputs','activation','traj_1','traj_2','traj_3','norm','angle','growth'];
await page.evaluate(async (ids) => {
  const { renderPlot } = await import('./plots.js');
  for (const id of ids) {
    const plot = structuredClone(window.playground.plots.get(id).handle.plot);
    if (plot.kind === 'xy') { plot.heatmap = null; for (const s of plot.series) s.points = []; }
    if (plot.kind === 'bars') for (const s of plot.series) s.values = [];
    const div = document.createElement('div'); div.className = 'cell plot'; div.dataset.blankId = id;
    document.querySelector(`[data-plot-id="${id}"]`).after(div);
    renderPlot(div, plot);
  }
}, ids);
await page.waitForTimeout(500);
for (const id of ids) {
  console.log(id, await countDrawnPixels(page, `[data-plot-id="${id}"]`), await countDrawnPixels(page, `[data-blank-id="${id}"]`),
   await countDrawnPixels(page, `[data-plot-id="${id}"]`, {minChroma: 40}), await countDrawnPixels(page, `[data-blank-id="${id}"]`, {minChroma: 40}));
}
console.log(errors);
await page.screenshot({ path: '/tmp/explore/lab2.png', fullPage: true });
await ctx.close(); await server.close();
