"""`tdmm train vq`: train the geometry VQ-VAE tokenizer (engine/tokenizer.py) in the shared
loop (training/train/loop.py: device, torchrun, schedule, caps, checkpoints, logs, resume).

    tdmm train vq --data DIR --out runs/vq [--config configs/vq.json] [--resume runs/vq/last]
    torchrun --nproc_per_node 4 -m engine.cli train vq --data DIR --out runs/vq     # multi-GPU, same script
    tdmm train vq --data DIR --eval runs/vq/best.safetensors [--split test]         # metrics of a checkpoint

Loss on random crops x [B,crop,D] of the training clips (D = K expression + 30 of 6D rotations):
    w_vertex      L1 of head vertices in mm through the engine's FlameLayer (FlameLayer.skin, fed the
                  decoder's 6D rotations as matrices), on a sample of the face region
                  (skin 1, eyes eye_weight) + other skin (other_weight) + optional gaze points
    w_vertex_vel  L1 of vertex velocities (mm/frame)
    w_param       L1 of the normalised features (the parameter-space loss)
    w_vel, w_acc  L1 of first / second time differences of the normalised features
    w_commit      commitment of the encoder to its codes (the codebooks themselves learn by EMA)
`--no-vertex-loss` (or "vertex_loss": false in the config) drops both vertex terms: the
paper's parameter-space alternative, compared in training/eval/vq_compare.py.

Measured on one H100 (batch 256 x 64 frames, default model, 20K-clip corpus): 55 ms a step with
the vertex loss, 10 ms without.

The train split is read once into device tensors; each step draws clips and crop starts on
the device. Under torchrun each rank takes batch_size / world_size clips and the quantiser
sums its EMA statistics over ranks itself. Validation: face-region vertex error of the first
val_clips val clips (training/eval/tokenizer_eval.py); the best checkpoint has the lowest
vertex_mean_mm, and final.json holds the best checkpoint's metrics on the whole val split.
Files in OUT: the loop's (best.* fp16 without EMA state, last.* fp32 with it, logs, final.json).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from engine.features import rot6d_to_matrix
from engine.flame import FlameLayer
from engine.head import HeadModel, load_head
from engine.head_regions import face_head, face_region, sub_head_with_joints, with_gaze_points
from engine.tokenizer import MotionTokenizer, VQConfig, side_pairs
from training.data.motion_data import EmptySplitError, feature_stats, load_split_features
from training.eval.tokenizer_eval import ASYM_MIN, evaluate
from training.train import loop

ASYM_SCALE = 0.2                    # the asym term's unit: about one spread of a Left or Right channel


@dataclass
class TrainConfig(loop.LoopConfig):
    steps: int = 4000
    lr: float = 4e-4
    warmup: int = 200
    betas: tuple = (0.9, 0.99)
    val_every: int = 1000
    batch_size: int = 256           # clips per step, over all ranks
    crop: int = 64                  # frames per training crop (a multiple of the downsampling)
    vertex_loss: bool = True
    w_vertex: float = 1.0
    w_vertex_vel: float = 0.5
    w_param: float = 0.1
    w_vel: float = 0.5
    w_acc: float = 0.5
    w_commit: float = 0.02
    w_asym: float = 0.0             # L1 on left-minus-right of the paired Left/Right channels (see side_pairs)
    sided_fraction: float = 0.0     # share of each batch drawn from clips with one-sided frames (oversampling)
    loss_face_vertices: int = 1500  # face + eye vertices in the vertex loss (sampled from the face region)
    loss_other_vertices: int = 250  # other skin (back of head, neck), weighted by other_weight
    other_weight: float = 0.1       # other skin, relative to face skin (1)
    eye_weight: float = 2.0         # eyeball vertices, relative to face skin
    gaze_weight: float = 0.0        # each of 2 virtual "gaze points" (0 = none; try 100), see loss_vertices
    gaze_distance: float = 0.1      # metres in front of each eye centre
    val_clips: int = 1000           # validation clips during training (the final evaluation uses all)
    compile: bool = False           # torch.compile the vertex loss on CUDA (falls back to eager if that fails)


def check_model_config(model: dict) -> None:
    """Fail before loading data on a bad model key (expr_names and fps come from the data)."""
    VQConfig.from_dict({**model, "expr_names": ["x"]}).validate()


# -- loss vertices ------------------------------------------------------------------------
def loss_vertices(head: HeadModel, cfg: TrainConfig) -> tuple[HeadModel, np.ndarray]:
    """(head restricted to the loss vertices, weight [Vs]): a sample of the face region (face skin
    weight 1, eyes `eye_weight`), other skin `other_weight`, joint-regressor vertices not otherwise
    picked 0, then two virtual gaze points with `gaze_weight`. Deterministic.

    Gaze points: a gaze change moves the eyeball surface by ~0.2 mm per degree, so in a vertex loss
    the gaze is nearly invisible next to head and jaw motion and a tokenizer learns to ignore it
    (measured: eye rotation stayed at the error of predicting the mean, ~4.4 deg). A point
    `gaze_distance` in front of each eye centre, skinned to that eye only, moves ~1.7 mm per
    degree at 0.1 m: the gaze becomes geometry the loss sees."""
    rng = np.random.default_rng(0)
    region = face_region(head)
    face, other = np.flatnonzero(region), np.flatnonzero(head.part_mask("skin") & ~region)
    pick = lambda a, n: np.sort(rng.choice(a, min(n, len(a)), replace=False)) if len(a) else a
    f, o = pick(face, cfg.loss_face_vertices), pick(other, cfg.loss_other_vertices)
    sub, n_extra = sub_head_with_joints(head, np.concatenate([f, o]))
    wf = np.where(head.part_mask("eyes")[f], cfg.eye_weight, 1.0)
    w = np.concatenate([wf, np.full(len(o), cfg.other_weight), np.zeros(n_extra)]).astype(np.float32)
    if cfg.gaze_weight > 0:
        sub = with_gaze_points(sub, head, cfg.gaze_distance)
        w = np.concatenate([w, np.full(2, cfg.gaze_weight, np.float32)])
    return sub, w


# -- data -------------------------------------------------------------------------------------
def sample_batch(feats: torch.Tensor, lengths: torch.Tensor, batch: int, crop: int, gen: torch.Generator):
    """Random crops: (x [B,crop,D], valid [B,crop]); clips shorter than crop repeat their last frame."""
    dev = feats.device
    i = torch.randint(0, feats.shape[0], (batch,), device=dev, generator=gen)
    n = lengths[i]                                                          # [B]
    start = (torch.rand(batch, device=dev, generator=gen) * (n - crop + 1).clamp_min(1)).long()
    t = start[:, None] + torch.arange(crop, device=dev)[None, :]            # [B,crop]
    valid = t < n[:, None]
    t = torch.minimum(t, n[:, None] - 1)
    return feats[i[:, None], t], valid


def one_sided_clips(feats: np.ndarray, lengths: np.ndarray, names, chunk: int = 4096) -> np.ndarray:
    """[N] bool: clips where some Left/Right pair differs by more than ASYM_MIN in at least 5% of
    the valid frames (what sided_fraction oversamples)."""
    L, R = side_pairs(names)
    out = np.zeros(len(lengths), bool)
    if not L:
        return out
    for i in range(0, len(feats), chunk):
        f, n = feats[i:i + chunk], lengths[i:i + chunk]
        valid = np.arange(f.shape[1])[None, :] < n[:, None]
        big = (np.abs(f[..., L] - f[..., R]).max(-1) > ASYM_MIN) & valid        # [b,T]
        out[i:i + chunk] = big.sum(1) >= 0.05 * n
    return out


# -- losses -----------------------------------------------------------------------------------
def _masked_mean(err: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """err [B,T,...] averaged over the frames where mask [B,T] holds."""
    err = err.reshape(*mask.shape, -1).mean(-1)
    return (err * mask).sum() / mask.sum().clamp_min(1)


def vertices_mm(flame: FlameLayer, feats: torch.Tensor, num_expr: int) -> torch.Tensor:
    """features [B,T,D] -> vertices [B,T,V,3] in mm (fp32)."""
    B, T, _ = feats.shape
    f = feats.float().reshape(B * T, -1)
    R = rot6d_to_matrix(f[:, num_expr:num_expr + 30].reshape(B * T, 5, 6))   # [N,5,3,3]
    return flame.skin(f[:, :num_expr], R)[0].reshape(B, T, -1, 3) * 1000.0


def vertex_terms(flame: FlameLayer, x: torch.Tensor, out: torch.Tensor, valid: torch.Tensor, w: torch.Tensor,
                 num_expr: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(vertex L1, vertex-velocity L1), weighted mm, of out [B,T,D] against x [B,T,D] over the
    valid [B,T] frames; w [Vs] sums to 1. Elementwise-heavy, so TrainConfig.compile fuses it."""
    vf = valid.float()
    v1 = (valid[:, 1:] & valid[:, :-1]).float()
    with torch.no_grad():
        vt = vertices_mm(flame, x, num_expr)                                # [B,T,Vs,3]
    vo = vertices_mm(flame, out, num_expr)
    per_frame = ((vo - vt).abs().mean(-1) * w).sum(-1)                      # [B,T]
    vertex = (per_frame * vf).sum() / vf.sum().clamp_min(1)
    dv = ((vo[:, 1:] - vo[:, :-1]) - (vt[:, 1:] - vt[:, :-1])).abs().mean(-1)
    vertex_vel = ((dv * w).sum(-1) * v1).sum() / v1.sum().clamp_min(1)
    return vertex, vertex_vel


def compute_losses(model: MotionTokenizer, out: torch.Tensor, x: torch.Tensor, valid: torch.Tensor,
                   commit: torch.Tensor, cfg: TrainConfig, flame: FlameLayer | None, vweight: torch.Tensor | None,
                   vertex_fn=None):
    """Reconstruction out [B,T,D] of x [B,T,D] -> (total, {name: value}); vertex_fn replaces
    vertex_terms (its torch.compile'd form)."""
    m = model.module if hasattr(model, "module") else model
    K = len(m.cfg.expr_names)
    xn, on = m.normalize(x), m.normalize(out)
    v1, v2 = valid[:, 1:] & valid[:, :-1], valid[:, 2:] & valid[:, 1:-1] & valid[:, :-2]
    vf = valid.float()
    L, R = side_pairs(m.cfg.expr_names)
    parts = {
        "param": _masked_mean((on - xn).abs(), vf),
        # In activation units / ASYM_SCALE, whatever the basis (a head without Left/Right
        # channel pairs has no left-right difference to keep).
        "asym": _masked_mean(((out[..., L] - out[..., R]) - (x[..., L] - x[..., R])).abs() / ASYM_SCALE, vf) if L
        else out.new_zeros(()),
        "vel": _masked_mean(((on[:, 1:] - on[:, :-1]) - (xn[:, 1:] - xn[:, :-1])).abs(), v1.float()),
        "acc": _masked_mean(((on[:, 2:] - 2 * on[:, 1:-1] + on[:, :-2])
                             - (xn[:, 2:] - 2 * xn[:, 1:-1] + xn[:, :-2])).abs(), v2.float()),
        "commit": commit,
    }
    total = (cfg.w_param * parts["param"] + cfg.w_vel * parts["vel"] + cfg.w_acc * parts["acc"]
             + cfg.w_commit * commit + cfg.w_asym * parts["asym"])
    if cfg.vertex_loss:
        with torch.autocast(x.device.type, enabled=False):
            parts["vertex"], parts["vertex_vel"] = (vertex_fn or vertex_terms)(
                flame, x.float(), out.float(), valid, vweight / vweight.sum(), K)
        total = total + cfg.w_vertex * parts["vertex"] + cfg.w_vertex_vel * parts["vertex_vel"]
    return total, parts




# -- the task the loop trains -----------------------------------------------------------------
class TokenizerTask(loop.Task):
    name, best_metric, best_mode = "vq", "vertex_mean_mm", "min"

    def __init__(self, model: MotionTokenizer, cfg: TrainConfig, head: HeadModel, train, val, val_all,
                 rt: loop.Runtime):
        self.model, self.cfg, self.device = model, cfg, rt.device
        self.feats, self.lengths = (torch.from_numpy(a).to(self.device) for a in train)
        sided = np.flatnonzero(one_sided_clips(*train, model.cfg.expr_names)) if cfg.sided_fraction > 0 else []
        self.sided = torch.from_numpy(sided).to(self.device) if len(sided) else None
        self.vfeats, self.vlengths = (torch.from_numpy(a).to(self.device) for a in val)
        self.val_all = val_all                  # numpy (features, lengths): the final evaluation's
        lhead, vw = loss_vertices(head, cfg)
        self.flame = FlameLayer(lhead).to(self.device)
        self.vweight = torch.from_numpy(vw).to(self.device)
        fhead, self.num_face = face_head(head)
        self.flame_face = FlameLayer(fhead).to(self.device)
        self.per_rank = max(1, cfg.batch_size // rt.world)
        self.vertex_fn = None
        if cfg.compile and cfg.vertex_loss and self.device.type == "cuda":
            self.vertex_fn = torch.compile(vertex_terms, dynamic=False)

    def batches(self, seed: int):
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seed)
        n_sided = int(round(self.per_rank * self.cfg.sided_fraction)) if self.sided is not None else 0
        while True:
            if n_sided == 0:
                yield sample_batch(self.feats, self.lengths, self.per_rank, self.cfg.crop, gen)
                continue
            # Oversampling: n_sided crops from one-sided clips, the rest from the whole split.
            pick = self.sided[torch.randint(0, len(self.sided), (n_sided,), device=self.device, generator=gen)]
            a = sample_batch(self.feats[pick], self.lengths[pick], n_sided, self.cfg.crop, gen)
            b = sample_batch(self.feats, self.lengths, self.per_rank - n_sided, self.cfg.crop, gen)
            yield torch.cat([a[0], b[0]]), torch.cat([a[1], b[1]])

    def loss(self, batch):
        x, valid = batch
        y, commit, stats = self.model(x)
        # The losses in fp32 (the vertex terms skin in fp32 themselves).
        with torch.autocast(x.device.type, enabled=False):
            try:
                total, parts = compute_losses(self.model, y.float(), x, valid, commit, self.cfg, self.flame,
                                              self.vweight, self.vertex_fn)
            except Exception as err:                # a compiler failure must not cost the run
                if self.vertex_fn is None:
                    raise
                print(f"torch.compile of the vertex loss failed ({type(err).__name__}: {err}); continuing eager")
                self.vertex_fn = None
                total, parts = compute_losses(self.model, y.float(), x, valid, commit, self.cfg, self.flame,
                                              self.vweight)
        return total, {**parts, "reseeded": stats["reseeded"]}

    def validate(self) -> dict:
        return evaluate(self.model, self.vfeats, self.vlengths, self.flame_face, self.num_face)

    def describe(self, m: dict) -> str:
        return (f"face vertex {m['vertex_mean_mm']:.3f} mm mean, {m['vertex_p95_mm']:.3f} p95; expr MAE "
                f"{m['expr_mae']:.4f}; pose {m['pose_err_deg']:.3f} deg; codes {m['code_usage']:.0%} "
                f"(ppl {m['perplexity']:.0f})")

    def save(self, stem: Path, fp16: bool, meta: dict) -> None:
        self.model.save(stem, dtype=torch.float16 if fp16 else torch.float32, meta=meta)

    def final(self, best: Path) -> dict:
        """The shipped form (fp16) on the whole val split."""
        shipped = MotionTokenizer.load(best, self.device)
        f, n = (torch.from_numpy(a).to(self.device) for a in self.val_all)
        return {**evaluate(shipped, f, n, self.flame_face, self.num_face), "vertex_loss": self.cfg.vertex_loss,
                "tokens_per_second": shipped.cfg.tokens_per_second}


# -- the run ----------------------------------------------------------------------------------
def train(args) -> dict:
    t_start = time.time()
    rt = loop.runtime(args.device)
    model_over, tcfg, state = loop.resolve_config(args, TrainConfig, check_model_config)
    if args.no_vertex_loss:
        tcfg.vertex_loss = False
    say = print if rt.main else (lambda *a: None)

    feats, lengths, names, fps, _ = load_split_features(args.data, "train", args.max_clips,
                                                        progress=rt.main and not args.quiet)
    try:
        # The whole val split is read once: its first val_clips clips validate during training,
        # all of them judge the final checkpoint.
        all_vfeats, all_vlengths, vnames, _, _ = load_split_features(args.data, "val")
        if vnames != names:
            raise ValueError("the val split has other expression channels than the train split")
        vfeats, vlengths = all_vfeats[:tcfg.val_clips], all_vlengths[:tcfg.val_clips]
    except EmptySplitError:
        k = max(1, len(lengths) // 20)          # no val split: hold out the last 5% of train
        vfeats, vlengths, feats, lengths = feats[-k:], lengths[-k:], feats[:-k], lengths[:-k]
        all_vfeats, all_vlengths = vfeats, vlengths
        say(f"no val split in {args.data}: validating on {k} held-back train clips")
    say(f"data: {len(lengths)} train / {len(vlengths)} val clips, {int(lengths.sum())} train frames, "
        f"{len(names)} channels, {fps:g} fps, loaded in {time.time() - t_start:.1f} s")

    loop.seed_everything(tcfg.seed)
    if state is not None:
        model = MotionTokenizer.load(loop.checkpoint_stem(args.resume), rt.device)
        if list(model.cfg.expr_names) != names:
            raise ValueError(f"{args.resume} was trained on other expression channels than {args.data} has")
    else:
        model = MotionTokenizer(VQConfig.from_dict({**model_over, "expr_names": names, "fps": fps})).to(rt.device)
        model.set_normalization(*feature_stats(feats, lengths, transform=model.to_basis))
    if tcfg.crop % model.cfg.downsample:
        raise ValueError(f"train.crop {tcfg.crop} must be a multiple of model.downsample {model.cfg.downsample}")
    head = load_head(args.head)
    if head.expr_names != names:
        raise ValueError(f"the head's expression channels ({head.num_expr}) are not the data's ({len(names)}); "
                         "pass --head with the head the data was made for")
    task = TokenizerTask(model, tcfg, head, (feats, lengths), (vfeats, vlengths), (all_vfeats, all_vlengths), rt)
    del feats, vfeats
    final = loop.fit(task, tcfg, args.out, rt, run_info={"model": asdict(model.cfg), "data": str(args.data)},
                     resume=args.resume if state is not None else None, t_start=t_start, progress=not args.quiet)
    if rt.main:
        print(json.dumps(final))
    rt.close()
    return final


def eval_checkpoint(args) -> dict:
    rt = loop.runtime(args.device)
    model = MotionTokenizer.load(args.eval, rt.device)
    feats, lengths, names, fps, _ = load_split_features(args.data, args.split, args.max_clips)
    if names != list(model.cfg.expr_names):
        raise ValueError(f"{args.eval} was trained on other expression channels than {args.data} has")
    fhead, num_face = face_head(load_head(args.head))
    m = evaluate(model, torch.from_numpy(feats).to(rt.device), torch.from_numpy(lengths).to(rt.device),
                 FlameLayer(fhead).to(rt.device), num_face)
    m.update(checkpoint=str(args.eval), split=args.split, tokens_per_second=model.cfg.tokens_per_second)
    print(json.dumps(m))
    return m


def add_arguments(p) -> None:
    loop.add_run_arguments(p, out_default="runs/vq", config_example="configs/vq.json")
    p.add_argument("--head", default=None, help="head model the data was made for (default: the shipped head)")
    p.add_argument("--no-vertex-loss", action="store_true", help="parameter-space loss only (the comparison)")
    p.add_argument("--max-clips", type=int, default=None, help="read at most this many clips of the split")
    p.add_argument("--eval", default=None, metavar="CKPT", help="only evaluate this checkpoint on --split")
    p.add_argument("--split", default="val", help="split for --eval (val or test)")


def run(args) -> int:
    if args.eval:
        eval_checkpoint(args)
    else:
        train(args)
    return 0
