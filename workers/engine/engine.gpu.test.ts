import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dawnGpu } from '../../gpu/node.ts';
import { Engine } from './engine.ts';
import type { GenerateParams, ModelSource } from '../api.ts';
import { readBytes, STORIES260K, storiesSource, TOK512 } from '../testing/models.ts';
import type { TraceEvent } from './trace.ts';

interface GoldenCase {
  prompt: string;
  promptTokenIds: number[];
  tokenIds: number[];
  text: string;
}
const golden = JSON.parse(readFileSync(new URL('../model/testdata/stories260K-golden.json', import.meta.url), 'utf8')) as { steps: number; cases: GoldenCase[] };

const stories: ModelSource = storiesSource();
const greedy = (steps: number, kvCache = true): GenerateParams => ({ steps, temperature: 0, topK: 0, topP: 1, seed: 1, kvCache });

async function engineWithStories(): Promise<Engine> {
  const engine = new Engine({ gpu: dawnGpu, load: { baseUrl: 'http://127.0.0.1/' } });
  await engine.load(stories);
  return engine;
}

describe('Engine on stories260K', () => {
  // The CLI test runs every golden prompt; here, one that runs to `steps` and one that stops at BOS.
  const cases = [golden.cases.find((c) => c.tokenIds.length === golden.steps + 1)!, golden.cases.find((c) => c.tokenIds.length < golden.steps + 1)!];

  it(`reproduces llama2.c's greedy tokens (${golden.steps} steps, stopping at steps and at BOS)`, async () => {
    const engine = await engineWithStories();
    for (const c of cases) {
      const result = await engine.generate(c.prompt, greedy(golden.steps));
      expect(result.tokenIds.slice(0, result.promptTokenCount), c.prompt).toEqual(c.promptTokenIds);
      expect(result.tokenIds, c.prompt).toEqual(c.tokenIds);
    }
    const first = golden.cases.find((c) => c.prompt === 'Once upon a time')!;
    const r = await engine.generate(first.prompt, greedy(40));
    expect(first.prompt + r.text).toMatch(/^Once upon a time, there was a little girl named Lily\. She loved to play outside in the park\./);
    await engine.dispose();
  });

  it('gives identical greedy tokens with and without the KV cache', async () => {
    const engine = await engineWithStories();
    const withCache = await engine.generate('Lily and Ben', greedy(40, true));
    const without = await engine.generate('Lily and Ben', greedy(40, false));
    expect(without.tokenIds).toEqual(withCache.tokenIds);
    // Without the cache each decode pass runs the whole prefix: far more work per token.
    expect(without.stats.generatedTokens).toBe(withCache.stats.generatedTokens);
    await engine.dispose();
  });

  it('streams typed trace events: seq states, iterations, one token event per generated token', async () => {
    const engine = await engineWithStories();
    const events: TraceEvent[] = [];
    await engine.subscribe((batch) => events.push(...batch));
    const result = await engine.generate('The cat', greedy(20));
    const tokens = events.filter((e) => e.kind === 'token');
    expect(tokens.map((e) => e.tokenId)).toEqual(result.tokenIds.slice(result.promptTokenCount));
    expect(tokens.map((e) => e.text).join('')).toBe(result.text);
    const states = events.filter((e) => e.kind === 'seq.state').map((e) => e.state);
    expect(states).toEqual(['waiting', 'running', 'finished']);
    const begins = events.filter((e) => e.kind === 'iteration.begin');
    expect(begins[0]).toMatchObject({ phase: 'prefill', pos0: 0, nTokens: result.promptTokenCount });
    expect(begins.slice(1).every((e) => e.phase === 'decode' && e.nTokens === 1)).toBe(true);
    await engine.dispose();
  });

  it('stop() ends a running generation within one iteration', async () => {
    const engine = await engineWithStories();
    await engine.start('Once upon a time', greedy(200));
    const running = engine.run();
    const model = engine.model!;
    while (model.submits < 6) await new Promise((r) => setTimeout(r, 1));
    const submitsAtStop = model.submits;
    await engine.stop();
    const result = await running;
    expect(result.stopReason).toBe('stopped');
    expect(model.submits - submitsAtStop).toBeLessThanOrEqual(1);
    expect(result.stats.generatedTokens).toBeLessThan(20);
    await engine.dispose();
  });

  it('step() runs exactly one iteration', async () => {
    const engine = await engineWithStories();
    await engine.start('Once upon a time', greedy(30));
    const model = engine.model!;
    expect(await engine.step()).toBe(true); // the prefill
    expect(model.submits).toBe(1);
    expect(await engine.step()).toBe(true); // one decode token
    expect(model.submits).toBe(2);
    await engine.dispose();
  });

  it('a bad model file is rejected with a typed error and the loaded model survives', async () => {
    const engine = await engineWithStories();
    const bad: ModelSource = { kind: 'files', files: [{ name: 'broken.bin', data: readBytes(STORIES260K).slice(0, 5000).buffer }, { name: 'tok512.bin', data: readBytes(TOK512).slice().buffer }] };
    await expect(engine.load(bad)).rejects.toMatchObject({ code: 'llama2c-size-mismatch' });
    const r = await engine.generate('Once upon a time', greedy(12));
    expect(r.stats.generatedTokens).toBeGreaterThan(0);
    await engine.dispose();
  });
});
