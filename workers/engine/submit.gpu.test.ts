// EngineApi.submit on stories260K: several requests served at once by the continuous-batching loop (some
// submitted while it runs) each get exactly llama2.c's greedy tokens; the trace carries each iteration's
// batch and each request's state changes; stop() ends them and gives every KV block back.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dawnGpu } from '../../gpu/node.ts';
import { Engine } from './engine.ts';
import type { ModelSource } from '../api.ts';
import { storiesSource } from '../testing/models.ts';
import type { IterationBeginEvent, SeqStateEvent, TraceEvent } from './trace.ts';

interface GoldenCase {
  prompt: string;
  promptTokenIds: number[];
  tokenIds: number[];
}
const golden = JSON.parse(readFileSync(new URL('../model/testdata/stories260K-golden.json', import.meta.url), 'utf8')) as { steps: number; cases: GoldenCase[] };

const stories: ModelSource = storiesSource();
const greedy = { temperature: 0, topK: 0, topP: 1, seed: 1 };

describe('EngineApi.submit: continuous batching on the engine', () => {
  it('serves several requests at once, some joining mid-run, each with its greedy tokens alone', async () => {
    const engine = new Engine({ gpu: dawnGpu, load: { baseUrl: 'http://127.0.0.1/' } });
    await engine.load(stories);
    const events: TraceEvent[] = [];
    await engine.subscribe((batch) => events.push(...batch));
    // Golden cases (llama2.c, `steps` positions): ask each for the tokens it generated after its prompt.
    const cases = golden.cases.filter((c) => c.promptTokenIds.length > 1).slice(0, 4);
    const want = (c: GoldenCase) => c.tokenIds.slice(c.promptTokenIds.length);
    const first = await Promise.all(cases.slice(0, 3).map((c) => engine.submit({ ...greedy, prompt: c.prompt, maxTokens: golden.steps - c.promptTokenIds.length + 1 })));
    first.forEach((s, i) => expect(s.promptTokenIds).toEqual(cases[i]!.promptTokenIds));
    // One more joins while the others decode.
    await new Promise((r) => setTimeout(r, 50));
    const late = await engine.submit({ ...greedy, prompt: cases[3]!.prompt, maxTokens: golden.steps - cases[3]!.promptTokenIds.length + 1 });
    const results = await Promise.all([...first, late].map((s) => engine.requestResult(s.id)));
    results.forEach((r, i) => {
      expect(r.tokenIds, cases[i]!.prompt).toEqual(want(cases[i]!));
      expect(r.stopReason).toBe(want(cases[i]!).length + cases[i]!.promptTokenIds.length < golden.steps + 1 ? 'eos' : 'max-tokens');
      expect(r.text.length).toBeGreaterThan(0);
    });
    // The trace: batches of several sequences, and every request went waiting → running → finished.
    const begins = events.filter((e): e is IterationBeginEvent => e.kind === 'iteration.begin');
    expect(Math.max(...begins.map((b) => b.batch?.length ?? 0))).toBeGreaterThanOrEqual(3);
    expect(begins.some((b) => b.batch?.some((m) => m.seq === late.id) && b.batch.some((m) => m.seq !== late.id && m.phase === 'decode'))).toBe(true);
    for (const r of results) {
      const states = events.filter((e): e is SeqStateEvent => e.kind === 'seq.state' && e.seq === r.id).map((e) => e.state);
      expect(states[0]).toBe('waiting');
      expect(states).toContain('running');
      expect(states.at(-1)).toBe('finished');
      const text = events.filter((e) => e.kind === 'token' && e.seq === r.id).map((e) => (e.kind === 'token' ? e.text : '')).join('');
      expect(text).toBe(r.text);
    }
    // A single run is refused while requests are served, and allowed again once they are done.
    const long = await engine.submit({ ...greedy, prompt: 'Once upon a time', maxTokens: 200 });
    await expect(engine.start('x', { steps: 8, temperature: 0, topK: 0, topP: 1, seed: 1, kvCache: true })).rejects.toThrow(/being served/);
    await new Promise((r) => setTimeout(r, 30));
    await engine.stop();
    const stopped = await engine.requestResult(long.id);
    expect(stopped.stopReason).toBe('stopped');
    expect(stopped.tokenIds.length).toBeLessThan(200);
    // Every block went back (full ones may stay cached by prefix, still allocatable).
    await new Promise((r) => setTimeout(r, 10));
    expect(engine.blocks!.sequences()).toEqual([]);
    expect(engine.blocks!.numAllocatableBlocks).toBe(engine.blocks!.nBlocks);
    // After a stop, submitting starts a fresh loop.
    const again = await engine.submit({ ...greedy, prompt: cases[0]!.prompt, maxTokens: 5 });
    expect((await engine.requestResult(again.id)).tokenIds).toEqual(want(cases[0]!).slice(0, 5));
    await engine.dispose();
  });

  it('rejects a request that cannot fit, with a clear error, and keeps serving', async () => {
    const engine = new Engine({ gpu: dawnGpu, load: { baseUrl: 'http://127.0.0.1/' } });
    await expect(engine.submit({ ...greedy, prompt: 'x', maxTokens: 4 })).rejects.toThrow(/Load a model/);
    await engine.load(stories);
    await expect(engine.submit({ ...greedy, prompt: 'Once', maxTokens: 10_000 })).rejects.toThrow(/exceed the model's context/);
    await expect(engine.submit({ ...greedy, prompt: 'Once', maxTokens: 0 })).rejects.toThrow(/maxTokens/);
    const ok = await engine.submit({ ...greedy, prompt: 'Once upon a time', maxTokens: 6 });
    expect((await engine.requestResult(ok.id)).tokenIds).toHaveLength(6);
    await engine.dispose();
  });
});
