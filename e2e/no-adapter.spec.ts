// A real browser without WebGPU's unsafe flag: on headless Linux navigator.gpu exists but has no adapter, so
// the engine's Worker reports `no-adapter` and the page says what the user can turn on.
import { expect, test } from '@playwright/test';
import { executablePath, QUIET_ARGS } from '../playwright.config.ts';

test.use({ launchOptions: { executablePath, args: QUIET_ARGS } }); // no --enable-unsafe-webgpu

test('the engine Worker reports no adapter, and the panel says what to turn on', async ({ page }) => {
  await page.goto('/#/gpu');
  const panel = page.getByTestId('webgpu-missing');
  await expect(panel).toHaveAttribute('data-code', 'no-adapter');
  await expect(panel).toContainText('hardware acceleration');
  // This browser's real state: navigator.gpu exists, and requestAdapter() really answers null.
  const state = await page.evaluate(async () => ({ hasGpu: 'gpu' in navigator, adapter: (await navigator.gpu.requestAdapter()) != null }));
  expect(state).toEqual({ hasGpu: true, adapter: false });
  expect(page.workers().some((w) => w.url().includes('engine.worker'))).toBe(true); // the Worker made the call
});
