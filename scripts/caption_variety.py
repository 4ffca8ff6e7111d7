"""Caption variety of the corpus wording (docs/RESULTS.md, "Corpus v2"): templates, distinct
sentence shapes, distinct word 3-grams and vocabulary over the training (and held-out) captions
of N clips, for this checkout's captions or those of an older commit.

    python scripts/caption_variety.py new 2000 v1      # today's captions on labels v1 can state
    python scripts/caption_variety.py new 2000 v2      # today's captions on corpus v2 labels
    python scripts/caption_variety.py old 2000 v1 [--rev bf42847]   # the captions before corpus v2

"v1" labels drop what v1 wording cannot say (sides, dynamics, darting eyes; glances become
turns), so both versions caption the same facts. The old captions and their parser are taken
from git (`git show REV:training/captions.py`) into a temporary folder.
"""
import importlib
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from training.corpus import synth  # noqa: E402

args = [a for a in sys.argv[1:] if not a.startswith("--rev")]
rev = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--rev=")), "bf42847")
which = args[0]
N = int(args[1]) if len(args) > 1 else 2000
labelset = args[2] if len(args) > 2 else "v1"


def old_captions(rev: str):
    """The caption module of commit `rev` (flat training/ layout), importable beside today's lexicon."""
    tmp = Path(tempfile.mkdtemp(prefix="oldcap-"))
    show = lambda p: subprocess.run(["git", "show", f"{rev}:{p}"], cwd=ROOT, check=True, capture_output=True,
                                    text=True).stdout
    parse = show("training/caption_parse.py").replace("from training import lexicon",
                                                      "from training.corpus import lexicon")
    (tmp / "oldcap_parse.py").write_text(parse)
    (tmp / "oldcap_captions.py").write_text(show("training/captions.py")
                                            .replace("from training.caption_parse import", "from oldcap_parse import"))
    sys.path.insert(0, str(tmp))
    return importlib.import_module("oldcap_captions")


cap = old_captions(rev) if which == "old" else importlib.import_module("training.corpus.captions")

FUNC = set("""a an the this that these those his her their its he she they him them it who whose which
what while with without and or but then as before after until when once of in on at to from for into
onto over under by up down out off is are was be being been has have does do doesn't don't isn't aren't
not no never also just still so than meanwhile here there first finally later, , . ; : ! ? + - ( )""".split())

def toks(t):
    return re.findall(r"[a-z]+(?:'[a-z]+)?|[.,;:!?+()]", t.lower())

PRON = {"he","she","they","his","her","their","him","them"}
def coarse(t, subj):
    core = re.sub(r"^(a|an|the) ", "", subj)
    t = re.sub(r"\b(a |an |the )?" + re.escape(core), " SUBJ ", t.lower())
    out = []
    for w in re.findall(r"subj|[a-z]+(?:'[a-z]+)?|[.,;:!?+()]", t):
        c = "S" if w == "subj" else "P" if w in PRON else w if not w.isalpha() else "W"
        if not (c == "W" and out and out[-1] == "W"):
            out.append(c)
    return " ".join(out)

def shape(t):
    out = []
    for w in toks(t):
        c = w if w in FUNC else "W"
        if not (c == "W" and out and out[-1] == "W"):
            out.append(c)
    return " ".join(out)

def v1(labels):
    L = dict(labels)
    m = L["head"]["motion"]
    if m.startswith("glance_"):
        L["head"] = {"motion": "turn_" + m.split("_")[1], "count": None}
    L["micro"] = [e for e in L["micro"] if e["type"] != "darting_eyes"]
    L.pop("side", None)
    L.pop("dynamic", None)
    return L

labels = [synth.sample_labels(0, i) for i in range(N)]
if labelset == "v1":
    labels = [v1(L) for L in labels]
else:
    sys.path.insert(0, str(ROOT / "tests"))
    from test_captions import v2_fields
    labels = [v2_fields(L, np.random.default_rng([i, 99])) for i, L in enumerate(labels)]
for held in (False, True):
    t0 = time.time()
    caps, tids, coarse_s = [], set(), set()
    for i, L in enumerate(labels):
        recs = cap.caption_records(L, np.random.default_rng(i), heldout=held)
        coarse_s |= {coarse(r["text"], L["subject"]) for r in recs}
        caps += [r["text"] for r in recs]
        tids |= {r["template"] for r in recs}
    dt = time.time() - t0
    grams = set()
    for c in caps:
        w = [x for x in toks(c) if x.isalpha()]
        grams |= {tuple(w[k:k + 3]) for k in range(len(w) - 2)}
    nt = sum(t.heldout == held for t in cap.TEMPLATES.values())
    print(f"{which} labels={labelset} heldout={held}: templates {nt} (used {len(tids)}), captions {len(caps)}, "
          f"distinct captions {len(set(caps))}, shapes {len({shape(c) for c in caps})}, "
          f"coarse shapes {len(coarse_s)}, 3-grams {len(grams)}, vocab {len({w for c in caps for w in toks(c)})}, "
          f"mean words {np.mean([len(toks(c)) for c in caps]):.1f}, {1000*dt/len(labels):.2f} ms/clip")
