// Paged KV through the whole engine: greedy tokens identical to the contiguous cache at several block sizes,
// on stories260K and on the bundled default models; prefix caching skips a repeated prompt's cached blocks;
// the block manager's invariants hold and its events reach the trace.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dawnGpu } from '../../gpu/node.ts';
import { Engine } from './engine.ts';
import type { GenerateParams, KvOptions, ModelSource } from '../api.ts';
import { BUNDLED_MODELS, readBytes, storiesSource } from '../testing/models.ts';
import type { TraceEvent } from './trace.ts';

const stories: ModelSource = storiesSource();
function bundled(id: string): ModelSource {
  const dir = path.join(BUNDLED_MODELS, id);
  return { kind: 'files', name: id, files: readdirSync(dir).filter((n) => /\.(json|safetensors)$/.test(n)).map((n) => ({ name: n, data: readBytes(path.join(dir, n)).slice().buffer })) };
}
const greedy = (steps: number): GenerateParams => ({ steps, temperature: 0, topK: 0, topP: 1, seed: 1, kvCache: true });

async function tokensWith(source: ModelSource, kv: KvOptions, prompts: string[], steps: number): Promise<number[][]> {
  const engine = new Engine({ gpu: dawnGpu });
  await engine.load(source, kv);
  const out: number[][] = [];
  for (const p of prompts) out.push((await engine.generate(p, greedy(steps))).tokenIds);
  engine.blocks?.check();
  await engine.dispose();
  return out;
}

describe('paged KV in the engine', () => {
  it('gives the contiguous cache’s greedy tokens on stories260K at block sizes 1, 7 and 16', async () => {
    const prompts = ['Once upon a time', 'Lily and Ben'];
    const contiguous = await tokensWith(stories, { mode: 'contiguous' }, prompts, 120);
    for (const blockSize of [1, 7, 16]) {
      // Checked mode: the block manager verifies every invariant after each change along the way.
      expect(await tokensWith(stories, { mode: 'paged', blockSize, checked: true }, prompts, 120), `block size ${blockSize}`).toEqual(contiguous);
    }
  });

  it.each(['decode-lab-target', 'decode-lab-draft'])('gives the contiguous cache’s greedy tokens on %s', async (id) => {
    const prompts = ['It is a truth universally acknowledged', 'ROMEO:'];
    const contiguous = await tokensWith(bundled(id), { mode: 'contiguous' }, prompts, 40);
    expect(await tokensWith(bundled(id), { mode: 'paged', blockSize: 16 }, prompts, 40)).toEqual(contiguous);
  });

  it('reuses a repeated prompt’s full blocks from the prefix cache, with the same tokens, and traces the pool', async () => {
    const engine = new Engine({ gpu: dawnGpu });
    await engine.load(stories, { mode: 'paged', blockSize: 4 });
    const events: TraceEvent[] = [];
    await engine.subscribe((batch) => events.push(...batch));
    const prompt = 'One day, a little boy named Tom went to the park with his mom';
    const first = await engine.generate(prompt, greedy(40));
    const firstPrefill = events.find((e) => e.kind === 'iteration.begin');
    events.length = 0;
    const second = await engine.generate(prompt, greedy(40));
    engine.bus.flush();
    const secondPrefill = events.find((e) => e.kind === 'iteration.begin');
    expect(second.tokenIds).toEqual(first.tokenIds);
    expect(firstPrefill).toMatchObject({ phase: 'prefill', pos0: 0 });
    // Every full 4-token block of the prompt but the one holding its last token comes from the cache.
    const cached = Math.floor((first.promptTokenCount - 1) / 4) * 4;
    expect(cached).toBeGreaterThan(0);
    expect(secondPrefill).toMatchObject({ phase: 'prefill', pos0: cached, nTokens: first.promptTokenCount - cached });
    expect(events.some((e) => e.kind === 'kv.share' && e.from === 'prefix-cache')).toBe(true);
    expect(events.some((e) => e.kind === 'kv.alloc')).toBe(true);
    expect(events.filter((e) => e.kind === 'kv.snapshot').length).toBeGreaterThanOrEqual(second.stats.generatedTokens);
    engine.blocks!.check();
    expect(engine.blocks!.sequences()).toEqual([]); // finished runs hold no blocks
    await engine.dispose();
  });
});
