// `decode-lab gpu-info`: acquires a device on Dawn through the same gpu/ code the browser uses and prints
// the adapter, features and limits.

import { acquireNodeGpu, releaseDawn } from '../gpu/node.ts';
import { parseFlags } from './args.ts';

export async function gpuInfo(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, { json: 'boolean' });
  const ctx = await acquireNodeGpu({ label: 'gpu-info' });
  const caps = ctx.capabilities;
  if (flags.json) {
    process.stdout.write(JSON.stringify(caps, null, 2) + '\n');
  } else {
    const a = caps.adapter;
    const lines = [
      'adapter',
      `  vendor        ${a.vendor || '-'}`,
      `  architecture  ${a.architecture || '-'}`,
      `  device        ${a.device || '-'}`,
      `  description   ${a.description || '-'}`,
      `  fallback      ${a.isFallbackAdapter ? 'yes (software)' : 'no'}`,
      'optional features',
      `  shader-f16      ${caps.shaderF16 ? 'yes' : 'no'}`,
      `  subgroups       ${caps.subgroups ? 'yes' : 'no'}`,
      `  timestamp-query ${caps.timestampQuery ? 'yes' : 'no'}`,
      `features (${caps.features.length})`,
      ...caps.features.map((f) => `  ${f}`),
      'limits',
      ...Object.entries(caps.limits)
        .sort(([x], [y]) => x.localeCompare(y))
        .map(([k, v]) => `  ${k.padEnd(44)} ${v}`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
  }
  ctx.dispose();
  releaseDawn();
  return 0;
}
