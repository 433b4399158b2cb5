// Test helpers: paths to the real pretrained test model in ../shared and to the bundled default models.
// Test-only; never shipped.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadHfModel } from '../loaders/load-weights.ts';
import type { ModelWeights } from '../model/config.ts';

/** ../shared/models beside the checkout (CI clones the repo with shared/ beside it). */
export const SHARED_MODELS = path.resolve(process.cwd(), '..', 'shared', 'models');
export const STORIES260K = path.join(SHARED_MODELS, 'stories260K', 'stories260K.bin');
export const TOK512 = path.join(SHARED_MODELS, 'stories260K', 'tok512.bin');
export const BUNDLED_MODELS = path.resolve(process.cwd(), 'public', 'models');

export function readBytes(file: string): Uint8Array {
  const b = readFileSync(file);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** stories260K and its tokenizer as an EngineApi 'files' source (the bytes a file picker would hand over). */
export function storiesSource(): { kind: 'files'; files: { name: string; data: ArrayBuffer }[] } {
  return {
    kind: 'files',
    files: [
      { name: 'stories260K.bin', data: readBytes(STORIES260K).slice().buffer },
      { name: 'tok512.bin', data: readBytes(TOK512).slice().buffer },
    ],
  };
}

/** A bundled model's validated weights (public/models/<id>), read from disk. */
export function bundledWeights(id: string): ModelWeights {
  const dir = path.join(BUNDLED_MODELS, id);
  return loadHfModel(new Map(readdirSync(dir).map((n) => [n, readBytes(path.join(dir, n))])));
}
