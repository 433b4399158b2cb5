#!/usr/bin/env python3
"""PyTorch peer benchmark for Decode Lab: greedy decode speed of the same Llama model in transformers.

Measures eager `model.generate`, a static-KV-cache decode loop, and that loop's one-token step captured in a CUDA graph
(by torch.compile "reduce-overhead" and by a hand-written torch.cuda.CUDAGraph). One JSON object goes to stdout;
progress goes to stderr. Standalone: imports nothing from the repository. See tools/bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
import traceback
from typing import Any, Callable

MODES = ("eager-generate", "static-eager", "cuda-graph-manual", "cuda-graph-compile", "cuda-graph-compile-autotune")
DEFAULT_MODES = MODES[:4]  # the autotune mode (Inductor GEMM autotuning, minutes of compile) is opt-in
DEFAULT_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "public", "models", "decode-lab-target")


def log(msg: str) -> None:
    print(f"[peer {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=os.path.normpath(DEFAULT_MODEL), help="HF-layout folder (config.json, model.safetensors)")
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu (smoke test: graph modes are skipped)")
    p.add_argument("--dtypes", default="float32", help="comma list of float32,float16,bfloat16; float32 is the headline")
    p.add_argument("--batches", default="1,8", help="comma list of batch sizes")
    p.add_argument("--modes", default=",".join(DEFAULT_MODES), help="comma list of " + ",".join(MODES))
    p.add_argument("--new-tokens", type=int, default=256, help="tokens generated per sequence (exactly; EOS is suppressed)")
    p.add_argument("--prompt-len", type=int, default=32, help="random prompt length (ids drawn with --seed)")
    p.add_argument("--prompt", default=None, help="fixed text prompt instead of random ids (tokenizer.json of --model)")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--runs", type=int, default=5, help="timed runs per row (median reported), after 1 warm-up run")
    p.add_argument("--attn", default="sdpa", help="attn_implementation for from_pretrained (sdpa, eager)")
    p.add_argument("--decode-sdpa", default="math", choices=("default", "math", "efficient", "flash", "cudnn"),
                   help="SDPA backend forced for the one-token decode step of the static-cache modes "
                        "(math: fastest for q_len 1 on H100 f32; 'default' = PyTorch's choice, memory-efficient "
                        "attention; prefill and eager-generate always use PyTorch's choice)")
    p.add_argument("--tf32", action="store_true",
                   help="allow TF32 tensor cores for float32 matmuls (off by default: our engine does full f32)")
    p.add_argument("--json-out", default=None, help="also write the JSON object to this file")
    a = p.parse_args(argv)
    a.dtypes = [s.strip() for s in a.dtypes.split(",") if s.strip()]
    a.batches = [int(s) for s in a.batches.split(",") if s.strip()]
    a.modes = [s.strip() for s in a.modes.split(",") if s.strip()]
    for m in a.modes:
        if m not in MODES:
            p.error(f"unknown mode {m!r}; expected one of {', '.join(MODES)}")
    for d in a.dtypes:
        if d not in ("float32", "float16", "bfloat16"):
            p.error(f"unknown dtype {d!r}; expected float32, float16 or bfloat16")
    if a.new_tokens < 8 or a.runs < 1 or not a.batches or min(a.batches) < 1:
        p.error("--new-tokens must be >= 8 (graph warm-up runs 3 steps), --runs >= 1, batches >= 1")
    return a


# ---------------------------------------------------------------- environment

def device_info(torch: Any, transformers: Any, dev: str) -> dict[str, Any]:
    info: dict[str, Any] = {"torch": torch.__version__, "transformers": transformers.__version__,
                            "cuda": torch.version.cuda, "python": sys.version.split()[0]}
    if dev.startswith("cuda"):
        info["name"] = torch.cuda.get_device_name(0)
        info["tf32Matmul"] = bool(torch.backends.cuda.matmul.allow_tf32)
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20)
            info["driver"] = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
        except Exception:  # noqa: BLE001 - the driver version is optional
            info["driver"] = None
    else:
        info["name"] = "cpu"
        info["driver"] = None
    return info


def load_model(torch: Any, path: str, dtype: Any, dev: str, attn: str) -> Any:
    from transformers import LlamaForCausalLM
    kwargs: dict[str, Any] = {"attn_implementation": attn}
    try:  # transformers >= 4.56 calls it `dtype`; older releases only know `torch_dtype`
        model = LlamaForCausalLM.from_pretrained(path, dtype=dtype, **kwargs)
    except TypeError:
        model = LlamaForCausalLM.from_pretrained(path, torch_dtype=dtype, **kwargs)
    if next(model.parameters()).dtype != dtype:
        model = model.to(dtype)
    return model.to(dev).eval()


def make_prompt(torch: Any, args: argparse.Namespace, batch: int, vocab: int, dev: str) -> Any:
    """[batch, P] int64: random ids in [2, vocab) (0 = BOS and 1 = EOS avoided) or the tokenized --prompt repeated."""
    if args.prompt is not None:
        from tokenizers import Tokenizer
        ids = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json")).encode(args.prompt).ids
        if not ids:
            raise ValueError("--prompt tokenized to zero ids")
        return torch.tensor([ids] * batch, dtype=torch.long, device=dev)
    g = torch.Generator().manual_seed(args.seed)
    return torch.randint(2, vocab, (batch, args.prompt_len), generator=g, dtype=torch.long).to(dev)


def decode_ctx(torch: Any, backend: str) -> Any:
    """Context that forces one SDPA backend (kernels are chosen at capture/compile time, so wrap those too)."""
    if backend == "default":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel
    names = {"math": "MATH", "efficient": "EFFICIENT_ATTENTION", "flash": "FLASH_ATTENTION", "cudnn": "CUDNN_ATTENTION"}
    return sdpa_kernel(getattr(SDPBackend, names[backend]))


def sync(torch: Any, dev: str) -> None:
    if dev.startswith("cuda"):
        torch.cuda.synchronize()


# ---------------------------------------------------------------- static KV cache helpers

def new_static_cache(model: Any, batch: int, max_len: int, dtype: Any, dev: str) -> Any:
    try:
        from transformers import StaticCache
    except ImportError as e:
        raise RuntimeError(f"this transformers has no StaticCache ({e}); need transformers >= 4.45") from e
    # transformers 5.x: StaticCache(config, max_cache_len) allocates lazily and swallows the old kwargs (**kwargs);
    # 4.4x/4.5x: StaticCache(config, max_batch_size, max_cache_len, device, dtype) allocates at once.
    try:
        return StaticCache(config=model.config, max_batch_size=batch, max_cache_len=max_len, device=dev, dtype=dtype)
    except TypeError as e:
        raise RuntimeError(f"StaticCache signature not understood by this script: {e}") from e


def takes_cache_position(model: Any) -> bool:
    """transformers 4.x forward takes `cache_position`; 5.x keeps the write position inside the cache layers."""
    return "cache_position" in inspect.signature(type(model).forward).parameters


class StaticDecoder:
    """Greedy decode with a StaticCache: eager prefill, then a one-token step whose buffers never move.

    Static buffers: ids [B, 1] int64 (current token), pos [B, 1] int64 (its position), cpos [1] int64 (cache slot,
    transformers 4.x only), step [1] int64 (next column of out), out [B, N] int64 (all generated tokens).
    The step writes the argmax back into ids, so N - 1 steps (or graph replays) run with no host round trip.
    """

    def __init__(self, torch: Any, model: Any, batch: int, prompt_len: int, n_new: int, dtype: Any, dev: str,
                 eos_ids: list[int]) -> None:
        self.t, self.model, self.dev, self.n_new = torch, model, dev, n_new
        self.cache = new_static_cache(model, batch, prompt_len + n_new, dtype, dev)
        self.use_cpos = takes_cache_position(model)
        self.ids = torch.zeros((batch, 1), dtype=torch.long, device=dev)
        self.pos = torch.zeros((batch, 1), dtype=torch.long, device=dev)
        self.cpos = torch.zeros((1,), dtype=torch.long, device=dev)
        self.step_idx = torch.zeros((1,), dtype=torch.long, device=dev)
        self.out = torch.zeros((batch, n_new), dtype=torch.long, device=dev)
        self.eos = torch.tensor(eos_ids, dtype=torch.long, device=dev)

    def pick(self, logits: Any) -> Any:
        """[B, V] logits -> [B] int64 argmax with EOS suppressed (same rule as generate's min_new_tokens)."""
        logits = logits.float()
        if self.eos.numel():
            logits = logits.index_fill(1, self.eos, float("-inf"))
        return logits.argmax(dim=-1)

    def forward(self, ids: Any, pos: Any, cpos: Any) -> Any:
        kw: dict[str, Any] = {"input_ids": ids, "position_ids": pos, "past_key_values": self.cache, "use_cache": True}
        if self.use_cpos:
            kw["cache_position"] = cpos
        return self.model(**kw).logits[:, -1, :]

    def prefill(self, prompt: Any) -> None:
        """Reset the cache and run the prompt; leaves token 0 in out and the step buffers ready."""
        t = self.t
        self.cache.reset()
        b, p = prompt.shape
        pos = t.arange(p, device=self.dev).unsqueeze(0).expand(b, p)
        first = self.pick(self.forward(prompt, pos, t.arange(p, device=self.dev)))
        self.out.zero_()
        self.out[:, 0] = first
        self.ids.copy_(first.unsqueeze(1))
        self.pos.fill_(p)
        self.cpos.fill_(p)
        self.step_idx.fill_(1)

    def step(self) -> None:
        """One decode token, touching only static buffers (this is what the CUDA graph captures)."""
        nxt = self.pick(self.forward(self.ids, self.pos, self.cpos))  # [B]
        self.out.index_copy_(1, self.step_idx, nxt.unsqueeze(1))
        self.ids.copy_(nxt.unsqueeze(1))
        self.pos.add_(1)
        self.cpos.add_(1)
        self.step_idx.add_(1)


# ---------------------------------------------------------------- modes: each returns (timed run fn, tokens fn)

def timed(torch: Any, dev: str, fn: Callable[[], None]) -> float:
    sync(torch, dev)
    t0 = time.perf_counter()
    fn()
    sync(torch, dev)
    return (time.perf_counter() - t0) * 1000.0


def bench_generate(torch: Any, model: Any, prompt: Any, args: argparse.Namespace, dev: str,
                   eos_ids: list[int]) -> tuple[dict[str, Any], Any]:
    from transformers import GenerationConfig
    n = args.new_tokens
    # A fresh config: the model folder's generation_config.json samples (temperature 0.8), we want plain greedy.
    def cfg(k: int) -> Any:
        return GenerationConfig(do_sample=False, max_new_tokens=k, min_new_tokens=k, eos_token_id=eos_ids,
                                pad_token_id=eos_ids[0] if eos_ids else 0, bos_token_id=model.config.bos_token_id)
    mask = torch.ones_like(prompt)
    full, first = cfg(n), cfg(1)
    model.generation_config = cfg(n)  # drop the folder's max_length/sampling defaults that generate() would merge in
    holder: dict[str, Any] = {}

    def run_full() -> None:
        with torch.inference_mode():
            holder["seq"] = model.generate(input_ids=prompt, attention_mask=mask, generation_config=full)

    def run_first() -> None:
        with torch.inference_mode():
            model.generate(input_ids=prompt, attention_mask=mask, generation_config=first)

    timed(torch, dev, run_full)  # warm-up
    timed(torch, dev, run_first)
    total = [timed(torch, dev, run_full) for _ in range(args.runs)]
    ttft = [timed(torch, dev, run_first) for _ in range(args.runs)]
    tokens = holder["seq"][:, prompt.shape[1]:]
    if tokens.shape[1] != n:
        raise RuntimeError(f"generate returned {tokens.shape[1]} new tokens, expected {n}")
    ttft_ms = statistics.median(ttft)
    return {"runsMs": total, "ttftMs": ttft_ms, "decodeMs": statistics.median(total) - ttft_ms}, tokens


def bench_static(torch: Any, model: Any, prompt: Any, args: argparse.Namespace, dev: str, dtype: Any,
                 eos_ids: list[int], mode: str) -> tuple[dict[str, Any], Any]:
    n = args.new_tokens
    dec = StaticDecoder(torch, model, prompt.shape[0], prompt.shape[1], n, dtype, dev, eos_ids)
    note = None
    if mode == "static-eager":
        step: Callable[[], None] = dec.step
    elif mode == "cuda-graph-manual":
        if not dev.startswith("cuda"):
            raise RuntimeError("CUDA graphs need --device cuda")
        with torch.inference_mode():
            dec.prefill(prompt)
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side), decode_ctx(torch, args.decode_sdpa):  # warm-up (cuBLAS handles, lazy allocs)
                for _ in range(3):
                    dec.step()
            torch.cuda.current_stream().wait_stream(side)
            dec.prefill(prompt)  # capture records only; state is re-prefilled before every run anyway
            graph = torch.cuda.CUDAGraph()
            with decode_ctx(torch, args.decode_sdpa), torch.cuda.graph(graph):
                dec.step()
        step = graph.replay
    elif mode.startswith("cuda-graph-compile"):
        compile_mode = "max-autotune" if mode.endswith("autotune") else "reduce-overhead"  # both use CUDA graphs
        if not dev.startswith("cuda"):
            raise RuntimeError(f"torch.compile {compile_mode} (CUDA graphs) needs --device cuda")
        for buf in (dec.ids, dec.pos, dec.cpos, dec.step_idx, dec.out):  # mutated in the graph: keep addresses fixed
            torch._dynamo.mark_static_address(buf)
        compiled = None
        errors: list[str] = []
        for fullgraph in (True, False):
            try:
                fn = torch.compile(dec.step, mode=compile_mode, fullgraph=fullgraph, dynamic=False)
                log(f"  compiling (fullgraph={fullgraph}) ...")
                t0 = time.perf_counter()
                with torch.inference_mode():
                    dec.prefill(prompt)
                    with decode_ctx(torch, args.decode_sdpa):
                        for _ in range(3):  # cudagraph trees: warm-up run, record run, then replays
                            torch.compiler.cudagraph_mark_step_begin()
                            fn()
                sync(torch, dev)
                note = f"{compile_mode}, fullgraph={fullgraph}, compile+capture {time.perf_counter() - t0:.1f}s"
                compiled = fn
                break
            except Exception as e:  # noqa: BLE001 - retry without fullgraph, then report
                errors.append(f"fullgraph={fullgraph}: {type(e).__name__}: {str(e)[:400]}")
                torch._dynamo.reset()
        if compiled is None:
            raise RuntimeError("; ".join(errors))
        if errors:
            note = f"{note}; first try failed: {errors[0][:200]}"

        def step() -> None:
            torch.compiler.cudagraph_mark_step_begin()
            compiled()
    else:
        raise ValueError(mode)

    pre_ms: list[float] = []
    dec_ms: list[float] = []

    def one_run() -> None:
        with torch.inference_mode():
            pre_ms.append(timed(torch, dev, lambda: dec.prefill(prompt)))

            def loop() -> None:
                with decode_ctx(torch, args.decode_sdpa):
                    for _ in range(n - 1):
                        step()
            dec_ms.append(timed(torch, dev, loop))

    one_run()  # warm-up
    pre_ms.clear()
    dec_ms.clear()
    for _ in range(args.runs):
        one_run()
    total = [a + b for a, b in zip(pre_ms, dec_ms)]
    return ({"runsMs": total, "ttftMs": statistics.median(pre_ms), "decodeMs": statistics.median(dec_ms),
             "note": note}, dec.out.clone())


# ---------------------------------------------------------------- driver

def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # libraries that print must not corrupt the JSON on stdout
    try:
        import torch
        import transformers
    except ImportError as e:
        print(json.dumps({"error": f"missing Python package: {e}"}), file=real_stdout)
        return 2
    dev = args.device
    if dev.startswith("cuda") and not torch.cuda.is_available():
        print(json.dumps({"error": "--device cuda but torch.cuda.is_available() is False"}), file=real_stdout)
        return 2
    if not os.path.isfile(os.path.join(args.model, "config.json")):
        print(json.dumps({"error": f"no config.json in model folder {args.model}"}), file=real_stdout)
        return 2

    if args.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    with open(os.path.join(args.model, "config.json")) as f:
        ctx = int(json.load(f).get("max_position_embeddings", 0))
    plen = int(make_prompt(torch, args, 1, 4096, "cpu").shape[1])
    if ctx and plen + args.new_tokens > ctx:  # validate before loading anything
        print(json.dumps({"error": f"prompt ({plen}) + new tokens ({args.new_tokens}) exceeds the model's context ({ctx})"}),
              file=real_stdout)
        return 2
    report: dict[str, Any] = {"device": device_info(torch, transformers, dev), "model": args.model,
                              "params": None, "newTokens": args.new_tokens, "runs": args.runs,
                              "promptLen": None, "prompt": args.prompt, "seed": args.seed, "attn": args.attn, "decodeSdpa": args.decode_sdpa,
                              "protocol": ("1 warm-up run, then median of --runs timed runs; synchronize around each "
                                           "timed region. ttftMs = prefill + first token; decodeTokensPerSec = "
                                           "batch*(newTokens-1)/decodeMs; e2eTokensPerSec = batch*newTokens/median(runsMs). "
                                           "EOS is suppressed so every run makes exactly newTokens tokens."),
                              "results": []}
    log(f"torch {torch.__version__}, transformers {transformers.__version__}, device {report['device']['name']}")
    for dtype_name in args.dtypes:
        dtype = getattr(torch, dtype_name)
        try:
            model = load_model(torch, args.model, dtype, dev, args.attn)
        except Exception as e:  # noqa: BLE001 - record and move on
            for b in args.batches:
                for m in args.modes:
                    report["results"].append(row(m, dtype_name, b, None, None, f"load: {type(e).__name__}: {e}"))
            continue
        cfg = model.config
        report["params"] = sum(p.numel() for p in model.parameters())
        eos = cfg.eos_token_id
        eos_ids = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
        for b in args.batches:
            prompt = make_prompt(torch, args, b, cfg.vocab_size, dev)
            report["promptLen"] = int(prompt.shape[1])
            ref_tokens = None
            modes = list(args.modes)
            if "eager-generate" in modes:  # run the reference first so later modes can be checked against it
                modes.remove("eager-generate")
                modes.insert(0, "eager-generate")
            for m in modes:
                log(f"{m} {dtype_name} batch {b} ...")
                try:
                    if m == "eager-generate":
                        stats, tokens = bench_generate(torch, model, prompt, args, dev, eos_ids)
                        ref_tokens = tokens
                    else:
                        stats, tokens = bench_static(torch, model, prompt, args, dev, dtype, eos_ids, m)
                    r = row(m, dtype_name, b, stats, args.new_tokens, None)
                    if m != "eager-generate" and ref_tokens is not None:
                        same = tokens.cpu().eq(ref_tokens.cpu())
                        r["tokensMatchEager"] = bool(same.all())
                        if not r["tokensMatchEager"]:  # first column where any row differs
                            r["firstMismatch"] = int((~same).any(dim=0).nonzero()[0])
                    log(f"  {r['decodeTokensPerSec'] or 0:.0f} tok/s decode, ttft {r['ttftMs']:.2f} ms, "
                        f"match {r['tokensMatchEager']}")
                except Exception as e:  # noqa: BLE001 - one failing mode must not lose the others
                    traceback.print_exc(file=sys.stderr)
                    report["results"].append(row(m, dtype_name, b, None, None, f"{type(e).__name__}: {str(e)[:1500]}"))
                    if dev.startswith("cuda"):
                        try:
                            torch.cuda.synchronize()
                        except Exception:  # noqa: BLE001
                            pass
                    continue
                report["results"].append(r)
        del model
        if dev.startswith("cuda"):
            torch.cuda.empty_cache()

    text = json.dumps(report, indent=1)
    if args.json_out:
        with open(args.json_out, "w") as f:
            f.write(text + "\n")
    print(text, file=real_stdout)
    return 0


def row(mode: str, dtype: str, batch: int, stats: dict[str, Any] | None, n: int | None, err: str | None) -> dict[str, Any]:
    r: dict[str, Any] = {"mode": mode, "dtype": dtype, "batch": batch, "decodeTokensPerSec": None,
                         "e2eTokensPerSec": None, "ttftMs": None, "decodeMs": None, "runsMs": None,
                         "tokensMatchEager": None, "error": err}
    if stats is not None and n is not None:
        r["runsMs"] = [round(x, 3) for x in stats["runsMs"]]
        r["ttftMs"] = round(stats["ttftMs"], 3)
        r["decodeMs"] = round(stats["decodeMs"], 3)
        r["decodeTokensPerSec"] = batch * (n - 1) / (stats["decodeMs"] / 1000.0) if stats["decodeMs"] > 0 else None
        r["e2eTokensPerSec"] = batch * n / (statistics.median(stats["runsMs"]) / 1000.0)
        if stats.get("note"):
            r["note"] = stats["note"]
    return r


if __name__ == "__main__":
    sys.exit(main())
