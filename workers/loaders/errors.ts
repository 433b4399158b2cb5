// The typed error every model-file loader throws: a specific code, the file, and the field at fault.
// Also the up-front check for files that are not weights at all (an HTML page, a Git LFS pointer).
// Imports nothing.

/**
 * What went wrong, as specifically as the loaders can say it.
 * safetensors: truncated (file ends before 8 bytes or before the last tensor), header-length-past-end,
 *   header-too-large (> HEADER_CAP), header-not-utf8, header-not-json (or not an object), bad-metadata,
 *   bad-tensor-entry (missing/extra fields, wrong types), unknown-dtype, shape-size-overflow (bytes of
 *   dtype × shape past 2^53), size-mismatch (data_offsets span ≠ dtype × shape), offsets-overlap,
 *   offsets-gap (bytes before or between tensors that belong to none), offsets-not-covering (bytes after
 *   the last tensor).
 * any file: html-not-weights, git-lfs-pointer, not-json (config or index: bad UTF-8 or JSON), missing-file.
 * model: missing-tensor, unexpected-tensor, duplicate-tensor, shape-mismatch (tensor vs config).
 * config.json: config-invalid (a field missing, of the wrong type, out of range, or inconsistent),
 *   config-unsupported (valid for Hugging Face but not for this engine: rope_scaling, another activation).
 * llama2.c: llama2c-bad-header, llama2c-size-mismatch (file length vs what the header implies).
 * sharded: shard-index-invalid, bad-shard-name, missing-shard.
 */
export type LoadErrorCode =
  | 'truncated'
  | 'header-length-past-end'
  | 'header-too-large'
  | 'header-not-utf8'
  | 'header-not-json'
  | 'bad-metadata'
  | 'bad-tensor-entry'
  | 'unknown-dtype'
  | 'shape-size-overflow'
  | 'size-mismatch'
  | 'offsets-overlap'
  | 'offsets-gap'
  | 'offsets-not-covering'
  | 'html-not-weights'
  | 'git-lfs-pointer'
  | 'not-json'
  | 'missing-file'
  | 'missing-tensor'
  | 'unexpected-tensor'
  | 'duplicate-tensor'
  | 'shape-mismatch'
  | 'config-invalid'
  | 'config-unsupported'
  | 'llama2c-bad-header'
  | 'llama2c-size-mismatch'
  | 'shard-index-invalid'
  | 'bad-shard-name'
  | 'missing-shard';

export class LoadError extends Error {
  override readonly name = 'LoadError';
  readonly code: LoadErrorCode;
  /** The file at fault, as the caller named it ("model.safetensors", "stories260K.bin"). */
  readonly file: string;
  /** The field or tensor at fault, when there is one ("num_attention_heads", "layers.3.wq"). */
  readonly field: string | undefined;

  constructor(code: LoadErrorCode, file: string, message: string, field?: string) {
    super(`${file}${field === undefined ? '' : ` [${field}]`}: ${message} (${code})`);
    this.code = code;
    this.file = file;
    this.field = field;
  }
}

/** "[3, 4]" — shapes in messages. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Quotes an untrusted string for a message, cut to a readable length. */
export function quote(s: string | undefined, max = 80): string {
  const str = String(s);
  const cut = str.length > max ? `${str.slice(0, max)}…` : str;
  return JSON.stringify(cut);
}

const LFS_POINTER = 'version https://git-lfs.github.com/spec/v1';

/**
 * Rejects the two files most often served in place of weights: an HTML page (a login wall, a 404, a
 * "blob" page URL instead of a "resolve" URL) and a Git LFS pointer (a repo cloned without LFS).
 * Reads only the first few hundred bytes.
 */
export function rejectMisservedFile(bytes: Uint8Array, file: string): void {
  const head = bytes.subarray(0, 256);
  let start = 0;
  // Skip an optional UTF-8 byte-order mark and ASCII whitespace, as browsers do before "<!doctype".
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) start = 3;
  while (start < head.length && (head[start] === 0x20 || (head[start]! >= 0x09 && head[start]! <= 0x0d))) start++;
  let text = '';
  for (let i = start; i < Math.min(head.length, start + LFS_POINTER.length); i++) text += String.fromCharCode(head[i]!);
  const lower = text.toLowerCase();
  if (lower.startsWith('<!doctype') || lower.startsWith('<html') || lower.startsWith('<head') || lower.startsWith('<body')) {
    throw new LoadError(
      'html-not-weights',
      file,
      'this is an HTML page, not a model file (a Hugging Face "blob" URL instead of "resolve", or an error page)',
    );
  }
  if (text === LFS_POINTER) {
    throw new LoadError(
      'git-lfs-pointer',
      file,
      'this is a Git LFS pointer, not the file itself (clone with git-lfs installed, or download via "resolve" URLs)',
    );
  }
}
