// End-to-end tier: Playwright driving Debian's Chromium (Playwright cannot download its own browser here) with
// WebGPU on SwiftShader, against the production build served by `vite preview` on localhost (a secure context).
import { existsSync } from 'node:fs';
import { defineConfig } from '@playwright/test';

/** CHROMIUM_PATH, else the first Chromium/Chrome found in the usual places. */
function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];
  const found = candidates.find((p): p is string => Boolean(p) && existsSync(p!));
  if (!found) throw new Error('No Chromium found: set CHROMIUM_PATH, or run `bash scripts/setup-tests.sh` (installs Debian\'s chromium as root).');
  return found;
}

/**
 * WebGPU on headless Chromium without a GPU. `--enable-unsafe-webgpu` is the one that matters (without it the
 * adapter is null on Linux); `--enable-unsafe-swiftshader` lets Chromium use its SwiftShader Vulkan driver for
 * it. The rest pin the software path and stop background traffic that has nowhere to go offline.
 */
export const WEBGPU_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--use-angle=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--enable-features=Vulkan',
];
export const QUIET_ARGS = ['--headless=new', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

export const executablePath = chromiumPath();

const port = Number(process.env.E2E_PORT ?? 4317); // not Vite's default, so another dev server is never reused
export const baseURL = `http://localhost:${port}`;

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results/e2e', // traces of failures; the tier reports sit beside it in test-results/
  workers: 1, // SwiftShader on a 2-core machine: one browser at a time
  fullyParallel: false,
  forbidOnly: Boolean(process.env.CI),
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  use: {
    baseURL,
    headless: true,
    launchOptions: { executablePath, args: [...QUIET_ARGS, ...WEBGPU_ARGS] },
    trace: 'retain-on-failure',
  },
  webServer: {
    // The production build, as users get it. E2E_SKIP_BUILD=1 serves the last dist/ (test-all.sh builds once).
    command: `${process.env.E2E_SKIP_BUILD ? '' : 'node_modules/.bin/vite build --logLevel warn && '}node_modules/.bin/vite preview --port ${port} --strictPort`,
    url: baseURL,
    reuseExistingServer: false,
    timeout: 180_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
