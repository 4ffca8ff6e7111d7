"""Language2Motion generator: prompt word embeddings -> residual-VQ motion tokens, autoregressively.

One sequence per prompt, every row of the batch laid out on the same columns:

    [ text (Lb columns, left-padded) | LEN | GOAL | context (Kc columns, left-padded) | BOS | motion ... ]
                                                                                         C0

    text     the prompt's frozen MiniLM word embeddings, projected ("words", the paper's prefix),
             or their pooled sentence embedding as one row ("pooled": the T2M-GPT-style baseline);
             a dropped prompt (classifier-free guidance) is one learned NULL row
    LEN      how many motion positions to make (one position = `downsample` frames, 4 codes)
    GOAL     the position the motion must lead into (in-betweening), or a learned "no goal" row
    context  the last positions of earlier motion (continuation), none for a fresh clip
    motion   one row per position: the sum of its R code embeddings

The hidden state at BOS + j predicts position j (or END after the last one). A position's R
residual codes come from a small depth head: level r reads the hidden state plus the embeddings
of the codes already chosen at levels < r, so the finer levels follow the coarse one.

Because every row shares the columns (left padding, pads masked as keys), a batch of prompts of
different lengths runs as one tensor, in training and in generation with a KV cache.

Files: `<name>.safetensors` + `<name>.json` ({"format": "tdmm-l2m/1", "config", "meta"}).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .configs import config_from_dict
from .files import write_weights_and_config

FORMAT = "tdmm-l2m/1"
TEXT_MODES = ("words", "pooled")


@dataclass
class GeneratorConfig:
    text_mode: str = "words"        # "words" (token-level prefix) or "pooled" (one sentence row)
    text_dim: int = 384             # MiniLM hidden size
    text_max: int = 64              # prefix rows kept (word pieces, [CLS]/[SEP] included)
    levels: int = 4                 # residual levels of the tokenizer
    codebook_size: int = 512        # codes per level; END is id codebook_size at level 0
    downsample: int = 4             # frames per position (the tokenizer's)
    fps: float = 25.0               # the tokenizer's frame rate
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 4
    d_ff: int = 640
    dropout: float = 0.1
    max_positions: int = 48         # positions per window (7.7 s at 25 fps); longer clips chain windows
    max_context: int = 8            # earlier positions kept as context
    tokenizer: str = ""             # sha256 prefix of the tokenizer whose codes these are

    def validate(self) -> "GeneratorConfig":
        if self.text_mode not in TEXT_MODES:
            raise ValueError(f"text_mode is {self.text_mode!r}, expected one of {TEXT_MODES}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not a multiple of n_heads {self.n_heads}")
        for k in ("levels", "codebook_size", "downsample", "n_layers", "max_positions", "text_max"):
            if int(getattr(self, k)) < 1:
                raise ValueError(f"{k} must be >= 1, got {getattr(self, k)}")
        return self

    @classmethod
    def from_dict(cls, d: dict) -> "GeneratorConfig":
        return config_from_dict(cls, d, "generator config").validate()

    @property
    def positions_per_second(self) -> float:
        return self.fps / self.downsample


# -- attention with a cache ------------------------------------------------------------------------
class Block(nn.Module):
    """Pre-LN transformer block. Causal attention restricted to valid keys; with `cache` it
    appends this call's keys and values to the cached ones (generation, one column at a time)."""

    def __init__(self, d: int, n_heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, d_ff), nn.GELU(), nn.Linear(d_ff, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, cache: tuple | None = None) -> torch.Tensor:
        """x [B,S,d], mask [B,S,S] bool (query, key). cache (k [B,H,S_max,hd], v): this call's
        keys and values are written to its first S columns (the prefix of a generation)."""
        B, S, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, S, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            cache[0][:, :, :S], cache[1][:, :, :S] = k, v
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None],
                                           dropout_p=self.drop.p if self.training else 0.0)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(B, S, d)))
        return x + self.drop(self.mlp(self.ln2(x)))

    def step(self, x: torch.Tensor, cache: tuple, t: int, mask: torch.Tensor) -> torch.Tensor:
        """One new column t: x [B,d], mask [B,1,1,t+1] additive (0 = a valid key, -inf = not);
        its key and value join the cache. This runs n_layers times per generated position, so it
        calls the functional ops on the block's parameters directly (the same kernels as forward,
        without nn.Module's per-call overhead, ~9 calls a block) and keeps x 2-D."""
        B, d = x.shape
        H = self.n_heads
        y = F.layer_norm(x, (d,), self.ln1.weight, self.ln1.bias, self.ln1.eps)
        q, k, v = F.linear(y, self.qkv.weight, self.qkv.bias).view(B, 3, H, 1, d // H).unbind(1)   # [B,H,1,hd]
        kc, vc = cache
        kc[:, :, t:t + 1], vc[:, :, t:t + 1] = k, v
        a = F.scaled_dot_product_attention(q, kc[:, :, :t + 1], vc[:, :, :t + 1], attn_mask=mask)
        x = x + F.linear(a.reshape(B, d), self.proj.weight, self.proj.bias)
        fc1, fc2 = self.mlp[0], self.mlp[2]
        y = F.layer_norm(x, (d,), self.ln2.weight, self.ln2.bias, self.ln2.eps)
        return x + F.linear(F.gelu(F.linear(y, fc1.weight, fc1.bias)), fc2.weight, fc2.bias)


def left_align(x: torch.Tensor, mask: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows whose valid entries are first (mask [B,L] True at the start) -> the same entries
    at the end of `width` columns: x [B,L,...] -> [B,width,...], mask [B,width]. Rows longer
    than `width` keep their first `width` entries."""
    B, L = mask.shape
    n = mask.sum(1).clamp_max(width)                                     # [B]
    col = torch.arange(width, device=x.device)[None, :]                  # [1,W]
    src = col - (width - n)[:, None]                                     # [B,W] source index
    valid = src >= 0
    src = src.clamp(0, max(L - 1, 0))
    out = torch.gather(x, 1, src.view(B, width, *([1] * (x.dim() - 2))).expand(B, width, *x.shape[2:]))
    return torch.where(valid.view(B, width, *([1] * (x.dim() - 2))), out, torch.zeros((), dtype=x.dtype,
                                                                                     device=x.device)), valid


# -- the model ------------------------------------------------------------------------------------
class MotionGenerator(nn.Module):
    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.cfg = c = cfg.validate()
        d, V = c.d_model, c.codebook_size
        self.text_proj = nn.Linear(c.text_dim, d)
        self.text_pos = nn.Embedding(c.text_max, d)
        self.special = nn.Embedding(5, d)          # 0 NULL text, 1 LEN, 2 GOAL, 3 no goal, 4 BOS
        self.length = nn.Embedding(c.max_positions + 1, d)
        self.codes = nn.ModuleList(nn.Embedding(V + (1 if r == 0 else 0), d) for r in range(c.levels))
        self.motion_pos = nn.Embedding(c.max_context + 1 + c.max_positions + 1, d)
        self.blocks = nn.ModuleList(Block(d, c.n_heads, c.d_ff, c.dropout) for _ in range(c.n_layers))
        self.ln_f = nn.LayerNorm(d)
        self.depth_ln = nn.ModuleList(nn.LayerNorm(d) for _ in range(c.levels))
        self.heads = nn.ModuleList(nn.Linear(d, V + (1 if r == 0 else 0)) for r in range(c.levels))
        self.drop = nn.Dropout(c.dropout)
        self.apply(self._init)
        self.meta: dict = {}

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    @property
    def end_id(self) -> int:
        return self.cfg.codebook_size

    def _code_sum(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [...,R] (-1 = none) -> [...,d] sum of the level embeddings."""
        out = 0
        for r, emb in enumerate(self.codes):
            c = codes[..., r]
            out = out + emb(c.clamp_min(0)) * (c >= 0)[..., None]
        return out

    # -- the prefix: everything up to and including BOS --------------------------------------
    def prefix(self, text: torch.Tensor, text_mask: torch.Tensor, n: torch.Tensor,
               drop: torch.Tensor | None = None, goal: torch.Tensor | None = None,
               context: torch.Tensor | None = None):
        """text [B,L,384] word embeddings (zeros past text_mask [B,L]), n [B] positions to make,
        drop [B] bool (prompt dropped: the NULL row), goal [B,R] codes (-1 = none), context
        [B,K,R] earlier positions, the last at K-1, -1 = none -> (x [B,C0+1,d], valid [B,C0+1])."""
        c, B, dev = self.cfg, text.shape[0], text.device
        text_mask = text_mask.bool()
        if c.text_mode == "pooled":                     # one unit-length sentence row, as MiniLM pools
            s = (text * text_mask[..., None]).sum(1) / text_mask.sum(1, keepdim=True).clamp_min(1)
            text, text_mask = F.normalize(s, dim=-1)[:, None], text_mask.any(1, keepdim=True)
        if drop is not None:
            text_mask = text_mask & ~drop[:, None]
        # a dropped or empty prompt becomes the NULL row: one valid column with the NULL embedding
        null = ~text_mask.any(1)                                                 # [B]
        Lb = int(min(max(int(text_mask.sum(1).max()), 1), c.text_max))
        t, tv = left_align(text.float(), text_mask, Lb)                          # [B,Lb,384], [B,Lb]
        npos = tv.sum(1)
        tpos = (torch.arange(Lb, device=dev)[None, :] - (Lb - npos)[:, None]).clamp_min(0)
        xt = self.text_proj(t) + self.text_pos(tpos)
        last = torch.zeros(B, Lb, dtype=torch.bool, device=dev)
        last[:, -1] = True
        xt = torch.where((null[:, None] & last)[..., None], self.special.weight[0], xt)
        tv = tv | (null[:, None] & last)

        xl = self.length(n.clamp(0, c.max_positions))[:, None] + self.special.weight[1]      # [B,1,d]
        if goal is None:
            goal = torch.full((B, c.levels), -1, dtype=torch.long, device=dev)
        has_goal = (goal >= 0).any(-1)
        xg = torch.where(has_goal[:, None], self._code_sum(goal) + self.special.weight[2],
                         self.special.weight[3])[:, None]
        K = c.max_context
        if context is None or context.shape[1] == 0:
            context = torch.full((B, K, c.levels), -1, dtype=torch.long, device=dev)
        context = context[:, -K:]
        if context.shape[1] < K:
            pad = torch.full((B, K - context.shape[1], c.levels), -1, dtype=torch.long, device=dev)
            context = torch.cat([pad, context], 1)
        cv = (context >= 0).any(-1)                                                           # [B,K]
        xc = self._code_sum(context) + self.motion_pos.weight[:K]
        xb = (self.special.weight[4] + self.motion_pos.weight[K])[None, None].expand(B, 1, -1)
        x = torch.cat([xt, xl, xg, xc, xb], 1)
        ones = torch.ones(B, 1, dtype=torch.bool, device=dev)
        return x, torch.cat([tv, ones, ones, cv, ones], 1)

    def _motion_rows(self, codes: torch.Tensor, start: int) -> torch.Tensor:
        """codes [B,N,R] of positions start.. (0 = the first made) -> input rows [B,N,d]."""
        K = self.cfg.max_context
        pos = torch.arange(start, start + codes.shape[1], device=codes.device).clamp_max(self.cfg.max_positions)
        return self._code_sum(codes) + self.motion_pos(K + 1 + pos)

    def _run(self, x: torch.Tensor, mask: torch.Tensor, caches: list | None = None) -> torch.Tensor:
        x = self.drop(x)
        for i, blk in enumerate(self.blocks):
            x = blk(x, mask, None if caches is None else caches[i])
        return self.ln_f(x)

    def _new_caches(self, B: int, S: int, like: torch.Tensor) -> list:
        # empty, not zeros: column t is written (prefix, then step) before any query reads it, and
        # attention only ever reads columns :t+1, so the fill would be wasted (~2% of a batch of 32)
        c = self.cfg
        shape = (B, c.n_heads, S, c.d_model // c.n_heads)
        return [(like.new_empty(shape), like.new_empty(shape)) for _ in self.blocks]

    @staticmethod
    def _mask(valid: torch.Tensor, q0: int = 0) -> torch.Tensor:
        """valid [B,S] keys -> [B,S-q0,S] causal mask for the queries from column q0; a query
        always sees itself (a padded query row would otherwise attend to nothing)."""
        S = valid.shape[1]
        qi = torch.arange(q0, S, device=valid.device)[:, None]
        ki = torch.arange(S, device=valid.device)[None, :]
        return ((ki <= qi)[None] & valid[:, None, :]) | (ki == qi)[None]

    def depth_logits(self, h: torch.Tensor, codes: torch.Tensor | None = None, level: int | None = None):
        """Level logits from hidden states h [...,d] given the codes of lower levels (teacher
        forcing: codes [...,R]). level None -> all levels, a list of [...,V_r]."""
        z, out = h, []
        for r in range(self.cfg.levels if level is None else level + 1):
            if r > 0:
                z = z + self.codes[r - 1](codes[..., r - 1].clamp(0, self.cfg.codebook_size - 1))
            if level is None or r == level:
                out.append(self.heads[r](self.depth_ln[r](z)))
        return out if level is None else out[0]

    # -- training ----------------------------------------------------------------------------------
    def forward(self, text, text_mask, targets: torch.Tensor, n: torch.Tensor, drop=None, goal=None, context=None):
        """targets [B,N,R] codes of the positions to make (-1 past each row's n [B]) -> (loss,
        parts): cross-entropy of every level at every position, END after the last (level 0)."""
        x, valid = self.prefix(text, text_mask, n, drop, goal, context)
        C0 = x.shape[1] - 1                                                   # BOS column
        B, N, R = targets.shape
        xm = self._motion_rows(targets, 0)
        tv = torch.arange(N, device=x.device)[None, :] < n[:, None]           # [B,N]
        x = torch.cat([x, xm], 1)
        valid = torch.cat([valid, tv], 1)
        h = self._run(x, self._mask(valid))[:, C0:]                           # [B,N+1,d]: BOS..last
        # targets of the hidden rows: position j, END at j = n
        tgt = torch.cat([targets, torch.full((B, 1, R), -1, dtype=targets.dtype, device=x.device)], 1)
        j = torch.arange(N + 1, device=x.device)[None, :]
        tgt[..., 0] = torch.where(j == n[:, None], self.end_id, tgt[..., 0])
        logits = self.depth_logits(h, tgt)
        parts, total = {}, 0.0
        for r, lg in enumerate(logits):
            ce = F.cross_entropy(lg.float().reshape(-1, lg.shape[-1]), tgt[..., r].reshape(-1), ignore_index=-1)
            total = total + ce
            parts[f"ce{r}"] = ce.detach()
        with torch.no_grad():
            ok = (logits[0].argmax(-1) == tgt[..., 0]) & (tgt[..., 0] >= 0)
            parts["acc0"] = ok.sum() / (tgt[..., 0] >= 0).sum().clamp_min(1)
        return total / R, parts

    # -- generation --------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, text: torch.Tensor, text_mask: torch.Tensor, n: torch.Tensor,
                 noise: torch.Tensor, guidance: float = 0.0, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, goal=None, context=None) -> torch.Tensor:
        """Make n [B] positions (all rows run to max(n); rows past their n are padding) ->
        codes [B,N,R], N = max(n) <= max_positions.

        noise [B,N,R] uniform in [0,1): the sampling draws, one per code, made by the caller
        from each row's own seed, so a row's result never depends on the rest of the batch.
        guidance g > 0: classifier-free guidance, logits = uncond + (1 + g) (cond - uncond),
        the unconditional half run in the same batch. temperature 0 is greedy."""
        self.eval()
        c, B = self.cfg, text.shape[0]
        N = int(n.max())
        if N > c.max_positions:
            raise ValueError(f"{N} positions asked of one window; the model makes at most {c.max_positions}")
        out = torch.zeros(B, N, c.levels, dtype=torch.long, device=text.device)
        # Inference mode drops autograd's per-op bookkeeping (version counters, view tracking), a few
        # per cent of a loop of small ops. `out` is made outside it, so the caller gets a plain tensor.
        with torch.inference_mode():
            self._generate_into(out, text, text_mask, n, noise, guidance, temperature, top_k, top_p, goal, context)
        return out

    def _generate_into(self, out: torch.Tensor, text, text_mask, n, noise, guidance: float, temperature: float,
                       top_k: int, top_p: float, goal, context) -> None:
        """generate's body: fills out [B,N,R] position by position."""
        c, (B, N, R) = self.cfg, out.shape
        d = c.d_model
        cfg_on = guidance > 0
        if cfg_on:                                   # [cond; uncond]
            text, text_mask, n2 = text.repeat(2, 1, 1), text_mask.repeat(2, 1), n.repeat(2)
            drop = torch.arange(2 * B, device=text.device) >= B
            goal = None if goal is None else goal.repeat(2, 1)
            context = None if context is None else context.repeat(2, 1, 1)
        else:
            n2, drop = n, None
        x, valid = self.prefix(text, text_mask, n2, drop, goal, context)
        B2, S0 = valid.shape
        caches = self._new_caches(B2, S0 + N, x)
        h = self._run(x, self._mask(valid), caches)[:, -1]                   # BOS's hidden [B2,d]

        # The loop below runs N times with ~200 small ops each. For one prompt (1-2 rows) about half
        # its time is the matmuls, bound by reading ~16 MB of fp32 weights (blocks, heads) per
        # position; much of the rest is per-op and per-Module-call overhead, so what the loop reuses
        # is made once here. It all computes the same values as the modules would, bit for bit:
        # - the keys' additive mask (0 / -inf), which scaled_dot_product_attention would otherwise
        #   rebuild from a bool mask in every layer at every step;
        keys = torch.cat([valid, valid.new_ones(B2, N)], 1)                  # [B2,S0+N]
        keys = torch.zeros(keys.shape, dtype=x.dtype, device=x.device).masked_fill_(~keys, float("-inf"))
        keys = keys[:, None, None]                                            # [B2,1,1,S0+N]
        # - the motion_pos rows of positions 0..N-1 (N <= max_positions, so no clamp);
        mpos = self.motion_pos.weight[c.max_context + 1:c.max_context + 1 + N]
        # - the plain tensors behind the code embeddings, the depth heads and ln_f (no Module calls).
        emb = [e.weight for e in self.codes]
        heads = [(ln.weight, ln.bias, ln.eps, hd.weight, hd.bias) for ln, hd in zip(self.depth_ln, self.heads)]
        ln_f = (self.ln_f.weight, self.ln_f.bias, self.ln_f.eps)

        for j in range(N):
            codes = out[:, j]
            z = h
            for r, (lw, lb, eps, hw, hb) in enumerate(heads):
                if r > 0:                                # the code just chosen at level r-1, for both halves
                    e = emb[r - 1][codes[:, r - 1]]                           # [B,d]
                    z = (z.view(2, B, d) + e).view(B2, d) if cfg_on else z + e
                lg = F.linear(F.layer_norm(z, (d,), lw, lb, eps), hw, hb).float()
                if cfg_on:
                    lg = lg[B:] + (1.0 + guidance) * (lg[:B] - lg[B:])
                if r == 0:
                    lg[:, self.end_id] = float("-inf")      # the length is asked for: END never comes early
                codes[:, r] = sample(lg, noise[:, j, r], temperature, top_k, top_p)
            if j + 1 < N:
                # the position's input row as _motion_rows makes it (in _code_sum's order: levels
                # 0..R-1, then motion_pos; sampled codes are never -1, so no validity mask)
                xr = emb[0][codes[:, 0]]
                for r in range(1, R):
                    xr = xr + emb[r][codes[:, r]]
                xr = xr + mpos[j]
                if cfg_on:
                    xr = xr.repeat(2, 1)                                      # [B2,d]
                t = S0 + j
                for blk, cache in zip(self.blocks, caches):
                    xr = blk.step(xr, cache, t, keys[..., :t + 1])
                h = F.layer_norm(xr, (d,), *ln_f)

    # -- files -------------------------------------------------------------------------------------
    def save(self, path, dtype: torch.dtype = torch.float16, meta: dict | None = None) -> Path:
        from safetensors.torch import save_file

        path = Path(path).with_suffix("")
        state = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
                 for k, v in self.state_dict().items()}
        doc = {"format": FORMAT, "dtype": str(dtype).replace("torch.", ""), "config": asdict(self.cfg),
               "meta": meta or {}}
        path.parent.mkdir(parents=True, exist_ok=True)
        write_weights_and_config(path.with_suffix(".safetensors"), path.with_suffix(".json"),
                                 lambda f: save_file(state, f), doc)
        return path.with_suffix(".safetensors")

    @classmethod
    def load(cls, path, device="cpu") -> "MotionGenerator":
        """Read a generator written by `save` (weights as fp32, eval mode)."""
        from safetensors.torch import load_file

        path = Path(path).with_suffix("")
        st, js = path.with_suffix(".safetensors"), path.with_suffix(".json")
        for p in (st, js):
            if not p.exists():
                raise FileNotFoundError(f"generator file {p} does not exist (a generator is .safetensors + .json)")
        doc = json.loads(js.read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"{js}: format {doc.get('format')!r}, expected {FORMAT!r}")
        model = cls(GeneratorConfig.from_dict(doc["config"]))
        state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(st)).items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(f"{st}: weights do not fit the config "
                             f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
        model.meta = doc.get("meta", {})
        return model.to(device).eval()


def sample(logits: torch.Tensor, u: torch.Tensor, temperature: float, top_k: int, top_p: float) -> torch.Tensor:
    """logits [B,V], u [B] uniform -> ids [B] by inverse-CDF sampling (the draw is the caller's,
    so each row is reproducible alone); temperature 0 -> argmax."""
    if temperature <= 0:
        return logits.argmax(-1)
    lg = logits / temperature if temperature != 1.0 else logits       # x / 1 is x: skip the op
    if top_k and top_k < lg.shape[-1]:
        kth = torch.topk(lg, top_k, dim=-1).values[:, -1:]
        lg = lg.masked_fill(lg < kth, float("-inf"))
    p = torch.softmax(lg, -1)
    if top_p < 1.0:
        ps, idx = torch.sort(p, -1, descending=True)
        keep = torch.cumsum(ps, -1) - ps < top_p                  # the smallest head reaching top_p
        ps = ps * keep
        p = torch.zeros_like(p).scatter(-1, idx, ps)
    cdf = torch.cumsum(p, -1)
    cdf = cdf / cdf[:, -1:]
    # right=True: the first id whose cdf passes u, so ids of probability 0 are never drawn
    u = u[:, None].to(cdf.dtype).clamp(0, 1 - 1e-7)
    return torch.searchsorted(cdf, u, right=True).squeeze(-1).clamp_max(lg.shape[-1] - 1)


def load_generator(path=None, device="cpu") -> MotionGenerator:
    """The shipped generator (assets/l2m/generator) or one at `path`."""
    if path is None:
        from .head import assets_dir
        path = assets_dir() / "l2m" / "generator"
    return MotionGenerator.load(path, device)
