// Turns the CLI's --model/--tokenizer into a ModelSource: a local folder or .bin file (read here, in Node),
// an http(s) URL, or a Hugging Face repo id. With no --model, the bundled default target.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelSource } from '../workers/api.ts';
import { UsageError } from './args.ts';

export const DEFAULT_MODEL_ID = 'decode-lab-target';

/** The repository root: the nearest folder above this module that has package.json. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the decode-lab folder (no package.json above the CLI)');
    dir = up;
  }
  return dir;
}

export function bundledModelDir(id: string): string {
  return path.join(repoRoot(), 'public', 'models', id);
}

const MODEL_FILE = /\.(json|safetensors|bin)$/;

function readFolder(dir: string): ModelSource {
  const files = readdirSync(dir)
    .filter((name) => MODEL_FILE.test(name) && statSync(path.join(dir, name)).isFile())
    .map((name) => ({ name, data: toArrayBuffer(readFileSync(path.join(dir, name))) }));
  if (files.length === 0) throw new UsageError(`${dir}: no model files (.json, .safetensors, .bin) in this folder`);
  return { kind: 'files', files, name: path.basename(path.resolve(dir)) };
}

function toArrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

export function resolveModelSource(model: string | undefined, tokenizer: string | undefined): ModelSource {
  if (model === undefined) return readFolder(bundledModelDir(DEFAULT_MODEL_ID));
  if (/^https?:\/\//.test(model)) return { kind: 'url', url: model };
  if (existsSync(model)) {
    if (statSync(model).isDirectory()) return readFolder(model);
    const tokPath = tokenizer ?? path.join(path.dirname(model), 'tokenizer.bin');
    if (!existsSync(tokPath)) throw new UsageError(`${model}: a llama2.c checkpoint needs its tokenizer: pass --tokenizer <tokenizer.bin>`);
    return {
      kind: 'files',
      name: path.basename(model).replace(/\.bin$/, ''),
      files: [
        // The loader tells the two .bin files apart by name: the tokenizer's has "tok" in it.
        { name: /tok/i.test(path.basename(model)) ? 'model.bin' : path.basename(model), data: toArrayBuffer(readFileSync(model)) },
        { name: 'tokenizer.bin', data: toArrayBuffer(readFileSync(tokPath)) },
      ],
    };
  }
  if (/^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/.test(model)) return { kind: 'hf', repo: model };
  throw new UsageError(`--model "${model}" is not a folder, a file, an http(s) URL or a Hugging Face repo id`);
}
