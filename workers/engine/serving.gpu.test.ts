// Serving on the real engine (stories260K on Dawn): the scheduler's decisions run as batched GPU passes.
// Under a KV pool too small for the load, sequences are preempted and recomputed, and still every request
// completes with exactly the greedy tokens it produces alone — one pass at a time, and pipelined (each pass
// submitted before the previous one's tokens are read back, its decode tokens copied on the GPU).
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../gpu/testing/gpu.ts';
import { loadLlama2c } from '../loaders/load-weights.ts';
import { BlockManager } from '../kv/block-manager.ts';
import { createScheduler, type Request } from '../sched/scheduler.ts';
import { Rng } from '../sampling/rng.ts';
import { readBytes, STORIES260K } from '../testing/models.ts';
import { LlamaModel } from '../model/llama.ts';
import { BatchExecutor } from './batch-executor.ts';
import { serve } from './serving.ts';

const GREEDY = { temperature: 0, topK: 0, topP: 1 };
const BLOCK = 4;

describe('serving on the GPU', () => {
  const weights = loadLlama2c(readBytes(STORIES260K), 'stories260K.bin');
  const rng = new Rng(3);
  const requests: Request[] = Array.from({ length: 6 }, (_, id) => ({
    id,
    arrivalMs: 0,
    prompt: [1, ...Array.from({ length: 4 + ((id * 5) % 9) }, () => 3 + Math.floor(rng.next() * 500))],
    maxTokens: 10 + ((id * 7) % 13),
  }));

  async function run(policy: 'static' | 'continuous' | 'sla', nBlocks: number, reqs: Request[], pipelined = false, stopTokens: number[] = []) {
    const ctx = await testGpu();
    const model = await LlamaModel.create(ctx, weights, { maxSeqLen: 64, maxTokens: 128, kv: { mode: 'paged', blockSize: BLOCK, nBlocks, maxSeqs: 8 } });
    const exec = new BatchExecutor(model, new BlockManager({ nBlocks, blockSize: BLOCK, checked: true }));
    // Count the passes that took a decode token straight from the previous pass's argmax on the GPU.
    let carriedPasses = 0;
    const submit = exec.submitArgmax.bind(exec);
    exec.submitArgmax = (work) => {
      if (work.some((w) => w.carried !== undefined)) carriedPasses++;
      return submit(work);
    };
    const result = await serve(exec, createScheduler(policy, { maxBatchSize: 8, tokenBudget: 48 }), reqs, { sampling: GREEDY, seed: 0, pipelined, stopTokens });
    exec.blocks.check();
    const leftInUse = nBlocks - exec.blocks.numAllocatableBlocks; // every request finished: nothing may stay held
    model.dispose();
    return { ...result, carriedPasses, leftInUse };
  }

  it('a tiny KV pool forces preemptions, and every request still completes with the tokens it makes alone', async () => {
    const alone = new Map<number, number[]>();
    for (const r of requests) alone.set(r.id, (await run('continuous', 32, [r])).outputs.get(r.id)!);
    for (const pipelined of [false, true]) {
      for (const policy of ['continuous', 'sla', 'static'] as const) {
        // 14 blocks of 4 slots: far less than the 6 requests' ~150 tokens of context at once.
        const crowded = await run(policy, 14, requests, pipelined);
        const what = `${policy}${pipelined ? ', pipelined' : ''}`;
        if (policy !== 'static') expect(crowded.preemptions, what).toBeGreaterThan(0);
        expect(crowded.carriedPasses > 0, what).toBe(pipelined);
        expect(crowded.leftInUse, what).toBe(0);
        expect(crowded.timelines.length).toBe(requests.length);
        for (const r of requests) {
          expect(crowded.outputs.get(r.id), `${what}: request ${r.id}`).toEqual(alone.get(r.id));
          expect(crowded.outputs.get(r.id)!.length).toBe(r.maxTokens);
        }
      }
    }
  });

  it('pipelined: a request that samples a stop token ends there, though the next pass already carries it', async () => {
    const alone = new Map<number, number[]>();
    for (const r of requests) alone.set(r.id, (await run('continuous', 32, [r])).outputs.get(r.id)!);
    // A token some request makes mid-way: every request ends just before its first occurrence, if any.
    const stop = alone.get(2)![4]!;
    const cut = (out: number[]) => (out.includes(stop) ? out.slice(0, out.indexOf(stop)) : out);
    expect(requests.filter((r) => alone.get(r.id)!.includes(stop)).length).toBeGreaterThan(0);
    for (const nBlocks of [64, 14]) {
      const r = await run('continuous', nBlocks, requests, true, [stop]);
      expect(r.carriedPasses).toBeGreaterThan(0);
      expect(r.leftInUse).toBe(0);
      for (const q of requests) expect(r.outputs.get(q.id), `request ${q.id}, ${nBlocks} blocks`).toEqual(cut(alone.get(q.id)!));
    }
  });
});
