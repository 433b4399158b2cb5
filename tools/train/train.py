# Trains Decode Lab's bundled default models: a byte-level BPE tokenizer, a Llama target and a 2-layer
# Llama draft on the public-domain corpora, exports both in Hugging Face layout (f16 safetensors), writes
# model cards, training logs and the golden parity file. Usage: see tools/train/README.md.
import argparse
import json
import math
import os
import random
import re
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM

BOS, EOS = "<s>", "</s>"
SEED = 1337

# Architectures. Target: GQA (8 query heads share 2 KV heads). Draft: plain multi-head attention.
# The draft must stay at or under a tenth of the target's parameters (checked below).
TARGET = dict(hidden_size=256, intermediate_size=768, num_hidden_layers=10, num_attention_heads=8,
              num_key_value_heads=2, head_dim=32)
DRAFT = dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=4, head_dim=32)
SMOKE_TARGET = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=8, num_attention_heads=4,
                    num_key_value_heads=2, head_dim=16)
SMOKE_DRAFT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                   num_key_value_heads=2, head_dim=16)

PROMPTS = ["It is a truth universally acknowledged", "ROMEO:"]
CARD_PROMPTS = ["It is a truth universally acknowledged", "ROMEO:", "Elizabeth", "The carriage"]


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


# ---------------------------------------------------------------- data

def load_corpus(root: Path):
    """Returns [(name, text)]. Austen's hard-wrapped paragraphs are unwrapped into single lines (so the model
    spends no capacity on line-wrap positions); Shakespeare's verse keeps its line breaks."""
    docs = []
    for p in sorted((root / "austen").glob("*.txt")):
        t = p.read_text(encoding="utf-8").replace("\r", "")
        paras = [re.sub(r"[ \t]+", " ", " ".join(x.split("\n"))).strip() for x in re.split(r"\n\s*\n", t)]
        docs.append((f"austen/{p.name}", "\n\n".join(x for x in paras if x) + "\n"))
    t = (root / "tinyshakespeare.txt").read_text(encoding="utf-8").replace("\r", "")
    paras = [x.strip("\n") for x in re.split(r"\n\s*\n", t)]
    docs.append(("tinyshakespeare.txt", "\n\n".join(x for x in paras if x.strip()) + "\n"))
    return docs


def split_doc(text, frac):
    """Train / validation split: the last `frac` of the document, cut at a paragraph boundary."""
    cut = text.find("\n\n", int(len(text) * (1 - frac)))
    return text[: cut + 2], text[cut + 2:]


def para_starts(text):
    return [0] + [m.end() for m in re.finditer(r"\n\n", text) if m.end() < len(text)]


def train_tokenizer(texts, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=[BOS, EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    bos = tok.token_to_id(BOS)
    # encode(text) (add_special_tokens=True) gives "<s> text", as Llama tokenizers do.
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", special_tokens=[(BOS, bos)])
    return tok


def encode_doc(tok, text):
    """Token ids of a whole document plus the token index of every paragraph start."""
    enc = tok.encode(text, add_special_tokens=False)
    starts_tok = np.array([o[0] for o in enc.offsets])
    idx = np.searchsorted(starts_tok, np.array(para_starts(text)), side="left")
    return np.array(enc.ids, dtype=np.int64), np.unique(idx[idx < len(enc.ids)])


def build_split(tok, texts, seq_len, eos):
    """Concatenated tokens (each doc ends with EOS) and the valid window starts (paragraph starts with a full
    window of seq_len-1 tokens after them inside the same doc). A training example is [BOS] + tokens[s:s+seq_len]."""
    all_ids, starts, off = [], [], 0
    for t in texts:
        ids, ps = encode_doc(tok, t)
        ids = np.append(ids, eos)
        ps = ps[ps + seq_len <= len(ids)]
        all_ids.append(ids)
        starts.append(ps + off)
        off += len(ids)
    return np.concatenate(all_ids), np.concatenate(starts)


def val_windows(starts, seq_len):
    """Non-overlapping validation windows, each starting at a paragraph start."""
    out, nxt = [], -1
    for s in starts:
        if s >= nxt:
            out.append(s)
            nxt = s + seq_len
    return np.array(out)


def make_batch(tokens, starts, seq_len, bos):
    # tokens: [N] int64 (device); starts: [B] int64 (device) -> x, y: [B, seq_len]
    idx = starts[:, None] + torch.arange(seq_len, device=tokens.device)[None, :]
    body = tokens[idx]
    x = torch.cat([torch.full_like(body[:, :1], bos), body[:, :-1]], dim=1)
    return x, body


# ---------------------------------------------------------------- model

def llama_config(arch, vocab, ctx, bos, eos):
    return LlamaConfig(vocab_size=vocab, max_position_embeddings=ctx, rms_norm_eps=1e-5, rope_theta=10000.0,
                       hidden_act="silu", attention_bias=False, mlp_bias=False, tie_word_embeddings=True,
                       bos_token_id=bos, eos_token_id=eos, pad_token_id=None, initializer_range=0.02,
                       use_cache=True, **arch)


def n_params(model):
    return sum(p.numel() for p in model.parameters())  # tied embeddings counted once


def add_dropout(model, p):
    """Residual-branch and embedding dropout through forward hooks (HF's Llama has none of its own)."""
    if p <= 0:
        return []
    hs = [model.model.embed_tokens.register_forward_hook(lambda m, i, o: F.dropout(o, p, m.training))]
    for layer in model.model.layers:
        hs.append(layer.mlp.register_forward_hook(lambda m, i, o: F.dropout(o, p, m.training)))
        hs.append(layer.self_attn.register_forward_hook(
            lambda m, i, o: (F.dropout(o[0], p, m.training),) + tuple(o[1:])))
    return hs


@torch.no_grad()
def evaluate(model, tokens, windows, seq_len, bos, bs, dev):
    model.eval()
    tot, n = 0.0, 0
    for i in range(0, len(windows), bs):
        x, y = make_batch(tokens, windows[i:i + bs], seq_len, bos)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            logits = model(input_ids=x).logits
        tot += F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
        n += y.numel()
    model.train()
    return tot / n


def train_model(name, model, data, a, dev, lr, steps, dropout, log, teacher=None, alpha=0.0, wd=0.1):
    """Trains with next-token cross-entropy; with a teacher, the loss is (1 - alpha) * CE + alpha * KL(p || q),
    p the teacher's and q the model's next-token distribution at temperature 1 (distillation raises the
    draft's acceptance rate, the overlap sum_x min(p, q))."""
    seed_all(SEED + (1 if name == "draft" else 0))
    tr_tok, tr_starts, va_tok, va_win = data
    hooks = add_dropout(model, dropout)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.95), eps=1e-8, fused=dev.type == "cuda")
    warm = max(1, min(100, steps // 10))

    def lr_at(s):
        if s < warm:
            return lr * (s + 1) / warm
        return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm))))

    g = torch.Generator(device="cpu").manual_seed(SEED)
    best, best_state, best_step, ema = float("inf"), None, 0, None
    log(f"# {name}: {n_params(model):,} parameters; {steps} steps of {a.batch} x {a.seq_len} tokens; "
        f"lr {lr} cosine to {lr / 10:g}, warmup {warm}; AdamW(0.9, 0.95) wd {wd}; dropout {dropout}; bf16 autocast"
        + (f"; distilled from the target, alpha {alpha}" if teacher is not None and alpha > 0 else ""))
    log("step\ttrain_loss\tval_loss\tlr\telapsed_s  (train_loss: moving average of the training objective)")
    t0 = time.time()
    model.train()
    for s in range(steps + 1):
        if s % a.eval_every == 0 or s == steps:
            vl = evaluate(model, va_tok, va_win, a.seq_len, a.bos, a.batch, dev)
            log(f"{s}\t{float(ema) if ema is not None else float('nan'):.4f}\t{vl:.4f}\t{lr_at(min(s, steps - 1)):.2e}\t{time.time() - t0:.1f}")
            if vl < best:
                best, best_step = vl, s
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if s == steps:
            break
        for gp in opt.param_groups:
            gp["lr"] = lr_at(s)
        pick = torch.randint(len(tr_starts), (a.batch,), generator=g)
        x, y = make_batch(tr_tok, tr_starts[pick.to(dev)], a.seq_len, a.bos)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            logits = model(input_ids=x).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        if teacher is not None and alpha > 0:
            with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
                logp = teacher(input_ids=x).logits.float().log_softmax(-1)  # [B, T, vocab]
            kl = (logp.exp() * (logp - logits.float().log_softmax(-1))).sum(-1).mean()
            loss = (1 - alpha) * loss + alpha * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema = loss.detach() if ema is None else 0.95 * ema + 0.05 * loss.detach()  # stays on the GPU
    for h in hooks:
        h.remove()
    model.load_state_dict(best_state)
    log(f"# best validation loss {best:.4f} at step {best_step} (that checkpoint is exported); "
        f"training took {time.time() - t0:.1f} s")
    return dict(best_val=best, best_step=best_step, steps=steps, seconds=time.time() - t0)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", default="../shared/corpora")
    ap.add_argument("--out", default=".", help="root under which public/models/..., tools/train/logs/... and "
                                                "workers/model/testdata/default-golden.json are written")
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--target-steps", type=int, default=1800)
    ap.add_argument("--target-sweep", default="2e-3,0.1,0.3;2e-3,0.5,0.3;1e-3,0.5,0.4",
                    help="candidates 'lr,wd,dropout;...' (the best on validation is kept); '' = the three flags below")
    ap.add_argument("--draft-steps", type=int, default=3000)
    ap.add_argument("--target-lr", type=float, default=2e-3)
    ap.add_argument("--draft-lr", type=float, default=2e-3)
    ap.add_argument("--target-dropout", type=float, default=0.3)
    ap.add_argument("--target-wd", type=float, default=0.1)
    ap.add_argument("--draft-dropout", type=float, default=0.0)
    ap.add_argument("--draft-distill", type=float, default=0.5, help="alpha of the KL-to-target term")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--val-frac", type=float, default=0.05)
    ap.add_argument("--stop-after-target", action="store_true", help="for sweeps: train the target only")
    ap.add_argument("--smoke", action="store_true", help="tiny models and data: checks the pipeline on a CPU")
    a = ap.parse_args()
    import export as ex
    import card

    seed_all(SEED)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    out = Path(a.out)
    logs = out / "tools/train/logs"
    logs.mkdir(parents=True, exist_ok=True)

    docs = load_corpus(Path(a.corpus))
    if a.smoke:
        docs = [(n, t[:60000]) for n, t in docs]
    splits = [(n,) + split_doc(t, a.val_frac) for n, t in docs]
    tok = train_tokenizer([tr for _, tr, _ in splits], a.vocab)
    a.bos, a.eos = tok.token_to_id(BOS), tok.token_to_id(EOS)
    V = tok.get_vocab_size()
    tr_tok, tr_starts = build_split(tok, [tr for _, tr, _ in splits], a.seq_len, a.eos)
    va_tok, va_starts = build_split(tok, [va for _, _, va in splits], a.seq_len, a.eos)
    va_win = val_windows(va_starts, a.seq_len)
    data_info = dict(
        docs=[dict(name=n, train_chars=len(tr), val_chars=len(va)) for n, tr, va in splits],
        train_tokens=int(len(tr_tok)), val_tokens=int(len(va_tok)), train_windows=int(len(tr_starts)),
        val_windows=int(len(va_win)), vocab=V, bos=a.bos, eos=a.eos)
    print(json.dumps(data_info), flush=True)
    data = tuple(torch.as_tensor(v, device=dev) for v in (tr_tok, tr_starts, va_tok, va_win))

    archs = (SMOKE_TARGET, SMOKE_DRAFT) if a.smoke else (TARGET, DRAFT)
    ctx = a.seq_len
    seed_all(SEED)
    target = LlamaForCausalLM(llama_config(archs[0], V, ctx, a.bos, a.eos)).to(dev)
    seed_all(SEED + 1)
    draft = LlamaForCausalLM(llama_config(archs[1], V, ctx, a.bos, a.eos)).to(dev)
    nt, nd = n_params(target), n_params(draft)
    print(f"target {nt:,} params, draft {nd:,} params ({nd / nt:.2%})", flush=True)
    assert a.smoke or nd <= nt / 10, "the draft must have at most a tenth of the target's parameters"

    results = {}
    # The target: each candidate (lr, weight decay, dropout) is trained from the same initialisation; the one
    # with the lowest validation loss is kept (and distilled into the draft).
    cands = [tuple(float(v) for v in c.split(",")) for c in a.target_sweep.split(";")] if a.target_sweep \
        else [(a.target_lr, a.target_wd, a.target_dropout)]
    lines = []

    def log_t(s):
        print(f"[target] {s}", flush=True)
        lines.append(s)
    best_target = None
    for i, (lr, wd, drop) in enumerate(cands):
        if i > 0:
            seed_all(SEED)
            target = LlamaForCausalLM(llama_config(archs[0], V, ctx, a.bos, a.eos)).to(dev)
        log_t(f"# candidate {i}: lr {lr:g}, weight decay {wd:g}, dropout {drop:g}")
        r = train_model("target", target, data, a, dev, lr, a.target_steps, drop, log_t, wd=wd)
        r.update(candidate=i, lr=lr, wd=wd, dropout=drop)
        if best_target is None or r["best_val"] < best_target[0]["best_val"]:
            best_target = (r, target)
    results["target"], target = best_target
    results["target"]["candidates"] = [list(c) for c in cands]
    log_t(f"# kept candidate {results['target']['candidate']} (validation loss {results['target']['best_val']:.4f})")
    (logs / "target.txt").write_text("\n".join(lines) + "\n")
    if a.stop_after_target:
        return

    lines = []

    def log_d(s):
        print(f"[draft] {s}", flush=True)
        lines.append(s)
    results["draft"] = train_model("draft", draft, data, a, dev, a.draft_lr, a.draft_steps, a.draft_dropout, log_d,
                                   target.eval(), a.draft_distill, 0.1)
    results["draft"].update(lr=a.draft_lr, wd=0.1, dropout=a.draft_dropout)
    (logs / "draft.txt").write_text("\n".join(lines) + "\n")

    folders = {"target": "public/models/decode-lab-target", "draft": "public/models/decode-lab-draft"}
    for name, model in [("target", target), ("draft", draft)]:
        ex.export(model, tok, out / folders[name], ctx, BOS, EOS)
    rt, rd = ex.reload(out / folders["target"], dev), ex.reload(out / folders["draft"], dev)

    # Figures of the shipped (f16 -> f32) weights on the validation windows.
    x, y = make_batch(data[2], data[3], a.seq_len, a.bos)
    acc, lt, ld = ex.acceptance_and_loss(rt, rd, x, y)
    results["target"]["val_loss_f16"], results["draft"]["val_loss_f16"] = lt, ld
    results["acceptance"] = acc
    print(f"acceptance {acc:.4f}; val loss target {lt:.4f} draft {ld:.4f}", flush=True)

    samples = {}
    for name, m in [("target", rt), ("draft", rd)]:
        g = torch.Generator().manual_seed(SEED)
        samples[name] = [dict(prompt=p, greedy=tok.decode(ex.generate(m, tok.encode(p).ids, 64)[0]),
                              sampled=tok.decode(ex.generate(m, tok.encode(p).ids, 64, 0.8, g)[0]))
                         for p in CARD_PROMPTS]
    sizes = {n: {f.name: f.stat().st_size for f in sorted((out / d).iterdir())} for n, d in folders.items()}
    summary = dict(data=data_info, params=dict(target=nt, draft=nd), results=results, sizes=sizes,
                   archs=dict(target=archs[0], draft=archs[1]), args=vars(a), samples=samples,
                   torch=torch.__version__, device=torch.cuda.get_device_name() if dev.type == "cuda" else "cpu")
    (logs / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    for name in ("target", "draft"):
        (out / folders[name] / "README.md").write_text(card.model_card(name, summary))

    cpu = {n: (folders[n], ex.reload(out / folders[n], "cpu")) for n in ("target", "draft")}
    ex.write_golden(out / "workers/model/testdata/default-golden.json", cpu, tok, PROMPTS)
    print(json.dumps({k: v for k, v in summary.items() if k != "samples"}, indent=1), flush=True)
    for n in ("target", "draft"):
        for s in samples[n][:2]:
            print(f"--- {n} greedy: {s['prompt']}{s['greedy']}\n--- {n} sampled: {s['prompt']}{s['sampled']}")


if __name__ == "__main__":
    main()
