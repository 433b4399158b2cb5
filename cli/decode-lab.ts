#!/usr/bin/env node
// decode-lab: the engine headless on Dawn. Commands: gpu-info, generate, bench. stdout carries only the command's
// result; diagnostics go to stderr. Node-only entry; bundled by scripts/bundle.mjs.

import { ensureVulkanEnv } from './vulkan-env.ts';
import { UsageError } from './args.ts';
import { gpuInfo } from './gpu-info.ts';
import { generate } from './generate.ts';
import { benchCache } from './bench/cache.ts';
import { benchKv } from './bench/kv.ts';
import { benchAttention } from './bench/attention.ts';
import { benchBatch } from './bench/batch.ts';
import { benchSpec } from './bench/spec.ts';
import { benchDecode } from './bench/decode.ts';

const USAGE = `usage: decode-lab <command> [options]

commands:
  gpu-info [--json]                 adapter info, features and limits of the WebGPU device (Dawn)
  generate --prompt "<text>" [--model <dir|file.bin|url|hf-repo>] [--tokenizer <file>]
           [--steps N] [--temperature T] [--top-p P] [--top-k K] [--seed S]
           [--no-kv-cache] [--json] [--trace <file.json>]
  bench cache [--model M] [--steps N] [--runs R] [--json]
                                    decode time per token with and without the KV cache
  bench kv [--model M] [--block-size B] [--requests N] [--seed S] [--json]
                                    paged vs contiguous KV memory on a seeded serving workload
  bench attention [--contexts 512,2048] [--batches 1,8] [--block-size B] [--tile-size T] [--keys K] [--json]
                                    paged vs contiguous decode attention kernel time (timestamp queries)
  bench batch [--model M] [--requests N] [--rate R] [--policy static|continuous|sla] [--max-batch B]
              [--token-budget T] [--mix mixed|decode-heavy] [--length-scale S] [--temperature T] [--sync] [--runs R] [--json]
                                    serving a seeded Poisson trace under each batching policy
  bench batch --decode-only [--batches 1,2,4,8,16] [--steps N] [--runs R] [--json]
                                    decode tokens/s with B sequences in each forward pass
  bench decode [--model M] [--batch B] [--tokens N] [--runs R] [--prompt-len P] [--gemv-sizes 4096,8192] [--json]
                                    greedy decode speed, dispatches/submits/readback per token, per-kernel GPU time
                                    and GB/s, and big GEMVs' fraction of the stream bandwidth
  bench spec [--model M] [--draft default|early-exit:K|int8] [--draft-model D] [--gamma G] [--tokens N]
             [--runs R] [--temperature T] [--json]
                                    speculative vs plain decoding: α, c, measured and predicted speedup (γ = 1..8)
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'gpu-info':
      return gpuInfo(rest);
    case 'generate':
      return generate(rest);
    case 'bench': {
      const [what, ...args] = rest;
      if (what === 'cache') return benchCache(args);
      if (what === 'kv') return benchKv(args);
      if (what === 'attention') return benchAttention(args);
      if (what === 'batch') return benchBatch(args);
      if (what === 'spec') return benchSpec(args);
      if (what === 'decode') return benchDecode(args);
      throw new UsageError(`unknown benchmark "${what ?? ''}" (available: cache, kv, attention, batch, spec, decode)`);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

ensureVulkanEnv();
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error & { code?: string }) => {
    if (err instanceof UsageError) process.stderr.write(`decode-lab: ${err.message}\n\n${USAGE}`);
    else process.stderr.write(`decode-lab: ${err.code ? `[${err.code}] ` : ''}${err.message}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
