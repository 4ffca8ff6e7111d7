"""`tdmm train vq`: train the geometry VQ-VAE tokenizer (engine/tokenizer.py).

    tdmm train vq --data DIR --out runs/vq [--config configs/vq.json] [--resume runs/vq/last.safetensors]
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
paper's parameter-space alternative, compared in training/vq_compare.py.

Measured on one H100 (batch 256 x 64 frames, default model, 20K-clip corpus): 55 ms a step with
the vertex loss, 10 ms without; `max_minutes` caps a run by wall clock (the schedule follows).

The train split is read once into device tensors; each step draws clips and crop starts
on the device. Under torchrun (WORLD_SIZE set) each rank takes batch_size / world_size
clips, DistributedDataParallel averages gradients and the quantiser sums its EMA
statistics over ranks. Only rank 0 validates and writes files.

Files in OUT: last.safetensors/.json (fp32 with EMA state, for --resume) + last.optim.safetensors,
best.safetensors/.json (fp16, the shippable model, best validation face vertex error),
log.jsonl (training losses), val.jsonl (validation metrics), final.json.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from engine.features import features_to_params, rot6d_to_matrix
from engine.flame import FlameLayer
from engine.head import JOINT_NAMES, HeadModel, load_head
from engine.tokenizer import MotionTokenizer, VQConfig, token_lengths

from .metrics import channel_mae, codebook_usage, pose_error_deg
from .motion_data import EmptySplitError, feature_stats, load_motion_arrays
from .train_common import read_run_config, warmup_cosine


@dataclass
class TrainConfig:
    steps: int = 4000
    batch_size: int = 256           # clips per step, over all ranks
    crop: int = 64                  # frames per training crop (a multiple of the downsampling)
    lr: float = 4e-4
    min_lr_ratio: float = 0.05      # cosine decay to lr * this
    warmup: int = 200
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    vertex_loss: bool = True
    w_vertex: float = 1.0
    w_vertex_vel: float = 0.5
    w_param: float = 0.1
    w_vel: float = 0.5
    w_acc: float = 0.5
    w_commit: float = 0.02
    loss_face_vertices: int = 1500  # face + eye vertices in the vertex loss (sampled from the face region)
    loss_other_vertices: int = 250  # other skin (back of head, neck), weighted by other_weight
    other_weight: float = 0.1       # other skin, relative to face skin (1)
    eye_weight: float = 2.0         # eyeball vertices, relative to face skin
    gaze_weight: float = 0.0        # each of 2 virtual "gaze points" (0 = none; try 100), see loss_vertices
    gaze_distance: float = 0.1      # metres in front of each eye centre
    val_every: int = 1000
    val_clips: int = 1000           # validation clips during training (the final evaluation uses all)
    log_every: int = 50
    seed: int = 0
    amp: bool = True                # bf16 autocast on CUDA (always fp32 on CPU)
    max_minutes: float = 0.0        # wall-clock cap (0 = none): the schedule follows time if that runs out first
    compile: bool = False           # torch.compile the vertex loss on CUDA (falls back to eager if that fails)


def load_config(path) -> tuple[dict, TrainConfig]:
    """configs/*.json: {"model": VQConfig fields (expr_names come from the data), "train": TrainConfig fields}."""
    model, train = read_run_config(path, TrainConfig)
    VQConfig.from_dict({**model, "expr_names": ["x"]}).validate()      # fail early on bad model keys
    return model, TrainConfig(**train)


# -- head regions -----------------------------------------------------------------------------
def face_region(head: HeadModel, min_motion_m: float = 1e-3) -> np.ndarray:
    """[V] bool: the eyes, and the skin that some expression channel moves by more than
    `min_motion_m` at coefficient 1 (brows, lids, cheeks, nose, mouth, chin)."""
    moved = np.linalg.norm(head.exprdirs, axis=1).max(axis=1) > min_motion_m if head.num_expr else \
        np.zeros(head.num_vertices, bool)
    return (moved & head.part_mask("skin")) | head.part_mask("eyes")


def sub_head(head: HeadModel, idx: np.ndarray) -> HeadModel:
    """The head restricted to vertices idx, exact for them: idx must hold every vertex the
    joint regressor reads (FlameLayer regresses joints from the vertices it has)."""
    if not np.isin(joint_vertices(head), idx).all():
        raise ValueError("sub_head: idx misses joint-regressor vertices")
    return HeadModel(v_template=head.v_template[idx], shapedirs=head.shapedirs[idx], exprdirs=head.exprdirs[idx],
                     posedirs=head.posedirs[idx], J_regressor=head.J_regressor[:, idx], weights=head.weights[idx],
                     faces=np.zeros((0, 3), np.int32), expr_names=list(head.expr_names)).validate()


def joint_vertices(head: HeadModel) -> np.ndarray:
    """The vertices the joint regressor reads."""
    return np.flatnonzero(np.abs(head.J_regressor).sum(0) > 0)


def sub_head_with_joints(head: HeadModel, idx: np.ndarray) -> tuple[HeadModel, int]:
    """sub_head of idx followed by the joint-regressor vertices idx lacks -> (head, how many were added)."""
    extra = np.setdiff1d(joint_vertices(head), idx)
    return sub_head(head, np.concatenate([idx, extra])), len(extra)


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


def with_gaze_points(sub: HeadModel, head: HeadModel, distance: float) -> HeadModel:
    """`sub` plus one vertex `distance` in front (+z) of each eye joint, moved by that eye alone
    (no blendshapes, no correctives, not read by the joint regressor)."""
    J = head.J_regressor @ head.v_template                                  # [5,3] rest joints
    eyes = [JOINT_NAMES.index("eye_left"), JOINT_NAMES.index("eye_right")]
    pts = J[eyes] + np.array([0.0, 0.0, distance], np.float32)
    w = np.zeros((2, 5), np.float32)
    w[0, eyes[0]] = w[1, eyes[1]] = 1.0
    zeros = lambda a: np.zeros((2,) + a.shape[1:], a.dtype)
    return HeadModel(v_template=np.concatenate([sub.v_template, pts.astype(np.float32)]),
                     shapedirs=np.concatenate([sub.shapedirs, zeros(sub.shapedirs)]),
                     exprdirs=np.concatenate([sub.exprdirs, zeros(sub.exprdirs)]),
                     posedirs=np.concatenate([sub.posedirs, zeros(sub.posedirs)]),
                     J_regressor=np.concatenate([sub.J_regressor, np.zeros((5, 2), np.float32)], 1),
                     weights=np.concatenate([sub.weights, w]), faces=sub.faces,
                     expr_names=list(sub.expr_names)).validate()


def face_head(head: HeadModel) -> tuple[HeadModel, int]:
    """(head restricted to the face region + joint vertices, number of face vertices first)."""
    face = np.flatnonzero(face_region(head))
    return sub_head_with_joints(head, face)[0], len(face)


# -- data -------------------------------------------------------------------------------------
def load_split(root, split: str, max_clips: int | None = None, progress: bool = False):
    """(features [N,T,D] float32, lengths [N] int64, expr_names, fps, ids) of one split."""
    a = load_motion_arrays(root, split, max_clips=max_clips, progress=progress)
    return a.features(), a.lengths, list(a.expr_names), a.fps, list(a.ids)


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
    xn, on = (x - m.feat_mean) / m.feat_std, (out - m.feat_mean) / m.feat_std
    v1, v2 = valid[:, 1:] & valid[:, :-1], valid[:, 2:] & valid[:, 1:-1] & valid[:, :-2]
    vf = valid.float()
    parts = {
        "param": _masked_mean((on - xn).abs(), vf),
        "vel": _masked_mean(((on[:, 1:] - on[:, :-1]) - (xn[:, 1:] - xn[:, :-1])).abs(), v1.float()),
        "acc": _masked_mean(((on[:, 2:] - 2 * on[:, 1:-1] + on[:, :-2]) - (xn[:, 2:] - 2 * xn[:, 1:-1] + xn[:, :-2])).abs(),
                            v2.float()),
        "commit": commit,
    }
    total = cfg.w_param * parts["param"] + cfg.w_vel * parts["vel"] + cfg.w_acc * parts["acc"] + cfg.w_commit * commit
    if cfg.vertex_loss:
        with torch.autocast(x.device.type, enabled=False):
            parts["vertex"], parts["vertex_vel"] = (vertex_fn or vertex_terms)(
                flame, x.float(), out.float(), valid, vweight / vweight.sum(), K)
        total = total + cfg.w_vertex * parts["vertex"] + cfg.w_vertex_vel * parts["vertex_vel"]
    return total, parts


# -- evaluation -------------------------------------------------------------------------------
def _quantile(hist: torch.Tensor, q: float, top: float, total: float) -> float | None:
    """The q-quantile from a histogram of [0, top) (upper bin edge); None if it lies above top."""
    cdf = torch.cumsum(hist, 0) / max(total, 1)
    i = int(torch.searchsorted(cdf, torch.tensor([q], dtype=cdf.dtype, device=cdf.device))[0])
    return None if i >= hist.numel() else (i + 1) * top / hist.numel()


def token_stats(tokens: np.ndarray, codebook_size: int) -> dict:
    """tokens [M] or [M,R] (no padding) -> usage fraction and perplexity (level 0 first, per level),
    through training.metrics.codebook_usage."""
    tokens = tokens.reshape(len(tokens), -1)
    per = [codebook_usage(tokens[:, r], codebook_size) for r in range(tokens.shape[1])]
    usage, ppl = [u["used_fraction"] for u in per], [u["perplexity"] for u in per]
    return {"code_usage": usage[0], "perplexity": ppl[0], "code_usage_levels": usage, "perplexity_levels": ppl}


@torch.no_grad()
def evaluate(model: MotionTokenizer, feats: torch.Tensor, lengths: torch.Tensor, flame_face: FlameLayer,
             num_face: int, batch: int = 256, frame_chunk: int = 4096) -> dict:
    """Encode + decode whole clips; face-region vertex errors (mm, mean and 95th percentile over
    vertex-frames), expression MAE, pose error (degrees, mean over joints), code usage + perplexity.

    Expression MAE, pose error and code usage are training.metrics' channel_mae, pose_error_deg and
    codebook_usage, weighted over batches by frames. The vertex errors are metrics.vertex_errors'
    numbers (Euclidean, mm, over vertices x frames) computed in a stream on the device: a val set
    holds ~1e9 vertex-frames, so the 95th percentile comes from a 1 um histogram instead of a sort."""
    was_training = model.training
    model.eval()
    K = len(model.cfg.expr_names)
    dev = feats.device
    # Vertex error histograms: 0..50 mm in 1 um bins, and 0..10 m in 1 mm bins for bad models.
    hist = torch.zeros(50000, dtype=torch.float64, device=dev)
    coarse = torch.zeros(10000, dtype=torch.float64, device=dev)
    vsum = vcount = esum = ecount = 0.0
    psum = torch.zeros(5, dtype=torch.float64, device=dev)
    pcount, all_tokens = 0, []
    for s in range(0, feats.shape[0], batch):
        f, n = feats[s:s + batch], lengths[s:s + batch]
        T = int(n.max())
        f = f[:, :T]
        tok = model.encode(f, n)
        out = model.decode(tok, n)                                          # [b,T,D]
        ntok = token_lengths(n, model.cfg.downsample)
        tv = torch.arange(tok.shape[1], device=dev)[None, :] < ntok[:, None]
        all_tokens.append(tok[tv].cpu().numpy())
        valid = torch.arange(T, device=dev)[None, :] < n[:, None]
        pa, ea = features_to_params(f[valid], K)
        pb, eb = features_to_params(out[valid].float(), K)
        F_ = pa.shape[0]
        esum += channel_mae(eb[None].cpu(), ea[None].cpu())["mae"] * F_
        ecount += F_
        psum += torch.as_tensor(pose_error_deg(pb[None].cpu(), pa[None].cpu())["per_joint_deg"], device=dev) * F_
        pcount += F_
        for c in range(0, pa.shape[0], frame_chunk):
            va = flame_face(ea[c:c + frame_chunk], pa[c:c + frame_chunk])[:, :num_face]
            vb = flame_face(eb[c:c + frame_chunk], pb[c:c + frame_chunk])[:, :num_face]
            err = (va - vb).norm(dim=-1).reshape(-1) * 1000.0              # mm per vertex-frame
            vsum += float(err.double().sum())
            vcount += err.numel()
            hist += torch.histc(err, bins=hist.numel(), min=0, max=50.0).double()
            coarse += torch.histc(err.clamp_max(1e4 - 1e-3), bins=coarse.numel(), min=0, max=1e4).double()
    p95 = _quantile(hist, 0.95, 50.0, vcount)
    p95 = p95 if p95 is not None else _quantile(coarse, 0.95, 1e4, vcount)
    pose = (psum / max(pcount, 1)).tolist()
    model.train(was_training)
    return {"vertex_mean_mm": vsum / max(vcount, 1), "vertex_p95_mm": p95, "expr_mae": esum / max(ecount, 1),
            "pose_err_deg": float(np.mean(pose)), "pose_err_deg_joints": pose, "clips": int(feats.shape[0]),
            **token_stats(np.concatenate(all_tokens), model.cfg.codebook_size)}


# -- checkpoints ------------------------------------------------------------------------------
def save_checkpoint(out: Path, model: MotionTokenizer, opt: torch.optim.Optimizer, step: int, tcfg: TrainConfig,
                    metrics: dict | None = None):
    """last.* (fp32, EMA state, optimizer) for --resume."""
    from safetensors.torch import save_file

    meta = {"step": step, "train": asdict(tcfg), "metrics": metrics or {}}
    model.save(out / "last", dtype=torch.float32, meta=meta)
    names = {id(p): n for n, p in model.named_parameters()}
    tensors = {}
    for group in opt.param_groups:
        for p in group["params"]:
            for k, v in opt.state.get(p, {}).items():
                tensors[f"{names[id(p)]}/{k}"] = v.detach().cpu().float().reshape(v.shape).contiguous()
    tmp = out / "last.optim.safetensors.tmp"
    save_file(tensors, str(tmp))
    os.replace(tmp, out / "last.optim.safetensors")


def load_optimizer(path: Path, model: MotionTokenizer, opt: torch.optim.Optimizer):
    from safetensors.torch import load_file

    optim_path = path.with_suffix("").with_suffix(".optim.safetensors")
    if not optim_path.exists():
        print(f"resume: no {optim_path.name}; optimizer state starts fresh")
        return
    t = load_file(str(optim_path))
    for n, p in model.named_parameters():
        st = {k.split("/", 1)[1]: v.to(p.device) for k, v in t.items() if k.split("/", 1)[0] == n}
        if st:
            opt.state[p] = st


def lr_at(step: int, cfg: TrainConfig) -> float:
    return warmup_cosine(step, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup), cfg.lr, cfg.warmup,
                         cfg.min_lr_ratio)


# -- the run ----------------------------------------------------------------------------------
def _setup_device(arg: str):
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if world > 1:
        if arg == "cpu" or not torch.cuda.is_available():       # gloo: lets the multi-process path run on a laptop
            torch.distributed.init_process_group("gloo")
            return torch.device("cpu"), rank, world
        torch.cuda.set_device(local)
        torch.distributed.init_process_group("nccl")
        return torch.device("cuda", local), rank, world
    if arg == "auto":
        arg = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(arg), 0, 1


def train(args) -> dict:
    device, rank, world = _setup_device(args.device)
    main = rank == 0
    resume = Path(args.resume) if args.resume else None
    if resume is not None:
        doc = json.loads(resume.with_suffix("").with_suffix(".json").read_text())
        tcfg, model_over = TrainConfig(**doc["meta"]["train"]), None
        start = int(doc["meta"]["step"])
    else:
        model_over, tcfg = load_config(args.config)
        start = 0
    if args.no_vertex_loss:
        tcfg.vertex_loss = False
    if args.steps is not None:
        tcfg.steps = args.steps
    if args.seed is not None:
        tcfg.seed = args.seed
    out = Path(args.out)
    if main:
        out.mkdir(parents=True, exist_ok=True)

    t0 = time.time()
    feats, lengths, names, fps, _ = load_split(args.data, "train", args.max_clips, progress=main)
    try:
        # The whole val split is read once: its first val_clips clips validate during training,
        # all of them judge the final checkpoint.
        all_vfeats, all_vlengths, vnames, _, _ = load_split(args.data, "val")
        if vnames != names:
            raise ValueError("the val split has other expression channels than the train split")
        vfeats, vlengths = all_vfeats[:tcfg.val_clips], all_vlengths[:tcfg.val_clips]
    except EmptySplitError:
        k = max(1, len(lengths) // 20)          # no val split: hold out the last 5% of train
        vfeats, vlengths, feats, lengths = feats[-k:], lengths[-k:], feats[:-k], lengths[:-k]
        all_vfeats, all_vlengths = vfeats, vlengths
        print(f"no val split in {args.data}: validating on {k} held-back train clips")
    if main:
        print(f"data: {len(lengths)} train / {len(vlengths)} val clips, {int(lengths.sum())} train frames, "
              f"{len(names)} channels, {fps:g} fps, loaded in {time.time() - t0:.1f} s")

    if resume is not None:
        model = MotionTokenizer.load(resume, device)
        if list(model.cfg.expr_names) != names:
            raise ValueError(f"{resume} was trained on other expression channels than {args.data} has")
    else:
        model = MotionTokenizer(VQConfig.from_dict({**model_over, "expr_names": names, "fps": fps})).to(device)
        model.set_normalization(*feature_stats(feats, lengths))
    if tcfg.crop % model.cfg.downsample:
        raise ValueError(f"train.crop {tcfg.crop} must be a multiple of model.downsample {model.cfg.downsample}")
    model.train()

    head = load_head(args.head)
    if head.expr_names != names:
        raise ValueError(f"the head's expression channels ({head.num_expr}) are not the data's ({len(names)}); "
                         "pass --head with the head the data was made for")
    lhead, vw = loss_vertices(head, tcfg)
    flame = FlameLayer(lhead).to(device)
    vweight = torch.from_numpy(vw).to(device)
    fhead, num_face = face_head(head)
    flame_face = FlameLayer(fhead).to(device)

    feats_t, lengths_t = torch.from_numpy(feats).to(device), torch.from_numpy(lengths).to(device)
    vfeats_t, vlengths_t = torch.from_numpy(vfeats).to(device), torch.from_numpy(vlengths).to(device)
    del feats, vfeats

    opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, betas=(0.9, 0.99), weight_decay=tcfg.weight_decay)
    if resume is not None:
        load_optimizer(resume, model, opt)
    net = model
    if world > 1:
        # The quantiser keeps its buffers equal over ranks itself (EMA sums are all-reduced).
        import inspect
        DDP = torch.nn.parallel.DistributedDataParallel
        sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(DDP).parameters
                else {"broadcast_buffers": False})
        net = DDP(model, device_ids=None if device.type == "cpu" else [device.index], **sync)
    amp = tcfg.amp and device.type == "cuda"
    vertex_fn = None
    if tcfg.compile and tcfg.vertex_loss and device.type == "cuda":
        vertex_fn = torch.compile(vertex_terms, dynamic=False)
    per_rank = max(1, tcfg.batch_size // world)
    gen = torch.Generator(device=device)
    gen.manual_seed(tcfg.seed * 100003 + rank * 7919 + start)
    torch.manual_seed(tcfg.seed * 100003 + rank * 7919 + start)

    best = float("inf")
    best_path = out / "best.json"
    if resume is not None and best_path.exists():
        best = json.loads(best_path.read_text())["meta"]["metrics"].get("vertex_mean_mm", best)
    if main:
        (out / "config.json").write_text(json.dumps({"model": asdict(model.cfg), "train": asdict(tcfg),
                                                     "data": str(args.data), "world_size": world}, indent=1) + "\n")
    log = open(out / "log.jsonl", "a") if main else None
    bar = None
    if main:
        from tqdm import tqdm
        bar = tqdm(total=tcfg.steps, initial=start, desc="vq", unit="step", dynamic_ncols=True)
    metrics = {}
    t_train = time.time()
    step = start - 1                        # the last step done, if the loop has none left
    for step in range(start, tcfg.steps):
        # Under a wall-clock cap, progress is the larger of steps and time, so the
        # cosine schedule still ends at its floor and the run ends with a validation.
        progress = step
        if tcfg.max_minutes:
            progress = max(step, int(tcfg.steps * (time.time() - t_train) / (tcfg.max_minutes * 60)))
        for g in opt.param_groups:
            g["lr"] = lr_at(min(progress, tcfg.steps - 1), tcfg)
        x, valid = sample_batch(feats_t, lengths_t, per_rank, tcfg.crop, gen)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            y, commit, stats = net(x)
        try:
            loss, parts = compute_losses(net, y.float(), x, valid, commit, tcfg, flame, vweight, vertex_fn)
        except Exception as err:                    # a compiler failure must not cost the run
            if vertex_fn is None:
                raise
            print(f"torch.compile of the vertex loss failed ({type(err).__name__}: {err}); continuing eager")
            vertex_fn = None
            loss, parts = compute_losses(net, y.float(), x, valid, commit, tcfg, flame, vweight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
        opt.step()
        if main and (step % tcfg.log_every == 0 or step == tcfg.steps - 1):
            rec = {"step": step, "s": round(time.time() - t_train, 2), "lr": opt.param_groups[0]["lr"],
                   "loss": float(loss.detach()), "grad_norm": float(gnorm),
                   "reseeded": stats["reseeded"], **{k: float(v.detach()) for k, v in parts.items()}}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            bar.set_postfix(loss=f"{rec['loss']:.4f}", **({"vert": f"{rec['vertex']:.3f}"} if "vertex" in rec else {}))
        if main:
            bar.update(1)
        last = step == tcfg.steps - 1 or progress >= tcfg.steps - 1
        if (step + 1) % tcfg.val_every == 0 or last:
            if main:
                metrics = evaluate(model, vfeats_t, vlengths_t, flame_face, num_face)
                metrics.update(step=step + 1, train_s=round(time.time() - t_train, 1))
                with open(out / "val.jsonl", "a") as f:
                    f.write(json.dumps(metrics) + "\n")
                bar.write(f"step {step + 1}: face vertex {metrics['vertex_mean_mm']:.3f} mm mean, "
                          f"{metrics['vertex_p95_mm']:.3f} p95; expr MAE {metrics['expr_mae']:.4f}; "
                          f"pose {metrics['pose_err_deg']:.3f} deg; codes {metrics['code_usage']:.0%} "
                          f"(ppl {metrics['perplexity']:.0f})")
                save_checkpoint(out, model, opt, step + 1, tcfg, metrics)
                if metrics["vertex_mean_mm"] < best:
                    best = metrics["vertex_mean_mm"]
                    model.save(out / "best", dtype=torch.float16,
                               meta={"step": step + 1, "train": asdict(tcfg), "metrics": metrics})
            if world > 1:
                torch.distributed.barrier()
        if last:
            break
    if main:
        bar.close()
        log.close()
    final = {}
    if main:
        # The shipped form (fp16) on the whole val split.
        shipped = MotionTokenizer.load(out / "best", device)
        if len(all_vlengths) > len(vlengths):                            # training saw a capped val set
            vfeats_t, vlengths_t = torch.from_numpy(all_vfeats).to(device), torch.from_numpy(all_vlengths).to(device)
        final = evaluate(shipped, vfeats_t, vlengths_t, flame_face, num_face)
        final.update(train_s=round(time.time() - t_train, 1), steps=step + 1, steps_planned=tcfg.steps,
                     best_step=int(json.loads(best_path.read_text())["meta"]["step"]), world_size=world,
                     vertex_loss=tcfg.vertex_loss, tokens_per_second=model.cfg.tokens_per_second)
        (out / "final.json").write_text(json.dumps(final, indent=1) + "\n")
        print(json.dumps(final))
    if world > 1:
        torch.distributed.destroy_process_group()
    return final


def eval_checkpoint(args) -> dict:
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    model = MotionTokenizer.load(args.eval, device)
    feats, lengths, names, fps, _ = load_split(args.data, args.split, args.max_clips)
    if names != list(model.cfg.expr_names):
        raise ValueError(f"{args.eval} was trained on other expression channels than {args.data} has")
    fhead, num_face = face_head(load_head(args.head))
    m = evaluate(model, torch.from_numpy(feats).to(device), torch.from_numpy(lengths).to(device),
                 FlameLayer(fhead).to(device), num_face)
    m.update(checkpoint=str(args.eval), split=args.split,
             tokens_per_second=model.cfg.tokens_per_second)
    print(json.dumps(m))
    return m


def add_arguments(p) -> None:
    p.add_argument("--data", required=True, help="dataset folder (clip folder or tdmm synth shards)")
    p.add_argument("--out", default="runs/vq", help="output folder for checkpoints and logs")
    p.add_argument("--config", default=None, help="JSON config {model: ..., train: ...} (configs/vq.json)")
    p.add_argument("--resume", default=None, help="continue from OUT/last.safetensors")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 (torchrun picks per rank)")
    p.add_argument("--head", default=None, help="head model the data was made for (default: the shipped head)")
    p.add_argument("--no-vertex-loss", action="store_true", help="parameter-space loss only (the comparison)")
    p.add_argument("--steps", type=int, default=None, help="override train.steps")
    p.add_argument("--seed", type=int, default=None, help="override train.seed")
    p.add_argument("--max-clips", type=int, default=None, help="read at most this many clips of the split")
    p.add_argument("--eval", default=None, metavar="CKPT", help="only evaluate this checkpoint on --split")
    p.add_argument("--split", default="val", help="split for --eval (val or test)")


def run(args) -> int:
    if args.eval:
        eval_checkpoint(args)
    else:
        train(args)
    return 0
