"""The frozen text-motion evaluator: a TMR-style contrastive model plus label classifiers.

    motion features [B,T,D] --(normalise, Linear, [CLS] + sinusoids, transformer)--> z_m [B,E]
    MiniLM tokens  [B,L,384] --(Linear, [CLS] + sinusoids, transformer)-----------> z_t [B,E]
    InfoNCE over cos(z_m, z_t) / temperature, both directions
    z_m --(one small MLP per task)--> family, intensity, head motion, talking, micro-event,
                                      side and dynamic logits (side and dynamic: version 2)

What it is for: retrieval metrics (R-precision, FD, MM-Dist, diversity) use the
embeddings, label correctness uses the classifiers. It is trained once on the
train split (training/train/evaluator.py), frozen and shipped in assets/eval/.

Differences from TMR (Petrovich et al., ICCV 2023), on purpose:
- Deterministic encoders: one [CLS] token read out as the embedding, where TMR
  reads a Gaussian (mu, logvar tokens) and adds a motion decoder with
  reconstruction/KL losses. A metric needs one fixed embedding per clip; the
  decoder would only regularise, and our encoders are small.
- Fixed sinusoidal positions (no length limit; training saw up to max_frames).
- The text side sits on frozen word-level MiniLM embeddings (engine/text_encoder.py)
  instead of DistilBERT; the false-negative filter uses MiniLM sentence embeddings
  instead of MPNet (same rule: two captions with cosine > fn_threshold are not
  treated as negatives of each other).
- Label heads trained jointly on the motion embedding (not in TMR).

Motion features are engine.features (expr K + 6D rotations of 5 joints) at
cfg.fps, with the expression channels in cfg.expr_names order; the model
normalises them with the train-set mean/std it stores. Frames past each length
are ignored (padding may hold anything, NaN included).

Checkpoint = folder with model.safetensors (fp16 by default) + config.json
(version, EvaluatorConfig incl. label vocabularies, whatever `extra` the trainer adds).
Version 2 (corpus v2) adds the side head (left / right / both) and the dynamic head
(none / laugh pulses / lip tremble / eye roll / sigh breath), and its vocabularies hold
the new head motions and micro-events; version 1 checkpoints load with neither head.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.configs import config_from_dict
from engine.files import write_weights_and_config
from training.corpus.labels import DYNAMICS, HEAD_MOTIONS, INTENSITIES, MICRO_EVENTS, SIDES

VERSION = "tdmm-evaluator-2"
READS = ("tdmm-evaluator-1", VERSION)
NO_DYNAMIC = "none"
TEXT_DIM = 384                    # MiniLM hidden size
TASKS = ("family", "intensity", "head", "talking", "micro", "side", "dynamic")
CATEGORICAL = ("family", "intensity", "head", "side", "dynamic")           # softmax heads
WEIGHTS_FILE, CONFIG_FILE = "model.safetensors", "config.json"


@dataclass
class EvaluatorConfig:
    # data (the trainer fills these from the train split)
    feat_dim: int = 71                      # K + 30 (engine.features.feature_dim)
    expr_names: list = field(default_factory=list)
    fps: float = 25.0
    max_frames: int = 150                   # training clips are cut to this many frames
    # motion encoder
    d_model: int = 256
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 1024
    # text encoder (on frozen MiniLM tokens)
    text_layers: int = 2
    text_max_tokens: int = 64               # MiniLM word pieces per caption, [CLS]/[SEP] included
    # shared
    embed_dim: int = 256
    dropout: float = 0.1
    # losses
    temperature: float = 0.1
    fn_threshold: float = 0.8               # caption cosine above this: not a negative
    cls_weight: float = 1.0                 # weight of the summed label losses against InfoNCE
    # label vocabularies
    families: list = field(default_factory=list)
    intensities: list = field(default_factory=lambda: list(INTENSITIES))
    head_motions: list = field(default_factory=lambda: list(HEAD_MOTIONS))
    micro_events: list = field(default_factory=lambda: list(MICRO_EVENTS))
    sides: list = field(default_factory=lambda: list(SIDES))                        # [] in version 1
    dynamics: list = field(default_factory=lambda: [NO_DYNAMIC, *DYNAMICS])       # [] in version 1

    @classmethod
    def from_dict(cls, d: dict) -> "EvaluatorConfig":
        return config_from_dict(cls, d, "evaluator config")


# -- building blocks ------------------------------------------------------------------------
def sinusoids(n: int, dim: int, device=None) -> torch.Tensor:
    """[n, dim] fixed positional encodings (Vaswani et al.); dim even."""
    pos = torch.arange(n, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(n, dim, device=device)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)
    return pe


class Block(nn.Module):
    """Pre-LN transformer block; attention only to keys where mask is True."""

    def __init__(self, d: int, n_heads: int, d_ff: int, dropout: float):
        super().__init__()
        assert d % n_heads == 0, "d_model must be a multiple of n_heads"
        self.n_heads = n_heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, d_ff), nn.GELU(), nn.Linear(d_ff, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, L, d = x.shape                                           # x [B,L,d], mask [B,L] bool
        q, k, v = self.qkv(self.ln1(x)).view(B, L, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])   # [B,H,L,d/H]
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(B, L, d)))
        return x + self.drop(self.mlp(self.ln2(x)))


class SeqEncoder(nn.Module):
    """[B,L,in] + mask [B,L] -> [B,out]: input projection, [CLS] token, transformer, read [CLS]."""

    def __init__(self, in_dim: int, d: int, n_layers: int, n_heads: int, d_ff: int, dropout: float, out_dim: int):
        super().__init__()
        self.inp = nn.Linear(in_dim, d)
        self.cls = nn.Parameter(torch.randn(d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, n_heads, d_ff, dropout) for _ in range(n_layers))
        self.ln = nn.LayerNorm(d)
        self.out = nn.Linear(d, out_dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, L, _ = x.shape
        h = torch.cat([self.cls.expand(B, 1, -1).to(x.dtype), self.inp(x)], 1)     # [B,L+1,d]
        h = self.drop(h + sinusoids(L + 1, h.shape[-1], h.device).to(h.dtype))
        m = torch.cat([torch.ones(B, 1, dtype=torch.bool, device=mask.device), mask], 1)   # [B,L+1]
        for blk in self.blocks:
            h = blk(h, m)
        return self.out(self.ln(h[:, 0]))                                          # [B,out]


def _head(d_in: int, n_out: int, dropout: float) -> nn.Module:
    return nn.Sequential(nn.Linear(d_in, d_in), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_in, n_out))


# -- losses (module level so tests can check them on known answers) ---------------------------
def false_negative_mask(sent: torch.Tensor, threshold: float) -> torch.Tensor:
    """sent [B,S] caption sentence embeddings -> [B,B] bool, True where pair (i, j), i != j,
    has cosine similarity > threshold: those pairs are left out of InfoNCE's negatives."""
    s = F.normalize(sent.float(), dim=-1)
    sim = s @ s.T
    return (sim > threshold) & ~torch.eye(len(s), dtype=torch.bool, device=s.device)


def info_nce(zm: torch.Tensor, zt: torch.Tensor, temperature: float,
             exclude: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE: motion i and text i are the positive pair; excluded pairs
    (exclude [B,B] bool, diagonal False) are masked out of both softmaxes."""
    logits = F.normalize(zm.float(), dim=-1) @ F.normalize(zt.float(), dim=-1).T / temperature   # [B,B]
    if exclude is not None:
        logits = logits.masked_fill(exclude, float("-inf"))
    target = torch.arange(len(logits), device=logits.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def label_targets(labels: list, cfg: EvaluatorConfig) -> dict:
    """Per-clip label dicts (training/corpus/labels.py schema, or None) -> numpy targets:
    family/intensity/head int64 [N] (-100: unknown), talking float32 [N],
    micro float32 [N,M] (multi-hot), has float32 [N] (1 where the clip has labels); side and
    dynamic int64 [N] when the config has those heads (a version-1 label has side "both" and
    dynamic "none")."""
    N, M = len(labels), len(cfg.micro_events)
    vocab = {"family": cfg.families, "intensity": cfg.intensities, "head": cfg.head_motions,
             **({"side": cfg.sides} if cfg.sides else {}), **({"dynamic": cfg.dynamics} if cfg.dynamics else {})}
    index = {k: {name: i for i, name in enumerate(v)} for k, v in vocab.items()}
    out = {k: np.full(N, -100, np.int64) for k in vocab}
    out.update(talking=np.zeros(N, np.float32), micro=np.zeros((N, M), np.float32), has=np.zeros(N, np.float32))
    micro_index = {name: i for i, name in enumerate(cfg.micro_events)}
    for i, lab in enumerate(labels):
        if not lab:
            continue
        out["has"][i] = 1
        values = {"family": lab.get("family"), "intensity": lab.get("intensity"),
                  "head": (lab.get("head") or {}).get("motion"), "side": lab.get("side") or "both",
                  "dynamic": lab.get("dynamic") or NO_DYNAMIC}
        for key in vocab:
            out[key][i] = index[key].get(values[key], -100)
        out["talking"][i] = float(bool(lab.get("talking")))
        for ev in lab.get("micro") or []:
            if ev.get("type") in micro_index:
                out["micro"][i, micro_index[ev["type"]]] = 1
    return out


def label_loss(logits: dict, tgt: dict) -> tuple[torch.Tensor, dict]:
    """Sum of the task losses, each a mean over the clips that have that label (0 where no
    clip of the batch has it). No host sync: safe inside a CUDA step."""
    parts = {}
    for key in [k for k in CATEGORICAL if k in logits]:
        valid = (tgt[key] >= 0).float()
        ce = F.cross_entropy(logits[key].float(), tgt[key].clamp_min(0), reduction="none")
        parts[key] = (ce * valid).sum() / valid.sum().clamp_min(1)
    has = tgt["has"]
    n = has.sum().clamp_min(1)
    bce = F.binary_cross_entropy_with_logits
    parts["talking"] = (bce(logits["talking"].float(), tgt["talking"], reduction="none") * has).sum() / n
    parts["micro"] = (bce(logits["micro"].float(), tgt["micro"], reduction="none").mean(-1) * has).sum() / n
    return sum(parts.values()), {k: v.detach() for k, v in parts.items()}


# -- the model -------------------------------------------------------------------------------
class Evaluator(nn.Module):
    def __init__(self, cfg: EvaluatorConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg
        self.register_buffer("feat_mean", torch.zeros(c.feat_dim))
        self.register_buffer("feat_std", torch.ones(c.feat_dim))
        self.motion = SeqEncoder(c.feat_dim, c.d_model, c.n_layers, c.n_heads, c.d_ff, c.dropout, c.embed_dim)
        self.text = SeqEncoder(TEXT_DIM, c.d_model, c.text_layers, c.n_heads, c.d_ff, c.dropout, c.embed_dim)
        self.heads = nn.ModuleDict({
            "family": _head(c.embed_dim, max(1, len(c.families)), c.dropout),
            "intensity": _head(c.embed_dim, len(c.intensities), c.dropout),
            "head": _head(c.embed_dim, len(c.head_motions), c.dropout),
            "talking": _head(c.embed_dim, 1, c.dropout),
            "micro": _head(c.embed_dim, len(c.micro_events), c.dropout),
            **({"side": _head(c.embed_dim, len(c.sides), c.dropout)} if c.sides else {}),
            **({"dynamic": _head(c.embed_dim, len(c.dynamics), c.dropout)} if c.dynamics else {}),
        })
        self._text_encoder = None
        self.meta = {}                      # config.json of a loaded checkpoint

    @property
    def device(self) -> torch.device:
        return self.feat_mean.device

    def set_feature_stats(self, mean, std, min_std: float = 1e-2) -> None:
        """Train-set per-channel mean/std of the features (std floored: constant channels stay finite)."""
        self.feat_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.feat_std.copy_(torch.as_tensor(std, dtype=torch.float32).clamp_min(min_std))

    # -- differentiable parts (training) --
    def encode_motion(self, feats: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """feats [B,T,D] raw features, lengths [B] -> z_m [B,E] (not normalised)."""
        B, T, D = feats.shape
        if D != self.cfg.feat_dim:
            raise ValueError(f"motion features have {D} channels, the evaluator expects {self.cfg.feat_dim} "
                             f"(K={self.cfg.feat_dim - 30} expression channels + 30)")
        mask = torch.arange(T, device=feats.device)[None, :] < lengths.to(feats.device)[:, None]   # [B,T]
        x = (feats.float() - self.feat_mean) / self.feat_std
        x = torch.where(mask[..., None], x, torch.zeros((), device=x.device))   # padding (even NaN) -> 0
        return self.motion(x, mask)

    def encode_text(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """tokens [B,L,384] MiniLM embeddings, mask [B,L] bool -> z_t [B,E] (not normalised)."""
        return self.text(tokens.float(), mask)

    def head_logits(self, z: torch.Tensor) -> dict:
        """z_m [B,E] -> {family [B,F], intensity [B,5], head [B,H], talking [B], micro [B,M],
        side [B,3] and dynamic [B,5] (version 2)}."""
        out = {k: h(z) for k, h in self.heads.items()}
        out["talking"] = out["talking"][:, 0]
        return out

    # -- inference API (eval mode, no grad, float32 out on the model's device) --
    @torch.no_grad()
    def embed_motion(self, features, lengths, normalize: bool = True, batch_size: int = 256) -> torch.Tensor:
        """features [B,T,D] (numpy or torch), lengths [B] -> [B,E] (unit length if normalize)."""
        self.eval()
        f, n = self._motion_inputs(features, lengths)
        z = torch.cat([self.encode_motion(*self._trim(f[i:i + batch_size], n[i:i + batch_size]))
                       for i in range(0, len(f), batch_size)]) if len(f) else f.new_zeros(0, self.cfg.embed_dim)
        return F.normalize(z, dim=-1) if normalize else z

    @torch.no_grad()
    def embed_text(self, texts: list[str], normalize: bool = True, batch_size: int = 256) -> torch.Tensor:
        """Captions -> [B,E] (unit length if normalize)."""
        self.eval()
        enc = self.text_encoder()
        zs = []
        for i in range(0, len(texts), batch_size):
            tok, mask = enc.encode_tokens(list(texts[i:i + batch_size]))
            zs.append(self.encode_text(tok, mask))
        z = torch.cat(zs) if zs else torch.zeros(0, self.cfg.embed_dim, device=self.device)
        return F.normalize(z, dim=-1) if normalize else z

    @torch.no_grad()
    def classify(self, features, lengths, batch_size: int = 256) -> dict:
        """features [B,T,D], lengths [B] -> labels_from_logits' predictions plus
        probs {task: float32 tensor} (softmax for family/intensity/head, sigmoid for the rest)."""
        z = self.embed_motion(features, lengths, normalize=False, batch_size=batch_size)
        logits = self.head_logits(z)
        probs = {k: logits[k].softmax(-1) for k in CATEGORICAL if k in logits}
        probs.update(talking=logits["talking"].sigmoid(), micro=logits["micro"].sigmoid())
        return {**self.labels_from_logits(logits), "probs": probs}

    def labels_from_logits(self, logits: dict) -> dict:
        """head_logits -> predicted labels: family / intensity / head / side / dynamic (list[str];
        dynamic None for "none"; side and dynamic only in version 2), talking (list[bool]) and
        micro (list[list[str]]), the last two where the logit is > 0 (p > 0.5)."""
        c, B = self.cfg, len(logits["talking"])
        pick = lambda k, vocab: [vocab[i] for i in logits[k].argmax(-1).tolist()] if vocab else [None] * B
        out = {
            "family": pick("family", c.families), "intensity": pick("intensity", c.intensities),
            "head": pick("head", c.head_motions), "talking": (logits["talking"] > 0).tolist(),
            "micro": [[c.micro_events[j] for j in np.flatnonzero(row)] for row in (logits["micro"] > 0).cpu().numpy()],
        }
        if "side" in logits:
            out["side"] = pick("side", c.sides)
        if "dynamic" in logits:
            out["dynamic"] = [None if d == NO_DYNAMIC else d for d in pick("dynamic", c.dynamics)]
        return out

    def text_encoder(self):
        from engine.text_encoder import TextEncoder
        if self._text_encoder is None or self._text_encoder.device != str(self.device):
            self._text_encoder = TextEncoder(device=self.device, max_length=self.cfg.text_max_tokens)
        return self._text_encoder

    def _motion_inputs(self, features, lengths):
        f = torch.as_tensor(np.asarray(features, np.float32) if not torch.is_tensor(features) else features)
        n = torch.as_tensor(np.asarray(lengths) if not torch.is_tensor(lengths) else lengths).long()
        if f.ndim != 3 or n.shape != (f.shape[0],):
            raise ValueError(f"expected features [B,T,D] and lengths [B], got {list(f.shape)} and {list(n.shape)}")
        if len(n) and (n.min() < 1 or n.max() > f.shape[1]):
            raise ValueError(f"lengths must be in 1..{f.shape[1]} (the padded length), got {n.min()}..{n.max()}")
        return f.to(self.device, torch.float32), n.to(self.device)

    @staticmethod
    def _trim(f, n):
        return f[:, :int(n.max())], n                    # drop padding no clip of this batch uses

    # -- files --
    def save(self, path, half: bool = True, extra: dict | None = None) -> Path:
        """Write folder `path` (the shipped layout): model.safetensors (fp16 if half) + config.json."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.save_files(path / WEIGHTS_FILE, path / CONFIG_FILE, half, extra)
        return path

    def save_files(self, weights, config, half: bool = True, extra: dict | None = None) -> None:
        """Write the weights and their JSON config to these two files (the training loop's
        OUT/best.safetensors + best.json), whole or not at all."""
        from safetensors.torch import save_file
        sd = {k: v.detach().to("cpu", torch.float16 if half and v.is_floating_point() else v.dtype).contiguous()
              for k, v in self.state_dict().items()}
        # Feature statistics stay fp32: they scale every input.
        sd["feat_mean"], sd["feat_std"] = self.feat_mean.float().cpu(), self.feat_std.float().cpu()
        meta = {"version": VERSION, "text_model": "sentence-transformers/all-MiniLM-L6-v2",
                "dtype": "float16" if half else "float32", "config": asdict(self.cfg), **(extra or {})}
        Path(weights).parent.mkdir(parents=True, exist_ok=True)
        write_weights_and_config(Path(weights), Path(config), lambda f: save_file(sd, f, metadata={"version": VERSION}),
                                 meta)

    @staticmethod
    def files(path) -> tuple[Path, Path]:
        """(weights, config) of a checkpoint: a folder (model.safetensors + config.json, the shipped
        layout) or a stem such as runs/evaluator/best (best.safetensors + best.json)."""
        path = Path(path)
        if path.is_dir():
            return path / WEIGHTS_FILE, path / CONFIG_FILE
        stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
        return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")

    @classmethod
    def load(cls, path, device: str | torch.device = "cpu") -> "Evaluator":
        """Read a checkpoint written by save() or save_files(); weights come back as float32, in eval mode."""
        from safetensors.torch import load_file
        weights, config = cls.files(path)
        if not config.is_file() or not weights.is_file():
            raise FileNotFoundError(f"{path} is not an evaluator checkpoint (needs {config.name} and {weights.name})")
        meta = json.loads(config.read_text())
        if meta.get("version") not in READS:
            raise ValueError(f"{path}: evaluator version {meta.get('version')!r}, this code reads {', '.join(READS)}")
        cfg = dict(meta["config"])
        if meta["version"] == "tdmm-evaluator-1":          # no side or dynamic heads
            cfg.update(sides=[], dynamics=[])
        model = cls(EvaluatorConfig.from_dict(cfg))
        sd = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(weights)).items()}
        model.load_state_dict(sd)
        model.meta = meta
        return model.to(device).eval()


def load(path, device: str | torch.device = "cpu") -> Evaluator:
    return Evaluator.load(path, device)
