// LoadError formatting and the up-front HTML / Git LFS sniffing.
import { describe, expect, it } from 'vitest';
import { LoadError, rejectMisservedFile } from './errors.ts';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

function codeOf(b: Uint8Array): string | undefined {
  try {
    rejectMisservedFile(b, 'f');
  } catch (e) {
    return (e as LoadError).code;
  }
  return undefined;
}

describe('LoadError', () => {
  it('is an Error whose message names the file, the field and the code', () => {
    const e = new LoadError('shape-mismatch', 'model.safetensors', 'shape [2] but config.json implies [3]', 'model.norm.weight');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('LoadError');
    expect(e.message).toBe('model.safetensors [model.norm.weight]: shape [2] but config.json implies [3] (shape-mismatch)');
    expect(new LoadError('truncated', 'a.bin', 'short').field).toBeUndefined();
  });
});

describe('rejectMisservedFile', () => {
  it('recognises HTML pages and Git LFS pointers, whatever the case and leading whitespace', () => {
    for (const s of ['<!DOCTYPE html><html>', '<!doctype html>', '\n\t <html lang="en">', '\ufeff<HTML>', '<head><title>x', '<body>404']) expect(codeOf(bytes(s)), s).toBe('html-not-weights');
    expect(codeOf(bytes('version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 12\n'))).toBe('git-lfs-pointer');
  });

  it('lets real weights and JSON through, however they begin', () => {
    const st = new Uint8Array(16);
    st[0] = 0x3c; // a header length whose low byte is "<"
    for (const b of [st, bytes('{"hidden_size": 8}'), bytes('<not html'), bytes('version 2'), new Uint8Array(0)]) expect(codeOf(b)).toBeUndefined();
  });
});
