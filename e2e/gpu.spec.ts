// The GPU page in a real browser: the capability report names an adapter, and the GEMV check computed in the
// engine's Worker on WebGPU matches the CPU reference.
import { expect, test } from '@playwright/test';

test('shows the adapter and key limits from WebGPU', async ({ page }) => {
  await page.goto('/#/gpu');
  const vendor = page.getByTestId('adapter-vendor');
  await expect(vendor).not.toHaveText(/^$|not reported/);
  // Limits come from a real GPUDevice: WebGPU guarantees at least 128 MiB of storage binding.
  const binding = Number(await page.getByTestId('limit-maxStorageBufferBindingSize').getAttribute('data-value'));
  expect(binding).toBeGreaterThanOrEqual(128 * 1024 * 1024);
  await expect(page.getByTestId('feature-shader-f16')).toBeVisible();
  await expect(page.getByTestId('webgpu-missing')).toHaveCount(0);
});

test('runs the GEMV check in the engine Worker, from the keyboard, and it passes', async ({ page }) => {
  await page.goto('/#/gpu');
  const run = page.getByRole('button', { name: 'Run GEMV check' });
  await run.focus();
  await expect(run).toBeFocused();
  await page.keyboard.press('Enter');

  await expect(page.getByTestId('gemv-status')).toHaveText('PASS', { timeout: 60_000 });
  const maxError = Number(await page.getByTestId('gemv-max-error').getAttribute('data-value'));
  expect(Number.isFinite(maxError)).toBe(true);
  expect(maxError).toBeLessThanOrEqual(1e-4);
  // The work happened in the engine's Worker, not on the page.
  expect(page.workers().some((w) => w.url().includes('engine.worker'))).toBe(true);
  // And on WebGPU: the same Worker context answers with an adapter of its own.
  const worker = page.workers().find((w) => w.url().includes('engine.worker'))!;
  const adapterInWorker = await worker.evaluate(async () => (await navigator.gpu?.requestAdapter()) != null);
  expect(adapterInWorker).toBe(true);
});
