// The prefix-cache key of a full KV block: FNV-1a (32-bit) over its parent block's key and its token ids.
// A hash only narrows the search; the block manager verifies the parent and the tokens on every hit.
// Imports nothing.

/** The key of the (empty) prefix before block 0: FNV-1a's offset basis. */
export const ROOT_PREFIX_KEY = 0x811c9dc5;

const FNV_PRIME = 0x01000193;

/** FNV-1a over the 4 little-endian bytes of `parentKey` and then of each token id. */
export function prefixKey(parentKey: number, tokens: readonly number[]): number {
  let h = ROOT_PREFIX_KEY;
  const mix = (word: number): void => {
    for (let byte = 0; byte < 4; byte++) {
      h ^= (word >>> (8 * byte)) & 0xff;
      h = Math.imul(h, FNV_PRIME) >>> 0;
    }
  };
  mix(parentKey);
  for (const t of tokens) mix(t);
  return h;
}
