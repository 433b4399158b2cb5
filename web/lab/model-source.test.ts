import { describe, expect, it } from 'vitest';
import { filesSource, formatBytes, formatProgress, parseSourceText, SourceInputError } from './model-source.ts';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SourceInputError);
    return (err as SourceInputError).code;
  }
  return 'no error';
};

describe('parseSourceText', () => {
  it('reads https URLs and localhost http URLs as url sources', () => {
    expect(parseSourceText('  https://example.org/models/tiny/ ')).toEqual({ kind: 'url', url: 'https://example.org/models/tiny/' });
    expect(parseSourceText('http://localhost:5173/models/x.bin')).toEqual({ kind: 'url', url: 'http://localhost:5173/models/x.bin' });
  });

  it('reads owner/name, with an optional @revision, as a Hugging Face repo', () => {
    expect(parseSourceText('HuggingFaceTB/SmolLM2-135M')).toEqual({ kind: 'hf', repo: 'HuggingFaceTB/SmolLM2-135M' });
    expect(parseSourceText('a/b@main')).toEqual({ kind: 'hf', repo: 'a/b', revision: 'main' });
  });

  it('rejects what can never be a source, each with its own code', () => {
    expect(code(() => parseSourceText('   '))).toBe('empty');
    expect(code(() => parseSourceText('http://example.org/m.bin'))).toBe('not-https');
    expect(code(() => parseSourceText('ftp://example.org/m.bin'))).toBe('not-https');
    expect(code(() => parseSourceText('https://'))).toBe('bad-url');
    expect(code(() => parseSourceText('just-a-name'))).toBe('bad-repo-id');
    expect(code(() => parseSourceText('a/b/c'))).toBe('bad-repo-id');
    expect(code(() => parseSourceText('../etc'))).toBe('bad-repo-id');
    expect(code(() => parseSourceText('a/b@x@y'))).toBe('bad-repo-id');
    expect(code(() => parseSourceText('a/b@../x'))).toBe('bad-repo-id');
  });
});

describe('filesSource', () => {
  it('passes the File objects themselves (the Worker reads them), with their names', () => {
    const files = [new File([new Uint8Array([1, 2, 3])], 'm.bin'), new File(['x'], 'tok.bin')];
    const source = filesSource(files);
    expect(source).toEqual({ kind: 'files', files: [{ name: 'm.bin', data: files[0] }, { name: 'tok.bin', data: files[1] }] });
    expect(source.kind === 'files' && source.files[0]!.data).toBe(files[0]); // not a copy
  });

  it('refuses an empty selection', () => {
    expect(code(() => filesSource([]))).toBe('no-files');
  });
});

describe('formatBytes', () => {
  it('prints decimal units as download bars do', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(6227)).toBe('6.2 kB');
    expect(formatProgress(3_100_000, 13_600_000)).toBe('3.1 MB / 13.6 MB');
    expect(formatProgress(3_100_000, null)).toBe('3.1 MB');
    expect(formatBytes(2_500_000_000)).toBe('2.50 GB');
  });
});
