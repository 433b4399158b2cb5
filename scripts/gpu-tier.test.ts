// The GPU tier never skips: with the Vulkan driver pointed at a file that does not exist, running it fails,
// and says why. Runs one small GPU test file in a child Vitest process with that environment.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';

it('fails with a clear message when VK_ICD_FILENAMES points at a missing file', () => {
  const vitest = path.resolve('node_modules', 'vitest', 'vitest.mjs');
  const res = spawnSync(process.execPath, [vitest, 'run', '--project', 'gpu', 'gpu/kernels/add'], {
    encoding: 'utf8',
    env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent/vk_icd.json', VK_DRIVER_FILES: '' },
    timeout: 120_000,
  });
  const output = res.stdout + res.stderr;
  expect(res.status, output.slice(-2000)).not.toBe(0);
  expect(output).toMatch(/GPU tier: no WebGPU adapter/);
  expect(output).toMatch(/\/nonexistent\/vk_icd\.json.*does not exist/);
}, 150_000);
