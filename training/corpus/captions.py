"""Everyday-language captions and captioner QA pairs for a corpus clip's labels.

`captions_for(labels, rng)` writes at least five captions per clip: short prompts as
an animator types them ("young woman, faint grin, two nods, talking") and full
sentences ("With a faint grin on her face, the young woman nods twice."). Each one
states everything the labels say that matters: the emotion (descriptor, one of its
lexicon synonyms, or a family word), its intensity in words, the head motion with its
count, every micro-event type (blinks with their count), the transition with its
time, talking, and the subject words with matching pronouns. Paraphrases differ by
template (clause order, voice, prompt vs sentence) and by the words drawn for each
slot.

Held out, for measuring generalisation to unseen wording: the templates marked
heldout in TEMPLATES, the lexicon's `heldout_synonyms`, and every phrase variant
written with a leading "*" in the tables below. heldout=False never uses any of
them; heldout=True uses only held-out templates, and in every slot that has held-out
variants (a descriptor with held-out synonyms included) only those.

`qa_pairs(labels, rng)` writes the captioner's instruction data: questions in varied
wording about emotion, intensity, head, change, blinks, talking, other micro-events,
and "describe the clip" (answered with a full caption).

Everything is drawn from the given numpy Generator, so output is deterministic.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from training.corpus.caption_parse import descriptor_entry, reads_as_state

# Subject phrases the corpus may draw from (captions accept any string).
SUBJECTS = ("a young woman", "an old man", "a child", "a middle-aged man", "a teenage girl",
            "an elderly woman", "a young man", "a little boy", "a woman", "a man", "a person",
            "a teenager", "a little girl", "an older woman")
_FEMALE = {"woman", "girl", "lady", "mother", "mom", "grandmother", "grandma", "actress", "women",
           "daughter", "sister", "wife", "she"}
_MALE = {"man", "boy", "gentleman", "guy", "father", "dad", "grandfather", "grandpa", "actor", "men",
         "son", "brother", "husband", "he"}
BLINK_TYPES = ("blink", "blink_burst", "slow_blink")

# ---------------------------------------------------------------- phrase tables ("*" = held out)
_INT_ADJ = {"subtle": ("slight", "faint", "subtle", "*barely-there", "*tiny"),
            "mild": ("mild", "gentle", "small", "*soft"),
            "moderate": ("moderate", "clear", "noticeable", "*distinct"),
            "strong": ("strong", "big", "deep", "*pronounced"),
            "extreme": ("intense", "extreme", "huge", "*full-blown", "*exaggerated")}
_INT_ADV = {"subtle": ("slightly", "faintly", "barely", "*ever so slightly"),
            "mild": ("mildly", "a little", "somewhat", "*a tad"),
            "moderate": ("moderately", "fairly", "noticeably", "*distinctly"),
            "strong": ("very", "really", "deeply", "*strongly"),
            "extreme": ("extremely", "intensely", "utterly", "*overwhelmingly", "*wildly")}
_INT_QUANT = {"subtle": ("a hint of", "a trace of", "*a flicker of"),
              "mild": ("a little", "mild", "*a bit of"),
              "moderate": ("clear", "noticeable", "*moderate"),
              "strong": ("deep", "strong", "*a lot of"),
              "extreme": ("intense", "overwhelming", "*sheer")}
_FAM = {  # family: (adjectives, nouns)
    "joy": (("happy", "joyful", "cheerful", "*glad"), ("joy", "happiness", "*gladness")),
    "sadness": (("sad", "unhappy", "sorrowful", "*glum"), ("sadness", "sorrow", "*gloom")),
    "surprise": (("surprised", "astonished", "*astounded"), ("surprise", "astonishment")),
    "anger": (("angry", "mad", "*irate"), ("anger", "fury", "*ire")),
    "disgust": (("disgusted", "repulsed", "*revolted"), ("disgust", "revulsion", "*repugnance")),
    "fear": (("afraid", "scared", "*frightened"), ("fear", "fright", "*fearfulness")),
    "neutral": (("neutral", "calm", "*impassive"), ("calm", "composure", "*neutrality")),
    "contempt": (("contemptuous", "disdainful", "*scornful"), ("contempt", "disdain")),
    "confusion": (("confused", "puzzled", "*baffled"), ("confusion", "puzzlement", "*befuddlement")),
    "boredom": (("bored", "uninterested", "*listless"), ("boredom", "*tedium")),
    "pain": (("pained", "*anguished"), ("pain", "*anguish")),
    "pride": (("proud", "triumphant", "*dignified"), ("pride",)),
    "shame": (("ashamed", "guilty", "*shamefaced"), ("shame", "guilt", "*remorse")),
    "embarrassment": (("embarrassed", "awkward", "*abashed"), ("embarrassment", "awkwardness", "*sheepishness")),
    "concentration": (("focused", "concentrating", "*absorbed"), ("concentration", "focus", "*absorption")),
    "relief": (("relieved", "*unburdened"), ("relief",)),
    "amusement": (("amused", "entertained", "*tickled"), ("amusement", "*mirth")),
    "skepticism": (("skeptical", "doubtful", "*unconvinced"), ("skepticism", "doubt", "*distrust")),
    "flirtation": (("flirty", "flirtatious", "*kittenish"), ("flirtation", "*flirtatiousness")),
    "determination": (("determined", "resolute", "*steely"), ("determination", "resolve", "*grit")),
    "tiredness": (("tired", "sleepy", "*bleary"), ("tiredness", "fatigue", "*weariness")),
    "anxiety": (("anxious", "nervous", "*uneasy"), ("anxiety", "worry", "*unease")),
    "interest": (("interested", "curious", "*inquiring"), ("interest", "curiosity", "*inquisitiveness")),
    "tenderness": (("tender", "affectionate", "*loving"), ("tenderness", "affection", "*warmth")),
    "disappointment": (("disappointed", "*deflated"), ("disappointment", "*letdown")),
    "awe": (("awed", "awestruck", "*spellbound"), ("awe", "wonder")),
    "playfulness": (("playful", "*impish"), ("playfulness", "mischief", "*cheekiness")),
}
# Head motion: 3rd-person verb phrases and prompt-style phrases. {pos} = her/his/their,
# {count} = "twice" ..., {cnp:nod} = "two nods" ...
_HEAD_VP = {
    "still": ("keeps {pos} head still", "holds {pos} head still", "doesn't move {pos} head",
              "*keeps {pos} head perfectly still"),
    "nod": ("nods {count}", "nods {pos} head {count}", "*bobs {pos} head {count}"),
    "shake": ("shakes {pos} head {count}", "gives {cnp:head shake}", "*gives {cnp:shake of the head}"),
    "tilt_left": ("tilts {pos} head to the left", "cocks {pos} head left", "*lets {pos} head tip to the left"),
    "tilt_right": ("tilts {pos} head to the right", "cocks {pos} head right", "*lets {pos} head tip to the right"),
    "turn_left": ("turns {pos} head to the left", "turns to {pos} left", "*swivels {pos} head to the left"),
    "turn_right": ("turns {pos} head to the right", "turns to {pos} right", "*swivels {pos} head to the right"),
    "look_up": ("looks up", "lifts {pos} chin", "raises {pos} head", "*gazes upward"),
    "look_down": ("looks down", "lowers {pos} head", "drops {pos} gaze", "*hangs {pos} head"),
    "lean_in": ("leans in", "leans forward", "*moves in closer"),
    "lean_back": ("leans back", "pulls {pos} head back", "*draws back"),
    "sway": ("sways {pos} head from side to side", "lets {pos} head sway idly", "*rocks {pos} head idly"),
}
_HEAD_NP = {
    "still": ("head still", "still head", "no head movement", "*motionless head"),
    "nod": ("{cnp:nod}", "nodding {count}", "*{cnp:head bob}"),
    "shake": ("{cnp:head shake}", "shaking head {count}", "*{cnp:shake of the head}"),
    "tilt_left": ("head tilted left", "head tilt to the left", "*head cocked to the left"),
    "tilt_right": ("head tilted right", "head tilt to the right", "*head cocked to the right"),
    "turn_left": ("head turned left", "turns to the left", "*head swivels left"),
    "turn_right": ("head turned right", "turns to the right", "*head swivels right"),
    "look_up": ("looks up", "chin up", "*gaze upward"),
    "look_down": ("looks down", "head down", "*gaze lowered"),
    "lean_in": ("leans in", "leaning forward", "*moving in closer"),
    "lean_back": ("leans back", "leaning back", "*drawing back"),
    "sway": ("idle head sway", "swaying head", "*head rocking idly"),
}
_MICRO_VP = {
    "blink": ("blinks {count}", "*gives {cnp:blink}"),
    "blink_burst": ("blinks rapidly", "blinks in a quick flurry", "*lets out a burst of rapid blinks"),
    "slow_blink": ("blinks slowly", "gives a slow blink", "*gives a long, lazy blink"),
    "eyes_closed": ("closes {pos} eyes for a moment", "shuts {pos} eyes briefly", "*lets {pos} eyes fall shut"),
    "brow_flash": ("flashes {pos} eyebrows", "gives a brow flash", "*pops {pos} brows up for an instant"),
    "lip_twitch": ("has a twitch at the corner of {pos} mouth", "twitches {pos} lip", "*lets {pos} lip twitch"),
    "lip_press": ("presses {pos} lips together", "presses {pos} lips tight", "*tightens {pos} lips"),
    "cheek_puff": ("puffs out {pos} cheeks", "puffs {pos} cheeks up", "*blows {pos} cheeks out"),
    "tongue_out": ("sticks {pos} tongue out", "pokes {pos} tongue out", "*flicks {pos} tongue out"),
    "yawn": ("yawns", "lets out a yawn", "*stifles a yawn"),
}
_MICRO_NP = {
    "blink": ("{cnp:blink}", "blinks {count}", "*{cnp:eye blink}"),
    "blink_burst": ("rapid blinks", "a flurry of blinks", "*blink burst"),
    "slow_blink": ("slow blink", "one slow blink", "*lazy blink"),
    "eyes_closed": ("eyes closed for a beat", "closed eyes", "*eyes shut for a moment"),
    "brow_flash": ("brow flash", "eyebrow flash", "*brief eyebrow raise"),
    "lip_twitch": ("lip twitch", "twitching lip", "*mouth-corner twitch"),
    "lip_press": ("lips pressed together", "lip press", "*tightened lips"),
    "cheek_puff": ("cheek puff", "puffed-out cheeks", "*cheeks blown out"),
    "tongue_out": ("tongue out", "tongue poking out", "*tongue flicking out"),
    "yawn": ("a yawn", "yawning", "*stifled yawn"),
}
_TALK_VP = ("is talking", "talks the whole time", "is speaking", "*chats away")
_TALK_NP = ("talking", "while speaking", "mid-conversation", "*mouthing words")
_TEMPO_ADV = {"slow": ("slowly", "unhurriedly", "*at a leisurely pace"),
              "fast": ("quickly", "briskly", "*at a brisk pace")}
_TEMPO_NP = {"slow": ("slow pace", "unhurried", "*leisurely tempo"),
             "fast": ("quick pace", "brisk", "*fast tempo")}
_LINK_NP = ("{a} turning into {b} {t}", "{a} that gives way to {b} {t}", "{a}, then {t} {b}",
            "{a} shifting to {b} {t}", "*{a} melting into {b} {t}", "*{a} that slides into {b} {t}")
_LINK_CLAUSE = ("{T}, {pos} expression shifts to {b}.", "{T}, it gives way to {b}.",
                "{Pos} face changes to {b} {t}.", "*{T}, {b} takes over.",
                "*{T}, the look melts into {b}.")
PHRASE_TABLES = {"intensity_adj": _INT_ADJ, "intensity_adv": _INT_ADV, "intensity_quant": _INT_QUANT,
                 "family": {f: a + n for f, (a, n) in _FAM.items()}, "head_vp": _HEAD_VP, "head_np": _HEAD_NP,
                 "micro_vp": _MICRO_VP, "micro_np": _MICRO_NP, "talk": {"vp": _TALK_VP, "np": _TALK_NP},
                 "tempo": {**{f"{k}_adv": v for k, v in _TEMPO_ADV.items()},
                           **{f"{k}_np": v for k, v in _TEMPO_NP.items()}},
                 "links": {"np": _LINK_NP, "clause": _LINK_CLAUSE}}


def table_phrases(heldout: bool) -> set[str]:
    """The literal words of every table variant (placeholders dropped), held-out ones or the others."""
    out = set()
    for table in PHRASE_TABLES.values():
        for options in table.values():
            for o in options:
                if o.startswith("*") == heldout:
                    for piece in re.split(r"\{[^}]*\}", o.lstrip("*")):
                        piece = piece.strip(" ,.")
                        if piece:
                            out.add(piece)
    return out


_ADJ_HEADS = ("look", "expression", "face")
_NUM = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


# ---------------------------------------------------------------- small grammar helpers
def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _a(word: str) -> str:
    w = word.lower()
    return "an" if w[:1] in "aeiou" and not w.startswith(("one", "uni", "use", "eu")) else "a"


def _plural_verb(vp: str) -> str:
    """3rd-person singular verb phrase -> plural ("nods twice" -> "nod twice")."""
    w, _, rest = vp.partition(" ")
    irregular = {"is": "are", "has": "have", "does": "do", "doesn't": "don't", "isn't": "aren't", "goes": "go"}
    if w in irregular:
        w = irregular[w]
    elif w.endswith(("ches", "shes", "sses", "xes", "zes")):
        w = w[:-2]
    elif w.endswith("s"):
        w = w[:-1]
    return f"{w} {rest}".strip()


def _gerund(vp: str) -> str:
    """"nods twice" -> "nodding twice", "doesn't move" -> "not moving"."""
    w, _, rest = vp.partition(" ")
    if w == "doesn't":
        return "not " + _gerund(rest)
    w = w[:-2] if w.endswith(("ches", "shes", "sses")) else w[:-1] if w.endswith("s") else w
    if w in ("nod", "bob", "let", "drop", "grin", "sit"):
        w += w[-1]
    elif w.endswith("e") and not w.endswith("ee"):
        w = w[:-1]
    return f"{w}ing {rest}".strip()


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _also(vps: list[str]) -> str:
    """'also' in the right place: 'also blinks twice', 'is also talking'."""
    first, _, rest = vps[0].partition(" ")
    lead = f"{first} also {rest}" if first in ("is", "are") else f"also {vps[0]}"
    return _join([lead] + vps[1:])


def _count_word(n: int) -> str:
    return _NUM[n] if 0 <= n < len(_NUM) else str(n)


def _plural_noun(noun: str) -> str:
    head, sep, tail = noun.partition(" of ")
    return (head + "s" + sep + tail) if sep else noun + "s"


def _strip_article(s: str) -> str:
    return re.sub(r"^(a|an|the)\s+", "", s.strip(), flags=re.I)


_ADJ_WORDS = {"calm", "torn", "lost", "content", "down", "blue", "keen", "spent", "sore", "tense", "alert",
              "fond", "coy", "smug", "mad", "cross", "meek", "moved", "touched", "fierce", "sad", "proud",
              "glad", "upbeat", "resolute", "blase", "deadpan", "livid", "groggy", "afraid", "aghast",
              "hostile", "timid", "uncertain", "unsure", "eager", "serene", "tranquil", "stubborn", "contrite",
              "averse", "awkward", "stung", "awestruck", "spellbound", "thunderstruck", "horror-struck"}
_NOUN_WORDS = {"fury", "agony", "dismay", "glee", "raspberry", "whistle", "ache", "worry", "envy", "panic"}
_JUNK = {"yuck", "huh", "phew", "razz", "blep", "meh"}
_NOUN_SUFFIXES = ("ment", "ness", "tion", "sion", "ity", "ety", "ainty")
_ADJ_SUFFIXES = ("ed", "ful", "ous", "ive", "ic", "y", "ish", "ent", "ant", "less", "al", "ible", "able",
                 "ing", "en", "ate")
_NOUN_HEADS = {"face", "look", "expression", "smile", "grin", "stare", "gaze", "eyes", "lip", "lips", "frown",
               "brow", "brows", "teeth", "glance", "air", "sigh", "laugh", "laughter", "wink", "kiss", "sneer",
               "pout", "nose", "jaw", "eyelids", "cheeks"}
_BAD_STARTS = {"on", "in", "at", "off", "under", "beyond", "all", "with", "up", "out", "not", "a", "tension",
               "shoulders"}
_BODY = {"eyes", "eye", "brows", "brow", "lips", "lip", "jaw", "head", "chin", "mouth", "nose"}
_BODY_ACTIONS = {"quiver", "wobble", "drop", "wrinkle", "roll", "scrunch", "twitch", "bite", "tilt"}
_VERBISH = {"biting", "baring", "grinding", "clenching", "gritting", "pursing", "sticking", "puffing",
            "blowing", "rolling", "batting", "raising", "making", "holding", "hanging", "swallowing"}
_BAD_INNER = {"in", "on", "at", "with", "to", "around", "and", "off", "the", "that", "a"}
_PARTICLES = {"out", "up", "down", "off", "in", "aback", "guard", "on", "go", "rest", "between", "oneself",
              "done", "blown", "over", "away"}


@lru_cache(maxsize=None)
def _phrase_kind(phrase: str, descriptor: str) -> str | None:
    """'noun' (a slight grin), 'adj' (a slightly surprised look) or None (not usable:
    awkward in both frames, or read by the parser as something else)."""
    if not re.fullmatch(r"[a-z][a-z -]*", phrase) or len(phrase.split()) > 4:
        return None
    words = phrase.split()
    if len(words) == 1:
        w = words[0]
        if w in _JUNK or w.endswith("ly"):
            return None
        kind = "noun" if w in _NOUN_WORDS or w.endswith(_NOUN_SUFFIXES) else \
            "adj" if w in _ADJ_WORDS or w.endswith(_ADJ_SUFFIXES) else "noun"
    elif words[0] in _BODY:                       # "lip quiver" yes, "brows raised" no
        kind = "noun" if len(words) == 2 and words[1] in _BODY_ACTIONS else None
    elif words[0] in _BAD_STARTS or (words[0].endswith("ing") and (
            len(words) > 2 or words[0] in _VERBISH or words[-1] not in _NOUN_HEADS or words[-1].endswith("s"))):
        return None                                 # "glowing smile" yes, "baring teeth" no
    elif words[-1] in _NOUN_HEADS:
        kind = "noun"
    elif (set(words[1:-1]) & _BAD_INNER or words[-1] in _PARTICLES or words[0].endswith("ed")
          or words[-1].endswith(("ed", "ing"))):
        return None
    else:
        kind = "noun"
    if not kind or not reads_as_state(phrase, descriptor=descriptor):
        return None
    if kind == "adj" and not any(reads_as_state(f"{phrase} {h}", descriptor=descriptor) for h in _ADJ_HEADS):
        return None
    return kind


@lru_cache(maxsize=None)
def _reads(phrase: str, descriptor: str | None, family: str | None) -> bool:
    return reads_as_state(phrase, descriptor=descriptor, family=family)


# ---------------------------------------------------------------- one caption's word choices
class _Ctx:
    def __init__(self, labels: dict, rng: np.random.Generator, heldout: bool):
        self.L, self.rng, self.heldout = labels, rng, heldout
        self.picks: list[tuple[bool, bool]] = []      # (picked held-out, slot had held-out)
        core = _strip_article(labels["subject"])
        words = re.findall(r"[a-z]+", core.lower())
        female = any(w in _FEMALE or w.endswith(("woman", "women")) for w in words)
        male = not female and any(w in _MALE or (w.endswith(("man", "men")) and w != "human") for w in words)
        self.plural = not (female or male)
        self.s, self.pos = ("she", "her") if female else ("he", "his") if male else ("they", "their")
        self.core = core
        self.start = {k: labels[k] for k in ("descriptor", "family", "intensity")}
        self.tr = labels["transition"]
        self.fps, self.frames = float(labels["fps"]), int(labels["num_frames"])

    # -- picking
    def pick(self, options, ok: Callable[[str], bool] = lambda s: True, default: str | None = None) -> str:
        """One variant: held-out ones only (where the slot has any) when heldout, else never."""
        train = [o for o in options if not o.startswith("*") and ok(o)]
        held = [o[1:] for o in options if o.startswith("*") and ok(o[1:])]
        pool = held if (self.heldout and held) else train
        if not pool:
            return default
        self.picks.append((pool is held, bool(held)))
        return pool[int(self.rng.integers(len(pool)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    @property
    def S(self) -> str:
        return _cap(self.s)

    def sub(self, form: str) -> str:
        """The subject as 'a young woman' (form 'a'), 'the young woman' or 'young woman' ('')."""
        if self.core == self.L["subject"].strip():      # no article: a name, "someone", ...
            return self.core
        return {"a": f"{_a(self.core)} {self.core}", "the": f"the {self.core}", "": self.core}[form]

    def vp(self, phrase: str, pronoun: bool) -> str:
        return _plural_verb(phrase) if pronoun and self.plural else phrase

    def fill(self, phrase: str, count: int | None) -> str:
        phrase = re.sub(r"\{cnp:([a-z ]+)\}", lambda m: self.count_np(count, m.group(1)), phrase)
        return " ".join(phrase.format(pos=self.pos, count=self.count_adv(count)).split())

    def count_adv(self, n: int | None) -> str:
        if n is None:
            return ""
        if n <= 2:
            return self.pick((("once", "*one time"), ("twice", "*two times"))[n - 1]) if n >= 1 else ""
        return self.pick((f"{_count_word(n)} times", f"*{n} times"))

    def count_np(self, n: int | None, noun: str) -> str:
        if n is None:
            return f"{_a(noun)} {noun}"
        if n == 1:
            return self.pick((f"a single {noun}", f"one {noun}", f"*just one {noun}"))
        return f"{_count_word(n)} {_plural_noun(noun)}"

    # -- the emotion
    def _desc_phrase(self, st) -> tuple[str, str] | None:
        _, syn, held = descriptor_entry(st["descriptor"])
        options = [st["descriptor"].replace("_", " ")] + list(syn) + ["*" + h for h in held]
        p = self.pick(options, lambda p: _phrase_kind(p, st["descriptor"]) is not None)
        return None if p is None else (p, _phrase_kind(p, st["descriptor"]))

    def fam_word(self, st, noun: bool) -> str:
        adjs, nouns = _FAM.get(st["family"], ((st["family"],), (st["family"],)))
        return self.pick(nouns if noun else adjs, lambda w: _reads(w, None, st["family"]), default=st["family"])

    def np(self, st, det: str = "a") -> str:
        """A noun phrase naming the state with its intensity: 'a faint grin'."""
        lvl, got = st["intensity"], self._desc_phrase(st)
        possessive = det not in ("a", "")
        if got is None or self.chance(0.15):                       # family words only
            if not possessive and self.chance(0.5):
                return f"{self.pick(_INT_QUANT[lvl])} {self.fam_word(st, noun=True)}"
            adv = self.pick(_INT_ADV[lvl], lambda w: " " not in w)
            core = f"{adv} {self.fam_word(st, noun=False)} look"
        else:
            phrase, kind = got
            if kind == "noun":
                core = f"{self.pick(_INT_ADJ[lvl])} {phrase}"
                if det == "a" and phrase.endswith("s") and not phrase.endswith("ss"):
                    return core
            else:
                head = self.pick(_ADJ_HEADS, lambda h: _reads(f"{phrase} {h}", st["descriptor"], None))
                core = f"{self.pick(_INT_ADV[lvl], lambda w: ' ' not in w)} {phrase} {head}"
        return core if det == "" else f"{_a(core) if det == 'a' else det} {core}"

    def pred(self, st) -> str:
        """An adjective phrase for 'looks ___': 'slightly happy'."""
        return f"{self.pick(_INT_ADV[st['intensity']])} {self.fam_word(st, noun=False)}"

    def tstate(self):
        return {k: self.tr[k] for k in ("descriptor", "family", "intensity")}

    def timing(self) -> str:
        t, frac = self.tr["frame"] / self.fps, self.tr["frame"] / max(self.frames, 1)
        ts = max(0.5, round(t * 2) / 2)
        whole, half = int(ts), ts % 1 >= 0.5
        words = ("half a second" if whole == 0 else
                 f"{_count_word(whole)} and a half seconds" if half else
                 f"{_count_word(whole)} second{'s' if whole != 1 else ''}")
        seconds = (f"about {words} in", f"after roughly {words}", f"around the {ts:g}-second mark",
                   f"*{ts:g} s into the clip", f"*once {words} {'has' if ts <= 1 else 'have'} passed")
        fracs = (("halfway through", "midway through", "*right in the middle of the clip") if abs(frac - .5) < .07 else
                 ("a third of the way in", "*about a third of the way through") if abs(frac - 1 / 3) < .05 else
                 ("two thirds of the way through", "*about two thirds of the way in") if abs(frac - 2 / 3) < .05 else
                 ("early on", "*almost right away") if frac < .25 else
                 ("near the end", "toward the end", "*late in the clip") if frac > .75 else None)
        return self.pick(fracs if fracs and self.chance(0.5) else seconds)

    def story(self, det: str = "a") -> str:
        """The whole course of the emotion as one noun phrase."""
        a = self.np(self.start, det)
        if not self.tr:
            return a
        return self.pick(_LINK_NP).format(a=a, b=self.np(self.tstate(), "a"), t=self.timing())

    def tr_clause(self) -> str:
        t = self.timing()
        return self.pick(_LINK_CLAUSE).format(T=_cap(t), t=t, pos=self.pos, Pos=_cap(self.pos),
                                              b=self.np(self.tstate(), "a"))

    # -- head, micro-events, talking
    def head_vp(self, pronoun: bool = False) -> str:
        h = self.L["head"]
        vp = self.fill(self.pick(_HEAD_VP[h["motion"]]), h.get("count"))
        tempo = self.L["tempo"]
        if h["motion"] != "still" and tempo in _TEMPO_ADV and self.chance(0.4):
            vp += " " + self.pick(_TEMPO_ADV[tempo])
        return self.vp(vp, pronoun)

    def head_ing(self) -> str:
        return _gerund(self.head_vp())

    def head_np(self) -> str:
        h = self.L["head"]
        return self.fill(self.pick(_HEAD_NP[h["motion"]]), h.get("count"))

    def tempo_items(self) -> list[str]:
        tempo = self.L["tempo"]
        if self.L["head"]["motion"] != "still" and tempo in _TEMPO_NP and self.chance(0.4):
            return [self.pick(_TEMPO_NP[tempo])]
        return []

    def _micro(self) -> list[tuple[str, int]]:
        """Micro-event types in order of first appearance, with how often each occurs."""
        order: dict = {}
        for ev in sorted(self.L["micro"], key=lambda e: e["start"]):
            order[ev["type"]] = order.get(ev["type"], 0) + 1
        return list(order.items())

    def micro_vps(self, pronoun: bool = False, types=None) -> list[str]:
        """Verb phrases of the micro-events (only those of `types`, if given), in time order."""
        return [self.vp(self.fill(self.pick(_MICRO_VP[t]), n if t == "blink" else None), pronoun)
                for t, n in self._micro() if types is None or t in types]

    def extras_vp(self, pronoun: bool = False) -> list[str]:
        talk = [self.vp(self.pick(_TALK_VP), pronoun)] if self.L["talking"] else []
        return self.micro_vps(pronoun) + talk

    def extras_np(self) -> list[str]:
        items = [self.fill(self.pick(_MICRO_NP[t]), n if t == "blink" else None) for t, n in self._micro()]
        return items + ([self.pick(_TALK_NP)] if self.L["talking"] else [])

    def does(self, pronoun: bool) -> str:
        """Head motion and extras as one verb phrase: 'nods twice, blinks once and is talking'."""
        return _join([self.head_vp(pronoun)] + self.extras_vp(pronoun))


# ---------------------------------------------------------------- templates
@dataclass(frozen=True)
class Template:
    id: str
    style: str            # "prompt" or "sentence"
    heldout: bool
    build: Callable[[_Ctx], str]


def _p_list(c: _Ctx) -> str:
    return ", ".join([c.sub(""), c.story(""), c.head_np(), *c.extras_np(), *c.tempo_items()])


def _p_head_first(c: _Ctx) -> str:
    return ", ".join([c.head_np(), c.story(""), *c.extras_np(), *c.tempo_items()]) + "; " + c.sub("")


def _p_with(c: _Ctx) -> str:
    return f"{c.sub('')} with {c.story('a')}, " + ", ".join([c.head_vp(), *c.extras_np()])


def _p_extras_first(c: _Ctx) -> str:
    extras = c.extras_np()
    if extras:
        return ", ".join(extras + [c.story(""), c.head_np(), c.sub("")])
    return ", ".join([c.story(""), c.sub(""), c.head_np(), *c.tempo_items()])


def _s_head_with(c: _Ctx) -> str:
    text = f"{_cap(c.sub('a'))} {c.head_vp()} with {c.story('a')}."
    extras = c.extras_vp(pronoun=True)
    return text + (f" {c.S} {_also(extras)}." if extras else "")


def _s_with_first(c: _Ctx) -> str:
    text = f"With {c.np(c.start, 'a')} on {c.pos} face, {c.sub('the')} {c.does(False)}."
    return text + (" " + c.tr_clause() if c.tr else "")


def _s_in_clip(c: _Ctx) -> str:
    return f"In this clip, {c.sub('a')} shows {c.story('a')}. {c.S} {c.does(True)}."


def _s_gerund_first(c: _Ctx) -> str:
    text = f"{_cap(c.head_ing())}, {c.sub('the')} wears {c.story('a')}"
    extras = c.extras_vp(pronoun=True)
    return text + (f", and {c.s} {_join(extras)}." if extras else ".")


def _s_looks(c: _Ctx) -> str:
    text = f"{_cap(c.sub('the'))} looks {c.pred(c.start)}"
    if c.tr:
        text += f" at first, then becomes {c.pred(c.tstate())} {c.timing()}"
    return text + f"; {c.s} {c.does(True)}."


def _s_while(c: _Ctx) -> str:
    extras = c.extras_vp()
    lead = f"{_join(extras)} while {c.head_ing()}" if extras else f"is {c.head_ing()}"
    return f"{_cap(c.sub('a'))} {lead}, {c.pos} face showing {c.story('a')}."


def _s_plays_across(c: _Ctx) -> str:
    return f"{_cap(c.story('a'))} plays across the face of {c.sub('a')}, who {c.does(False)}."


def _s_starts_out(c: _Ctx) -> str:
    text = f"{_cap(c.sub('the'))} starts out with {c.np(c.start, 'a')}"
    if c.tr:
        text += f", and {c.timing()} {c.pos} face changes to {c.np(c.tstate(), 'a')}"
    else:
        text += ", and it stays put the whole way through"
    return text + f". Meanwhile {c.s} {c.does(True)}."


def _h_semicolons(c: _Ctx) -> str:
    return f"{c.story('')} on {c.sub('a')}; " + "; ".join([c.head_np(), *c.extras_np()])


def _h_plus(c: _Ctx) -> str:
    return f"{c.sub('')}: " + " + ".join([c.head_np(), c.story(""), *c.extras_np()])


def _h_here(c: _Ctx) -> str:
    text = f"Here we see {c.sub('a')}. {c.S} {c.head_vp(True)} while wearing {c.story('a')}"
    extras = c.extras_vp(pronoun=True)
    return text + (f", and {c.s} {_also(extras)}." if extras else ".")


def _h_picture(c: _Ctx) -> str:
    return f"Picture {c.sub('a')} with {c.story('a')} who {c.does(False)}."


def _h_stands_out(c: _Ctx) -> str:
    text = f"What stands out is {c.np(c.start, 'a')} on the face of {c.sub('a')}"
    if c.tr:
        text += ". " + c.tr_clause()[:-1]
    return text + f". {c.S} {c.does(True)}."


def _h_holds(c: _Ctx) -> str:
    text = f"{_cap(c.sub('the'))} holds {c.np(c.start, 'a')}"
    text += f" at first, but {c.timing()} it turns into {c.np(c.tstate(), 'a')}" if c.tr else " all the way through"
    return text + f". {c.S} also {c.does(True)}."


TEMPLATES: dict[str, Template] = {t.id: t for t in (
    Template("p_list", "prompt", False, _p_list),
    Template("p_head_first", "prompt", False, _p_head_first),
    Template("p_with", "prompt", False, _p_with),
    Template("p_extras_first", "prompt", False, _p_extras_first),
    Template("s_head_with", "sentence", False, _s_head_with),
    Template("s_with_first", "sentence", False, _s_with_first),
    Template("s_in_clip", "sentence", False, _s_in_clip),
    Template("s_gerund_first", "sentence", False, _s_gerund_first),
    Template("s_looks", "sentence", False, _s_looks),
    Template("s_while", "sentence", False, _s_while),
    Template("s_plays_across", "sentence", False, _s_plays_across),
    Template("s_starts_out", "sentence", False, _s_starts_out),
    Template("h_semicolons", "prompt", True, _h_semicolons),
    Template("h_plus", "prompt", True, _h_plus),
    Template("h_here", "sentence", True, _h_here),
    Template("h_picture", "sentence", True, _h_picture),
    Template("h_stands_out", "sentence", True, _h_stands_out),
    Template("h_holds", "sentence", True, _h_holds),
)}


def caption_records(labels: dict, rng: np.random.Generator, heldout: bool = False,
                    n_prompts: int = 2, n_sentences: int = 4) -> list[dict]:
    """Captions with their provenance: [{text, template, heldout, picks}], where picks
    lists (held-out variant used, slot had held-out variants) for every word choice."""
    out, seen = [], set()
    for style, n in (("prompt", n_prompts), ("sentence", n_sentences)):
        ids = [t.id for t in TEMPLATES.values() if t.style == style and t.heldout == heldout]
        for k in rng.permutation(len(ids))[:n]:
            t = TEMPLATES[ids[int(k)]]
            for _ in range(4):                       # redraw the words on a (rare) duplicate
                c = _Ctx(labels, rng, heldout)
                text = t.build(c)
                if text not in seen:
                    break
            seen.add(text)
            out.append({"text": text, "template": t.id, "heldout": t.heldout, "picks": c.picks})
    order = rng.permutation(len(out))
    return [out[int(i)] for i in order]


def captions_for(labels: dict, rng: np.random.Generator, heldout: bool = False) -> list[str]:
    """Six captions (two prompts, four sentences) for a clip's labels."""
    return [r["text"] for r in caption_records(labels, rng, heldout)]


# ---------------------------------------------------------------- QA pairs for the captioner
_QUESTIONS = {
    "emotion": ("What emotion does the face show?", "How would you describe {pos} mood?",
                "What expression is on {pos} face?", "Which feeling comes across in this clip?",
                "What is {the} feeling?"),
    "intensity": ("How intense is the expression?", "How strong is the emotion?",
                  "Is the expression subtle or strong?", "How much does {the} show it?"),
    "head": ("What does the head do?", "How does {the} move {pos} head?", "Is there any head movement?",
             "Describe the head motion."),
    "transition": ("When does the expression change?", "Does the emotion change during the clip, and when?",
                   "At what point does {pos} expression shift?", "Is there a change of expression?"),
    "blink": ("Does {the} blink?", "How often does {the} blink?", "Are there any blinks?"),
    "talking": ("Is {the} talking?", "Does {the} speak in this clip?", "Is the mouth moving as if talking?"),
    "micro": ("What small facial actions happen?", "Anything else happening on the face?",
              "Which micro-expressions can you see?"),
    "describe": ("Describe the clip.", "What happens in this clip?", "Write a caption for this animation.",
                 "Describe the facial motion in a sentence or two."),
}


def _answer(c: _Ctx, kind: str, rng: np.random.Generator) -> str:
    L, be = c.L, ("are" if c.plural else "is")
    if kind == "emotion":
        if c.tr:
            return f"{_cap(c.np(c.start, 'a'))} at first, then {c.np(c.tstate(), 'a')} {c.timing()}."
        return f"{c.S} {c.vp('shows', True)} {c.np(c.start, 'a')}."
    if kind == "intensity":
        text = f"{_cap(L['intensity'])}: {c.np(c.start, 'a')}"
        return text + (f", later {c.np(c.tstate(), 'a')}." if c.tr else ".")
    if kind == "head":
        return f"{c.S} {c.head_vp(True)}."
    if kind == "transition":
        if c.tr:
            return f"{_cap(c.timing())}: {c.np(c.start, 'a')} turns into {c.np(c.tstate(), 'a')}."
        return f"It doesn't; {c.np(c.start, c.pos)} holds the whole time."
    if kind == "blink":
        parts = c.micro_vps(True, BLINK_TYPES)
        dont = c.vp("doesn't", True)
        return f"Yes, {c.s} {_join(parts)}." if parts else f"No, {c.s} {dont} blink."
    if kind == "talking":
        return f"Yes, {c.s} {be} talking." if L["talking"] else f"No, {c.s} {be}n't talking."
    if kind == "micro":
        vps = c.micro_vps(True)
        return f"{c.S} {_join(vps)}." if vps else "Nothing beyond the main expression."
    ids = [t.id for t in TEMPLATES.values() if t.style == "sentence" and not t.heldout]
    return TEMPLATES[ids[int(rng.integers(len(ids)))]].build(c)


def qa_pairs(labels: dict, rng: np.random.Generator) -> list[dict]:
    """One question/answer pair per kind: [{q, a, kind}]."""
    out = []
    for kind, questions in _QUESTIONS.items():
        c = _Ctx(labels, rng, heldout=False)
        q = questions[int(rng.integers(len(questions)))].format(pos=c.pos, the=c.sub("the"))
        out.append({"q": q, "a": _answer(c, kind, rng), "kind": kind})
    return out
