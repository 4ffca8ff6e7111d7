"""Language2Motion: the generator (engine/generator.py), its sampling core (engine/synthesis.py) and
its trainer (training/train/l2m.py), on tiny models."""
from __future__ import annotations

import json

import pytest
import torch

from engine.generator import GeneratorConfig, MotionGenerator, left_align, sample
from engine.synthesis import row_noise, synthesize, variation_seed

TINY = dict(d_model=32, n_layers=2, n_heads=2, d_ff=64, dropout=0.0, max_positions=12, max_context=4,
            codebook_size=16, text_dim=8, text_max=6)


def _text(B: int, L: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, L, 8, generator=g), torch.ones(B, L, dtype=torch.bool)


def test_left_align_moves_valid_rows_to_the_end():
    x = torch.arange(2 * 4).view(2, 4, 1).float()
    m = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]]).bool()
    y, v = left_align(x, m, 3)
    assert v.tolist() == [[False, True, True], [True, True, True]]
    assert y[..., 0].tolist() == [[0, 0, 1], [4, 5, 6]]         # the long row keeps its first 3


def test_kv_cache_generation_matches_a_full_recompute():
    torch.manual_seed(0)
    m = MotionGenerator(GeneratorConfig(**TINY)).eval()
    text, mask = _text(3, 5)
    mask[0, 3:] = False
    n, noise = torch.tensor([4, 6, 2]), torch.rand(3, 6, 4)
    ctx = torch.randint(0, 16, (3, 3, 4))
    ctx[0] = -1
    out = m.generate(text, mask, n, noise, context=ctx)
    # the same codes scored by one causal pass over the whole sequence
    x, valid = m.prefix(text, mask, n, None, None, ctx)
    X = torch.cat([x, m._motion_rows(out, 0)], 1)
    V = torch.cat([valid, torch.ones(3, 6, dtype=torch.bool)], 1)
    h = m._run(X, m._mask(V))[:, x.shape[1] - 1:]
    for j in range(6):
        for r in range(4):
            lg = m.depth_logits(h[:, j], out[:, j], level=r).float()
            if r == 0:
                lg[:, m.end_id] = float("-inf")
            assert torch.equal(sample(lg, noise[:, j, r], 1.0, 0, 1.0), out[:, j, r]), (j, r)


def test_rows_do_not_depend_on_the_batch_and_guidance_changes_the_result():
    torch.manual_seed(1)
    m = MotionGenerator(GeneratorConfig(**TINY)).eval()
    text, mask = _text(2, 4)
    n = torch.tensor([7, 7])
    noise = row_noise([5, 9], 7, 4, "cpu")
    both = m.generate(text, mask, n, noise, guidance=2.0)
    alone = m.generate(text[1:], mask[1:], n[1:], noise[1:], guidance=2.0)
    assert torch.equal(both[1], alone[0])
    assert torch.equal(row_noise([5], 7, 4, "cpu")[0], noise[0])          # a seed's draws are its own
    assert not torch.equal(m.generate(text, mask, n, noise, guidance=0.0), both)
    assert variation_seed(5, 0) == 5 and variation_seed(5, 1) != variation_seed(5, 2)


def test_sample_filters():
    lg = torch.tensor([[0.0, 1.0, 5.0, 2.0]])
    assert sample(lg, torch.tensor([0.99]), 0.0, 0, 1.0).item() == 2                 # greedy
    assert sample(lg, torch.tensor([0.99]), 1.0, 1, 1.0).item() == 2                 # top-1
    # top-p 0.5: only the most likely id survives, whatever the draw
    assert {sample(lg, torch.tensor([u]), 1.0, 0, 0.5).item() for u in (0.0, 0.5, 0.999)} == {2}
    ids = {sample(lg, torch.tensor([u]), 1.0, 0, 1.0).item() for u in (0.0, 0.001, 0.999)}
    assert len(ids) > 1                                                              # plain sampling spreads


def test_a_tiny_generator_learns_prompt_to_codes_and_the_end_token():
    """Known answer: 3 prompts, each with its own code sequence and length. A tiny model trained
    on them must give back each prompt's codes greedily, and put END right after the last one."""
    torch.manual_seed(0)
    cfg = GeneratorConfig(**{**TINY, "dropout": 0.0})
    m = MotionGenerator(cfg)
    text, mask = _text(3, 4, seed=3)
    n = torch.tensor([5, 8, 3])
    g = torch.Generator().manual_seed(7)
    codes = torch.randint(0, 16, (3, 8, 4), generator=g)
    codes[torch.arange(8)[None, :] >= n[:, None]] = -1
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    first = None
    for _ in range(300):
        loss, parts = m(text, mask, codes, n)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.05 * first
    out = m.generate(text, mask, n, torch.rand(3, 8, 4), temperature=0.0)
    for b in range(3):
        assert torch.equal(out[b, :n[b]], codes[b, :n[b]]), b
    # END: at the last position the model's own choice (no length mask) is END
    m.eval()
    x, valid = m.prefix(text, mask, n)
    X = torch.cat([x, m._motion_rows(codes, 0)], 1)
    V = torch.cat([valid, torch.arange(8)[None, :] < n[:, None]], 1)
    h = m._run(X, m._mask(V))[:, x.shape[1] - 1:]
    end_rows = h[torch.arange(3), n]                                  # the hidden state after the last position
    assert (m.depth_logits(end_rows, level=0).argmax(-1) == m.end_id).all()


def test_pooled_mode_sees_one_row_and_dropped_prompts_the_null_row():
    m = MotionGenerator(GeneratorConfig(**{**TINY, "text_mode": "pooled"}))
    text, mask = _text(2, 5)
    x, valid = m.prefix(text, mask, torch.tensor([3, 3]))
    K = TINY["max_context"]
    assert x.shape[1] == 1 + 2 + K + 1                                # one text row, LEN, GOAL, context, BOS
    w = MotionGenerator(GeneratorConfig(**TINY))
    xa, va = w.prefix(text, mask, torch.tensor([3, 3]), drop=torch.tensor([True, False]))
    assert va[0, :5].tolist() == [False] * 4 + [True] and va[1, :5].all()   # dropped: only the NULL row is seen
    assert torch.allclose(xa[0, 4], w.special.weight[0]) and not torch.allclose(xa[1, 4], w.special.weight[0])


def test_synthesize_chains_windows_past_max_positions():
    from engine.tokenizer import MotionTokenizer, VQConfig
    tok = MotionTokenizer(VQConfig(expr_names=[f"e{i}" for i in range(3)], width=16, codebook_size=16,
                                   code_dim=8, levels=4)).eval()
    m = MotionGenerator(GeneratorConfig(**TINY)).eval()
    text, mask = _text(2, 3)
    frames = [4 * 30, 4 * 5]                                          # 30 positions: three windows of 12
    feats, codes = synthesize(m, tok, text, mask, frames, [1, 2])
    assert codes.shape == (2, 30, 4) and feats.shape == (2, 120, 3 + 30)
    assert (codes >= 0).all() and (codes < 16).all()
    assert feats[1, 20:].abs().sum() == 0                             # past the short clip's length
    again, _ = synthesize(m, tok, text[1:], mask[1:], frames[1:], [2])
    assert torch.allclose(again[0, :20], feats[1, :20], atol=1e-5)


def test_trainer_pieces_and_gather_known_answers():
    from training.train.l2m import TrainConfig, draw_pieces
    P = torch.tensor([30, 10, 4, 2] * 64)
    start, end, goal, drop = draw_pieces(P, TrainConfig(), 12, torch.Generator().manual_seed(0))
    assert ((start >= 0) & (end <= P) & (end - start >= 2) & (end - start <= 12)).all()
    assert (goal <= (end < P)).all()                                 # a goal only where the clip goes on
    assert (start[P < 4] == 0).all()
    assert 0.05 < drop.float().mean() < 0.2
    assert (start > 0).any() and (end < P).any() and goal.any()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from training.corpus.synth import build
    root = tmp_path_factory.mktemp("l2m") / "corpus"
    build(root, clips=48, seed=0, workers=1, progress=False)
    return root


def test_train_l2m_runs_the_loop_and_the_loss_goes_down(corpus, tmp_path):
    """`tdmm train l2m` end to end on CPU with a tiny model and the shipped tokenizer and evaluator."""
    from engine.cli import main
    cfg = {"model": {"d_model": 32, "n_layers": 1, "n_heads": 2, "d_ff": 64, "text_max": 24},
           "train": {"steps": 40, "batch_size": 16, "lr": 3e-3, "warmup": 2, "val_every": 20, "log_every": 5,
                     "val_gen": 8, "max_val_clips": 16}}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    rc = main(["train", "l2m", "--data", str(corpus), "--out", str(tmp_path / "run"), "--config",
               str(tmp_path / "cfg.json"), "--device", "cpu", "--quiet"])
    assert rc == 0
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    val = [json.loads(x) for x in (tmp_path / "run" / "val.jsonl").read_text().splitlines()]
    assert log[-1]["loss"] < 0.9 * log[0]["loss"], log
    assert {"top1", "fd", "acc_family", "acc_head", "score", "val_loss"} <= set(val[-1])
    g = MotionGenerator.load(tmp_path / "run" / "best")
    assert g.cfg.levels == 4 and g.cfg.codebook_size == 512 and len(g.cfg.tokenizer) == 12
