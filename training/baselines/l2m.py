"""Language2Motion baselines that need no training: the bounds every generator is read against
in `tdmm eval` (training/eval/report.py). Each is a generate_fn(captions, lengths) -> (pose, expr),
the interface of report.l2m_rows; the T2M-GPT-style generator joins them here."""
from __future__ import annotations

import numpy as np
import torch

from engine.features import features_to_params
from training.data.motion_data import MotionArrays


def baseline_generators(sets: list, pool: MotionArrays, seed: int) -> list:
    """sets (report.EvalSet: name, arrays) -> [(name, generate_fn, source)]: the ground truth, a
    random train clip per query (drawn by the seed, whole, at its own length) and the train mean
    motion (`mean_features` of the pool)."""
    def gt(a):
        return lambda caps, lens: ([a.pose[i, :a.lengths[i]] for i in range(len(a))],
                                   [a.expr[i, :a.lengths[i]] for i in range(len(a))])

    def random_clip(caps, lens):
        rng = np.random.default_rng([seed, len(lens)])          # same draw for the same set size
        donor = rng.choice(len(pool), len(lens), replace=len(pool) < len(lens))
        return [pool.pose[j, :pool.lengths[j]] for j in donor], [pool.expr[j, :pool.lengths[j]] for j in donor]

    mean_pose, mean_expr = features_to_params(mean_features(pool), len(pool.expr_names))

    def mean_motion(caps, lens):
        idx = np.minimum(np.arange(int(lens.max())), len(mean_pose) - 1)        # hold the last frame
        return (np.broadcast_to(mean_pose[idx], (len(lens),) + mean_pose[idx].shape),
                np.broadcast_to(mean_expr[idx], (len(lens),) + mean_expr[idx].shape))

    return [("ground truth (upper bound)", {s.name: gt(s.arrays) for s in sets}, "the set's own motion"),
            ("random train clip (lower bound)", random_clip, f"{len(pool)} train clips"),
            ("train mean motion (lower bound)", mean_motion, f"mean of {len(pool)} train clips")]


def random_tokens_generator(tok, seed: int, chunk: int = 64):
    """Uniform random codes of a tokenizer, decoded: what its codebook alone gives."""
    K = len(tok.cfg.expr_names)

    def fn(caps, lens):
        g = torch.Generator().manual_seed(seed)
        T = int(lens.max())
        N = -(-T // tok.cfg.downsample)
        shape = (len(lens), N) + ((tok.cfg.levels,) if tok.cfg.levels > 1 else ())
        codes = torch.randint(0, tok.cfg.codebook_size, shape, generator=g)
        dev = next(tok.parameters()).device
        feats = np.zeros((len(lens), T, tok.cfg.dim), np.float32)
        for s in range(0, len(lens), chunk):
            ln = torch.as_tensor(lens[s:s + chunk], device=dev)
            f = tok.decode(codes[s:s + chunk].to(dev), ln).float().cpu().numpy()
            feats[s:s + chunk, :f.shape[1]] = f
        return features_to_params(feats, K)
    return fn


def mean_features(a: MotionArrays) -> np.ndarray:
    """[T,D] mean feature sequence: frame t averaged over the clips that have a frame t."""
    f = a.features()
    valid = (np.arange(f.shape[1])[None, :] < a.lengths[:, None])[..., None]
    return (f * valid).sum(0) / np.maximum(valid.sum(0), 1)


def trained_generator(path, device: str = "cpu", seed: int = 0, guidance: float | None = None,
                      chunk: int = 256, tokenizer=None):
    """A trained generator checkpoint (ours, or the T2M-GPT-style baseline: the same code with a
    pooled prompt) as a generate_fn: row i is sampled with seed + i, the engine's default
    sampling, so a caption repeated on several rows gives different takes (multimodality)."""
    from engine.engine import DEFAULTS
    from engine.generator import MotionGenerator
    from engine.synthesis import synthesize
    from engine.text_encoder import TextEncoder
    from engine.tokenizer import load_tokenizer

    gen = MotionGenerator.load(path, device)
    tok = tokenizer or load_tokenizer(None, device)
    enc = TextEncoder(device=device, max_length=gen.cfg.text_max)
    g = DEFAULTS["guidance"] if guidance is None else guidance
    K = len(tok.cfg.expr_names)

    def fn(caps, lens):
        pose, expr = [], []
        for s in range(0, len(caps), chunk):
            text, mask = enc.encode_tokens(list(caps[s:s + chunk]))
            n = lens[s:s + chunk]
            feats, _ = synthesize(gen, tok, text, mask, n, [seed + s + i for i in range(len(n))], g,
                                  DEFAULTS["temperature"], DEFAULTS["top_k"], DEFAULTS["top_p"])
            p, e = features_to_params(feats.cpu().numpy(), K)
            pose += [p[i, :n[i]] for i in range(len(n))]
            expr += [e[i, :n[i]] for i in range(len(n))]
        return pose, expr
    return fn
