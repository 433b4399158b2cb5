// `decode-lab bench linear`: sweeps the fused GEMV's launch parameters (reduction, output rows per workgroup,
// workgroup size) for each GEMV of the model's decode plan at T = 1, 2, 4, 8 tokens, and prints each shape's
// GPU µs per launch under the default choice (linear.validate.ts) and the best few — the data behind those
// defaults. Timed like bench decode's per-kernel figures: each kind's launches repeated in one pass.

import { releaseDawn } from '../../gpu/node.ts';
import { Profiler } from '../../gpu/profiler.ts';
import type { LinearTuning } from '../../gpu/kernels/linear/linear.ts';
import { BlockManager } from '../../workers/kv/block-manager.ts';
import { LlamaModel } from '../../workers/model/llama.ts';
import { buildForwardPlan } from '../../workers/model/plan.ts';
import { parseFlags, UsageError } from '../args.ts';
import { kindOf, repeatedUs } from './decode.ts';
import { openModel } from './open-model.ts';

const KINDS = ['norm_qkv_rope_kv', 'wo_residual', 'norm_w1_w3_swiglu', 'w2_residual', 'norm_output'];

export async function benchLinear(argv: string[]): Promise<number> {
  const f = parseFlags(argv, { model: 'string', tokenizer: 'string', tokens: 'string', json: 'boolean' });
  const tokens = (f.tokens ?? '1,2,4,8').split(',').map(Number);
  if (tokens.some((t) => !Number.isInteger(t) || t < 1 || t > 16)) throw new UsageError('--tokens takes integers in 1..16, e.g. 1,8');
  const { probe, report, ctx, weights, name } = await openModel(f);
  const maxT = Math.max(...tokens);
  const model = await LlamaModel.create(ctx, weights, { fused: true, maxTokens: Math.max(16, maxT), kv: { mode: 'paged', blockSize: 16, nBlocks: 64, maxSeqs: maxT } });
  const profiler = new Profiler(ctx, 4);
  if (profiler.mode !== 'timestamp') throw new Error('bench linear needs timestamp queries (the device lacks them)');
  const configs: (LinearTuning | undefined)[] = [undefined];
  for (const reduction of ctx.capabilities.subgroups ? (['subgroup', 'workgroup'] as const) : (['workgroup'] as const)) {
    for (const rowsPerWorkgroup of [1, 2, 4]) for (const workgroupSize of [32, 64, 128, 256]) configs.push({ reduction, rowsPerWorkgroup, workgroupSize });
  }
  const shapes = [];
  for (const T of tokens) {
    // One real decode pass of T sequences first, so the inputs the kernels read (step, positions, slots, rows,
    // block tables) and the activations hold what a decode step of T tokens would.
    const blocks = new BlockManager({ nBlocks: 64, blockSize: 16, prefixCaching: false });
    const entries = Array.from({ length: T }, (_, s) => {
      const prompt = [model.config.bosTokenId, 3 + s];
      const r = blocks.addSequence(s, prompt);
      if (!('slots' in r)) throw new Error('bench linear: KV pool too small');
      return { tokens: prompt, pos0: 0, slots: r.slots, blockTable: blocks.blockTable(s) };
    });
    const first = await model.forwardBatchArgmax(entries);
    await model.forwardBatchArgmax(first.map((token, s) => {
      const r = blocks.append(s, token);
      if (!('slot' in r)) throw new Error('bench linear: KV pool too small');
      return { tokens: [token], pos0: 2, slots: [r.slot], blockTable: blocks.blockTable(s) };
    }));
    for (const kind of KINDS) {
      const timed: { config: LinearTuning | 'default'; us: number }[] = [];
      for (const config of configs) {
        let plan;
        try {
          plan = buildForwardPlan(ctx, model.config, model.weights, model.activations, model.kv, T, T, true, (k) => (k === kind ? config : undefined));
        } catch {
          continue; // not a valid launch for this shape (odd rows for qkv, too much workgroup memory…)
        }
        const group = plan.dispatches.filter((d) => kindOf(d.label) === kind);
        timed.push({ config: config ?? 'default', us: Number((await repeatedUs(ctx, profiler, group)).toFixed(2)) });
        for (const b of plan.owned) ctx.buffers.release(b);
      }
      const byTime = [...timed].sort((a, b) => a.us - b.us);
      const def = timed.find((x) => x.config === 'default')!;
      shapes.push({ kind, tokens: T, defaultUs: def.us, best: byTime.slice(0, 3), bestVsDefault: Number((byTime[0]!.us / def.us).toFixed(3)) });
      process.stderr.write(`decode-lab: ${kind} T=${T}: default ${def.us} µs, best ${byTime[0]!.us} µs ${JSON.stringify(byTime[0]!.config)}\n`);
    }
  }
  const out = { model: name, shapes, device: report.capabilities.adapter };
  process.stdout.write((f.json ? JSON.stringify(out) : JSON.stringify(out, null, 2)) + '\n');
  model.dispose();
  await probe.dispose();
  releaseDawn();
  return 0;
}
