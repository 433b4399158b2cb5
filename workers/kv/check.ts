// The block manager's invariant checker, over its plain state: reference counts equal block-table
// references, the pool is partitioned into free / cached / used, every slot holds one (position, token),
// and prefix keys point to full blocks whose tokens hash to them. Imports nothing but the error and hash.

import { KvError } from './errors.ts';
import { prefixKey, ROOT_PREFIX_KEY } from './prefix-hash.ts';

/** The id of a token whose slot is placed but whose value is not known yet (BlockManager.appendPending). */
export const PENDING_TOKEN = -1;

/** One physical block. `tokens` are the ids whose KV its slots hold, slot 0 first (length = filled). */
export interface BlockState {
  ref: number; // references from block tables
  tokens: number[];
  key: number; // prefix key (full blocks only)
  parentKey: number; // the previous block's key, ROOT_PREFIX_KEY for block 0 of a sequence
  serial: number; // identity of the exact prefix ending here (full blocks), -1 when not full
  parentSerial: number; // the previous block's serial, 0 for block 0
}

export interface SeqState {
  tokens: number[]; // the whole token history (prompt + appended)
  table: number[]; // logical block i → physical block
}

export interface ManagerState {
  blockSize: number;
  blocks: readonly BlockState[];
  seqs: ReadonlyMap<number, SeqState>;
  freeList: readonly number[];
  lru: ReadonlyMap<number, true>;
  byKey: ReadonlyMap<number, number>;
}

function fail(message: string): never {
  throw new KvError('invariant', message);
}

export function checkInvariants(st: ManagerState): void {
  const bs = st.blockSize;
  const nBlocks = st.blocks.length;
  // 1. Reference counts equal block-table references; each block sits at one logical index everywhere.
  const refs = new Array<number>(nBlocks).fill(0);
  const logicalIndex = new Map<number, { seq: number; index: number }>();
  for (const [seq, s] of st.seqs) {
    const want = Math.ceil(s.tokens.length / bs);
    if (s.table.length !== want) {
      fail(`seq ${seq}: ${s.tokens.length} tokens need ${want} blocks but its table has ${s.table.length}`);
    }
    // A pending token (its id not read back yet: PENDING_TOKEN) is only ever the sequence's last.
    const pendingAt = s.tokens.indexOf(PENDING_TOKEN);
    if (pendingAt >= 0 && pendingAt !== s.tokens.length - 1) fail(`seq ${seq}: pending token at position ${pendingAt}, not the last`);
    s.table.forEach((b, i) => {
      if (!Number.isInteger(b) || b < 0 || b >= nBlocks) fail(`seq ${seq}: table[${i}] = ${b} is outside the pool`);
      refs[b]!++;
      const seen = logicalIndex.get(b);
      if (seen === undefined) logicalIndex.set(b, { seq, index: i });
      else if (seen.index !== i) {
        fail(`block ${b} is logical block ${seen.index} of seq ${seen.seq} but logical block ${i} of seq ${seq}`);
      }
      // 2. Slots written once: the block's slots hold exactly this sequence's tokens at these positions,
      // so a shared slot maps to one (position, token) for every holder.
      const block = st.blocks[b]!;
      const want = s.tokens.slice(i * bs, (i + 1) * bs);
      if (block.tokens.length !== want.length || block.tokens.some((t, o) => t !== want[o])) {
        fail(
          `seq ${seq}: block ${b} (logical ${i}) holds [${block.tokens.join(',')}] but the sequence has ` +
            `[${want.join(',')}] at positions ${i * bs}..${i * bs + want.length - 1}`,
        );
      }
      const parentSerial = i === 0 ? 0 : st.blocks[s.table[i - 1]!]!.serial;
      if (block.tokens.length === bs && block.serial !== -1 && block.parentSerial !== parentSerial) {
        fail(`seq ${seq}: full block ${b} claims prefix ${block.parentSerial} but follows prefix ${parentSerial}`);
      }
    });
  }
  st.blocks.forEach((block, b) => {
    if (block.ref !== refs[b]) fail(`block ${b}: ref count ${block.ref} but ${refs[b]} block-table references`);
    if (block.tokens.length > bs) fail(`block ${b}: ${block.tokens.length} tokens in ${bs} slots`);
    if (block.tokens.length < bs && block.serial !== -1) fail(`block ${b}: not full but has prefix serial ${block.serial}`);
    const pending = block.tokens.includes(PENDING_TOKEN);
    if (pending && block.serial !== -1) fail(`block ${b}: holds a pending token but has prefix serial ${block.serial}`);
    if (block.tokens.length === bs && !pending && block.serial < 1) fail(`block ${b}: full but has no prefix serial`);
  });
  // 3. The pool is partitioned: free list, cached (ref 0, keyed) and used (ref > 0), nothing twice.
  const where = new Array<string>(nBlocks).fill('');
  for (const b of st.freeList) {
    if (where[b] === undefined) fail(`free list holds ${b}, outside the pool`);
    if (where[b] !== '') fail(`block ${b} is on the free list twice`);
    where[b] = 'free';
    const block = st.blocks[b]!;
    if (block.ref !== 0) fail(`block ${b} is free but referenced ${block.ref} times`);
    if (block.tokens.length !== 0) fail(`block ${b} is free but holds ${block.tokens.length} tokens`);
  }
  for (const b of st.lru.keys()) {
    if (where[b] === undefined) fail(`cache holds ${b}, outside the pool`);
    if (where[b] !== '') fail(`block ${b} is both ${where[b]} and cached`);
    where[b] = 'cached';
    const block = st.blocks[b]!;
    if (block.ref !== 0) fail(`block ${b} is cached (evictable) but referenced ${block.ref} times`);
    if (st.byKey.get(block.key) !== b) fail(`block ${b} is cached but its key does not lead to it`);
  }
  let used = 0;
  st.blocks.forEach((block, b) => {
    if (block.ref > 0) used++;
    else if (where[b] === '') fail(`block ${b} has ref 0 but is neither free nor cached (leaked)`);
  });
  if (st.freeList.length + st.lru.size + used !== nBlocks) {
    fail(`free ${st.freeList.length} + cached ${st.lru.size} + used ${used} != pool ${nBlocks}`);
  }
  // 4. Prefix keys lead to full blocks whose parent key and tokens hash to that key.
  for (const [key, b] of st.byKey) {
    const block = st.blocks[b];
    if (block === undefined) fail(`key ${key} leads to block ${b}, outside the pool`);
    if (block.tokens.length !== bs) fail(`key ${key} leads to block ${b}, which is not full`);
    if (block.key !== key) fail(`key ${key} leads to block ${b}, whose key is ${block.key}`);
    if (prefixKey(block.parentKey, block.tokens) !== key) fail(`block ${b}: tokens do not hash to key ${key}`);
    if (block.parentSerial === 0 && block.parentKey !== ROOT_PREFIX_KEY) fail(`block ${b}: root block with a parent key`);
  }
}
