# Writes the model cards (README.md in each model folder) from tools/train/train.py's summary. Plain text only.
# Rerun alone (python3 tools/train/card.py [repo root]) to rewrite the cards from tools/train/logs/summary.json.
import json
import math
import sys
from pathlib import Path

BLURB = {
    "target": "Decode Lab's default **target** model: the larger model of the project's speculative-decoding pair.",
    "draft": "Decode Lab's default **draft** model: the small model that proposes tokens for "
             "[decode-lab-target](../decode-lab-target/README.md) to verify (speculative decoding).",
}


def _arch_rows(arch, n):
    return "\n".join([
        "| | |", "|---|---|",
        "| architecture | Llama (`LlamaForCausalLM`, `model_type: llama`) |",
        f"| parameters | {n:,} (token embedding tied with the output layer, counted once) |",
        f"| layers | {arch['num_hidden_layers']} |",
        f"| width (`hidden_size`) | {arch['hidden_size']} |",
        f"| SwiGLU inner width (`intermediate_size`) | {arch['intermediate_size']} |",
        f"| attention heads / KV heads / head dim | {arch['num_attention_heads']} / "
        f"{arch['num_key_value_heads']} / {arch['head_dim']}"
        + (" (grouped-query attention)" if arch['num_key_value_heads'] < arch['num_attention_heads'] else "") + " |",
        "| RoPE | theta 10000, no scaling (Hugging Face `rotate_half` layout) |",
        "| RMSNorm eps | 1e-5 |",
        "| biases | none |",
    ])


def model_card(name, s):
    arch, n = s["archs"][name], s["params"][name]
    r, a, d = s["results"][name], s["args"], s["data"]
    other = "draft" if name == "target" else "target"
    lr, drop, wd = r["lr"], r["dropout"], r["wd"]
    sweep = (f" {len(r['candidates'])} candidate settings (lr, weight decay, dropout) = "
             + ", ".join(f"({x[0]:g}, {x[1]:g}, {x[2]:g})" for x in r["candidates"])
             + " were trained from the same initialisation; this one had the lowest validation loss."
             if name == "target" and len(r.get("candidates", [])) > 1 else "")
    size = sum(s["sizes"][name].values())
    distill = (f" The loss was (1 - a) x cross-entropy + a x KL(p || q) with a = {a['draft_distill']}, p the trained "
               "target's next-token distribution and q the draft's (distillation, for a higher acceptance rate)."
               if name == "draft" and a["draft_distill"] > 0 else "")
    docs = ", ".join(f"`{x['name']}`" for x in d["docs"])
    samples = "\n\n".join(
        f"**{x['prompt']}** (greedy)\n\n```text\n{x['prompt']}{x['greedy']}\n```\n\n"
        f"**{x['prompt']}** (sampled, temperature 0.8)\n\n```text\n{x['prompt']}{x['sampled']}\n```"
        for x in s["samples"][name])
    return f"""---
license: mit
language: en
library_name: transformers
pipeline_tag: text-generation
---

# decode-lab-{name}

{BLURB[name]} Trained from scratch by `tools/train/train.py` (see `tools/train/README.md` for the exact command);
it ships with the app as static files and runs in the browser on WebGPU.

## Architecture and size

{_arch_rows(arch, n)}
| context | {a['seq_len']} tokens |
| vocabulary | {d['vocab']} (byte-level BPE; `<s>` = {d['bos']} BOS, `</s>` = {d['eos']} EOS) |
| files | `model.safetensors` in f16, {size / 1e6:.2f} MB in this folder together |

The {other} has {s['params'][other]:,} parameters (draft/target = {s['params']['draft'] / s['params']['target']:.2%}).

## Data

The six Jane Austen novels and the 40,000-line Shakespeare excerpt ("tinyshakespeare") in `../shared/corpora`,
all public domain: {docs}. Austen's hard-wrapped paragraphs were unwrapped into one line each (runs of spaces
collapsed); Shakespeare keeps its verse lines. Paragraphs are separated by a blank line. The last {a['val_frac']:.0%}
of each file (cut at a paragraph boundary) is held out for validation: {d['train_tokens']:,} training tokens,
{d['val_tokens']:,} validation tokens ({d['val_windows']} windows of {a['seq_len']}). Each example is `<s>` followed by
{a['seq_len'] - 1} tokens starting at a paragraph start; every file ends with `</s>`. The tokenizer's `encode` puts
`<s>` first (its post-processor), as the model expects.

## Training

{r['steps']} steps of {a['batch']} x {a['seq_len']} tokens, AdamW (betas 0.9, 0.95, weight decay {wd:g} on matrices),
learning rate {lr:g} with a linear warm-up and cosine decay to a tenth, gradient clipping 1.0, dropout {drop}
(embeddings and both residual branches), bf16 autocast, seed 1337, on one {s['device']} ({r['seconds']:.0f} s).{distill}{sweep}
The checkpoint with the lowest validation loss (step {r['best_step']}) is the one exported. Log:
`tools/train/logs/{name}.txt`.

## Evaluation (held-out text)

| | {name} | {other} |
|---|---|---|
| validation loss (nats/token, exported f16 weights in f32) | **{r['val_loss_f16']:.4f}** | {s['results'][other]['val_loss_f16']:.4f} |
| validation perplexity | **{math.exp(r['val_loss_f16']):.2f}** | {math.exp(s['results'][other]['val_loss_f16']):.2f} |

The same validation text chose the exported checkpoint (and the target's candidate settings), so these
figures are slightly optimistic; the gap between the two models is what matters here.

**Acceptance rate** of the draft against the target at temperature 1, the mean over all validation positions of
sum_x min(p(x), q(x)) (p the target's, q the draft's next-token distribution): **{s['results']['acceptance']:.4f}**.

## Outputs

Continuations of 64 tokens after `<s>` + prompt, from the exported weights.

{samples}

## Licence

The training texts are in the public domain. The model, its weights and tokenizer are the Decode Lab
project's own work, released under the MIT licence.
"""


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    summary = json.loads((root / "tools/train/logs/summary.json").read_text())
    for n in ("target", "draft"):
        (root / f"public/models/decode-lab-{n}/README.md").write_text(model_card(n, summary))
