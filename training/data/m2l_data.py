"""Motion2Language training data: corpus clips -> motion codes + captions + questions and answers.

    split = load_m2l_split("corpus", "train", motion_tokenizer, seed=0)
    split.codes[i]        [P,R] codes of clip i (the shipped tokenizer's, -1 past the clip)
    split.captions[i]     the clip's captions: the corpus's six plus `timed` ones written here
    split.qa[i]           [{"q", "a", "kind", ...}]: the corpus's QA pairs plus yes/no, which and when

What this adds to the corpus's own text (training/corpus/captions.py writes the captions and the
QA pairs; the words below reuse its phrase machinery, `_Ctx`, so every name of a state, head
motion or micro-event is one the corpus and its parser already know):

- timed captions: the clip in time order with seconds taken from the labels' frame indices and
  fps: "At first the young woman grins faintly and nods twice; about 1.2 seconds in she blinks;
  then, around 3 seconds in, her face changes to a slight frown." The corpus's captions time only
  the change of state; these time every micro-event too.
- questions with a checkable answer, about half of the yes/no ones answered "no":
    yesno   "Does she blink?", "Does he nod?", "Is she happy?", "Does the expression change?",
            "Is the smirk on the left side?"                            truth: True / False
    which   "Which side is the smirk on?" (sided clips)                 truth: "left" / "right"
            "Which way does he turn his head?" (a sided head motion)    truth: "left" / "right"
    when    "When does the frown start?", "When does she first blink?" answered in seconds with one
            decimal ("At about 2.4 seconds.")                           truth: seconds (float)
  Times are the labels' own: a micro-event's first frame, and a change's labelled frame (where the
  cross-fade is half done) over the clip's fps. The expression's own onset is not labelled, so
  no question asks when the first state starts.

Everything is drawn from numpy Generators seeded by (seed, clip index): the same seed gives the
same text. Codes come from the motion tokenizer's batched `encode` on padded features, computed
once per split (on the tokenizer's device).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from training.corpus.captions import _FAM, BLINK_TYPES, _cap, _count_word, _Ctx, _join
from training.data.dataset import ClipDataset
from training.data.motion_data import EmptySplitError, pad_clips

# Micro-events as a base-form verb phrase for yes/no and when questions ("Does she ___?").
MICRO_BASE = {"blink": "blink", "blink_burst": "blink rapidly", "slow_blink": "give a slow blink",
              "eyes_closed": "close {pos} eyes", "brow_flash": "flash {pos} eyebrows",
              "lip_twitch": "twitch {pos} lip", "lip_press": "press {pos} lips together",
              "cheek_puff": "puff out {pos} cheeks", "tongue_out": "stick out {pos} tongue", "yawn": "yawn",
              "darting_eyes": "dart {pos} eyes around"}
MICRO_3SG = {"blink": "blinks", "blink_burst": "blinks rapidly", "slow_blink": "gives a slow blink",
             "eyes_closed": "closes {pos} eyes", "brow_flash": "flashes {pos} eyebrows",
             "lip_twitch": "twitches {pos} lip", "lip_press": "presses {pos} lips together",
             "cheek_puff": "puffs out {pos} cheeks", "tongue_out": "sticks out {pos} tongue", "yawn": "yawns",
             "darting_eyes": "darts {pos} eyes around"}
HEAD_BASE = {"nod": "nod", "shake": "shake {pos} head", "still": "keep {pos} head still",
             "tilt_left": "tilt {pos} head", "tilt_right": "tilt {pos} head", "turn_left": "turn {pos} head",
             "turn_right": "turn {pos} head", "look_up": "look up", "look_down": "look down",
             "lean_in": "lean in", "lean_back": "lean back", "sway": "sway {pos} head",
             "glance_left": "glance to the side", "glance_right": "glance to the side"}
HEAD_WHICH = {"tilt": "Which way does {s} tilt {pos} head?", "turn": "Which way does {s} turn {pos} head?",
              "glance": "Which way does {s} glance?"}
YES = ("Yes.", "Yes, {s} {do}.")
NO = ("No.", "No, {s} {dont}.")


def seconds_of(frame: float, fps: float) -> float:
    """A labelled frame index as seconds, one decimal (what the answers say)."""
    return round(float(frame) / float(fps), 1)


def time_phrase(t: float, rng: np.random.Generator) -> str:
    """'about 1.2 seconds in', 'around the 2-second mark', 'two and a half seconds in' ..."""
    half = max(0.5, round(t * 2) / 2)
    whole = int(half)
    words = ("half a second" if whole == 0 else f"{_count_word(whole)} and a half seconds" if half % 1
             else f"{_count_word(whole)} second{'s' if whole != 1 else ''}")
    options = [f"about {t:.1f} seconds in", f"at around {t:.1f} seconds", f"{t:.1f} seconds in",
               f"around {words} in", f"about {words} in"]
    if abs(half - t) < 0.15:
        options.append(f"around the {half:g}-second mark")
    return options[int(rng.integers(len(options)))]


def timed_caption(labels: dict, rng: np.random.Generator) -> str:
    """The clip in time order, every micro-event and the change of state with its time in seconds."""
    c = _Ctx(labels, rng, heldout=False)
    fps = float(labels["fps"])
    pronoun = c.chance(0.3)
    first = f"{c.s if pronoun else c.sub('the')} {c.state_vp(c.start, pronoun)}"
    head = c.head_vp(True)
    beats = []
    counts = dict(c._micro())
    starts = c._micro_starts()
    for kind, vp in zip([k for k, _ in c._micro()], c.micro_vps(True)):
        t = seconds_of(starts[kind], fps)
        when = time_phrase(t, rng)
        if kind == "blink" and counts[kind] > 1:
            beats.append((t, f"{c.s} {vp}, the first time {when}"))
        else:
            beats.append((t, f"{when} {c.s} {vp}"))
    if c.tr:
        t = seconds_of(c.tr["frame"], fps)
        beats.append((t, f"{time_phrase(t, rng)} {c.pos} face changes to {c.np(c.tstate(), 'a')}"))
    beats.sort(key=lambda b: b[0])
    talk = f"; {c.s} {c.vp('is talking' if not c.plural else 'are talking', False)} throughout" \
        if labels.get("talking") else ""
    opener = c.choose(("At first", "To begin with", "At the start"))
    text = f"{opener}, {first} and {c.s} {head}{talk}"
    for i, (_, b) in enumerate(beats):
        text += f"; {'then, ' if i == 0 else 'after that, '}{b}"
    return text + "."


def timed_captions(labels: dict, rng: np.random.Generator, n: int = 2) -> list[str]:
    out = []
    for _ in range(n):
        t = timed_caption(labels, rng)
        if t not in out:
            out.append(t)
    return out


# -- questions with checkable answers ---------------------------------------------------------------------
def _yesno(c: _Ctx, rng, q: str, truth: bool, do: str, dont: str, kind: str, about: str) -> dict:
    a = (YES if truth else NO)[int(rng.integers(2))].format(s=c.s, do=do, dont=dont)
    return {"q": q, "a": a, "kind": "yesno", "truth": bool(truth), "about": about}


def _verb(phrase: str, c: _Ctx) -> str:
    return phrase.format(pos=c.pos)


def yesno_questions(labels: dict, rng: np.random.Generator) -> list[dict]:
    """Yes/no questions on the micro-events, the head, the emotion, a change and the side; each
    topic asked about a true and a false case where there is one."""
    c = _Ctx(labels, rng, heldout=False)
    the = c.sub("the") if c.chance(0.3) else c.s
    does = "do" if c.plural and the == c.s else "does"
    aux = "are" if c.plural and the == c.s else "is"
    out = []
    present = {e["type"] for e in labels["micro"]}
    blinks = bool(present & set(BLINK_TYPES))
    absent = [m for m in MICRO_BASE if m not in present and m not in BLINK_TYPES]
    # blinks (any kind)
    out.append(_yesno(c, rng, f"{_cap(does)} {the} blink?", blinks,
                      c.vp("blinks", True) if not blinks else _join(c.micro_vps(True, BLINK_TYPES)),
                      c.vp("doesn't blink", True), "micro", "blink"))
    # another micro-event: one that happens (if any) and one that does not
    other = sorted(present - set(BLINK_TYPES))
    picks = ([other[int(rng.integers(len(other)))]] if other else []) + [absent[int(rng.integers(len(absent)))]]
    for m in picks:
        yes = m in present
        base = _verb(MICRO_BASE[m], c)
        out.append(_yesno(c, rng, f"{_cap(does)} {the} {base}?", yes, _verb(MICRO_3SG[m], c),
                          f"doesn't {base}" if not c.plural else f"don't {base}", "micro", m))
    # head: the true motion or another one, half each
    motion = labels["head"]["motion"]
    ask = motion if c.chance(0.5) else list(HEAD_BASE)[int(rng.integers(len(HEAD_BASE)))]
    yes = HEAD_BASE[ask] == HEAD_BASE[motion]              # "tilt her head?" is yes for either tilt
    base = _verb(HEAD_BASE[ask], c)
    out.append(_yesno(c, rng, f"{_cap(does)} {the} {base}?", yes, c.head_vp(True),
                      f"{'doesn' if not c.plural else 'don'}'t {base}; {c.s} {c.head_vp(True)}", "head", ask))
    # the emotion family: the true one or another, half each
    fams = sorted(_FAM)
    fam = labels["family"] if c.chance(0.5) else fams[int(rng.integers(len(fams)))]
    yes = fam == labels["family"] or bool(labels["transition"] and labels["transition"]["family"] == fam)
    adj = [a for a in _FAM[fam][0] if not a.startswith("*")][0]
    out.append(_yesno(c, rng, f"{_cap(aux)} {the} {adj}?", yes, f"{'is' if not c.plural else 'are'} {adj}",
                      f"{'isn' if not c.plural else 'aren'}'t {adj}: {c.s} {c.vp('shows', True)} "
                      f"{c.np(c.start, 'a')}", "family", fam))
    # a change of state
    tr = labels["transition"]
    q = c.choose(("Does the expression change?", "Does the emotion change during the clip?"))
    if tr:
        t = seconds_of(tr["frame"], labels["fps"])
        a = f"Yes, at about {t:.1f} seconds it turns into {c.np(c.tstate(), 'a')}."
    else:
        a = f"No, it stays {c.np(c.start, 'a')} the whole time."
    out.append({"q": q, "a": a, "kind": "yesno", "truth": bool(tr), "about": "change"})
    # the side of a sided state
    side = labels.get("side") or "both"
    if side != "both":
        ask_side = side if c.chance(0.5) else {"left": "right", "right": "left"}[side]
        name = labels["descriptor"].replace("_", " ")
        yes = ask_side == side
        a = f"Yes, on the {side} side." if yes else f"No, it is on the {side} side."
        out.append({"q": f"Is the {name} on the {ask_side} side?", "a": a, "kind": "yesno", "truth": yes,
                    "about": "side"})
    return out


def which_questions(labels: dict, rng: np.random.Generator) -> list[dict]:
    """'Which side is the smirk on?' (sided clips) and 'Which way does he turn his head?' (a head
    motion to one side); sides are the character's own."""
    c = _Ctx(labels, rng, heldout=False)
    out = []
    side = labels.get("side") or "both"
    if side != "both":
        name = labels["descriptor"].replace("_", " ")
        q = c.choose((f"Which side is the {name} on?", f"On which side of the face is the {name}?",
                      "Which side of the face shows the expression?"))
        out.append({"q": q, "a": f"The {side} side.", "kind": "which", "truth": side, "about": "side"})
    motion = labels["head"]["motion"]
    kind, _, way = motion.partition("_")
    if kind in HEAD_WHICH and way in ("left", "right"):
        q = HEAD_WHICH[kind].format(s=c.s, pos=c.pos)
        out.append({"q": q, "a": f"To the {way}.", "kind": "which", "truth": way, "about": "head"})
    return out


def when_questions(labels: dict, rng: np.random.Generator) -> list[dict]:
    """When the change happens and when each micro-event type first starts, in seconds."""
    c = _Ctx(labels, rng, heldout=False)
    fps, out = float(labels["fps"]), []
    tr = labels["transition"]
    if tr:
        t = seconds_of(tr["frame"], fps)
        target = tr["descriptor"].replace("_", " ")
        start = labels["descriptor"].replace("_", " ")
        q = c.choose((f"When does the {target} start?", f"When does the {start} turn into a {target}?",
                      "When does the expression change?", "At what time does the emotion change?"))
        a = c.choose((f"At about {t:.1f} seconds.", f"Around {t:.1f} seconds in.", f"About {t:.1f} seconds in."))
        out.append({"q": q, "a": a, "kind": "when", "truth": t, "about": "change"})
    starts = {}
    for e in sorted(labels["micro"], key=lambda e: e["start"]):
        starts.setdefault(e["type"], e["start"])
    for m, f in starts.items():
        t = seconds_of(f, fps)
        base = _verb(MICRO_BASE[m], c)
        first = " first" if sum(e["type"] == m for e in labels["micro"]) > 1 else ""
        does = "do" if c.plural else "does"
        q = f"When {does} {c.s}{first} {base}?"
        a = c.choose((f"At about {t:.1f} seconds.", f"Around {t:.1f} seconds in.", f"About {t:.1f} seconds in."))
        out.append({"q": q, "a": a, "kind": "when", "truth": t, "about": m})
    return out


def checkable_questions(labels: dict, rng: np.random.Generator) -> list[dict]:
    return yesno_questions(labels, rng) + which_questions(labels, rng) + when_questions(labels, rng)


# -- one split as training data -----------------------------------------------------------------------------
@dataclass
class M2LSplit:
    codes: np.ndarray                    # [N,P,R] int16, -1 past each clip's positions
    positions: np.ndarray                # [N]
    frames: np.ndarray                   # [N] at the tokenizer's rate
    labels: list                         # dict or None per clip
    captions: list                       # list[str] per clip
    qa: list                             # list[dict] per clip
    ids: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.positions)

    def clip_codes(self, i: int) -> np.ndarray:
        return self.codes[i, :self.positions[i]].astype(np.int64)


@torch.no_grad()
def encode_codes(feats: np.ndarray, lengths: np.ndarray, tok, chunk: int = 512) -> np.ndarray:
    """Padded features [N,T,D] at the tokenizer's fps -> codes [N,P,R] int16 (-1 past each clip)."""
    dev = next(tok.parameters()).device
    out = []
    for s in range(0, len(feats), chunk):
        f = torch.from_numpy(feats[s:s + chunk]).to(dev)
        c = tok.encode(f, torch.from_numpy(lengths[s:s + chunk]).to(dev))
        out.append((c[..., None] if c.dim() == 2 else c).cpu().numpy().astype(np.int16))
    P = max(c.shape[1] for c in out)
    return np.concatenate([np.pad(c, ((0, 0), (0, P - c.shape[1]), (0, 0)), constant_values=-1) for c in out])


def encode_at_rate(feats: np.ndarray, lengths: np.ndarray, fps: float, tok) -> tuple[np.ndarray, np.ndarray]:
    """Padded features [N,T,D] at `fps` -> (codes [N,P,R] as encode_codes, lengths at the
    tokenizer's fps): clips at other frame rates are resampled to the tokenizer's first."""
    from engine.tokenizer import resample
    if abs(float(fps) - tok.cfg.fps) > 1e-6:
        rs = [resample(feats[i, :lengths[i]], fps, tok.cfg.fps) for i in range(len(feats))]
        lengths = np.array([len(r) for r in rs], np.int64)
        feats = np.zeros((len(rs), int(lengths.max()), feats.shape[2]), np.float32)
        for i, r in enumerate(rs):
            feats[i, :len(r)] = r
    return encode_codes(feats, lengths, tok), lengths


def load_m2l_split(root, split: str, tok, seed: int = 0, max_clips: int | None = None, timed: int = 2,
                   questions: bool = True, progress: bool = False) -> M2LSplit:
    """A split of a dataset folder as codes + texts. Clips with neither captions nor labels are
    dropped (nothing to learn from them)."""
    ds = ClipDataset(root, split=split)
    n = len(ds) if max_clips is None else min(max_clips, len(ds))
    if n == 0:
        raise EmptySplitError(f"dataset {root} has no clips in split {split!r}")
    it = range(n)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc=f"loading {split}", unit="clip")
    clips = [ds[i] for i in it]
    clips = [c for c in clips if c.text or (c.meta.get("labels") is not None)]
    if not clips:
        raise EmptySplitError(f"dataset {root} split {split!r} has no clip with captions or labels")
    names = list(tok.cfg.expr_names)
    if list(clips[0].expr_names) != names:
        clips = [c.with_channels(names)[0] for c in clips]
    arrays = pad_clips(clips, root)
    feats, lengths = arrays.features(), arrays.lengths
    codes, lengths = encode_at_rate(feats, lengths, arrays.fps, tok)
    del feats
    positions = -(-lengths // tok.cfg.downsample)
    captions, qa = [], []
    for i, c in enumerate(clips):
        rng = np.random.default_rng([int(seed), i, 13])
        lab = c.meta.get("labels")
        caps = list(c.text)
        pairs = [dict(p, kind=p.get("kind", "corpus")) for p in (c.meta.get("qa") or [])
                 if isinstance(p, dict) and isinstance(p.get("q"), str) and isinstance(p.get("a"), str)]
        if lab is not None:
            caps += [t for t in timed_captions(lab, rng, timed) if t not in caps] if timed else []
            if questions:
                pairs += checkable_questions(lab, rng)
        captions.append(caps)
        qa.append(pairs)
    return M2LSplit(codes, positions.astype(np.int64), lengths, [c.meta.get("labels") for c in clips], captions, qa,
                    [c.meta.get("id") for c in clips])
