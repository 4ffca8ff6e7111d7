"""The one door to the models: `tdmm generate`, `tdmm bake` and the Blender add-on all call this.

    eng = Engine()                                   # nothing loads until the first call
    clips = eng.generate(["a shy smile that turns into a laugh"], seconds=4, seed=3, variations=2)
    more = eng.generate(["then she bursts out laughing"], seconds=3, continue_from=clips[0])
    bridge = eng.generate(["a quick frown"], seconds=1.5, continue_from=before, until=after)
    text = eng.caption(clip)                         # "She grins faintly and nods twice ..."
    answer = eng.caption(clip, question="When does the frown start?")

Models load lazily (text encoder, tokenizer, generator, captioner) and stay loaded. Results are MotionClips
in the DESIGN.md format at the asked fps with exactly seconds * fps frames (rounded, halves up); the prompt is
the clip's text and the settings are in its meta. Captions come from the Motion2Language captioner
(engine/captioner.py): the clip is mapped onto the tokenizer's channels by name, resampled to its
frame rate, encoded to codes and read by the language model.

Seams. A continuation is decoded together with the motion it continues, so the tokenizer's
decoder runs smoothly across the join; the small difference between the decoded join and the
animator's real last frame is then faded out over SEAM_FADE_S. An in-between is decoded between
both neighbours and the differences at its two ends are blended linearly across it, so its
first frame continues `continue_from` and its last frame leads into `until`.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from .clip import FPS_RANGE, MotionClip
from .errors import InputError
from .features import features_to_params, params_to_features
from .prompt_list import SECONDS_RANGE  # one place for the duration bounds: prompt lists check them too
from .synthesis import synthesize, variation_seed
from .tokenizer import resample, tokenizer_file

MIN_CONTEXT_FRAMES = 4
SEAM_FADE_S = 0.5
DEFAULTS = dict(guidance=2.0, temperature=1.0, top_k=0, top_p=0.95)
CAPTION_DEFAULTS = dict(temperature=0.7, top_p=0.9)
MAX_QUESTION_CHARS = 500


class GenerationWarning(UserWarning):
    """A request was served, but not exactly as asked (a prompt cut, channels dropped)."""


class Engine:
    def __init__(self, device: str = "cpu", generator_path=None, tokenizer_path=None, text_encoder_path=None,
                 threads: int | None = None, captioner_path=None):
        self.device = str(device)
        self._paths = dict(generator=generator_path, tokenizer=tokenizer_path, text=text_encoder_path,
                           captioner=captioner_path)
        self._gen = self._tok = self._text = self._cap = None
        self._paired = self._cap_paired = False
        if threads:
            torch.set_num_threads(int(threads))

    # -- the models, loaded on first use ------------------------------------------------------
    @property
    def generator(self):
        if self._gen is None:
            from .generator import load_generator
            self._gen = load_generator(self._paths["generator"], self.device)
        return self._gen

    @property
    def tokenizer(self):
        if self._tok is None:
            from .tokenizer import load_tokenizer
            self._tok = load_tokenizer(self._paths["tokenizer"], self.device)
        return self._tok

    @property
    def captioner(self):
        if self._cap is None:
            from .captioner import load_captioner
            self._cap = load_captioner(self._paths["captioner"], self.device)
        return self._cap

    def _check_pair(self, model: str = "generator") -> None:
        """A generator (captioner) speaks the codes of the tokenizer it was trained with (its config
        names the tokenizer file's sha256 prefix): any other tokenizer's codes would be noise to it."""
        import hashlib

        want = self.generator.cfg.tokenizer if model == "generator" else self.captioner.cfg.motion_tokenizer
        path = tokenizer_file(self._paths["tokenizer"])
        if want and hashlib.sha256(path.read_bytes()).hexdigest()[:12] != want:
            raise RuntimeError(f"the {model} was trained on the codes of tokenizer {want}, not of {path}: "
                               f"use the tokenizer it was trained with or retrain the {model}")

    @property
    def text_encoder(self):
        if self._text is None:
            from .text_encoder import TextEncoder
            self._text = TextEncoder(self._paths["text"], self.device, max_length=self.generator.cfg.text_max)
        return self._text

    def loaded(self) -> dict:
        """Which models are in memory (the add-on's panel shows it)."""
        return {"generator": self._gen is not None, "tokenizer": self._tok is not None,
                "text_encoder": self._text is not None, "captioner": self._cap is not None}

    # -- Language2Motion ---------------------------------------------------------------------------
    def generate(self, prompts, seconds: float = 4.0, seed: int | list[int] = 0, variations: int = 1,
                 guidance: float = DEFAULTS["guidance"], temperature: float = DEFAULTS["temperature"],
                 top_k: int = DEFAULTS["top_k"], top_p: float = DEFAULTS["top_p"], fps: float | None = None,
                 continue_from: MotionClip | None = None, until: MotionClip | None = None) -> list[MotionClip]:
        """prompts (a string or a list) -> len(prompts) * variations clips, prompt by prompt
        (prompt 0's variations first). Variation 0 of seed s is what seed s gives alone, so a
        clip is reproduced from its prompt, seed and settings. `seed` is one seed for every prompt or
        a list with one per prompt (a prompt list's own seeds, still one batched call). fps defaults
        to continue_from's (else until's, else the model's 25)."""
        prompts = _check_prompts(prompts)
        seeds = _check_seeds(seed, len(prompts))
        seconds = _check_number("seconds", seconds, *SECONDS_RANGE)
        variations = int(_check_number("variations", variations, 1, 64))
        guidance = _check_number("guidance", guidance, 0.0, 20.0)
        temperature = _check_number("temperature", temperature, 0.0, 5.0)
        top_p = _check_number("top_p", top_p, 1e-3, 1.0)
        top_k = int(_check_number("top_k", top_k, 0, 100000))
        fps = float(fps or (continue_from or until or _Fps).fps)
        _check_number("fps", fps, *FPS_RANGE)
        self.generator, self.tokenizer                                             # load them
        if not self._paired:
            self._check_pair()
            self._paired = True
        self._warn_long(prompts)                                                   # (this loads MiniLM)
        return self._generate(prompts, seconds, seeds, variations, guidance, temperature, top_k, top_p, fps,
                              continue_from, until)

    @torch.inference_mode()
    def _generate(self, prompts, seconds, seeds, variations, guidance, temperature, top_k, top_p, fps,
                  continue_from, until) -> list[MotionClip]:
        """generate() once its inputs are checked and the models loaded (outside inference mode, so
        their weights stay ordinary tensors): inference mode skips autograd's bookkeeping on every op."""
        gen, tok = self.generator, self.tokenizer
        model_fps = tok.cfg.fps
        n_out = max(1, math.floor(seconds * fps + 0.5))                          # halves round up
        frames = max(1, math.ceil(n_out * model_fps / fps))                      # at the model's rate

        before = self._neighbour(continue_from, "continue_from", model_fps)
        after = self._neighbour(until, "until", model_fps)
        rows = [(p, variation_seed(s, v), v) for p, s in zip(prompts, seeds) for v in range(variations)]
        B = len(rows)
        text, mask = self.text_encoder.encode_tokens([p for p, _, _ in rows])
        K = gen.cfg.max_context
        ctx = goal = None
        if before is not None:
            ctx = before["codes"][-K:][None].expand(B, -1, -1)
        if after is not None:
            goal = after["codes"][0][None].expand(B, -1)
        _, codes = synthesize(gen, tok, text, mask, [frames] * B, [s for _, s, _ in rows], guidance,
                              temperature, top_k, top_p, context=ctx, goal=goal, decode=False)
        feats = self._decode_with_neighbours(codes, frames, before, after)        # [B,frames,D] numpy
        out = []
        for b, (p, s, v) in enumerate(rows):
            f = resample(feats[b], model_fps, fps)
            f = f[:n_out] if len(f) >= n_out else np.concatenate([f, np.repeat(f[-1:], n_out - len(f), 0)])
            pose, expr = features_to_params(f, len(tok.cfg.expr_names))
            meta = {"generator": {"prompt": p, "seed": s, "variation": v, "guidance": guidance,
                                  "temperature": temperature, "top_k": top_k, "top_p": top_p,
                                  "seconds": seconds, "model": gen.meta.get("sha", gen.cfg.tokenizer),
                                  "continued": before is not None, "until": after is not None}}
            out.append(MotionClip(pose=pose, expr=expr, expr_names=list(tok.cfg.expr_names), fps=fps,
                                  text=[p], meta=meta).validate())
        return out

    # -- Motion2Language ---------------------------------------------------------------------------------
    def caption(self, clip: MotionClip, question: str | None = None, greedy: bool = True,
                temperature: float = CAPTION_DEFAULTS["temperature"], top_p: float = CAPTION_DEFAULTS["top_p"],
                seed: int = 0) -> str:
        """What the face in `clip` does, in words (question None), or the answer to `question`. Any
        clip in the DESIGN.md format: channels are mapped onto the model's by name (a
        GenerationWarning says what was missing or dropped), other frame rates are resampled.
        Greedy by default; greedy=False samples (temperature, top_p) from `seed`."""
        if not isinstance(clip, MotionClip):
            raise InputError("clip", f"is a {type(clip).__name__}, expected a MotionClip",
                             "load one with engine.clip.load_clip")
        question = _check_question(question)
        temperature = _check_number("temperature", temperature, 0.05, 5.0)
        top_p = _check_number("top_p", top_p, 1e-3, 1.0)
        clip.validate()
        tok, cap = self.tokenizer, self.captioner
        if not self._cap_paired:
            self._check_pair("captioner")
            self._cap_paired = True
        names = list(tok.cfg.expr_names)
        if not set(clip.expr_names) & set(names):
            raise InputError("clip", f"has none of the model's {len(names)} face channels (it has "
                             f"{len(clip.expr_names)}: {', '.join(clip.expr_names[:6]) or 'none'})",
                             f"name its expression channels as the head's ({', '.join(names[:4])} ...)")
        clip = self._model_channels(clip, "clip")
        frames = int(round(clip.num_frames * tok.cfg.fps / clip.fps))
        if frames < tok.cfg.downsample:
            raise InputError("clip", f"is {clip.num_frames} frame(s) long ({clip.duration:.2f} s); the captioner "
                             f"reads motion in steps of {tok.cfg.downsample} frames at {tok.cfg.fps:g} fps",
                             f"give at least {tok.cfg.downsample / tok.cfg.fps:.2f} s of animation")
        if clip.duration > cap.cfg.max_seconds + 1e-6:
            raise InputError("clip", f"is {clip.duration:.1f} s long; the captioner reads at most "
                             f"{cap.cfg.max_seconds:g} s", "caption it in parts")
        codes = tok.encode_clip(clip)
        return cap.caption([codes], question=question, greedy=greedy, temperature=temperature, top_p=top_p,
                           seed=int(seed))[0]

    # -- helpers ---------------------------------------------------------------------------------------
    def _model_channels(self, clip: MotionClip, name: str) -> MotionClip:
        """`clip` with the tokenizer's expression channels, mapped by name: a warning names the
        channels dropped and those missing (taken as 0)."""
        names = list(self.tokenizer.cfg.expr_names)
        if list(clip.expr_names) == names:
            return clip
        mapped, dropped, missing = clip.with_channels(names)
        short = lambda xs: f"{', '.join(xs[:8])}{' ...' if len(xs) > 8 else ''}"
        if dropped:
            warnings.warn(f"{name}: dropped {len(dropped)} channel(s) the model does not have: {short(dropped)}",
                          GenerationWarning)
        if missing:
            warnings.warn(f"{name}: {len(missing)} of the model's channel(s) are not in the clip and are "
                          f"taken as 0: {short(missing)}", GenerationWarning)
        return mapped

    def _neighbour(self, clip: MotionClip | None, name: str, model_fps: float) -> dict | None:
        """An animator's clip next to the new motion -> its features at the model's rate and codes."""
        if clip is None:
            return None
        if not isinstance(clip, MotionClip):
            raise InputError(name, f"is a {type(clip).__name__}, expected a MotionClip")
        clip.validate()
        if clip.num_frames < MIN_CONTEXT_FRAMES:
            raise InputError(name, f"has {clip.num_frames} frame(s); at least {MIN_CONTEXT_FRAMES} are needed "
                                   "to continue from or lead into it")
        clip = self._model_channels(clip, name)
        f = resample(params_to_features(clip.pose, clip.expr), clip.fps, model_fps)
        ft = torch.from_numpy(f).to(self.device)
        codes = self.tokenizer.encode(ft[None])[0]                                 # [P,R]
        return {"feats": f, "codes": codes}

    def _decode_with_neighbours(self, codes: torch.Tensor, frames: int, before, after) -> np.ndarray:
        """codes [B,N,R] -> features [B,frames,D] decoded in the neighbours' company, seams matched."""
        tok, ds, K = self.tokenizer, self.tokenizer.cfg.downsample, self.generator.cfg.max_context
        B = codes.shape[0]
        parts, lead = [codes], 0
        if before is not None:
            pre = before["codes"][-K:]
            parts.insert(0, pre[None].expand(B, -1, -1))
            lead = pre.shape[0] * ds
        if after is not None:
            parts.append(after["codes"][:K][None].expand(B, -1, -1))
        allc = torch.cat(parts, 1)
        f = tok.decode(allc).float().cpu().numpy()                                  # [B,4*len,D]
        new = f[:, lead:lead + frames].copy()
        t = np.arange(frames, dtype=np.float32)
        if before is not None:
            # the decoded frame just before the new motion, against the animator's real last frame
            err = before["feats"][-1] - f[:, lead - 1]                               # [B,D]
            if after is None:
                fade = max(1, int(round(SEAM_FADE_S * tok.cfg.fps)))
                w = np.where(t < fade, 0.5 * (1 + np.cos(np.pi * (t + 1) / (fade + 1))), 0.0)
                new += w[None, :, None] * err[:, None]
        if after is not None:
            # the decoded frame just after the bridge, against `until`'s real first frame (when the
            # length is not a whole number of positions, that frame is still the bridge's padding)
            err_r = after["feats"][0] - f[:, lead + frames]
            a = ((t + 1) / (frames + 1))[None, :, None]
            new += a * err_r[:, None]
            if before is not None:
                new += (1 - a) * err[:, None]
            # The decoder can still turn sharply into `until`'s codes in the last frames (when the
            # bridge did not quite reach its goal): ease the end into until's first frame.
            fade = min(frames, max(1, int(round(SEAM_FADE_S * tok.cfg.fps))))
            k = np.arange(1, fade + 1, dtype=np.float32) / (fade + 1)              # 0..1 over the fade
            w = np.zeros(frames, np.float32)
            w[frames - fade:] = k * k * (3 - 2 * k)                                  # smoothstep
            new += w[None, :, None] * (after["feats"][0][None, None] - new)
        return new

    def _warn_long(self, prompts: list[str]) -> None:
        limit = self.generator.cfg.text_max
        for p, n in zip(prompts, self.text_encoder.count_tokens(prompts)):
            if n > limit:
                warnings.warn(f"prompt {p[:40]!r}... has {n} word pieces; only the first {limit} are read",
                              GenerationWarning)


class _Fps:
    fps = 25.0


def _check_prompts(prompts) -> list[str]:
    if isinstance(prompts, str):
        prompts = [prompts]
    prompts = list(prompts)
    if not prompts:
        raise InputError("prompts", "no prompt was given")
    for i, p in enumerate(prompts):
        if not isinstance(p, str) or not p.strip():
            raise InputError(f"prompt {i + 1}" if len(prompts) > 1 else "prompt",
                             "is empty" if isinstance(p, str) else f"is a {type(p).__name__}, not text",
                             "write what the face should do, e.g. \"a shy smile, then a laugh\"")
    return [" ".join(p.split()) for p in prompts]


def _check_seeds(seed, n: int) -> list[int]:
    """One seed or one per prompt -> n whole numbers >= 0."""
    many = isinstance(seed, (list, tuple, np.ndarray))
    seeds = list(seed) if many else [seed] * n
    if many and len(seeds) != n:
        raise InputError("seed", f"gives {len(seeds)} seeds for {n} prompts", "give one seed, or one per prompt")
    out = []
    for x in seeds:
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 0:
            raise InputError("seed", f"is {x!r}; a seed is a whole number >= 0", "give e.g. 0 or 7")
        out.append(int(x))
    return out


def _check_question(question) -> str | None:
    if question is None:
        return None
    if not isinstance(question, str):
        raise InputError("question", f"is a {type(question).__name__}, not text")
    q = " ".join(question.split())
    if not q:
        raise InputError("question", "is empty", "ask something about the clip, e.g. \"does she blink?\", or leave "
                                                  "the question out for a caption")
    if len(q) > MAX_QUESTION_CHARS:
        raise InputError("question", f"is {len(q)} characters long; at most {MAX_QUESTION_CHARS} are read",
                         "ask a shorter question")
    return q


def _check_number(name: str, value, lo: float, hi: float) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(name, f"is {value!r}, not a number") from None
    if not (lo <= x <= hi) or math.isnan(x):
        raise InputError(name, f"is {x:g}, outside {lo:g}-{hi:g}")
    return x
