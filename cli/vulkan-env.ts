// Makes sure Dawn starts with a usable Vulkan driver: when the environment needs changing (SwiftShader on a
// machine with no GPU, chromium's Vulkan loader when the system has none), the CLI re-runs itself once with
// it, because the dynamic loader reads LD_LIBRARY_PATH only at process start. Node-only.

import { spawnSync } from 'node:child_process';
import { chooseVulkanEnv } from '../gpu/node.ts';

const MARK = 'DECODE_LAB_VULKAN_ENV';

/** Returns normally when the environment is ready; otherwise re-runs this process and exits with its code. */
export function ensureVulkanEnv(): void {
  if (process.env[MARK]) return;
  const choice = chooseVulkanEnv();
  if (!choice) return;
  if (choice.note) process.stderr.write(`decode-lab: ${choice.note}\n`);
  const res = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, ...choice.env, [MARK]: '1' },
  });
  process.exit(res.status ?? 1);
}
