// Serving on the real engine (stories260K on Dawn): the scheduler's decisions run as batched GPU passes.
// Under a KV pool too small for the load, sequences are preempted and recomputed, and still every request
// completes with exactly the greedy tokens it produces alone.
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

  async function run(policy: 'static' | 'continuous' | 'sla', nBlocks: number, reqs: Request[]) {
    const ctx = await testGpu();
    const model = await LlamaModel.create(ctx, weights, { maxSeqLen: 64, maxTokens: 128, kv: { mode: 'paged', blockSize: BLOCK, nBlocks, maxSeqs: 8 } });
    const exec = new BatchExecutor(model, new BlockManager({ nBlocks, blockSize: BLOCK, checked: true }));
    const result = await serve(exec, createScheduler(policy, { maxBatchSize: 8, tokenBudget: 48 }), reqs, { sampling: GREEDY, seed: 0 });
    exec.blocks.check();
    model.dispose();
    return result;
  }

  it('a tiny KV pool forces preemptions, and every request still completes with the tokens it makes alone', async () => {
    const alone = new Map<number, number[]>();
    for (const r of requests) alone.set(r.id, (await run('continuous', 32, [r])).outputs.get(r.id)!);
    for (const policy of ['continuous', 'sla', 'static'] as const) {
      // 14 blocks of 4 slots: far less than the 6 requests' ~150 tokens of context at once.
      const crowded = await run(policy, 14, requests);
      if (policy !== 'static') expect(crowded.preemptions, policy).toBeGreaterThan(0);
      expect(crowded.timelines.length).toBe(requests.length);
      for (const r of requests) {
        expect(crowded.outputs.get(r.id), `${policy}: request ${r.id}`).toEqual(alone.get(r.id));
        expect(crowded.outputs.get(r.id)!.length).toBe(r.maxTokens);
      }
    }
  });
});
