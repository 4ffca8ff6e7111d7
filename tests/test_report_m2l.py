"""`tdmm eval --captioners` (training/eval/report.py + report_m2l.py): a tiny random captioner's
rows beside the retrieval baseline on the same clips, the question table and its majority
baseline on a known answer, the round trip, the hand-keyed clips, and bad --captioners input."""
import argparse
import json

import numpy as np
import pytest
import torch
from test_report import corpus, models  # noqa: F401 -- the tiny corpus and evaluator / tokenizer fixtures

from engine.cli import main
from training.eval.report_m2l import MAJORITY, eval_questions, majority_answers, qa_row


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def captioner(corpus, models, tmp_path_factory):  # noqa: F811
    """A tiny randomly initialised captioner (word tokenizer, 2-layer Llama) reading the tiny tokenizer's codes."""
    from engine import lm_base
    from engine.captioner import Captioner, CaptionerConfig
    from engine.tokenizer import MotionTokenizer
    from training.eval.report import load_clips
    from training.train.m2l import TINY_ARCH
    tok = MotionTokenizer.load(models / "vq" / "tiny")
    a, _, _ = load_clips(corpus, "train", 16, 0)
    texts = [c for caps in a.captions for c in caps] + ["Yes.", "No.", "The left side.", "At about 2.0 seconds."]
    doc = lm_base.word_tokenizer_doc(texts)
    wt = lm_base.tokenizer_from_json(doc)
    arch = {**TINY_ARCH, "vocab_size": len(wt), "bos_token_id": wt.bos_token_id, "eos_token_id": wt.eos_token_id,
            "pad_token_id": wt.pad_token_id}
    torch.manual_seed(0)
    cfg = CaptionerConfig(base="tiny-words", pretrained=False, arch=arch, text_tokenizer="embedded", mode="full",
                          codebook_size=tok.cfg.codebook_size, levels=tok.cfg.levels, fps=tok.cfg.fps,
                          downsample=tok.cfg.downsample, max_new_tokens=8,
                          motion_tokenizer=lm_base.sha256_file(models / "vq" / "tiny.safetensors"))
    cap = Captioner(lm_base.model_from_arch(arch), wt, cfg, word_tokenizer=doc)
    stem = tmp_path_factory.mktemp("report_cap") / "cap"
    cap.save(stem, fp16=False)
    return stem


def _args(corpus, models, out, *extra):  # noqa: F811
    from training.eval.report import add_arguments
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(["--data", str(corpus), "--evaluator", str(models / "evaluator"), "--subset", "12",
                         "--train-subset", "24", "--splits", "test_heldout_combo,test", "--out", str(out),
                         "--tsne-points", "30", "--quiet", *extra])


def test_captioner_rows_questions_round_trip_and_handkeyed(corpus, models, captioner, tmp_path):  # noqa: F811
    from training.eval.report import load_clips, report
    tiny_vq = f"tiny={models / 'vq' / 'tiny'}"
    args = _args(corpus, models, tmp_path / "docs", "--tokenizers", tiny_vq, "--vertex-frames", "64",
                 "--captioners", f"tiny-cap={captioner}", "--questions", "5")
    K = len(load_clips(corpus, "test", 1, 0)[0].expr_names)
    still = lambda caps, lens: ([np.zeros((n, 5, 3), np.float32) for n in lens],        # a still face
                                [np.zeros((n, K), np.float32) for n in lens])
    res = report(args, generators=[("still face", still, "test generator")])

    sets = {s["name"]: s["n"] for s in res["sets"]}
    assert set(sets) >= {"test_heldout_combo", "test", "test, held-out wording"}
    by_set = {}
    for r in res["m2l"]:
        by_set.setdefault(r["set"], []).append(r)
        assert {"acc_side", "n_sided", "acc_micro_f1"} <= set(r) and r["n"] == sets[r["set"]]
        assert 0 <= r["acc_micro_f1"] <= 100 and r["n_sided"] <= r["n"]
    for name, rows in by_set.items():                 # retrieval, the captioner, the upper bound, on the same clips
        assert [r["model"] for r in rows] == ["nearest train clip (evaluator embedding)", "tiny-cap",
                                              "reference caption (upper bound)"]
        assert rows[1]["source"] == str(captioner)
    assert by_set["test"][2]["acc_micro_f1"] == 100                 # the upper bound states the micro-events

    qa = res["m2l_qa"]
    assert [(r["model"], r["split"]) for r in qa] == [(MAJORITY, "test_heldout_combo"),
                                                      ("tiny-cap", "test_heldout_combo"),
                                                      (MAJORITY, "test"), ("tiny-cap", "test")]
    for base, ours in (qa[:2], qa[2:]):
        assert base["n_clips"] == ours["n_clips"] == sets[base["split"]]
        for k in ("yesno", "when", "which"):
            assert base[f"n_{k}"] == ours[f"n_{k}"] <= 5        # the same questions for the baseline and the model
            assert base[f"n_{k}"] == res["qa_questions"]["splits"][base["split"]][k]
        assert base["n_yesno"] == 5 and base["yesno"] >= 50     # the commoner answer is right at least half the time
        assert not any("<" in e["answer"] for e in ours["examples"])

    rt = res["m2l_roundtrip"]
    assert [r["set"] for r in rt] == list(sets) and all(r["n"] == sets[r["set"]] for r in rt)
    assert all(r["generator"] == "still face" and r["captioner"] == "tiny-cap" for r in rt)
    assert all(r["prompt_family"] > 90 for r in rt)                # synth prompts state their family
    hk = res["m2l_handkeyed"]
    assert len(hk) == 1 and hk[0]["of"] == 12 and 0 <= hk[0]["passed"] <= 12 and len(hk[0]["clips"]) == 12

    text = (tmp_path / "docs" / "RESULTS.md").read_text()
    for title in ("Motion2Language: questions", "Motion2Language: round trip", "Motion2Language: hand-keyed clips"):
        assert f"#### {title}" in text
    assert "side % (sided)" in text.split("### Motion2Language")[1] and "micro F1 %" in text
    assert "| tiny-cap | test |" in text and f"{hk[0]['passed']} of 12" in text
    saved = json.loads((tmp_path / "docs" / "eval_results.json").read_text())
    assert len(saved["m2l_qa"]) == 4 and "--captioners tiny-cap=" in saved["command"]


def test_majority_baseline_known_answer():
    q = lambda kind, truth: {"q": "?", "a": "", "kind": kind, "truth": truth}
    qs = [(0, q("yesno", False)), (0, q("yesno", False)), (1, q("yesno", True)),
          (0, q("which", "right")), (1, q("which", "left")), (2, q("which", "right")),
          (0, q("when", 2.0)), (1, q("when", 2.4)), (2, q("when", 4.0)), (2, q("when", 1.6))]
    seconds = [4.0, 5.0, 4.0]                          # middles 2.0, 2.5, 2.0 s
    answers = majority_answers(qs, seconds)
    assert answers[:3] == ["No."] * 3 and answers[3:6] == ["The right side."] * 3
    row = qa_row(MAJORITY, "test", answers, qs, 3, "known")
    assert row["yesno"] == pytest.approx(200 / 3) and row["which"] == pytest.approx(200 / 3)
    assert row["when"] == 75.0 and (row["n_yesno"], row["n_which"], row["n_when"]) == (3, 3, 4)
    tie = majority_answers([(0, q("yesno", True)), (0, q("yesno", False))], seconds)
    assert tie == ["Yes.", "Yes."]


def test_eval_questions_are_fixed_by_the_seed_and_capped(corpus):  # noqa: F811
    from training.eval.report import load_clips
    from training.eval.report_m2l import clip_seconds
    a, _, _ = load_clips(corpus, "test", 12, 0)
    secs = clip_seconds(a)
    one = eval_questions(a.labels, secs, "test", 0, 4)
    assert one == eval_questions(a.labels, secs, "test", 0, 4)
    kinds = [q["kind"] for _, q in one]
    assert kinds.count("yesno") == 4 and 0 < kinds.count("when") <= 4 and kinds.count("which") <= 4
    assert all(q["truth"] <= secs[i] for i, q in one if q["kind"] == "when")
    every = eval_questions(a.labels, secs, "test", 0, 0)
    assert len(every) > len(one) and {(i, q["q"]) for i, q in one} <= {(i, q["q"]) for i, q in every}


def test_bad_captioners_fail_cleanly(corpus, models, captioner, tmp_path, capsys):  # noqa: F811
    base = ["eval", "--data", str(corpus), "--evaluator", str(models / "evaluator"), "--out", str(tmp_path / "d"),
            "--quiet", "--captioners"]
    bad = {"malformed": (["nonsense"], "NAME=CKPT"), "no name": (["=x"], "NAME=CKPT"),
           "missing": ([f"x={tmp_path / 'nocap'}"], "does not exist"),
           "twice": ([f"a={captioner}", f"a={captioner}"], "twice"),
           "its tokenizer not given": ([f"a={captioner}"], "--tokenizers")}
    for what, (spec, says) in bad.items():
        rc = main(base + spec)
        err = capsys.readouterr().err
        assert rc == 1, what
        assert err.startswith("tdmm eval: error:") and says in err and "Traceback" not in err, (what, err)
        assert not (tmp_path / "d").exists(), what              # nothing written for a report that never ran
