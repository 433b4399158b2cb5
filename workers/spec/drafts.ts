// The draft models speculative decoding can use, built from weights on the CPU: a separate small model with
// the same tokenizer (loaded as is), the target's first k layers followed by its final norm and head (early
// exit), or the whole target with int8 per-group matmul weights (LlamaModel's quantize: 'int8').

import type { ModelWeights } from '../model/config.ts';

export type DraftKind = { kind: 'model' } | { kind: 'early-exit'; layers: number } | { kind: 'int8' };

/** Parses the CLI's --draft value: default | early-exit:K | int8. */
export function parseDraft(text: string): DraftKind {
  if (text === 'default' || text === 'model') return { kind: 'model' };
  if (text === 'int8') return { kind: 'int8' };
  const m = /^early-exit:(\d+)$/.exec(text);
  if (m) return { kind: 'early-exit', layers: Number(m[1]) };
  throw new Error(`--draft must be default, early-exit:K or int8, got "${text}"`);
}

export function draftLabel(d: DraftKind): string {
  return d.kind === 'model' ? 'default' : d.kind === 'int8' ? 'int8' : `early-exit:${d.layers}`;
}

/** The target's first `layers` layers with its own embeddings, final norm and head (the tensors are shared). */
export function earlyExitWeights(target: ModelWeights, layers: number): ModelWeights {
  const n = target.config.nLayers;
  if (!(Number.isInteger(layers) && layers >= 1 && layers < n)) throw new Error(`early exit: K must be an integer in 1..${n - 1} (the target has ${n} layers), got ${layers}`);
  const tensors = new Map<string, Float32Array>();
  for (const [name, t] of target.tensors) {
    const m = /^layers\.(\d+)\./.exec(name);
    if (!m || Number(m[1]) < layers) tensors.set(name, t);
  }
  return { config: { ...target.config, nLayers: layers }, tensors };
}
