// `decode-lab bench decode`: the engine's decode path against the GPU's limits. Greedy decoding of B
// sequences (argmax on the GPU): prefill and decode tokens/s, time to first token, dispatches, submits and
// readback bytes per token; per-kernel GPU time and achieved GB/s from timestamp queries (each kernel of the
// decode plan repeated in one pass, as Dawn rounds timestamps to ~65 µs); and, measured in the same run by
// a read-only stream kernel, the fraction of the device's stream bandwidth that big GEMVs reach.

import type { Dispatch } from '../../gpu/dispatch.ts';
import { dawnFlags, releaseDawn } from '../../gpu/node.ts';
import { Profiler, timeRepeated } from '../../gpu/profiler.ts';
import { benchGemvBandwidth } from '../../gpu/kernels/stream/bandwidth.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { BlockManager } from '../../workers/kv/block-manager.ts';
import type { ModelConfig } from '../../workers/model/config.ts';
import { LlamaModel, type BatchEntry } from '../../workers/model/llama.ts';
import { Rng } from '../../workers/sampling/rng.ts';
import { parseFlags, UsageError } from '../args.ts';
import { openModel } from './open-model.ts';
import { median } from '../../gpu/stats.ts';

/** The kernel kind of a plan dispatch: its label past the layer prefix ("norm_qkv_rope_kv", "paged_attention"…). */
const kindOf = (label: string) => label.replace(/^Llama\.(layers\.\d+\.)?/, '');

/** Bytes a decode kernel of each kind must read per token at context `ctx` (weights; K/V for attention). */
function bytesOf(kind: string, c: ModelConfig, context: number): number {
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const f = 4;
  switch (kind) {
    case 'norm_qkv_rope_kv': return (qDim + 2 * kvDim) * c.dim * f;
    case 'wo_residual': return c.dim * qDim * f;
    case 'norm_w1_w3_swiglu': return 2 * c.hiddenDim * c.dim * f;
    case 'w2_residual': return c.dim * c.hiddenDim * f;
    case 'norm_output': return c.vocabSize * c.dim * f;
    case 'paged_attention': return 2 * context * kvDim * f;
    case 'argmax': return c.vocabSize * f;
    case 'embed': return c.dim * f;
    default: return 0;
  }
}

/** Median over 3 passes of the GPU µs of one launch of each dispatch in `group` (~200 launches per pass). */
async function repeatedUs(ctx: GpuContext, profiler: Profiler, group: readonly Dispatch[]): Promise<number> {
  const iterations = Math.max(1, Math.ceil(200 / group.length));
  const us: number[] = [];
  for (let r = 0; r < 3; r++) us.push((await timeRepeated(ctx, profiler, group, iterations, 'bench.decode.kernels')) / iterations / group.length);
  return median(us);
}

export async function benchDecode(argv: string[]): Promise<number> {
  const f = parseFlags(argv, { model: 'string', tokenizer: 'string', batch: 'number', tokens: 'number', runs: 'number', 'prompt-len': 'number', 'gemv-sizes': 'string', json: 'boolean' });
  const B = f.batch ?? 1;
  const steps = f.tokens ?? 256;
  const runs = f.runs ?? 5;
  const promptLen = f['prompt-len'] ?? 32;
  const gemvSizes = (f['gemv-sizes'] ?? '4096,8192').split(',').filter(Boolean).map(Number);
  if (!Number.isInteger(B) || B < 1 || B > 16) throw new UsageError('--batch takes an integer in 1..16');
  if (!Number.isInteger(steps) || steps < 2) throw new UsageError('--tokens must be an integer ≥ 2');
  if (!Number.isInteger(runs) || runs < 1) throw new UsageError('--runs must be a positive integer');
  if (gemvSizes.some((n) => !Number.isInteger(n) || n < 4 || n % 4 !== 0)) throw new UsageError('--gemv-sizes takes multiples of 4, e.g. 4096,8192 (empty: skip)');

  const { probe, report, ctx, weights, name } = await openModel(f);
  const c = weights.config;
  const maxSeqLen = Math.min(c.maxSeqLen, promptLen + steps + 1);
  if (promptLen + steps > c.maxSeqLen) throw new UsageError(`--prompt-len + --tokens (${promptLen + steps}) exceed the model's context of ${c.maxSeqLen}`);
  const blockSize = 16;
  const nBlocks = B * Math.ceil(maxSeqLen / blockSize) + 1;
  const model = await LlamaModel.create(ctx, weights, { maxSeqLen, maxTokens: Math.max(B * promptLen, 64), kv: { mode: 'paged', blockSize, nBlocks, maxSeqs: B } });
  const rng = new Rng(7);
  const prompts = Array.from({ length: B }, () => [c.bosTokenId, ...Array.from({ length: promptLen - 1 }, () => 3 + Math.floor(rng.next() * (c.vocabSize - 3)))]);

  const decodeTps: number[] = [];
  const inlineTps: number[] = []; // the same decode with nothing recorded ahead (every pass recorded before its submit)
  const prefillTps: number[] = [];
  const ttft: number[] = [];
  let perToken = { dispatches: 0, submits: 0, readbackBytes: 0 };
  let cpuUs = { write: 0, record: 0, submit: 0, recordAhead: 0 };
  // Runs alternate recording ahead on and off (the first of each is a warm-up), so both see the same machine.
  for (let r = 0; r <= 2 * runs + 1; r++) {
    const ahead = r % 2 === 0;
    model.recordAhead = ahead;
    const blocks = new BlockManager({ nBlocks, blockSize, prefixCaching: false });
    const seqs = prompts.map((p, s) => {
      const a = blocks.addSequence(s, p);
      if (!('slots' in a)) throw new Error('KV pool too small');
      return { tokens: p, slots: a.slots };
    });
    const entry = (s: number, tokens: number[], pos0: number, slots: number[]): BatchEntry => ({ tokens, pos0, slots, blockTable: blocks.blockTable(s) });
    const t0 = performance.now();
    let next = await model.forwardBatchArgmax(seqs.map((q, s) => entry(s, q.tokens, 0, q.slots))); // prefill: the first token
    const t1 = performance.now();
    const before = { dispatches: model.dispatches, submits: model.submits, readbackBytes: model.readbackBytes, cpu: { ...model.cpu } };
    for (let i = 1; i < steps; i++) {
      next = await model.forwardBatchArgmax(
        next.map((token, s) => {
          const a = blocks.append(s, token);
          if (!('slot' in a)) throw new Error('KV pool too small');
          return entry(s, [token], promptLen + i - 1, [a.slot]);
        }),
      );
    }
    const t2 = performance.now();
    if (r < 2) continue; // warm-up: pipelines and plans built
    const decoded = B * (steps - 1);
    if (!ahead) {
      inlineTps.push((decoded * 1000) / (t2 - t1));
      continue;
    }
    decodeTps.push((decoded * 1000) / (t2 - t1));
    prefillTps.push((B * promptLen * 1000) / (t1 - t0));
    ttft.push(t1 - t0);
    perToken = {
      dispatches: (model.dispatches - before.dispatches) / (steps - 1),
      submits: (model.submits - before.submits) / (steps - 1),
      readbackBytes: (model.readbackBytes - before.readbackBytes) / decoded,
    };
    const us = (key: keyof LlamaModel['cpu']) => ((model.cpu[key] - before.cpu[key]) * 1000) / (steps - 1);
    cpuUs = { write: us('writeMs'), record: us('recordMs') - us('aheadMs'), submit: us('submitMs'), recordAhead: us('aheadMs') };
  }

  // Per-kernel GPU time of the decode plan (T = B tokens, B logits rows), by kernel kind.
  const plan = model.plan(B, B);
  const profiler = new Profiler(ctx, 4);
  const kinds = new Map<string, Dispatch[]>();
  for (const d of plan.dispatches) kinds.set(kindOf(d.label), [...(kinds.get(kindOf(d.label)) ?? []), d]);
  const kernels: Record<string, { count: number; usPerLaunch: number; usPerToken: number; gbps: number | null }> = {};
  if (profiler.mode === 'timestamp') {
    for (const [kind, group] of kinds) {
      const us = await repeatedUs(ctx, profiler, group);
      const bytes = bytesOf(kind, c, promptLen + steps / 2) * (kind === 'paged_attention' || kind === 'argmax' || kind === 'embed' ? B : 1);
      kernels[kind] = { count: group.length, usPerLaunch: round(us, 2), usPerToken: round((us * group.length) / B, 2), gbps: bytes > 0 ? round(bytes / (us * 1000), 1) : null };
    }
  }
  const gpuUsPerToken = Object.values(kernels).reduce((s, k) => s + k.usPerToken, 0);

  // Big GEMVs against the stream kernel, in the same run.
  const gemv = [];
  for (const n of gemvSizes) {
    const g = await benchGemvBandwidth(ctx, { rows: n, cols: n, runs: Math.max(5, runs) });
    gemv.push({ rows: n, cols: n, gemvGbps: round(g.gemvGbps, 1), streamGbps: round(g.streamGbps, 1), fraction: round(g.fraction, 3), timing: g.timing });
  }
  const out = {
    model: name,
    batch: B,
    promptLen,
    tokens: steps,
    runs,
    decodeTokensPerSec: round(median(decodeTps), 1),
    prefillTokensPerSec: round(median(prefillTps), 1),
    ttftMs: round(median(ttft), 2),
    msPerToken: round((1000 * B) / median(decodeTps), 4),
    dispatchesPerToken: perToken.dispatches,
    dispatchesPerLayer: kinds.size > 0 ? plan.dispatches.filter((d) => d.label.startsWith('Llama.layers.0.')).length : null,
    dispatchesOutsideLayers: plan.dispatches.filter((d) => !/^Llama\.layers\./.test(d.label)).length,
    submitsPerToken: perToken.submits,
    readbackBytesPerToken: perToken.readbackBytes,
    gpuUsPerToken: profiler.mode === 'timestamp' ? round(gpuUsPerToken, 2) : null,
    // CPU µs per decode pass up to its submit (writing inputs, recording what was not recorded ahead, the
    // submit call), and recording the next pass ahead after it, while the GPU runs this one.
    cpuUsPerPass: { write: round(cpuUs.write, 1), record: round(cpuUs.record, 1), submit: round(cpuUs.submit, 1), recordAhead: round(cpuUs.recordAhead, 1) },
    // Decode with every pass recorded just before its submit (runs alternated with the ones above).
    inlineDecodeTokensPerSec: round(median(inlineTps), 1),
    recordAheadSpeedup: round(median(decodeTps) / median(inlineTps), 3),
    kernels,
    gemv: { sizes: gemv, fractionOfStreamBandwidth: gemv.length ? Math.min(...gemv.map((g) => g.fraction)) : null },
    dawnFlags: dawnFlags(),
    device: report.capabilities.adapter,
  };
  process.stdout.write((f.json ? JSON.stringify(out) : JSON.stringify(out, null, 2)) + '\n');
  model.dispose();
  await probe.dispose();
  releaseDawn();
  return 0;
}

function round(x: number, digits: number): number {
  return Number(x.toFixed(digits));
}
