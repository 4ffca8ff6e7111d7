"""Geometry VQ-VAE motion tokenizer: per-frame features <-> discrete tokens.

    features [B,T,D]  (D = K expression channels + 30 of 6D joint rotations, engine.features)
      -> [side basis] -> normalise -> 1-D conv encoder (T -> T/4) -> z [B,C,T/4]
      -> quantiser: nearest code of a C-dim codebook (R residual levels, 1 = plain VQ)
      -> tokens [B,T/4] (or [B,T/4,R])
      -> codes -> 1-D conv decoder (T/4 -> T) -> de-normalise -> [back from side basis] -> features [B,T,D]

Side basis (cfg.side_basis): every ...Left/...Right expression pair enters as its mean
(L+R)/2 and half-difference (L-R)/2, each normalised by its own spread. Why: ~95% of the
corpus is symmetric, so the half-difference has a small spread and a one-sided smile or
wink becomes a feature many spreads large. Normalised per channel instead, a one-sided
face was a small, rare direction that the codebook averaged away (the session-4 tokenizer
reconstructed a left-only smile as a symmetric half smile; an extra loss on the difference
did not change it).

Any length: a clip of n frames gives ceil(n/4) tokens. Its frames are padded at
the end up to a multiple of 4 by repeating the last frame, and every layer zeroes
the time steps past the clip, so a clip encodes to the same tokens alone or in a
batch with longer clips (the zeroes are exactly what the convolutions' own zero
padding would read). Token positions past a clip are -1 in `encode`'s output.

Training-time behaviour of the quantiser (EMA codebook updates, dead-code reset,
commitment loss, quantiser dropout of residual levels) lives here too, since it
is state of the model; the losses and the loop are in training/train/vq.py. This
module imports nothing from training (the engine never does).

Files: `<name>.safetensors` (weights, fp16 for shipping or fp32 for resuming)
and `<name>.json` ({"format": "tdmm-vq/1", "config": VQConfig fields, "meta"}).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .configs import config_from_dict
from .features import feature_dim, features_to_params, params_to_features
from .files import write_weights_and_config

FORMAT = "tdmm-vq/1"
PAD_TOKEN = -1


@dataclass
class VQConfig:
    expr_names: list = field(default_factory=list)  # K channel names; features D = K + 30
    fps: float = 25.0               # the model's frame rate; clips at other rates are resampled
    width: int = 256                # conv channels
    depth: int = 2                  # residual blocks per resolution
    dilation_growth: int = 3        # block dilations 1, 3, 9, ... (reversed in the decoder)
    downsample: int = 4             # frames per token, a power of 2
    codebook_size: int = 512        # codes per level
    code_dim: int = 512             # code vector size
    levels: int = 1                 # residual VQ levels R (1 = plain VQ)
    ema_decay: float = 0.99         # codebook EMA
    reset_threshold: float = 1.0    # a code whose EMA use count (per batch) falls below this is re-seeded
    quantize_dropout: float = 0.0   # residual VQ: chance of training a batch with only the first k levels
    std_floor: float = 0.02         # feature normalisation: std floor (dead channels)
    side_basis: bool = False        # each ...Left/...Right pair is normalised as its mean and half-difference
    asym_head: bool = False         # with side_basis: a linear read-out of the codes adds to the half-differences

    @property
    def dim(self) -> int:
        return feature_dim(len(self.expr_names))

    @property
    def tokens_per_second(self) -> float:
        """Codes per second of motion: one position per `downsample` frames, `levels` codes each."""
        return self.fps / self.downsample * self.levels

    @property
    def num_down(self) -> int:
        return int(round(math.log2(self.downsample)))

    def validate(self) -> "VQConfig":
        if self.downsample < 1 or 2 ** self.num_down != self.downsample:
            raise ValueError(f"VQConfig.downsample must be a power of 2, got {self.downsample}")
        if not self.expr_names:
            raise ValueError("VQConfig.expr_names is empty: the model must know its expression channels")
        for name in ("width", "depth", "codebook_size", "code_dim", "levels"):
            if getattr(self, name) < 1:
                raise ValueError(f"VQConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.asym_head and not self.side_basis:
            raise ValueError("VQConfig.asym_head reads out the side basis's half-differences: set side_basis too")
        if not 0 <= self.quantize_dropout < 1:
            raise ValueError(f"VQConfig.quantize_dropout must be in [0,1), got {self.quantize_dropout}")
        return self

    @classmethod
    def from_dict(cls, d: dict) -> "VQConfig":
        return config_from_dict(cls, d, "VQConfig")


def side_pairs(names) -> tuple[list[int], list[int]]:
    """Indices of the ...Left expression channels and of their ...Right partners (ARKit names)."""
    names = list(names)
    L = [i for i, n in enumerate(names) if n.endswith("Left") and n[:-4] + "Right" in names]
    return L, [names.index(names[i][:-4] + "Right") for i in L]


def token_lengths(lengths: torch.Tensor, downsample: int) -> torch.Tensor:
    """Frames -> tokens: ceil(n / downsample)."""
    return (lengths + downsample - 1) // downsample


def _mask(lengths: torch.Tensor | None, T: int, device) -> torch.Tensor | None:
    """[B] valid steps -> [B,1,T] float mask, or None when nothing is padded."""
    if lengths is None or bool((lengths >= T).all()):
        return None
    return (torch.arange(T, device=device)[None, :] < lengths[:, None]).float()[:, None, :]


def _apply(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return x if mask is None else x * mask.to(x.dtype)


# -- conv stacks ------------------------------------------------------------------------------
class ResBlock(nn.Module):
    """x + conv1x1(relu(conv3_dilated(relu(x)))); the 1x1 conv mixes no time steps."""

    def __init__(self, width: int, dilation: int):
        super().__init__()
        self.conv1 = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(width, width, 1)

    def forward(self, x):                                   # [B,W,T] -> [B,W,T]
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class Encoder(nn.Module):
    def __init__(self, cfg: VQConfig):
        super().__init__()
        W = cfg.width
        dil = [cfg.dilation_growth ** i for i in range(cfg.depth)]
        self.conv_in = nn.Conv1d(cfg.dim, W, 3, padding=1)
        self.down = nn.ModuleList(nn.Conv1d(W, W, 4, stride=2, padding=1) for _ in range(cfg.num_down))
        self.blocks = nn.ModuleList(nn.ModuleList(ResBlock(W, d) for d in dil) for _ in range(cfg.num_down))
        self.conv_out = nn.Conv1d(W, cfg.code_dim, 1)

    def forward(self, x, lengths=None):                     # [B,D,T] -> [B,C,T/4]; T % 4 == 0
        # The input is masked too: conv_in must see zeros past a clip's end, as it does at the
        # end of a clip encoded alone, or a clip's last tokens depend on its batch-mates.
        m = _mask(lengths, x.shape[-1], x.device)
        h = _apply(F.relu(self.conv_in(_apply(x, m))), m)
        for down, blocks in zip(self.down, self.blocks):
            h = down(h)
            lengths = None if lengths is None else lengths // 2
            m = _mask(lengths, h.shape[-1], h.device)
            h = _apply(h, m)
            for block in blocks:
                h = _apply(block(h), m)
        return self.conv_out(h)


class Decoder(nn.Module):
    """Codes -> features. With cfg.asym_head the half-difference channels of the side basis also
    get a linear read-out of the codes (a 3-tap conv at the token rate, linearly upsampled).

    Why the read-out: a conv decoder whose hidden features happen to be mirror-invariant gets
    gradients for its half-difference outputs that cancel between left- and right-sided frames,
    and those outputs settle at zero for good (measured: trained tokenizers whose codes differ
    between a clip and its mirror still decoded every one-sided face symmetric; 60 more fp32
    steps with the gradient on did not move it). A linear map of the codes has no such invariance:
    its gradient is the codes' own left-right difference."""

    def __init__(self, cfg: VQConfig):
        super().__init__()
        W = cfg.width
        dil = [cfg.dilation_growth ** i for i in reversed(range(cfg.depth))]
        self.conv_in = nn.Conv1d(cfg.code_dim, W, 1)
        self.blocks = nn.ModuleList(nn.ModuleList(ResBlock(W, d) for d in dil) for _ in range(cfg.num_down))
        self.up = nn.ModuleList(nn.Conv1d(W, W, 3, padding=1) for _ in range(cfg.num_down))
        self.conv_mid = nn.Conv1d(W, W, 3, padding=1)
        self.conv_out = nn.Conv1d(W, cfg.dim, 3, padding=1)
        self.halves = side_pairs(cfg.expr_names)[1] if cfg.side_basis and cfg.asym_head else []
        if self.halves:
            self.asym = nn.Conv1d(cfg.code_dim, len(self.halves), 3, padding=1)
            nn.init.zeros_(self.asym.weight)
            nn.init.zeros_(self.asym.bias)

    def forward(self, z, lengths=None):                     # [B,C,T/4] -> [B,D,T]; lengths in tokens
        z_in, len_in = z, lengths
        m = _mask(lengths, z.shape[-1], z.device)
        h = _apply(F.relu(self.conv_in(z)), m)
        for blocks, up in zip(self.blocks, self.up):
            for block in blocks:
                h = _apply(block(h), m)
            h = up(F.interpolate(h, scale_factor=2, mode="nearest"))
            lengths = None if lengths is None else lengths * 2
            m = _mask(lengths, h.shape[-1], h.device)
            h = _apply(h, m)
        h = _apply(F.relu(self.conv_mid(h)), m)
        y = self.conv_out(h)
        if self.halves:
            a = self.asym(_apply(z_in, _mask(len_in, z_in.shape[-1], z_in.device)))      # [B,P,N]
            if len_in is not None:      # past a clip, repeat its last token: the same as the clip alone
                N = a.shape[-1]
                src = torch.minimum(torch.arange(N, device=a.device)[None, :], len_in[:, None] - 1)
                a = torch.gather(a, 2, src[:, None, :].expand(-1, a.shape[1], -1))
            a = F.interpolate(a, size=y.shape[-1], mode="linear", align_corners=False)
            y = y.index_add(1, torch.as_tensor(self.halves, device=y.device), a.to(y.dtype))
        return y


# -- quantiser --------------------------------------------------------------------------------
def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


class EMAQuantizer(nn.Module):
    """One codebook [N,C], learned by exponential moving averages (no gradients).

    Training step on the valid encoder outputs x [M,C]:
        n_k   <- decay n_k + (1-decay) #{x -> k}                  use count per batch
        s_k   <- decay s_k + (1-decay) sum{x -> k}
        c_k    = s_k / n_k
    and a code whose n_k fell below `reset_threshold` is dead: it is re-seeded on
    a random x of the batch with n_k = 2 * threshold, which gives it ~70 steps
    (decay 0.99) to win vectors before it can be re-seeded again. Under
    DistributedDataParallel the counts and sums are summed over ranks and rank 0's
    re-seeds are broadcast, so every rank keeps the same codebook.
    """

    def __init__(self, num_codes: int, dim: int, decay: float, reset_threshold: float):
        super().__init__()
        self.decay, self.threshold = decay, reset_threshold
        self.register_buffer("codebook", torch.randn(num_codes, dim) * 0.01)  # [N,C]; data-seeded at step 1
        self.register_buffer("ema_count", torch.zeros(num_codes))           # [N]
        self.register_buffer("ema_sum", torch.zeros(num_codes, dim))        # [N,C]
        self.register_buffer("initted", torch.tensor(False))

    def nearest(self, x: torch.Tensor) -> torch.Tensor:    # [M,C] -> [M] code indices
        cb = self.codebook
        d = (x * x).sum(1, keepdim=True) - 2 * x @ cb.T + (cb * cb).sum(1)[None, :]
        return d.argmin(1)

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:   # [...] -> [...,C]
        return F.embedding(idx, self.codebook)

    def _sample(self, x: torch.Tensor, n: int) -> torch.Tensor:   # n random rows of x (with repeats if few)
        pick = torch.randint(0, x.shape[0], (n,), device=x.device)
        return x[pick]

    @torch.no_grad()
    def _init(self, x: torch.Tensor):
        self.codebook.copy_(self._sample(x, self.codebook.shape[0]))
        if _distributed():
            torch.distributed.broadcast(self.codebook, 0)
        self.ema_sum.copy_(self.codebook * self.threshold * 2)
        self.ema_count.fill_(self.threshold * 2)
        self.initted.fill_(True)

    @torch.no_grad()
    def update(self, x: torch.Tensor, idx: torch.Tensor) -> int:
        """One EMA step on x [M,C] assigned to idx [M]; returns how many codes were re-seeded."""
        N = self.codebook.shape[0]
        count = torch.bincount(idx, minlength=N).float()                      # [N]
        total = torch.zeros_like(self.ema_sum).index_add_(0, idx, x)          # [N,C]
        if _distributed():
            torch.distributed.all_reduce(count)
            torch.distributed.all_reduce(total)
        self.ema_count.mul_(self.decay).add_(count, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(total, alpha=1 - self.decay)
        dead = self.ema_count < self.threshold                                 # [N]
        n_dead = int(dead.sum())
        if n_dead:
            seeds = self._sample(x, N)
            if _distributed():
                torch.distributed.broadcast(seeds, 0)
            self.ema_count[dead] = self.threshold * 2
            self.ema_sum[dead] = seeds[dead] * self.threshold * 2
        self.codebook.copy_(self.ema_sum / self.ema_count[:, None].clamp_min(1e-8))
        return n_dead

    def forward(self, x: torch.Tensor):
        """x [M,C] float32 -> (codes [M,C], idx [M], re-seeded count); EMA step when training."""
        if self.training and not bool(self.initted):
            self._init(x)
        idx = self.nearest(x)
        reseeded = self.update(x, idx) if self.training else 0
        return self.lookup(idx), idx, reseeded


class ResidualQuantizer(nn.Module):
    """R EMA codebooks; level r quantises what levels < r left over (MoMask's residual VQ).

    With quantize_dropout p, a training batch uses only the first k levels
    (k uniform in 1..R) with probability p, so that coarse levels alone stay a
    usable reconstruction. R = 1 is plain VQ.
    """

    def __init__(self, cfg: VQConfig):
        super().__init__()
        self.levels = nn.ModuleList(EMAQuantizer(cfg.codebook_size, cfg.code_dim, cfg.ema_decay, cfg.reset_threshold)
                                    for _ in range(cfg.levels))
        self.dropout = cfg.quantize_dropout

    def forward(self, x: torch.Tensor):
        """x [M,C] -> (straight-through codes [M,C], idx [M,R], commitment loss, stats dict)."""
        with torch.autocast(x.device.type, enabled=False):     # distances and EMA in fp32 under AMP
            return self._forward(x.float())

    def _forward(self, x: torch.Tensor):
        R = len(self.levels)
        use = R
        if self.training and R > 1 and self.dropout > 0:
            if float(torch.rand(())) < self.dropout:
                use = int(torch.randint(1, R + 1, ()))
            if _distributed():          # rank 0's choice on every rank: the EMA collectives must match
                k = torch.tensor([use], device=x.device)
                torch.distributed.broadcast(k, 0)
                use = int(k)
        residual, total = x, torch.zeros_like(x)
        idx, commit, reseeded = [], x.new_zeros(()), 0
        for level in self.levels[:use]:
            q, i, n = level(residual.detach())
            commit = commit + F.mse_loss(residual, q.detach())
            total = total + q
            residual = residual - q.detach()
            idx.append(i)
            reseeded += n
        idx += [torch.full_like(idx[0], PAD_TOKEN)] * (R - use)
        out = x + (total - x).detach()
        return out, torch.stack(idx, 1), commit / use, {"reseeded": reseeded, "levels_used": use}

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:   # [...,R] -> [...,C]; -1 entries add nothing
        out = 0
        for r, level in enumerate(self.levels):
            i = idx[..., r]
            out = out + level.lookup(i.clamp_min(0)) * (i >= 0)[..., None].to(level.codebook.dtype)
        return out


# -- the model ----------------------------------------------------------------------------------
class MotionTokenizer(nn.Module):
    def __init__(self, cfg: VQConfig):
        super().__init__()
        self.cfg = cfg.validate()
        self.encoder = Encoder(cfg)
        self.quantizer = ResidualQuantizer(cfg)
        self.decoder = Decoder(cfg)
        self.register_buffer("feat_mean", torch.zeros(cfg.dim))                # [D]
        self.register_buffer("feat_std", torch.ones(cfg.dim))                  # [D]
        self._L, self._R = side_pairs(cfg.expr_names) if cfg.side_basis else ([], [])

    # -- normalisation ----------------------------------------------------------------------
    def to_basis(self, feats):
        """features [...,D] -> the basis the statistics live in: with cfg.side_basis each Left
        channel holds its pair's mean and each Right channel the half-difference (L-R)/2.
        Works on torch tensors and numpy arrays (a copy; the identity without side_basis)."""
        if not self._L:
            return feats
        out = feats.clone() if isinstance(feats, torch.Tensor) else np.array(feats, copy=True)
        a, b = feats[..., self._L], feats[..., self._R]
        out[..., self._L], out[..., self._R] = (a + b) / 2, (a - b) / 2
        return out

    def from_basis(self, g):
        """The inverse of to_basis: L = mean + half-difference, R = mean - half-difference."""
        if not self._L:
            return g
        out = g.clone() if isinstance(g, torch.Tensor) else np.array(g, copy=True)
        m, d = g[..., self._L], g[..., self._R]
        out[..., self._L], out[..., self._R] = m + d, m - d
        return out

    def normalize(self, feats: torch.Tensor) -> torch.Tensor:
        """features [...,D] -> normalised model space (what the encoder reads, the losses compare)."""
        return (self.to_basis(feats) - self.feat_mean) / self.feat_std

    def denormalize(self, y: torch.Tensor) -> torch.Tensor:
        return self.from_basis(y * self.feat_std + self.feat_mean)

    @torch.no_grad()
    def set_normalization(self, mean, std):
        """Per-feature statistics of the training data in to_basis's basis (std floored at
        cfg.std_floor)."""
        self.feat_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.feat_std.copy_(torch.as_tensor(std, dtype=torch.float32).clamp_min(self.cfg.std_floor))

    def _pad(self, feats: torch.Tensor, lengths: torch.Tensor | None):
        """Normalise, repeat each clip's last frame up to a multiple of `downsample`; -> ([B,D,T4], lengths4)."""
        B, T, D = feats.shape
        if D != self.cfg.dim:
            raise ValueError(f"features have {D} channels, the tokenizer expects {self.cfg.dim} "
                             f"({len(self.cfg.expr_names)} expression + 30 rotation)")
        s = self.cfg.downsample
        if lengths is None:
            lengths = torch.full((B,), T, dtype=torch.long, device=feats.device)
        lengths = lengths.to(feats.device).long().clamp(1, T)
        T4 = -(-T // s) * s
        t = torch.arange(T4, device=feats.device)
        src = torch.minimum(t[None, :], lengths[:, None] - 1)                   # [B,T4] frame to read
        x = torch.gather(feats, 1, src[..., None].expand(B, T4, D))
        x = self.normalize(x)
        len4 = token_lengths(lengths, s) * s
        return x.transpose(1, 2), (None if bool((len4 == T4).all()) else len4), lengths

    def _quantize(self, z: torch.Tensor, tok_len: torch.Tensor | None):
        """z [B,C,N] -> (codes [B,C,N] with zeros past each clip, idx [B,N,R] (-1 past), commit, stats)."""
        B, C, N = z.shape
        flat = z.transpose(1, 2).reshape(B * N, C)
        valid = None if tok_len is None else (torch.arange(N, device=z.device)[None, :] < tok_len[:, None]).reshape(-1)
        q, idx, commit, stats = self.quantizer(flat if valid is None else flat[valid])
        if valid is not None:
            q_full = flat.new_zeros(B * N, C).index_copy(0, valid.nonzero()[:, 0], q.to(flat.dtype))
            i_full = idx.new_full((B * N, idx.shape[1]), PAD_TOKEN).index_copy(0, valid.nonzero()[:, 0], idx)
            q, idx = q_full, i_full
        return q.reshape(B, N, C).transpose(1, 2), idx.reshape(B, N, -1), commit, stats

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor | None = None):
        """Training pass: features [B,T,D] -> (reconstruction [B,T,D], commitment loss, stats).

        Frames past each length in the reconstruction are zero."""
        B, T, _ = feats.shape
        x, len4, lengths = self._pad(feats, lengths)
        s = self.cfg.downsample
        tok_len = None if len4 is None else len4 // s
        z = self.encoder(x, len4)                                               # [B,C,N]
        q, idx, commit, stats = self._quantize(z, tok_len)
        y = self.decoder(q.to(z.dtype), tok_len)                                # [B,D,T4]
        y = self.denormalize(y.transpose(1, 2)[:, :T].float())                  # [B,T,D]
        y = y * (torch.arange(T, device=y.device)[None, :] < lengths[:, None])[..., None]
        stats["idx"] = idx
        return y, commit, stats

    # -- inference ----------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, feats: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """features [B,T,D] (+ lengths [B]) -> tokens [B,ceil(T/4)] int64 ([B,ceil(T/4),R] for R > 1);
        positions past a clip's ceil(length/4) tokens are -1."""
        x, len4, _ = self._pad(feats.float(), lengths)
        tok_len = None if len4 is None else len4 // self.cfg.downsample
        z = self.encoder(x, len4)
        _, idx, _, _ = self._quantize(z, tok_len)
        return idx[..., 0] if self.cfg.levels == 1 else idx

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """tokens [B,N] or [B,N,R] (+ frame lengths [B]) -> features [B,T,D], T = max(lengths) or 4N;
        frames past each length are zero. Tokens at or past ceil(length/4) are ignored."""
        tokens = tokens.long()
        if tokens.dim() == 2:
            tokens = tokens[..., None]
        B, N, R = tokens.shape
        if R != self.cfg.levels:
            raise ValueError(f"tokens have {R} residual levels, the tokenizer has {self.cfg.levels}")
        s = self.cfg.downsample
        T = N * s if lengths is None else int(lengths.max())
        if lengths is not None:
            lengths = lengths.to(tokens.device).long()
            if T > N * s:
                raise ValueError(f"lengths up to {T} frames need {-(-T // s)} tokens, got {N}")
        tok_len = None if lengths is None else token_lengths(lengths, s)
        if tok_len is not None:
            keep = torch.arange(N, device=tokens.device)[None, :] < tok_len[:, None]
            tokens = torch.where(keep[..., None], tokens, PAD_TOKEN)
        if bool((tokens >= self.cfg.codebook_size).any()):
            raise ValueError(f"token ids must be < codebook size {self.cfg.codebook_size}")
        z = self.quantizer.lookup(tokens).transpose(1, 2)                       # [B,C,N]
        y = self.decoder(z, tok_len)                                           # _mask: None when nothing is padded
        y = self.denormalize(y.transpose(1, 2)[:, :T])
        if lengths is not None:
            y = y * (torch.arange(T, device=y.device)[None, :] < lengths[:, None])[..., None]
        return y

    def encode_clip(self, clip) -> np.ndarray:
        """MotionClip -> tokens [ceil(T'/4)] int64 ([.., R] for residual VQ), T' = frames at cfg.fps."""
        names = list(self.cfg.expr_names)
        if list(clip.expr_names) != names:
            clip, extra, missing = clip.with_channels(names)
            if extra or missing:
                raise ValueError("the clip's expression channels are not the tokenizer's: "
                                 f"missing {sorted(missing)[:8]}, extra {sorted(extra)[:8]}")
        f = params_to_features(clip.pose, clip.expr)                            # [T,D]
        f = resample(f, clip.fps, self.cfg.fps)
        p = next(self.parameters())
        tokens = self.encode(torch.from_numpy(f).to(p.device)[None])
        return tokens[0].cpu().numpy()

    def decode_tokens(self, tokens, fps: float | None = None, num_frames: int | None = None):
        """tokens [N] or [N,R] -> MotionClip at `fps` (default cfg.fps); num_frames (at cfg.fps) cuts the end."""
        from .clip import MotionClip

        t = torch.as_tensor(np.asarray(tokens), dtype=torch.long, device=next(self.parameters()).device)
        lengths = None if num_frames is None else torch.tensor([num_frames], device=t.device)
        f = self.decode(t[None], lengths)[0].float().cpu().numpy()              # [T,D]
        fps = self.cfg.fps if fps is None else float(fps)
        f = resample(f, self.cfg.fps, fps)
        pose, expr = features_to_params(f, len(self.cfg.expr_names))
        return MotionClip(pose=pose, expr=expr, expr_names=list(self.cfg.expr_names), fps=fps).validate()

    # -- files --------------------------------------------------------------------------------
    def save(self, path, dtype: torch.dtype = torch.float16, meta: dict | None = None) -> Path:
        """Write `<path>.safetensors` + `<path>.json`. fp16 drops the EMA state (inference only);
        fp32 keeps everything (training can resume from it). Atomic: no half files."""
        from safetensors.torch import save_file

        path = Path(path).with_suffix("")
        state = {}
        for k, v in self.state_dict().items():
            if dtype != torch.float32 and (".ema_" in k):
                continue
            keep32 = k in ("feat_mean", "feat_std") or not v.is_floating_point()
            state[k] = v.detach().to("cpu", torch.float32 if keep32 else dtype).contiguous()
        doc = {"format": FORMAT, "dtype": str(dtype).replace("torch.", ""), "config": asdict(self.cfg),
               "meta": meta or {}}
        path.parent.mkdir(parents=True, exist_ok=True)
        write_weights_and_config(path.with_suffix(".safetensors"), path.with_suffix(".json"),
                                 lambda f: save_file(state, f), doc)
        return path.with_suffix(".safetensors")

    @classmethod
    def load(cls, path, device="cpu") -> "MotionTokenizer":
        """Read a tokenizer written by `save` (weights as fp32, eval mode)."""
        from safetensors.torch import load_file

        path = Path(path).with_suffix("")
        st, js = path.with_suffix(".safetensors"), path.with_suffix(".json")
        for p in (st, js):
            if not p.exists():
                raise FileNotFoundError(f"tokenizer file {p} does not exist (a tokenizer is .safetensors + .json)")
        doc = json.loads(js.read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"{js}: format {doc.get('format')!r}, expected {FORMAT!r}")
        model = cls(VQConfig.from_dict(doc["config"]))
        state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(st)).items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if ".ema_" not in k]
        if missing or unexpected:
            raise ValueError(f"{st}: weights do not fit the config "
                             f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
        model.meta = doc.get("meta", {})
        return model.to(device).eval()


def resample(f: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """[T,D] frames at src_fps -> [T',D] at dst_fps, T' = round(T dst/src), linear in time."""
    if abs(src_fps - dst_fps) < 1e-6:
        return np.ascontiguousarray(f, dtype=np.float32)
    T = f.shape[0]
    n = max(1, int(round(T * dst_fps / src_fps)))
    t = np.minimum(np.arange(n) * (src_fps / dst_fps), T - 1)                  # source frame positions
    i0 = np.floor(t).astype(np.int64)
    i1 = np.minimum(i0 + 1, T - 1)
    w = (t - i0)[:, None].astype(np.float32)
    return ((1 - w) * f[i0] + w * f[i1]).astype(np.float32)


def tokenizer_file(path=None):
    """The weights file (.safetensors) of the tokenizer at `path` (its stem, .json or .safetensors),
    by default the shipped one: what a generator's or captioner's tokenizer sha is taken of."""
    from .head import assets_dir
    return Path(assets_dir() / "vq" / "tokenizer" if path is None else path).with_suffix(".safetensors")


def load_tokenizer(path=None, device="cpu") -> MotionTokenizer:
    """The shipped tokenizer (assets/vq/tokenizer) or one at `path`."""
    if path is None:
        from .head import assets_dir
        path = assets_dir() / "vq" / "tokenizer"
    return MotionTokenizer.load(path, device)
