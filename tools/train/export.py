# Export (Hugging Face layout, f16 safetensors), reload (f16 upcast to f32), generation, acceptance rate and
# the golden parity file for tools/train/train.py. Imports torch/transformers only.
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import LlamaForCausalLM


def export(model, tok, out_dir: Path, ctx, bos_tok, eos_tok):
    out_dir.mkdir(parents=True, exist_ok=True)
    m = model.to("cpu").to(torch.float16)
    m.config.use_cache = True
    m.save_pretrained(out_dir, safe_serialization=True)
    cfg = json.loads((out_dir / "config.json").read_text())
    cfg["rope_theta"] = 10000.0  # also at the top level, as older readers (and our engine) look for it
    cfg["rope_scaling"] = None
    (out_dir / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    tok.save(str(out_dir / "tokenizer.json"))
    (out_dir / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": bos_tok, "eos_token": eos_tok,
        "add_bos_token": True, "add_eos_token": False,
        "model_max_length": ctx, "clean_up_tokenization_spaces": False,
    }, indent=2) + "\n")
    (out_dir / "generation_config.json").write_text(json.dumps({
        "bos_token_id": model.config.bos_token_id, "eos_token_id": model.config.eos_token_id,
        "max_length": ctx, "do_sample": True, "temperature": 0.8, "top_k": 0, "top_p": 1.0,
    }, indent=2) + "\n")


def reload(out_dir: Path, device):
    """The exported f16 weights, upcast to f32: what our f32 engine computes with."""
    m = LlamaForCausalLM.from_pretrained(out_dir, dtype=torch.float32, attn_implementation="eager")
    return m.to(device).eval()


@torch.no_grad()
def generate(model, ids, n, temperature=0.0, gen=None):
    """n new tokens after ids, with the KV cache. temperature 0: greedy (argmax). Returns (new ids, the
    top-1 minus top-2 logit gap at each greedy step: how close a tie came)."""
    dev = next(model.parameters()).device
    x = torch.tensor([ids], device=dev)
    out = model(input_ids=x, use_cache=True)
    past, logits = out.past_key_values, out.logits[0, -1]
    new, gaps = [], []
    for _ in range(n):
        if temperature == 0:
            top2 = torch.topk(logits, 2).values
            gaps.append((top2[0] - top2[1]).item())
            t = int(torch.argmax(logits))
        else:
            p = torch.softmax(logits.float().cpu() / temperature, -1)
            t = int(torch.multinomial(p, 1, generator=gen))
        new.append(t)
        out = model(input_ids=torch.tensor([[t]], device=dev), past_key_values=past, use_cache=True)
        past, logits = out.past_key_values, out.logits[0, -1]
    return new, gaps


@torch.no_grad()
def acceptance_and_loss(target, draft, x, y, bs=16):
    """Mean over positions of sum_x min(p(x), q(x)) at temperature 1 (p target, q draft), and each model's
    mean cross-entropy, over the validation windows x, y [W, T]."""
    acc, lt, ld, n = 0.0, 0.0, 0.0, 0
    for i in range(0, x.shape[0], bs):
        xb, yb = x[i:i + bs], y[i:i + bs]
        a, b = target(input_ids=xb).logits.float(), draft(input_ids=xb).logits.float()
        acc += torch.minimum(a.softmax(-1), b.softmax(-1)).sum(-1).sum().item()
        lt += F.cross_entropy(a.reshape(-1, a.shape[-1]), yb.reshape(-1), reduction="sum").item()
        ld += F.cross_entropy(b.reshape(-1, b.shape[-1]), yb.reshape(-1), reduction="sum").item()
        n += yb.numel()
    return acc / n, lt / n, ld / n


def r6(v):
    return float(f"{v:.6g}")


def r7(v):
    return float(f"{v:.7g}")


@torch.no_grad()
def golden_entry(model, tok, prompt, n_new=64):
    ids = tok.encode(prompt).ids  # add_special_tokens: tokenizer.json's post-processor puts <s> first
    logits = model(input_ids=torch.tensor([ids])).logits[0]  # [T, vocab] f32
    n = len(ids)
    positions = sorted({0, 1, n // 2, n - 1})
    new, gaps = generate(model, ids, n_new)
    return {
        "prompt": prompt,
        "ids": ids,
        "positions": positions,
        "logits": [[r7(v) for v in logits[p].tolist()] for p in positions],
        "greedy": new,
        "greedyText": tok.decode(new),
        "greedyMinTop2Gap": r6(min(gaps)),
        "greedyTop2Gaps": [r6(g) for g in gaps],
    }


def write_golden(path: Path, models: dict, tok, prompts):
    torch.set_float32_matmul_precision("highest")
    doc = {
        "description": (
            "Golden parity data for Decode Lab's default models, computed by tools/train/train.py (or, from the "
            "exported folders alone, python3 tools/train/export.py) in PyTorch "
            "f32 (CPU, eager attention) from the EXPORTED f16 model.safetensors loaded back and upcast to f32. "
            "models.<name>.prompts[]: prompt (text); ids = tokenizer.encode(prompt) with special tokens, i.e. "
            "BOS <s> first (added by tokenizer.json's TemplateProcessing post-processor) and no EOS: feed "
            "exactly these ids at positions 0..len-1 (the engine must not add a second BOS); positions = "
            "0-based positions whose logits are stored; logits[i] = the full vocab-size row of logits "
            "(float, 7 significant digits) at positions[i], predicting the token after that position; "
            "greedy = the 64 tokens chosen by argmax after the whole prompt, with the KV cache (they do not "
            "stop at EOS); greedyText = their decoding; greedyMinTop2Gap = the smallest top-1 minus top-2 "
            "logit gap along that greedy path (how close a tie came); greedyTop2Gaps = that gap at each of "
            "the 64 steps (where it is below the engine's logit error a different argmax is legitimate, so "
            "a test may teacher-force these tokens and compare argmax only where the gap is clear). "
            "tokenizerSamples: text -> ids from "
            "tokenizer.json, with the BOS; checked identical in @huggingface/transformers' PreTrainedTokenizer."),
        "tolerance": {"logitsAbs": 1e-3},
        "models": {},
        "tokenizerSamples": [],
    }
    for name, (folder, model) in models.items():
        doc["models"][name] = {"folder": folder, "prompts": [golden_entry(model, tok, p) for p in prompts]}
    for s in ["It is a truth universally acknowledged, that a single man in possession of a good fortune, "
              "must be in want of a wife.", "ROMEO:\nBut, soft! what light through yonder window breaks?",
              "  Mr. Darcy's  café—“naïve” 1813\n\nend"]:
        doc["tokenizerSamples"].append({"text": s, "ids": tok.encode(s).ids})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    return doc


if __name__ == "__main__":
    # Rebuilds the golden file from the exported folders alone (no training):
    #   python3 tools/train/export.py [repo root]
    import sys
    from tokenizers import Tokenizer
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    folders = {"target": "public/models/decode-lab-target", "draft": "public/models/decode-lab-draft"}
    tok = Tokenizer.from_file(str(root / folders["target"] / "tokenizer.json"))
    cpu = {n: (f, reload(root / f, "cpu")) for n, f in folders.items()}
    from train import PROMPTS  # the one list of golden prompts
    write_golden(root / "workers/model/testdata/default-golden.json", cpu, tok, PROMPTS)
