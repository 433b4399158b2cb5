// The Lab's sampling controls as one declarative table: label, bounds, step and default of every numeric
// GenerateParams field. The controls and clampParams() share these bounds. Pure data; imports only types.

import type { GenerateParams } from '../../workers/api.ts';

export type NumericParam = Exclude<keyof GenerateParams, 'kvCache'>;

export interface ParamSpec {
  key: NumericParam;
  label: string;
  min: number;
  max: number;
  step: number;
  help: string;
}

export const PARAM_SPECS: readonly ParamSpec[] = [
  { key: 'temperature', label: 'Temperature', min: 0, max: 2, step: 0.05, help: '0 picks the most likely token every time (greedy)' },
  { key: 'topK', label: 'Top-k', min: 0, max: 1000, step: 1, help: 'keep only the k most likely tokens; 0 = off' },
  { key: 'topP', label: 'Top-p', min: 0.01, max: 1, step: 0.01, help: 'keep the smallest set of tokens whose probability reaches p; 1 = off' },
  { key: 'seed', label: 'Seed', min: 0, max: 2 ** 32 - 1, step: 1, help: 'the same seed and settings give the same text' },
  { key: 'steps', label: 'Steps', min: 1, max: 4096, step: 1, help: 'positions to run, prompt and BOS included (as llama2.c); capped by the context' },
];

export const DEFAULT_PARAMS: Readonly<GenerateParams> = {
  temperature: 0.8,
  topK: 40,
  topP: 0.9,
  seed: 42,
  steps: 256,
  kvCache: true,
};

/** Brings every field into its bounds (integers where the step is 1); a non-number becomes the default. */
export function clampParams(p: GenerateParams): GenerateParams {
  const out: GenerateParams = { ...p };
  for (const spec of PARAM_SPECS) {
    let v = p[spec.key];
    if (typeof v !== 'number' || !Number.isFinite(v)) v = DEFAULT_PARAMS[spec.key];
    if (spec.step === 1) v = Math.round(v);
    out[spec.key] = Math.min(spec.max, Math.max(spec.min, v));
  }
  out.kvCache = p.kvCache !== false;
  return out;
}
