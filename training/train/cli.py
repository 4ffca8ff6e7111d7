"""`tdmm train <model>`: one command, one module per model.

Each model's training module exposes `add_arguments(parser)` and `run(args)`;
it is imported only when chosen, so `tdmm train vq` never loads the
language-model code and vice versa.
"""
from __future__ import annotations

import importlib

MODELS = {
    "vq": ("training.train.vq", "the geometry VQ-VAE motion tokenizer"),
    "evaluator": ("training.train.evaluator", "the frozen text-motion evaluator (TMR-style) and label classifier"),
    "l2m": ("training.train.l2m", "the Language2Motion generator (word-level prefix or the pooled T2M-GPT baseline)"),
    "m2l": ("training.train.m2l", "the Motion2Language captioner (a language model finetuned on motion tokens)"),
}


def add_command(sub) -> None:
    p = sub.add_parser("train", help="train a model")
    models = p.add_subparsers(dest="model", metavar="MODEL")
    for name, (module, help_text) in MODELS.items():
        m = models.add_parser(name, help=help_text)
        try:
            importlib.import_module(module).add_arguments(m)
        except ImportError as err:
            m.set_defaults(func=lambda args, err=err: _unavailable(err))
            continue
        m.set_defaults(func=lambda args, module=module: importlib.import_module(module).run(args))


def _unavailable(err) -> int:
    raise RuntimeError(f"this model's training code cannot be loaded: {err}")
