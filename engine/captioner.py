"""Motion2Language: a pretrained causal language model reads geometry tokens and writes captions.

    cap = load_captioner()                                   # assets/m2l/captioner (+ the cached base)
    cap.caption([codes])                                     # codes [N,4] of the shipped tokenizer -> ["..."]
    cap.caption([codes, codes2], question="Does she blink?")
    cap.caption([clip], motion_tokenizer=tok, greedy=False, temperature=0.7, top_p=0.9, seed=3)

The model. A Hugging Face causal LM (SmolLM2-135M-Instruct by default, engine/lm_base.py) whose
vocabulary is extended by motion tokens: <motion>, </motion> and the codes of the motion tokenizer.
The prompt is the model's own chat template: a system line, a user turn holding
`<motion> codes </motion>` (and the question, if any), then the assistant turn, which is the
caption or the answer and ends with the model's end-of-turn token.

Motion tokens are input-only. The captioner reads codes and writes words, never codes, so the new
tokens get input-embedding rows and no output-head rows: the LM head keeps its V rows (a tied head
stays tied to the first V rows of the embedding), generation can never emit a raw motion token,
and the delta carries one row per new token, not two.

Vocabulary schemes (`vocab`, measured against each other by the trainer):
    per_level  levels x codebook_size new tokens; each 4-frame position is written as one token per
               residual level (<L0:c0><L1:c1><L2:c2><L3:c3>): all the tokenizer's detail, 4 tokens per
               0.16 s (150 for a 6 s clip)
    level0     codebook_size new tokens, only each position's coarse code: 1 token per position,
               the finer residual levels dropped (shorter prompts, less detail)

Finetuning. `mode: lora` adds low-rank adapters (W + alpha/r * B A) to `lora_targets` of every
layer, trained with the new embedding rows while the base stays frozen; `mode: full` trains every
weight. Either way the shipped delta is small and never holds a copy of the base:
    lora.<module>.A [r,in], lora.<module>.B [out,r]   W += lora_scale * B @ A at load (merged once:
                                                      no adapter cost per token at inference)
    diff.<param>                                      small (1-D) parameters, full mode: their change
    motion_embed [n_new, d]                           the new tokens' input rows
For full mode `save` stores the rank-r truncated SVD of each matrix's change (embedding included) as
lora.* pairs with scale 1, so full finetuning ships in the same few MB as LoRA; its saved form is
what gets validated (`final`), so the SVD's loss is measured, not assumed. A base that exists only
as a config (the tiny test models, the no-pretraining baseline) is saved whole instead
(`kind: weights`): there is no installed base to apply a delta to.

Files: `<stem>.safetensors` (fp16 to ship, fp32 to resume; never pickle) and `<stem>.json`
{"format": "tdmm-m2l/1", "kind": "delta" | "weights", "config": CaptionerConfig fields,
"lora_scale", "word_tokenizer" (tiny models only), "meta"}. transformers is imported when a model
is built or loaded, never at import time. Imports nothing from training.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .configs import config_from_dict
from .errors import InputError
from .files import write_weights_and_config

FORMAT = "tdmm-m2l/1"
MAX_DELTA_BYTES = 8_000_000           # DESIGN.md's size budget for the shipped captioner delta
VOCABS = ("per_level", "level0")
MODES = ("lora", "full")
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DEFAULT_SYSTEM = ("You read a face animation given as motion tokens and say what the face does: emotion, "
                  "intensity, side, small facial actions, head motion and timing.")
# Chat-control strings that must never reach a user (a model may spell one out as plain text).
_CONTROL = re.compile(r"<\|[^|>]{1,40}\|>|</?motion>|<L\d:\d+>")


@dataclass
class CaptionerConfig:
    base: str = "smollm2"               # smollm2 | PATH.gguf | Hugging Face folder or hub name | tiny...
    base_sha: str = ""                  # identity of the base the delta was trained on (lm_base), checked
    pretrained: bool = True             # False: the base's architecture randomly initialised, saved whole
    arch: dict = field(default_factory=dict)   # the model config dict of a base that is not on disk
    text_tokenizer: str = ""            # "" = the base's own; "embedded" = in the checkpoint; else a base name
    motion_tokenizer: str = ""          # sha256[:12] of the motion tokenizer whose codes it reads
    codebook_size: int = 512
    levels: int = 4                     # residual levels of the motion tokenizer
    fps: float = 25.0                   # the motion tokenizer's frame rate
    downsample: int = 4                 # frames per position
    vocab: str = "per_level"            # per_level | level0 (see the module doc)
    mode: str = "lora"                  # lora | full
    lora_rank: int = 8
    lora_alpha: float = 16.0
    lora_targets: list = field(default_factory=lambda: list(LORA_TARGETS))
    max_new_tokens: int = 128           # the corpus's longest captions are ~100 SmolLM2 tokens
    max_positions: int = 160            # motion read per clip: 160 positions = 25.6 s at 25 fps
    system: str = DEFAULT_SYSTEM

    @property
    def levels_used(self) -> int:
        return self.levels if self.vocab == "per_level" else 1

    @property
    def motion_vocab_size(self) -> int:
        return self.levels_used * self.codebook_size + 2

    @property
    def max_seconds(self) -> float:
        return self.max_positions * self.downsample / self.fps

    def validate(self) -> "CaptionerConfig":
        if self.vocab not in VOCABS:
            raise ValueError(f"vocab must be one of {', '.join(VOCABS)}, got {self.vocab!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        for k in ("codebook_size", "levels", "lora_rank", "max_new_tokens", "max_positions", "downsample"):
            if int(getattr(self, k)) < 1:
                raise ValueError(f"{k} must be >= 1, got {getattr(self, k)}")
        if not self.lora_targets:
            raise ValueError("lora_targets is empty")
        return self

    @classmethod
    def from_dict(cls, d: dict) -> "CaptionerConfig":
        return config_from_dict(cls, d, "CaptionerConfig").validate()


# -- the motion vocabulary --------------------------------------------------------------------------
class MotionVocab:
    """Motion codes <-> new token ids, placed after the base's V ids:
    V + l*K + c for code c of level l (l < levels_used), then <motion> and </motion>."""

    def __init__(self, cfg: CaptionerConfig, base_vocab: int):
        self.offset, self.K, self.levels = int(base_vocab), cfg.codebook_size, cfg.levels_used
        self.begin = self.offset + self.levels * self.K
        self.end = self.begin + 1
        self.size = self.levels * self.K + 2

    def encode(self, codes) -> list[int]:
        """codes [N,R] (or [N] for one level) -> N * levels ids; positions with a -1 (padding) end it."""
        c = np.asarray(codes, dtype=np.int64)
        if c.ndim == 1:
            c = c[:, None]
        if c.ndim != 2 or c.shape[1] < self.levels:
            raise ValueError(f"codes have shape {c.shape}, expected [N,{self.levels}] or more levels")
        c = c[:, :self.levels]
        pad = (c < 0).any(1)
        if pad.any():
            c = c[:int(np.argmax(pad))]
        if (c >= self.K).any():
            raise ValueError(f"motion codes must be < codebook size {self.K}")
        ids = self.offset + np.arange(self.levels)[None, :] * self.K + c
        return ids.reshape(-1).tolist()

    def decode(self, ids) -> np.ndarray:
        """The inverse of encode: ids -> codes [N, levels] (the <motion> / </motion> ids are skipped)."""
        ids = np.asarray([i for i in ids if self.offset <= i < self.begin], dtype=np.int64) - self.offset
        if len(ids) % self.levels:
            raise ValueError(f"{len(ids)} motion ids are not a whole number of {self.levels}-level positions")
        out = ids.reshape(-1, self.levels)
        if (out // self.K != np.arange(self.levels)[None, :]).any():
            raise ValueError("motion ids are out of level order")
        return out % self.K

    def wrap(self, codes) -> list[int]:
        return [self.begin] + self.encode(codes) + [self.end]


class ExtendedEmbedding(nn.Module):
    """The base's input embedding [V,d] plus `extra` rows [n,d] for ids V..V+n-1. The base matrix
    stays the same Parameter (a tied LM head keeps sharing it); only `extra` is new."""

    def __init__(self, base: nn.Embedding, extra: torch.Tensor):
        super().__init__()
        self.base = base
        self.n_base = base.num_embeddings
        self.extra = nn.Parameter(extra.to(base.weight.dtype).to(base.weight.device).clone())

    @property
    def weight(self):                      # what transformers' own code reads of an embedding
        return self.base.weight

    @property
    def num_embeddings(self) -> int:
        return self.n_base + self.extra.shape[0]

    @property
    def embedding_dim(self) -> int:
        return self.base.embedding_dim

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        new = ids >= self.n_base
        out = self.base(torch.where(new, 0, ids))
        if bool(new.any()):
            rows = self.extra[(ids - self.n_base).clamp(0, self.extra.shape[0] - 1)].to(out.dtype)
            out = torch.where(new[..., None], rows, out)
        return out


# -- LoRA in plain torch ------------------------------------------------------------------------------
class LoRALinear(nn.Module):
    """y = base(x) + scale * (dropout(x) A^T) B^T; A [r,in] Kaiming-uniform, B [out,r] zero (the
    adapted model starts as the base)."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        self.base, self.rank, self.scale = base, rank, alpha / rank
        w = base.weight
        self.A = nn.Parameter(torch.empty(rank, w.shape[1], device=w.device, dtype=torch.float32))
        self.B = nn.Parameter(torch.zeros(w.shape[0], rank, device=w.device, dtype=torch.float32))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x):
        return self.base(x) + (self.drop(x) @ self.A.to(x.dtype).T @ self.B.to(x.dtype).T) * self.scale


def add_lora(model: nn.Module, targets, rank: int, alpha: float, dropout: float = 0.0) -> list[str]:
    """Wrap every nn.Linear whose name ends in one of `targets` (inside the decoder layers) in a
    LoRALinear; returns the wrapped module names (base naming)."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and n.split(".")[-1] in set(targets)
             and n != "lm_head"]
    if not names:
        raise ValueError(f"no linear layer of the model is called {', '.join(targets)}")
    for n in names:
        parent, _, leaf = n.rpartition(".")
        owner = model.get_submodule(parent)
        setattr(owner, leaf, LoRALinear(getattr(owner, leaf), rank, alpha, dropout))
    return names


def low_rank(diff: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """diff [out,in] -> (B [out,r], A [r,in]) with B A the best rank-r approximation (truncated SVD)."""
    U, S, Vh = torch.linalg.svd(diff.float(), full_matrices=False)
    r = min(rank, S.shape[0])
    s = S[:r].sqrt()
    return U[:, :r] * s[None, :], s[:, None] * Vh[:r]


# -- the captioner ------------------------------------------------------------------------------------
class Captioner:
    """A causal LM with motion tokens in its input vocabulary; see the module doc."""

    def __init__(self, model, text_tokenizer, cfg: CaptionerConfig, meta: dict | None = None,
                 word_tokenizer: dict | None = None, extra_rows: torch.Tensor | None = None):
        self.model, self.tok, self.cfg = model, text_tokenizer, cfg.validate()
        self.meta = meta or {}
        self.word_tokenizer = word_tokenizer          # the checkpoint's own tokenizer (tiny models)
        emb = model.get_input_embeddings()
        if isinstance(emb, ExtendedEmbedding):
            raise ValueError("the model already has motion tokens")
        self.vocab = MotionVocab(cfg, emb.num_embeddings)
        if extra_rows is None:
            extra_rows = default_rows(emb.weight.detach(), self.vocab.size)
        if tuple(extra_rows.shape) != (self.vocab.size, emb.embedding_dim):
            raise ValueError(f"motion embedding rows have shape {tuple(extra_rows.shape)}, expected "
                             f"{(self.vocab.size, emb.embedding_dim)}")
        model.set_input_embeddings(ExtendedEmbedding(emb, extra_rows))
        self.eos_id = _eos_id(text_tokenizer)
        self.pad_id = text_tokenizer.pad_token_id if text_tokenizer.pad_token_id is not None else self.eos_id
        self._parts: dict = {}
        self._text_ids: dict = {}

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def embedding(self) -> ExtendedEmbedding:
        return self.model.get_input_embeddings()

    # -- prompts ----------------------------------------------------------------------------------
    def _template(self, with_question: bool) -> tuple[list[int], list[int], list[int]]:
        """(ids before the motion, ids between the motion and the question, ids after the question up
        to the start of the assistant's text), from the model's own chat template rendered once
        around two placeholders."""
        if with_question not in self._parts:
            m, q = "\u0001MOTION\u0001", "\u0001QUESTION\u0001"
            user = m + ("\n" + q if with_question else "")
            msgs = [{"role": "system", "content": self.cfg.system}, {"role": "user", "content": user}]
            text = self.tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            before, rest = text.split(m)
            mid, after = rest.split(q) if with_question else ("", rest)
            enc = lambda s: self.tok(s, add_special_tokens=False)["input_ids"] if s else []
            self._parts[with_question] = (enc(before), enc(mid), enc(after))
        return self._parts[with_question]

    def text_ids(self, text: str) -> list[int]:
        """Token ids of a question or an answer (cached: the corpus repeats many)."""
        ids = self._text_ids.get(text)
        if ids is None:
            ids = self.tok(text, add_special_tokens=False)["input_ids"]
            if len(self._text_ids) < 2_000_000:
                self._text_ids[text] = ids
        return ids

    def cache_text_ids(self, texts, batch: int = 4096) -> None:
        """Tokenize many questions and answers at once (a training set's worth) into the cache."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._text_ids))
        for s in range(0, len(todo), batch):
            part = todo[s:s + batch]
            for t, ids in zip(part, self.tok(part, add_special_tokens=False)["input_ids"]):
                self._text_ids[t] = ids

    def motion_ids(self, codes) -> list[int]:
        """<motion> codes </motion> as ids, the codes cut to max_positions."""
        c = np.asarray(codes)
        return self.vocab.wrap(c[:self.cfg.max_positions])

    def prompt_ids(self, codes, question: str | None = None, question_ids: list | None = None,
                   motion_ids: list | None = None) -> list[int]:
        """System + user turn (<motion> codes </motion>, then the question) + the assistant's opening.
        motion_ids: motion_ids(codes) computed before (a trainer reuses them across steps)."""
        has_q = question is not None or question_ids is not None
        before, mid, after = self._template(has_q)
        q = (question_ids if question_ids is not None else self.text_ids(question)) if has_q else []
        return before + (motion_ids if motion_ids is not None else self.motion_ids(codes)) + mid + q + after

    def example(self, codes, question: str | None, answer: str, question_ids=None, answer_ids=None,
                motion_ids=None):
        """One training sequence: (ids, labels) with labels -100 except on the assistant's answer
        and the end-of-turn token that closes it (loss only on what the assistant says)."""
        p = self.prompt_ids(codes, question, question_ids, motion_ids)
        a = (answer_ids if answer_ids is not None else self.text_ids(answer)) + [self.eos_id]
        return p + a, [-100] * len(p) + a

    # -- captioning ---------------------------------------------------------------------------------
    def codes_of(self, item, motion_tokenizer=None) -> np.ndarray:
        """A MotionClip (encoded with motion_tokenizer) or codes [N,R] -> codes [N,R]."""
        if hasattr(item, "expr") and hasattr(item, "pose"):
            if motion_tokenizer is None:
                raise ValueError("captioning a MotionClip needs the motion tokenizer (motion_tokenizer=...)")
            return np.asarray(motion_tokenizer.encode_clip(item))
        c = np.asarray(item)
        if c.ndim == 1:
            c = c[:, None]
        if c.ndim != 2 or len(c) == 0:
            raise ValueError(f"motion codes must be [N,R] with N >= 1, got shape {c.shape}")
        return c

    @torch.no_grad()            # not inference_mode: the trainer captions between steps with the same modules
    def caption(self, items, question=None, greedy: bool = True, temperature: float = 0.7, top_p: float = 0.9,
                seed: int = 0, max_new_tokens: int | None = None, motion_tokenizer=None,
                batch_size: int = 32) -> list[str]:
        """Clips or codes -> one caption (no question) or answer per item, in order. `question` is one
        string for all items or one per item (None entries: a caption). Greedy by default; sampling
        (greedy=False) draws from `seed`, so the same call gives the same text."""
        items = list(items)
        qs = list(question) if isinstance(question, (list, tuple)) else [question] * len(items)
        if len(qs) != len(items):
            raise ValueError(f"{len(qs)} questions for {len(items)} clips")
        prompts = [self.prompt_ids(self.codes_of(x, motion_tokenizer), q) for x, q in zip(items, qs)]
        out: list[str] = []
        for s in range(0, len(prompts), batch_size):
            out += self._generate(prompts[s:s + batch_size], greedy, temperature, top_p, seed + s,
                                  max_new_tokens or self.cfg.max_new_tokens)
        return out

    def _generate(self, prompts: list[list[int]], greedy, temperature, top_p, seed, max_new) -> list[str]:
        from transformers import GenerationConfig
        L = max(len(p) for p in prompts)
        dev = self.device
        ids = torch.full((len(prompts), L), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), L), dtype=torch.long)
        for i, p in enumerate(prompts):                     # left padding: every row ends where text begins
            ids[i, L - len(p):] = torch.tensor(p)
            mask[i, L - len(p):] = 1
        gc = GenerationConfig(max_new_tokens=int(max_new), do_sample=not greedy, eos_token_id=self.eos_id,
                              pad_token_id=self.pad_id, use_cache=True,
                              **({} if greedy else {"temperature": float(temperature), "top_p": float(top_p),
                                                    "top_k": 0}))
        was_training = self.model.training
        self.model.eval()
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(int(seed))
            seq = self.model.generate(input_ids=ids.to(dev), attention_mask=mask.to(dev), generation_config=gc)
        self.model.train(was_training)
        texts = self.tok.batch_decode(seq[:, L:].tolist(), skip_special_tokens=True)
        return [clean_text(t) for t in texts]

    # -- files ----------------------------------------------------------------------------------------
    def state(self, fp16: bool, base_state: dict | None = None) -> tuple[dict, dict]:
        """(tensors, doc) of the saved form. fp16=True is the shippable one: for full mode the
        rank-r SVD of each change against `base_state` (the untouched base, base naming)."""
        cfg, dt = self.cfg, torch.float16 if fp16 else torch.float32
        t = {"motion_embed": self.embedding.extra.detach()}
        kind, scale = "delta", 1.0
        if not cfg.pretrained:
            kind = "weights"
            for k, v in plain_state(self.model).items():
                t[f"weights.{k}"] = v
        elif cfg.mode == "lora":
            scale = cfg.lora_alpha / cfg.lora_rank
            wrappers = _wrappers(self.model)
            for n, m in self.model.named_modules():
                if isinstance(m, LoRALinear):
                    t[f"lora.{base_name(n, wrappers)}.A"] = m.A.detach()
                    t[f"lora.{base_name(n, wrappers)}.B"] = m.B.detach()
        elif not fp16:                                      # full mode, resumable: every weight as trained
            kind = "weights"
            for k, v in plain_state(self.model).items():
                t[f"weights.{k}"] = v
        else:
            if base_state is None:
                raise ValueError("saving a full finetune as a delta needs the base's weights (base_state)")
            for k, v in plain_state(self.model).items():
                d = v.float() - base_state[k].to(v.device).float()
                if not bool(d.abs().max() > 0):
                    continue
                if d.dim() == 2:
                    B, A = low_rank(d, cfg.lora_rank)
                    mod = k.rsplit(".", 1)[0]
                    t[f"lora.{mod}.A"], t[f"lora.{mod}.B"] = A, B
                else:
                    t[f"diff.{k}"] = d
        tensors = {k: v.detach().to("cpu", dt).contiguous() for k, v in t.items()}
        doc = {"format": FORMAT, "kind": kind, "dtype": str(dt).replace("torch.", ""), "config": asdict(cfg),
               "lora_scale": scale, "word_tokenizer": self.word_tokenizer, "meta": self.meta}
        return tensors, doc

    def save(self, stem, fp16: bool = True, meta: dict | None = None, base_state: dict | None = None) -> Path:
        """Write stem.safetensors + stem.json, whole or not at all."""
        from safetensors.torch import save_file
        stem = Path(stem).with_suffix("")
        tensors, doc = self.state(fp16, base_state)
        doc["meta"] = {**self.meta, **(meta or {})}
        doc["bytes"] = int(sum(v.numel() * v.element_size() for v in tensors.values()))
        stem.parent.mkdir(parents=True, exist_ok=True)
        write_weights_and_config(stem.with_suffix(".safetensors"), stem.with_suffix(".json"),
                                 lambda f: save_file(tensors, f, metadata={"format": FORMAT}), doc)
        return stem.with_suffix(".safetensors")


def clean_text(text: str) -> str:
    """A generated caption as a user sees it: no chat-control strings, one line, single spaces."""
    return " ".join(_CONTROL.sub(" ", text).split())


def _eos_id(tok) -> int:
    """The token that ends an assistant turn: the chat end token where the template has one."""
    for t in ("<|im_end|>", "<|eot_id|>", "<end_of_turn>"):
        i = tok.convert_tokens_to_ids(t)
        if isinstance(i, int) and i != tok.unk_token_id and i is not None and i >= 0:
            return i
    if tok.eos_token_id is None:
        raise ValueError("the text tokenizer has no end-of-sequence token")
    return tok.eos_token_id


def _wrappers(model) -> dict:
    return {n: m for n, m in model.named_modules() if isinstance(m, (LoRALinear, ExtendedEmbedding))}


def base_name(name: str, wrappers: dict) -> str:
    """A parameter's (or module's) name in the plain base model: the wrappers' `.base` step removed."""
    for w in wrappers:
        if name == w + ".base":
            return w
        if name.startswith(w + ".base."):
            return w + name[len(w) + 5:]
    return name


@torch.no_grad()
def plain_state(model) -> dict:
    """The model's weights in base naming: LoRA folded in, without the motion rows and without the
    second copy of a tied head."""
    wrappers = _wrappers(model)
    out = {}
    for k, v in model.state_dict().items():
        mod, _, leaf = k.rpartition(".")
        w = wrappers.get(mod)
        if w is not None and leaf in ("A", "B", "extra"):
            continue
        if mod.endswith(".base") and isinstance(wrappers.get(mod[:-5]), LoRALinear) and leaf == "weight":
            m = wrappers[mod[:-5]]
            v = v + (m.scale * m.B.float() @ m.A.float()).to(v.dtype)
        out[base_name(k, wrappers)] = v
    if getattr(model.config, "tie_word_embeddings", False):
        out.pop("lm_head.weight", None)
    return out


def default_rows(base_weight: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """New rows at the base embeddings' mean plus noise at a tenth of their spread: close to what the
    model already reads, yet distinct from each other (the trainer may seed them better)."""
    w = base_weight.float()
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, w.shape[1], generator=g).to(w.device)
    return w.mean(0, keepdim=True) + 0.1 * w.std(0, keepdim=True) * noise


# -- loading --------------------------------------------------------------------------------------------
def default_path() -> Path:
    from .head import assets_dir
    return assets_dir() / "m2l" / "captioner"


def read_checkpoint(path) -> tuple[dict, dict]:
    """(tensors as fp32, doc) of stem.safetensors + stem.json; InputError naming the file on any problem."""
    from .safe_io import read_json
    stem = Path(path).with_suffix("") if Path(path).suffix in (".safetensors", ".json") else Path(path)
    st, js = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    for p in (st, js):
        if not p.is_file():
            raise InputError(f"captioner {stem}", f"{p.name} does not exist",
                             "a captioner is NAME.safetensors + NAME.json written by `tdmm train m2l`")
    doc = read_json(js, "captioner config")
    if doc.get("format") != FORMAT:
        raise InputError(f"captioner config {js}", f"format is {doc.get('format')!r}, expected {FORMAT!r}")
    try:
        from safetensors.torch import load_file
        tensors = {k: v.float() for k, v in load_file(str(st)).items()}
    except Exception as e:  # noqa: BLE001 -- safetensors raises its own types: name the file instead
        raise InputError(f"captioner weights {st}", f"cannot be read ({type(e).__name__}: {str(e)[:200]})") from None
    return tensors, doc


def build_model(cfg: CaptionerConfig, doc: dict | None = None, device="cpu", progress: bool = False,
                base: str | None = None):
    """(model, text tokenizer, base info) for a config: the base loaded (pretrained) or made from
    its architecture (not pretrained), before any motion rows or deltas. `base` reads the base from
    another place than cfg.base (a staged copy of the same file: its sha is still checked)."""
    from . import lm_base
    info = {}
    if cfg.pretrained:
        model, tok, info = lm_base.load_base(base or cfg.base, device, progress=progress)
        if cfg.base_sha and info.get("sha") and info["sha"] != cfg.base_sha:
            raise InputError(f"base model {cfg.base}", f"is {info['sha']}, but the captioner was trained on "
                             f"{cfg.base_sha}", "install the base it was trained with or retrain the captioner")
    else:
        if not cfg.arch:
            raise InputError("captioner config", "a base that is not pretrained needs its architecture (arch)")
        model = lm_base.model_from_arch(cfg.arch).to(device).eval()
        if cfg.text_tokenizer == "embedded":
            if not (doc or {}).get("word_tokenizer"):
                raise InputError("captioner config", "says its tokenizer is embedded, but it holds none")
            tok = lm_base.tokenizer_from_json(doc["word_tokenizer"])
        else:
            tok = lm_base.load_base_tokenizer(cfg.text_tokenizer or cfg.base, progress=progress)
    return model, tok, info


@torch.no_grad()
def apply_delta(model, tensors: dict, scale: float) -> int:
    """W += scale * B A for every lora.* pair, p += d for every diff.*; returns how many were applied."""
    n = 0
    for k in sorted(tensors):
        if k.startswith("lora.") and k.endswith(".A"):
            mod = k[5:-2]
            B = tensors.get(f"lora.{mod}.B")
            try:
                w = model.get_submodule(mod).weight
            except AttributeError:
                raise InputError("captioner delta", f"names {mod}, which the base model does not have",
                                 "the delta was made for another base model") from None
            if B is None or tuple(w.shape) != (B.shape[0], tensors[k].shape[1]):
                raise InputError("captioner delta", f"{mod}: shapes do not fit the base model's {tuple(w.shape)}")
            w += (scale * B.to(w.device) @ tensors[k].to(w.device)).to(w.dtype)
            n += 1
        elif k.startswith("diff."):
            try:
                p = model.get_parameter(k[5:])
            except AttributeError:
                raise InputError("captioner delta", f"names {k[5:]}, which the base model does not have") from None
            p += tensors[k].to(p.device, p.dtype)
            n += 1
    return n


def load_captioner(path=None, device="cpu", progress: bool = False, for_training: bool = False,
                   base: str | None = None) -> Captioner:
    """The shipped captioner (assets/m2l/captioner) or one at `path` (a stem, .safetensors or .json).
    for_training keeps LoRA adapters as modules (to continue training) instead of merging them;
    `base` overrides where the base model is read from (see build_model)."""
    stem = Path(path) if path is not None else default_path()
    if path is None and not stem.with_suffix(".json").is_file():
        raise InputError("captioner", f"is not trained or installed yet ({stem}.safetensors does not exist)",
                         "Caption and Ask need a release that ships one; to use your own, train it with "
                         "`tdmm train m2l` and copy OUT/best.* there (on the command line: --captioner PATH)")
    tensors, doc = read_checkpoint(stem)
    try:
        cfg = CaptionerConfig.from_dict(doc.get("config") or {})
    except (TypeError, ValueError) as e:
        raise InputError(f"captioner config {stem}.json", str(e)) from None
    model, tok, info = build_model(cfg, doc, device, progress, base)
    if doc.get("kind") == "weights":
        state = {k[8:]: v for k, v in tensors.items() if k.startswith("weights.")}
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not (k == "lm_head.weight" and model.config.tie_word_embeddings)]
        if missing or unexpected:
            raise InputError(f"captioner weights {stem}.safetensors", f"do not fit the config (missing "
                             f"{missing[:3]}, unexpected {unexpected[:3]})")
    elif for_training and cfg.mode == "lora":
        add_lora(model, cfg.lora_targets, cfg.lora_rank, cfg.lora_alpha)
        for n, m in model.named_modules():
            if isinstance(m, LoRALinear):
                m.A.data.copy_(tensors[f"lora.{n}.A"])
                m.B.data.copy_(tensors[f"lora.{n}.B"])
    else:
        apply_delta(model, tensors, float(doc.get("lora_scale", 1.0)))
    if "motion_embed" not in tensors:
        raise InputError(f"captioner weights {stem}.safetensors", "hold no motion_embed rows")
    cap = Captioner(model, tok, cfg, doc.get("meta") or {}, doc.get("word_tokenizer"), tensors["motion_embed"])
    cap.base_info = info
    cap.model.eval()
    for p in cap.model.parameters():
        p.requires_grad_(for_training)
    return cap


def expected_delta_bytes(model, cfg: CaptionerConfig, n_new: int, bytes_per: int = 2) -> int:
    """What the shippable delta of this config will weigh (before training): the trainer refuses a
    config over the budget before spending GPU time on it."""
    d = model.get_input_embeddings().embedding_dim
    total = n_new * d
    for n, m in model.named_modules():
        if isinstance(m, (nn.Linear, LoRALinear)):
            w = (m.base if isinstance(m, LoRALinear) else m).weight
            name = n.split(".")[-1]
            if cfg.mode == "lora" and name in cfg.lora_targets and n != "lm_head":
                total += cfg.lora_rank * (w.shape[0] + w.shape[1])
            elif cfg.mode == "full" and not (n == "lm_head" and model.config.tie_word_embeddings):
                total += min(cfg.lora_rank, min(w.shape)) * (w.shape[0] + w.shape[1])
    if cfg.mode == "full":
        emb = model.get_input_embeddings().weight
        total += cfg.lora_rank * (emb.shape[0] + emb.shape[1])
        total += sum(p.numel() for p in model.parameters() if p.dim() == 1)
    return int(total * bytes_per)

