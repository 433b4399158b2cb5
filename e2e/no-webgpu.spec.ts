// The panel for browsers that cannot run WebGPU: each case named, with what the user can do. Each test also
// shows the browser's real WebGPU state, so a pass cannot come from a broken browser by accident.
import { expect, test, type Page } from '@playwright/test';

/** Before any page script runs: keep the real navigator.gpu aside, then hide it (and optionally the secure context). */
async function hideWebGpu(page: Page, insecure: boolean): Promise<void> {
  await page.addInitScript((insecure: boolean) => {
    (window as unknown as { __realGpu: unknown }).__realGpu = navigator.gpu;
    delete (Navigator.prototype as { gpu?: unknown }).gpu;
    if (insecure) Object.defineProperty(window, 'isSecureContext', { value: false });
  }, insecure);
}

/** The real WebGPU that the init script hid still gives an adapter: the panel is about the case, not the browser. */
async function realAdapterExists(page: Page): Promise<boolean> {
  return page.evaluate(async () => {
    const gpu = (window as unknown as { __realGpu?: GPU }).__realGpu;
    return (await gpu?.requestAdapter()) != null;
  });
}

test('no navigator.gpu: says so and names browsers that have WebGPU', async ({ page }) => {
  await hideWebGpu(page, false);
  await page.goto('/#/gpu');
  const panel = page.getByTestId('webgpu-missing');
  await expect(panel).toHaveAttribute('data-code', 'no-webgpu');
  await expect(panel).toContainText('navigator.gpu is missing');
  await expect(panel).toContainText('Chrome or Edge');
  expect(page.workers()).toHaveLength(0); // no Worker is started for a browser that cannot run the engine
  expect(await realAdapterExists(page)).toBe(true);
});

test('insecure context: says to use https or localhost, even though WebGPU is also hidden', async ({ page }) => {
  await hideWebGpu(page, true);
  await page.goto('/#/lab');
  const panel = page.getByTestId('webgpu-missing');
  await expect(panel).toHaveAttribute('data-code', 'insecure-context');
  await expect(panel).toContainText('localhost');
  expect(await realAdapterExists(page)).toBe(true);
});
