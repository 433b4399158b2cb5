// The per-forward-pass uniform shared by every kernel that needs token positions (RoPE, KV append,
// attention). Written once per forward pass with queue.writeBuffer, so the prepared dispatches of the decode
// step never change between tokens. Must not import from workers/ or web/.

import { uniformStruct } from '../uniforms.ts';

export const StepParams = uniformStruct('StepParams', [
  ['nTokens', 'u32'], // T: tokens in this forward pass (prefill: prompt length; decode: 1)
  ['pos0', 'u32'], // absolute position of the pass's first token (= KV entries already cached)
] as const);

export type StepValues = { nTokens: number; pos0: number };
