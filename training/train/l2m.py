"""`tdmm train l2m`: train the Language2Motion generator (engine/generator.py) in the shared loop.

    tdmm train l2m --data DIR --out runs/l2m [--config configs/l2m.json] [--tokenizer CKPT]
        [--evaluator DIR] [--text-mode words|pooled] [--steps N] [--batch-size B] [--lr LR]
        [--device cuda|cpu] [--max-clips N] [--max-minutes M] [--stop-at N] [--resume OUT/last]
    # the T2M-GPT-style baseline is the same run with one pooled sentence row: configs/l2m_t2m_gpt.json
    # to ship: copy OUT/best.safetensors and OUT/best.json to assets/l2m/generator.{safetensors,json}

What it does, in order:
1. loads the train and val splits, encodes every clip with the (shipped) tokenizer once and keeps
   the codes [N,P,R] on the device; every distinct caption goes through frozen MiniLM once
   (training/data/caption_bank.py);
2. each step draws clips, one caption each, and a piece of each clip to make: the whole clip
   (a fresh generation), or the positions from a random start to the end or to a random cut,
   with up to max_context positions before it as context (continuation) and, sometimes, the
   position after the cut as the goal (in-betweening); the prompt is dropped at p_drop
   (the unconditional model of classifier-free guidance);
3. validates with the evaluation suite's metrics: every val_every steps it generates motion for
   val_gen val clips from their captions at their lengths (the engine's sampling, guidance
   val_guidance) and scores it with the frozen evaluator: R-precision top-1 in batches of 32,
   FD to the real val motion, and the classifier's family / intensity / head / side agreement
   with the clips' labels; plus the teacher-forced loss on val clips. The best checkpoint has
   the highest `score` (the mean of top-1 and the four agreements, as fractions).

Config JSON: {"model": {GeneratorConfig fields}, "train": {TrainConfig fields}}; the tokenizer's
fields (levels, codebook_size, downsample, fps) are filled in from the tokenizer itself.
"""
from __future__ import annotations

import hashlib
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from engine.generator import GeneratorConfig, MotionGenerator
from engine.head import assets_dir
from engine.synthesis import synthesize
from engine.tokenizer import load_tokenizer, token_lengths, tokenizer_file
from training.data.caption_bank import CaptionBank, to_device
from training.data.motion_data import EmptySplitError, load_motion_arrays
from training.train import loop


@dataclass
class TrainConfig(loop.LoopConfig):
    steps: int = 20000
    lr: float = 4e-4
    weight_decay: float = 0.05
    betas: tuple = (0.9, 0.95)
    warmup: int = 500
    val_every: int = 2000
    log_every: int = 100
    batch_size: int = 256               # clips per step, over all ranks
    p_segment: float = 0.4              # start at a random position with context before it
    p_cut: float = 0.3                  # end at a random position before the clip's end
    p_goal: float = 0.5                 # of the cut pieces: give the position after the cut as goal
    p_drop: float = 0.1                 # prompt dropped (classifier-free guidance)
    max_clips: int | None = None
    max_val_clips: int | None = 2048    # teacher-forced val loss
    val_gen: int = 512                  # val clips generated and scored by the evaluator
    val_guidance: float = 2.0
    val_top_p: float = 0.95
    text_batch: int = 512


def sha_prefix(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


# -- data on the device ----------------------------------------------------------------------------
class CodedSplit:
    """One split as tokenizer codes on the device: codes [N,P,R] (-1 past each clip), positions [N],
    frames [N], labels, captions (a CaptionBank)."""

    def __init__(self, arrays, tok, device, max_tokens: int, bank_kw: dict, chunk: int = 512):
        keep = np.array([len(c) > 0 for c in arrays.captions])
        if not keep.all():
            arrays = arrays.subset(np.flatnonzero(keep))
        self.arrays, self.n = arrays, len(arrays)
        feats, dev = arrays.features(), next(tok.parameters()).device
        codes = []
        for s in range(0, self.n, chunk):
            f = torch.from_numpy(feats[s:s + chunk]).to(dev)
            codes.append(tok.encode(f, torch.from_numpy(arrays.lengths[s:s + chunk]).to(dev)).to(device))
        P = max(c.shape[1] for c in codes)
        self.codes = torch.cat([torch.nn.functional.pad(c, (0, 0, 0, P - c.shape[1]), value=-1) for c in codes])
        self.frames = torch.from_numpy(arrays.lengths).long()                                     # CPU
        self.positions = token_lengths(self.frames, tok.cfg.downsample)                           # CPU
        self.bank = CaptionBank(arrays.captions, device, max_tokens, **bank_kw)
        self.device = device

    def gather(self, idx: torch.Tensor, start: torch.Tensor, count: torch.Tensor, width: int) -> torch.Tensor:
        """codes of clips idx [B] at positions start + 0..width-1 (-1 outside [start, start+count)
        and outside the clip) -> [B,width,R] on the device; all index tensors on the CPU."""
        j = torch.arange(width)[None, :]
        pos = start[:, None] + j                                                            # [B,W]
        ok = (j < count[:, None]) & (pos >= 0) & (pos < self.positions[idx][:, None])
        pos = torch.where(ok, pos, 0)
        rows = self.codes[to_device(idx, self.device)[:, None], to_device(pos, self.device)]       # [B,W,R]
        return torch.where(to_device(ok, self.device)[..., None], rows, -1)


def draw_pieces(P: torch.Tensor, cfg: TrainConfig, max_positions: int, gen: torch.Generator):
    """positions per clip P [B] -> (start, end, goal?, drop?) per clip, CPU tensors: what part of
    each clip to make (see the module doc)."""
    B = len(P)
    u = torch.rand(B, 5, generator=gen)
    seg = (u[:, 0] < cfg.p_segment) & (P >= 4)
    start = torch.where(seg, 1 + (u[:, 1] * (P - 3).clamp_min(1)).long(), 0)               # 1 .. P-3
    cut = (u[:, 2] < cfg.p_cut) & (P - start >= 3)
    end = torch.where(cut, start + 2 + (u[:, 3] * (P - start - 2)).long().clamp_max(P - start - 3), P)
    end = torch.minimum(end, start + max_positions)
    goal = cut & (u[:, 4] < cfg.p_goal) & (end < P)
    drop = torch.rand(B, generator=gen) < cfg.p_drop
    return start, end, goal, drop


# -- the task the loop trains ----------------------------------------------------------------------------
class L2MTask(loop.Task):
    name, best_metric, best_mode = "l2m", "score", "max"

    def __init__(self, model: MotionGenerator, cfg: TrainConfig, train_set: CodedSplit, val_set: CodedSplit | None,
                 tok, evaluator, rt: loop.Runtime, info: dict):
        self.model, self.cfg, self.train_set, self.val_set = model, cfg, train_set, val_set
        self.tok, self.ev = tok, evaluator
        self.info, self.device = info, rt.device
        self.amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if rt.device.type == "cuda" else nullcontext
        self.per_rank = min(max(1, cfg.batch_size // rt.world), train_set.n)
        self._val_cache = None

    def batches(self, seed: int):
        gen, ts, B = torch.Generator().manual_seed(seed), self.train_set, self.per_rank
        perm, pos = torch.randperm(ts.n, generator=gen), 0
        while True:
            if pos + B > ts.n:
                perm, pos = torch.randperm(ts.n, generator=gen), 0
            idx = perm[pos:pos + B]
            pos += B
            caps = ts.bank.pick(idx, torch.rand(B, generator=gen))
            yield (idx, caps, *draw_pieces(ts.positions[idx], self.cfg, self.model.cfg.max_positions, gen))

    def _inputs(self, split: CodedSplit, idx, caps, start, end, goal, drop):
        K, n = self.model.cfg.max_context, end - start
        text, mask = split.bank.batch(caps)
        targets = split.gather(idx, start, n, int(n.max()))
        context = split.gather(idx, start - K, torch.full_like(start, K), K)
        goals = split.gather(idx, end, goal.long(), 1)[:, 0]
        dev = self.device
        return text, mask, targets, to_device(n, dev), to_device(drop, dev), goals, context

    def loss(self, batch):
        text, mask, targets, n, drop, goals, context = self._inputs(self.train_set, *batch)
        return self.model(text, mask, targets, n, drop, goals, context)

    # -- validation ---------------------------------------------------------------------------------
    def _val_fixed(self):
        """Fixed val inputs: one caption per clip, whole clips, and the evaluator's view of them."""
        if self._val_cache is None:
            vs = self.val_set
            g = torch.Generator().manual_seed(self.cfg.seed + 1)
            m = min(vs.n, self.cfg.max_val_clips or vs.n)
            caps = vs.bank.pick(torch.arange(vs.n), torch.rand(vs.n, generator=g))
            k = min(vs.n, self.cfg.val_gen)
            pick = torch.randperm(vs.n, generator=g)[:k]
            texts = [vs.bank.texts[int(u)] for u in caps[pick]]
            a = vs.arrays.subset(pick.numpy())
            real = self.ev.embed_motion(a.features(), a.lengths).cpu().numpy()
            self._val_cache = dict(tf=(torch.arange(m), caps[:m]), pick=pick, caps=caps[pick], labels=a.labels,
                                   text_emb=self.ev.embed_text(texts).cpu().numpy(), real=real)
        return self._val_cache

    @torch.no_grad()
    def validate(self, model: MotionGenerator | None = None) -> dict:
        if self.val_set is None:
            return {}
        from training.eval.metrics import frechet_distance, label_accuracy, r_precision
        from training.eval.report import motion_outputs
        model, vs, v = model or self.model, self.val_set, self._val_fixed()
        model.eval()
        tf_loss, parts_sum, nb = 0.0, {}, 0
        idx_all, caps_all = v["tf"]
        for s in range(0, len(idx_all), 256):
            idx, caps = idx_all[s:s + 256], caps_all[s:s + 256]
            P = vs.positions[idx]
            z = torch.zeros(len(idx), dtype=torch.bool)
            with self.amp():
                loss, parts = model(*self._inputs(vs, idx, caps, torch.zeros_like(P), P, z, z))
            tf_loss += float(loss)
            for k, x in parts.items():
                parts_sum[k] = parts_sum.get(k, 0.0) + float(x)
            nb += 1
        out = {"val_loss": tf_loss / nb, **{f"val_{k}": x / nb for k, x in parts_sum.items()}}
        text, mask = vs.bank.batch(v["caps"])
        frames = vs.frames[v["pick"]]
        seeds = list(range(len(frames)))
        with self.amp():
            feats, _ = synthesize(model, self.tok, text, mask, frames, seeds, guidance=self.cfg.val_guidance,
                                  top_p=self.cfg.val_top_p)
        emb, preds = motion_outputs(self.ev, feats.float(), frames.to(feats.device))
        rp = r_precision(v["text_emb"], emb, min(32, len(emb)), 1, rng=0, metric="cosine")
        acc = label_accuracy(preds, v["labels"], ("family", "intensity", "head_motion"))
        sided = [i for i, lab in enumerate(v["labels"]) if (lab or {}).get("side", "both") != "both"]
        side = 100.0 * np.mean([preds[i].get("side") == v["labels"][i]["side"] for i in sided]) if sided else np.nan
        out.update(top1=rp["top1"], fd=frechet_distance(v["real"], emb), acc_family=acc["family"],
                   acc_intensity=acc["intensity"], acc_head=acc["head_motion"], acc_side=side)
        parts = [out["top1"], acc["family"] / 100, acc["intensity"] / 100, acc["head_motion"] / 100]
        if sided:
            parts.append(side / 100)
        out["score"] = float(np.mean(parts))
        model.train()
        return {k: round(float(x), 5) for k, x in out.items()}

    def describe(self, m: dict) -> str:
        return (f"top-1 {m['top1']:.3f}, FD {m['fd']:.3f}, family {m['acc_family']:.1f}%, intensity "
                f"{m['acc_intensity']:.1f}%, head {m['acc_head']:.1f}%, side {m['acc_side']:.1f}%; "
                f"val loss {m['val_loss']:.3f}")

    def save(self, stem: Path, fp16: bool, meta: dict) -> None:
        self.model.save(stem, dtype=torch.float16 if fp16 else torch.float32, meta={**self.info, **meta})

    def final(self, best: Path) -> dict:
        """The shipped form (fp16 weights, computed in fp32) on the val split."""
        return self.validate(MotionGenerator.load(best, self.device))


# -- the run -------------------------------------------------------------------------------------------
def _load(root, split, max_clips, progress):
    try:
        return load_motion_arrays(root, split, max_clips=max_clips, progress=progress)
    except EmptySplitError:
        return None


def train(args) -> dict:
    from training.eval.evaluator import Evaluator
    t_start = time.time()
    rt = loop.runtime(args.device)
    model_kw, tc, state = loop.resolve_config(args, TrainConfig, GeneratorConfig.from_dict, loop.SCHEDULE_FLAGS)
    progress = rt.main and not args.quiet
    device = rt.device
    tok_path = Path(args.tokenizer) if args.tokenizer else None
    tok = load_tokenizer(tok_path, device)
    tok_file = tokenizer_file(tok_path)

    tr = _load(args.data, "train", tc.max_clips, progress)
    if tr is None:
        raise ValueError(f"dataset {args.data} has no train clips")
    va = _load(args.data, "val", tc.max_val_clips and max(tc.max_val_clips, tc.val_gen), progress)
    if list(tr.expr_names) != list(tok.cfg.expr_names):
        raise ValueError(f"{args.data} has other expression channels than the tokenizer {tok_file}")
    if args.text_mode:
        model_kw["text_mode"] = args.text_mode
    model_kw.update(levels=tok.cfg.levels, codebook_size=tok.cfg.codebook_size, downsample=tok.cfg.downsample,
                    fps=tok.cfg.fps, tokenizer=sha_prefix(tok_file))
    cfg = MotionGenerator.load(loop.checkpoint_stem(args.resume)).cfg if state is not None \
        else GeneratorConfig.from_dict(model_kw)
    bank_kw = dict(batch=tc.text_batch, progress=progress)
    train_set = CodedSplit(tr, tok, device, cfg.text_max, bank_kw)
    val_set = CodedSplit(va, tok, device, cfg.text_max, bank_kw) if va is not None else None
    del tr, va
    ev = Evaluator.load(Path(args.evaluator) if args.evaluator else assets_dir() / "eval" / "evaluator", device)

    loop.seed_everything(tc.seed)
    if state is not None:
        model = MotionGenerator.load(loop.checkpoint_stem(args.resume), device)
    else:
        model = MotionGenerator(cfg).to(device)
    info = {"data": str(args.data), "n_train": train_set.n, "tokenizer_file": str(tok_file)}
    task = L2MTask(model, tc, train_set, val_set, tok, ev, rt, info)
    run_info = {"model": asdict(model.cfg), **info, "n_val": val_set.n if val_set else 0,
                "n_params": sum(p.numel() for p in model.parameters()),
                "train_captions": len(train_set.bank.texts), "data_s": round(time.time() - t_start, 1)}
    final = loop.fit(task, tc, args.out, rt, run_info=run_info, resume=args.resume if state is not None else None,
                     t_start=t_start, progress=progress)
    rt.close()
    return final


# -- command line --------------------------------------------------------------------------------------
def add_arguments(p) -> None:
    loop.add_run_arguments(p, out_default=None, config_example="configs/l2m.json")
    p.add_argument("--tokenizer", default=None, help="tokenizer checkpoint (default: the shipped assets/vq/tokenizer)")
    p.add_argument("--evaluator", default=None, help="evaluator folder for validation (default assets/eval/evaluator)")
    p.add_argument("--text-mode", choices=("words", "pooled"), default=None,
                   help="prompt prefix: word embeddings (ours) or one pooled sentence row (the T2M-GPT baseline)")
    loop.add_schedule_arguments(p, "clips")


def run(args) -> int:
    loop.print_summary(train(args), args.out)
    return 0
