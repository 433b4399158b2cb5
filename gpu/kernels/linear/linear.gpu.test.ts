import { describe, expect, it } from 'vitest';
import { createLinear, LINEAR_QKV_SOURCE, LINEAR_SOURCE, LinearParams, LinearSpecError, linearSource, type LinearReduction } from './linear.ts';
import { linearQkvRef, linearRef, linearSwigluRef, type LinearRefInput } from './linear.ref.ts';
import { runDispatches } from '../../dispatch.ts';
import { parseWgslStruct } from '../../uniforms.ts';
import type { GpuContext } from '../../device.ts';
import { StepParams } from '../step.ts';
import { testGpu, storage, readF32, stepUniform } from '../../testing/gpu.ts';
import { seeded, randInt, randArray, relMaxError } from '../../testing/random.ts';

const TOKENS = [1, 2, 3, 8, 16];

/** Both reductions where the device has subgroups (SwiftShader does), else the fallback alone. */
async function reductions(ctx: GpuContext): Promise<LinearReduction[]> {
  return ctx.capabilities.subgroups ? ['subgroup', 'workgroup'] : ['workgroup'];
}

/** A random input: x [xRows, k], optional norm and gather, optional step.nTokens < T. */
function randomInput(rand: () => number, k: number, nTokens: number, i: number, allowGather = true): LinearRefInput & { xRows: number } {
  const gather = allowGather && i % 3 === 1;
  const xRows = gather ? randInt(rand, 1, 20) : nTokens;
  const rows = gather ? Uint32Array.from({ length: nTokens }, () => randInt(rand, 0, xRows)) : undefined; // xRows itself = out of range
  return {
    x: randArray(rand, xRows * k),
    xRows,
    k,
    nTokens,
    activeTokens: i % 4 === 3 ? randInt(rand, 1, nTokens) : nTokens,
    ...(i % 2 === 0 ? { norm: { weight: randArray(rand, k, 2), eps: 1e-5 } } : {}),
    ...(rows ? { rows } : {}),
  };
}

/** The GPU side of a LinearRefInput: buffers for x, norm weight, gather rows and the step uniform. */
function inputBuffers(ctx: GpuContext, inp: LinearRefInput & { xRows: number }) {
  return {
    x: storage(ctx, 'x', inp.x),
    k: inp.k,
    nTokens: inp.nTokens,
    step: stepUniform(ctx, inp.activeTokens ?? inp.nTokens),
    ...(inp.norm ? { norm: { weight: storage(ctx, 'nw', inp.norm.weight), eps: inp.norm.eps } } : {}),
  };
}

const gatherOf = (ctx: GpuContext, inp: LinearRefInput & { xRows: number }) => (inp.rows ? { rows: storage(ctx, 'rows', inp.rows), xRows: inp.xRows } : {});

describe('linear', () => {
  it('declares the same uniform structs as its host module and step.ts', () => {
    expect(parseWgslStruct(LINEAR_SOURCE, 'LinearParams')).toEqual(LinearParams.fields.map(([f, t]) => [f, t]));
    expect(parseWgslStruct(LINEAR_SOURCE, 'StepParams')).toEqual(StepParams.fields.map(([f, t]) => [f, t]));
    expect(LINEAR_QKV_SOURCE).toContain('fn main_qkv');
    // The subgroup variant starts with `enable subgroups;`, the fallback never mentions subgroups.
    const plan = { rows: 2, tokens: 3, mats: 1, hasNorm: true, qkv: false };
    expect(linearSource({ ...plan, reduction: 'subgroup' }).trimStart().split('\n').find((l) => !l.startsWith('//'))).toBe('enable subgroups;');
    expect(linearSource({ ...plan, reduction: 'workgroup' })).not.toMatch(/subgroup[A-Z]|enable subgroups/);
  });

  it("'store' and 'accumulate' match the CPU reference (norm, gather, step.nTokens < T, odd N and K), both reductions", async () => {
    const ctx = await testGpu();
    const rand = seeded(20261124);
    for (const reduction of await reductions(ctx)) {
      for (let i = 0; i < 10; i++) {
        const nTokens = TOKENS[i % TOKENS.length]!;
        const n = randInt(rand, 1, 90);
        const k = 4 * randInt(rand, 1, 70);
        const accumulate = i % 2 === 1;
        const inp = randomInput(rand, k, nTokens, i);
        const w = randArray(rand, n * k);
        const y0 = randArray(rand, nTokens * n);
        const yb = storage(ctx, 'y', y0);
        const tuning = i % 5 === 4 ? { workgroupSize: 4, rowsPerWorkgroup: 3 } : {};
        const d = createLinear(ctx, { label: `linear.${i}`, epilogue: accumulate ? 'accumulate' : 'store', ...inputBuffers(ctx, inp), ...gatherOf(ctx, inp), w: storage(ctx, 'w', w), y: yb, n, reduction, ...tuning });
        await runDispatches(ctx, [d]);
        const expected = linearRef(inp, w, n, y0, accumulate);
        const what = `${reduction} #${i} n=${n} k=${k} T=${nTokens} active=${inp.activeTokens} acc=${accumulate} norm=${!!inp.norm} gather=${!!inp.rows}`;
        expect(relMaxError(await readF32(ctx, yb, nTokens * n), expected), what).toBeLessThanOrEqual(1e-4);
        ctx.buffers.releaseOwner('test');
      }
    }
  });

  it("'swiglu' matches the CPU reference, both reductions", async () => {
    const ctx = await testGpu();
    const rand = seeded(99);
    for (const reduction of await reductions(ctx)) {
      for (let i = 0; i < 4; i++) {
        const nTokens = TOKENS[(i + 2) % TOKENS.length]!;
        const n = randInt(rand, 1, 80);
        const k = 4 * randInt(rand, 1, 50);
        const inp = randomInput(rand, k, nTokens, i);
        const w1 = randArray(rand, n * k);
        const w3 = randArray(rand, n * k);
        const y0 = randArray(rand, nTokens * n);
        const yb = storage(ctx, 'y', y0);
        const d = createLinear(ctx, { label: `swiglu.${i}`, epilogue: 'swiglu', ...inputBuffers(ctx, inp), ...gatherOf(ctx, inp), w1: storage(ctx, 'w1', w1), w3: storage(ctx, 'w3', w3), y: yb, n, reduction });
        await runDispatches(ctx, [d]);
        const what = `${reduction} #${i} n=${n} k=${k} T=${nTokens} active=${inp.activeTokens} norm=${!!inp.norm} gather=${!!inp.rows}`;
        expect(relMaxError(await readF32(ctx, yb, nTokens * n), linearSwigluRef(inp, w1, w3, n, y0)), what).toBeLessThanOrEqual(1e-4);
        ctx.buffers.releaseOwner('test');
      }
    }
  });

  it("'qkv-rope-kv' matches matmul → RoPE → paged KV write on the CPU, both styles and reductions", async () => {
    const ctx = await testGpu();
    const rand = seeded(4242);
    for (const reduction of await reductions(ctx)) {
      for (let i = 0; i < 6; i++) {
        const nTokens = TOKENS[(i + 1) % TOKENS.length]!;
        const headDim = 2 * randInt(rand, 1, 12);
        const nKvHeads = randInt(rand, 1, 3);
        const nHeads = nKvHeads * randInt(rand, 1, 3);
        const k = 4 * randInt(rand, 1, 40);
        const nSlots = randInt(rand, nTokens, 40);
        const shape = { nHeads, nKvHeads, headDim, theta: i % 2 ? 10000 : 500000, style: i % 2 ? ('half' as const) : ('interleaved' as const), nSlots };
        const qDim = nHeads * headDim;
        const kvDim = nKvHeads * headDim;
        const inp = randomInput(rand, k, nTokens, i, false); // no gather in this mode
        const w = { wq: randArray(rand, qDim * k), wk: randArray(rand, kvDim * k), wv: randArray(rand, kvDim * k) };
        const positions = Uint32Array.from({ length: nTokens }, () => randInt(rand, 0, 3000));
        // Distinct slots, one of them out of the pool (a padding token) when there are several tokens.
        const free = Array.from({ length: nSlots }, (_, s) => s);
        const slots = Uint32Array.from({ length: nTokens }, (_, t) => (t === 1 ? 0xffffffff : free.splice(randInt(rand, 0, free.length - 1), 1)[0]!));
        const init = { q: randArray(rand, nTokens * qDim), kPool: randArray(rand, nSlots * kvDim), vPool: randArray(rand, nSlots * kvDim) };
        const qb = storage(ctx, 'q', init.q);
        const kb = storage(ctx, 'kPool', init.kPool);
        const vb = storage(ctx, 'vPool', init.vPool);
        const tuning = i === 5 ? { rowsPerWorkgroup: 6, workgroupSize: 8 } : {};
        const d = createLinear(ctx, {
          label: `qkv.${i}`,
          epilogue: 'qkv-rope-kv',
          ...inputBuffers(ctx, inp),
          wq: storage(ctx, 'wq', w.wq),
          wk: storage(ctx, 'wk', w.wk),
          wv: storage(ctx, 'wv', w.wv),
          q: qb,
          kPool: kb,
          vPool: vb,
          slots: storage(ctx, 'slots', slots),
          positions: storage(ctx, 'positions', positions),
          ...shape,
          reduction,
          ...tuning,
        });
        await runDispatches(ctx, [d]);
        const want = linearQkvRef(inp, w, shape, positions, slots, init);
        const what = `${reduction} #${i} ${shape.style} T=${nTokens} active=${inp.activeTokens} heads=${nHeads}/${nKvHeads}x${headDim} k=${k} norm=${!!inp.norm}`;
        expect(relMaxError(await readF32(ctx, qb, nTokens * qDim), want.q), `q ${what}`).toBeLessThanOrEqual(1e-4);
        expect(relMaxError(await readF32(ctx, kb, nSlots * kvDim), want.kPool), `kPool ${what}`).toBeLessThanOrEqual(1e-4);
        expect(relMaxError(await readF32(ctx, vb, nSlots * kvDim), want.vPool), `vPool ${what}`).toBeLessThanOrEqual(1e-4);
        ctx.buffers.releaseOwner('test');
      }
    }
  });

  it('spreads more than 65,535 workgroups over a 2-D grid', async () => {
    const ctx = await testGpu();
    const rand = seeded(8);
    const n = 70_001;
    const k = 4;
    const w = randArray(rand, n * k);
    const inp = { x: randArray(rand, k), k, nTokens: 1 };
    const yb = storage(ctx, 'y', n * 4);
    const d = createLinear(ctx, { label: 'linear.tall', epilogue: 'store', x: storage(ctx, 'x', inp.x), k, nTokens: 1, w: storage(ctx, 'w', w), y: yb, n, rowsPerWorkgroup: 1, workgroupSize: 1 });
    expect(d.workgroups[1]).toBeGreaterThan(1);
    await runDispatches(ctx, [d]);
    expect(relMaxError(await readF32(ctx, yb, n), linearRef(inp, w, n, new Float32Array(n), false))).toBeLessThanOrEqual(1e-4);
    ctx.buffers.releaseOwner('test');
  });

  it('rejects bad specs with a LinearSpecError naming the field, before allocating anything', async () => {
    const ctx = await testGpu();
    const x = storage(ctx, 'x', 4 * 8 * 4); // [4, 8] f32
    const w = storage(ctx, 'w', 16 * 8 * 4); // [16, 8] f32
    const y = storage(ctx, 'y', 4 * 16 * 4); // [4, 16] f32
    const ok = { label: 'bad', epilogue: 'store' as const, x, w, y, n: 16, k: 8, nTokens: 4 };
    const cases: [string, Parameters<typeof createLinear>[1]][] = [
      ['k', { ...ok, k: 6 }],
      ['nTokens', { ...ok, nTokens: 17 }],
      ['nTokens', { ...ok, nTokens: 0 }],
      ['w', { ...ok, n: 17 }],
      ['y', { ...ok, y: x }],
      ['workgroupSize', { ...ok, workgroupSize: 48 }],
      ['rowsPerWorkgroup', { ...ok, rowsPerWorkgroup: 0 }],
      ['norm.weight', { ...ok, norm: { weight: storage(ctx, 'short', 4), eps: 1e-5 } }],
      ['rowsPerWorkgroup', { label: 'bad', epilogue: 'qkv-rope-kv', x, k: 8, nTokens: 4, wq: w, wk: w, wv: w, q: y, kPool: y, vPool: y, slots: x, positions: x, nHeads: 2, nKvHeads: 2, headDim: 8, nSlots: 4, theta: 1e4, style: 'half', rowsPerWorkgroup: 3 }],
      ['headDim', { label: 'bad', epilogue: 'qkv-rope-kv', x, k: 8, nTokens: 4, wq: w, wk: w, wv: w, q: y, kPool: y, vPool: y, slots: x, positions: x, nHeads: 2, nKvHeads: 2, headDim: 7, nSlots: 4, theta: 1e4, style: 'half' }],
    ];
    if (!ctx.capabilities.subgroups) cases.push(['reduction', { ...ok, reduction: 'subgroup' }]);
    const before = ctx.buffers.count;
    for (const [field, spec] of cases) {
      let err: unknown;
      try {
        createLinear(ctx, spec);
      } catch (e) {
        err = e;
      }
      expect(err, field).toBeInstanceOf(LinearSpecError);
      expect((err as LinearSpecError).field, (err as Error).message).toBe(field);
    }
    expect(ctx.buffers.count).toBe(before);
    ctx.buffers.releaseOwner('test');
  });
});
