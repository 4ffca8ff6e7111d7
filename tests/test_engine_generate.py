"""The Engine facade's generate() and `tdmm generate`, with a small untrained generator (the
shipped one is judged in test_shipped_models.py): the contract, not the quality."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from engine.clip import MotionClip, load_clip
from engine.engine import Engine, GenerationWarning
from engine.errors import InputError
from engine.generator import GeneratorConfig, MotionGenerator


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("gen") / "generator"
    MotionGenerator(GeneratorConfig(d_model=32, n_layers=1, n_heads=2, d_ff=64, max_positions=16)).save(path)
    return Engine(generator_path=path)


def _clip(engine, frames: int, fps: float = 25.0, names=None) -> MotionClip:
    names = names or list(engine.tokenizer.cfg.expr_names)
    rng = np.random.default_rng(frames)
    expr = np.cumsum(rng.normal(0, 0.02, (frames, len(names))), 0).astype(np.float32)
    return MotionClip(pose=np.zeros((frames, 5, 3), np.float32), expr=expr, expr_names=names, fps=fps)


def test_exact_frames_prompt_text_and_variations(engine):
    clips = engine.generate(["a shy smile", "nods twice"], seconds=1.3, seed=4, variations=2, fps=30)
    assert len(clips) == 4 and [c.text for c in clips] == [["a shy smile"]] * 2 + [["nods twice"]] * 2
    assert all(c.num_frames == 39 and c.fps == 30 for c in clips)
    assert clips[0].meta["generator"]["seed"] == 4 and clips[1].meta["generator"]["variation"] == 1
    assert not np.allclose(clips[0].expr, clips[1].expr)                    # two takes differ
    # variation 0 of seed 4 is seed 4 alone, whatever else is in the batch
    alone = engine.generate("a shy smile", seconds=1.3, seed=4, fps=30)[0]
    np.testing.assert_allclose(alone.expr, clips[0].expr, atol=1e-5)
    # one seed per prompt (a prompt list's own seeds) in one batched call: each as it is alone
    pair = engine.generate(["a shy smile", "nods twice"], seconds=1.3, seed=[4, 9], fps=30)
    np.testing.assert_allclose(pair[0].expr, alone.expr, atol=1e-5)
    nod9 = engine.generate("nods twice", seconds=1.3, seed=9, fps=30)[0]
    np.testing.assert_allclose(pair[1].expr, nod9.expr, atol=1e-5)
    assert pair[1].meta["generator"]["seed"] == 9
    # 7.7 s is more than one window of 16 positions: the windows chain
    assert engine.generate("a long stare", seconds=7.7, seed=1)[0].num_frames == 193


def test_guidance_and_temperature_change_the_result(engine):
    a = engine.generate("a wide grin", seconds=2, seed=1, guidance=0.0)[0]
    b = engine.generate("a wide grin", seconds=2, seed=1, guidance=3.0)[0]
    g1 = engine.generate("a wide grin", seconds=2, seed=1, temperature=0.0)[0]
    g2 = engine.generate("a wide grin", seconds=2, seed=2, temperature=0.0)[0]
    assert not np.allclose(a.expr, b.expr)
    np.testing.assert_allclose(g1.expr, g2.expr, atol=1e-6)                # greedy ignores the seed


@pytest.mark.parametrize("kw, match", [
    (dict(prompts="   "), "prompt: is empty"),
    (dict(prompts=["ok", ""]), "prompt 2: is empty"),
    (dict(prompts=[]), "no prompt"),
    (dict(prompts="x", seconds=0.2), "seconds: is 0.2, outside 0.5-20"),
    (dict(prompts="x", seconds=25), "outside 0.5-20"),
    (dict(prompts="x", seconds="long"), "seconds: is 'long', not a number"),
    (dict(prompts="x", variations=0), "variations"),
    (dict(prompts="x", top_p=0), "top_p"),
    (dict(prompts=["a", "b"], seed=[1]), "seed: gives 1 seeds for 2 prompts"),
    (dict(prompts="x", seed=-1), "seed: is -1"),
    (dict(prompts="x", seed=1.5), "seed: is 1.5"),
])
def test_bad_requests_name_the_input(engine, kw, match):
    with pytest.raises(InputError, match=match):
        engine.generate(**kw)


def test_nonsense_and_foreign_text_still_give_valid_clips(engine):
    for p in ("qwxz blorp 123 !!!", "una sonrisa tímida", "🙂"):
        assert engine.generate(p, seconds=1, seed=0)[0].validate().num_frames == 25


def test_long_prompt_is_cut_with_a_warning(engine):
    with pytest.warns(GenerationWarning, match="only the first 64"):
        engine.generate("she smiles and " * 40, seconds=1)


def test_continue_from_maps_channels_by_name_and_refuses_tiny_clips(engine):
    names = list(engine.tokenizer.cfg.expr_names)
    other = names[:-3] + ["myCustomShape"]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = engine.generate("then laughs", seconds=1, continue_from=_clip(engine, 30, 30.0, other))[0]
    text = " | ".join(str(x.message) for x in w)
    assert "dropped 1 channel(s)" in text and "myCustomShape" in text and "3 of the model's channel(s)" in text
    assert out.fps == 30 and out.num_frames == 30                           # the context's fps by default
    with pytest.raises(InputError, match="continue_from: has 3 frame"):
        engine.generate("x", continue_from=_clip(engine, 3))


def test_seams_follow_the_neighbours(engine):
    """The first made frame continues the last given one, and an in-between ends where `until`
    begins: the seam steps are no bigger than the steps inside the made motion."""
    from training.eval.seams import SeamMeter
    sm = SeamMeter()
    before, after = _clip(engine, 40), _clip(engine, 41)
    cont = engine.generate("keeps going", seconds=2, seed=3, continue_from=before)[0]
    bridge = engine.generate("a quick frown", seconds=1.5, seed=3, continue_from=before, until=after)[0]
    inside = np.percentile(sm.frame_steps_mm([cont, bridge]), 95)
    for a, b in ((before, cont), (before, bridge), (bridge, after)):
        assert sm.step_mm(a, b) <= max(inside, 1.0), (sm.step_mm(a, b), inside)


def test_tdmm_generate_writes_clips_and_refuses_to_overwrite(engine, tmp_path, capsys):
    from engine.cli import main
    gen = str(engine._paths["generator"])
    rc = main(["generate", "a shy smile", "--seconds", "1", "--variations", "2", "--out", str(tmp_path / "s.npz"),
               "--generator", gen])
    assert rc == 0 and "wrote 2 clip(s) of 25 frames" in capsys.readouterr().out
    c = load_clip(tmp_path / "s_1.npz")
    assert c.text == ["a shy smile"] and c.meta["generator"]["variation"] == 1
    before = (tmp_path / "s_0.npz").read_bytes()
    assert main(["generate", "x", "--out", str(tmp_path / "s_0.npz"), "--generator", gen]) == 1
    assert "already exists" in capsys.readouterr().err and (tmp_path / "s_0.npz").read_bytes() == before
    rc = main(["generate", "then laughs", "--seconds", "1", "--continue-from", str(tmp_path / "s_0.npz"),
               "--out", str(tmp_path / "next.npz"), "--generator", gen])
    assert rc == 0 and load_clip(tmp_path / "next.npz").meta["generator"]["continued"]


def test_a_generator_refuses_another_tokenizers_codes(tmp_path):
    path = tmp_path / "g"
    MotionGenerator(GeneratorConfig(d_model=32, n_layers=1, n_heads=2, d_ff=64, tokenizer="0123456789ab")).save(path)
    with pytest.raises(RuntimeError, match="trained on the codes of tokenizer 0123456789ab"):
        Engine(generator_path=path).generate("a smile", seconds=1)
