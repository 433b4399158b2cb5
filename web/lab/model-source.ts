// Turning what the user typed or dropped into a ModelSource: an http(s) URL, or a Hugging Face repo id
// ("owner/name" or "owner/name@revision"), or picked/dropped File objects. Formats are the
// engine's business; this only rejects what can never be a source. Imports only types.

import type { ModelSource } from '../../workers/api.ts';

export class SourceInputError extends Error {
  override readonly name = 'SourceInputError';
  constructor(
    readonly code: 'empty' | 'bad-url' | 'not-https' | 'bad-repo-id' | 'no-files',
    message: string,
  ) {
    super(message);
  }
}

// Hugging Face's repo id rule: letters, digits, '-', '_', '.'; no leading '.', no '..' (checked below).
const REPO_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
const REVISION = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/;
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Parses the URL-or-repo-id text field. */
export function parseSourceText(text: string): ModelSource {
  const s = text.trim();
  if (!s) throw new SourceInputError('empty', 'Enter a URL or a Hugging Face repo id such as owner/name.');
  if (/^[a-z][a-z0-9+.-]*:/i.test(s)) {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw new SourceInputError('bad-url', `“${s}” is not a valid URL.`);
    }
    // Plain http only for this machine (a dev server); anything else must be https.
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOCAL_HOSTS.has(url.hostname))) {
      throw new SourceInputError('not-https', `Only https URLs can be loaded (got ${url.protocol}//…).`);
    }
    return { kind: 'url', url: url.href };
  }
  const [repo = '', revision, ...rest] = s.split('@');
  const parts = repo.split('/');
  const ok = rest.length === 0 && parts.length === 2 && parts.every((p) => REPO_PART.test(p) && !p.includes('..'));
  if (!ok || (revision !== undefined && (!REVISION.test(revision) || revision.includes('..')))) {
    throw new SourceInputError('bad-repo-id', `“${s}” is neither an https URL nor a Hugging Face repo id (owner/name or owner/name@revision).`);
  }
  return revision === undefined ? { kind: 'hf', repo } : { kind: 'hf', repo, revision };
}

/**
 * Picked or dropped files as a source. The File objects themselves go to the Worker (structured clone
 * shares the bytes, nothing is copied or read here); the Worker reads and parses them.
 */
export function filesSource(files: readonly File[]): ModelSource {
  if (files.length === 0) throw new SourceInputError('no-files', 'Choose the model files: config.json + model.safetensors + tokenizer.json, or a llama2.c .bin and its tokenizer .bin.');
  return { kind: 'files', files: files.map((f) => ({ name: f.name, data: f })) };
}

/** "3.1 / 13.6 MB": decimal megabytes, as browsers' download bars show them. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** The byte part of a progress bar: "3.1 MB / 13.6 MB", or just the loaded bytes without a total. */
export function formatProgress(loaded: number, total: number | null): string {
  return total === null ? formatBytes(loaded) : `${formatBytes(loaded)} / ${formatBytes(total)}`;
}
