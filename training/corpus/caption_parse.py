"""Read the label fields back out of free text: a small lexicon-based parser.

`parse_caption(text)` recovers what a caption says about a face clip: the emotion
(family / descriptor, with candidates when a word is ambiguous), its intensity and
its side ("a smirk on the left side of her mouth", "a left-sided sneer", "winks with
the right eye": left / right, "both" when no side is said), the motion dynamic it is
performed with ("laughing in bursts", "her lower lip trembling", "rolls his eyes",
"a deep breath in and a long sigh out"), the head motion and its count ("glances to
the left and back" is a glance, "tilts her head to the left" a tilt: a head
direction is never the expression's side), micro-events (with blink counts and simple
negation: "no blinking", "doesn't blink"), negated states ("a frown, not a smile",
"not smiling at all": the smile is no state of the clip), whether there is a
transition, its target (with its own intensity and side) and its time, talking,
tempo and the subject phrase. The tests use it to check that every
generated caption states its labels; the Motion2Language metrics reuse it on model
output, so it stands alone: plain lowercase tokens, a crude stemmer, multi-word
phrases and a few windowed rules, no model.

Order matters and is fixed: subject words, times, sides, dynamics, micro-events, head
motion and talking are read first (so "looks down" is a head motion even though
"down" is also a sadness word, and "shaking with laughter" is a dynamic, not a head
shake), then intensity words, then emotion phrases from the lexicon
(training.corpus.lexicon when importable) and FAMILY_WORDS, then cue words and tempo.
Sides are read only in sided constructions ("left" or "right" before a side or face
word, after "on the" or after a word such as "lopsided"), before the head pass, so
"turns to the left" stays a head motion.
"""
from __future__ import annotations

import re
from functools import lru_cache

INTENSITY_PHRASES = {
    "subtle": ("slight", "slightly", "faint", "faintly", "subtle", "subtly", "barely", "barely there", "minimal",
               "a hint of", "hint of", "a trace of", "a flicker of", "a touch of", "tiny",
               "ever so slightly", "the faintest"),
    "mild": ("mild", "mildly", "gentle", "gently", "a little", "a bit", "a bit of", "somewhat",
             "soft", "softly", "small", "a tad", "modest"),
    "moderate": ("moderate", "moderately", "fairly", "noticeable", "noticeably", "clear", "clearly",
                 "distinct", "distinctly", "medium", "definite"),
    "strong": ("strong", "strongly", "very", "really", "deep", "deeply", "big", "pronounced",
               "markedly", "marked", "a lot of", "a lot", "heavily"),
    "extreme": ("extreme", "extremely", "intense", "intensely", "overwhelming", "overwhelmingly",
                "huge", "utterly", "full blown", "exaggerated", "wildly", "sheer", "enormous",
                "over the top", "massive", "immensely", "like crazy", "uncontrollably"),
}
# Words that name a family on their own (the lexicon adds its descriptor names and
# synonyms; where they overlap, a descriptor's own family wins).
FAMILY_WORDS = {
    "joy": ("joy", "joyful", "happy", "happiness", "cheerful", "delight", "glad", "gladness"),
    "sadness": ("sad", "sadness", "sorrow", "sorrowful", "unhappy", "gloom", "gloomy", "glum"),
    "surprise": ("surprise", "surprised", "astonished", "astonishment", "startled", "amazed"),
    "anger": ("anger", "angry", "mad", "fury", "furious", "irate", "ire"),
    "disgust": ("disgust", "disgusted", "revulsion", "repulsed", "revolted", "distaste", "repugnance"),
    "fear": ("fear", "afraid", "scared", "frightened", "fright", "fearful", "fearfulness", "dread"),
    "neutral": ("neutral", "neutrality", "calm", "composed", "composure", "expressionless", "impassive"),
    "contempt": ("contempt", "contemptuous", "disdain", "disdainful", "scorn", "scornful"),
    "confusion": ("confusion", "confused", "puzzled", "puzzlement", "baffled", "bewildered",
                  "bewilderment", "befuddlement", "perplexed"),
    "boredom": ("boredom", "bored", "uninterested", "listless", "tedium"),
    "pain": ("pain", "pained", "agony", "in pain", "anguish", "anguished"),
    "pride": ("pride", "proud", "self satisfied", "triumphant"),
    "shame": ("shame", "ashamed", "disgrace", "guilt", "guilty", "remorse"),
    "embarrassment": ("embarrassment", "embarrassed", "awkward", "awkwardness", "bashful",
                      "sheepish", "sheepishness", "abashed", "flustered"),
    "concentration": ("concentration", "concentrating", "focus", "focused", "absorbed", "absorption",
                      "intent"),
    "relief": ("relief", "relieved", "unburdened"),
    "amusement": ("amusement", "amused", "entertained", "tickled", "mirth"),
    "skepticism": ("skepticism", "skeptical", "sceptical", "doubt", "doubtful", "suspicion",
                   "suspicious", "unconvinced", "distrust"),
    "flirtation": ("flirtation", "flirty", "flirtatious", "flirtatiousness", "coy", "coyness", "kittenish"),
    "determination": ("determination", "determined", "resolve", "resolute", "steely", "grit"),
    "tiredness": ("tiredness", "tired", "sleepy", "weary", "weariness", "fatigue", "drowsy", "bleary"),
    "anxiety": ("anxiety", "anxious", "nervous", "nervousness", "worry", "worried", "uneasy", "unease"),
    "interest": ("interest", "interested", "curious", "curiosity", "intrigued", "inquiring",
                 "inquisitiveness"),
    "tenderness": ("tenderness", "tender", "affection", "affectionate", "warmth", "loving"),
    "disappointment": ("disappointment", "disappointed", "letdown"),
    "awe": ("awe", "awed", "wonder", "awestruck"),
    "playfulness": ("playfulness", "playful", "mischief", "cheekiness", "impish"),
}
# Used only when training.corpus.lexicon is missing or lacks the name.
FALLBACK_DESCRIPTORS = {"grin": "joy", "beam": "joy", "pout": "sadness", "sulk": "sadness",
                        "smirk": "contempt", "sneer": "disgust", "scowl": "anger", "wince": "pain",
                        "squint": "concentration", "gasp": "surprise"}

NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10}
COUNT_ADVERBS = {"once": 1, "twice": 2, "thrice": 3}
COUNT_ADJ = {"single": 1, "double": 2, "triple": 3}
NEGATIONS = {"no", "not", "never", "without", "doesn't", "don't", "isn't", "aren't", "didn't",
             "won't", "nor", "un"}
BOUNDARY = {".", ",", ";", ":", "!", "?", "(", ")", "and", "then", "while", "but", "as", "before",
            "after", "until", "who", "whose", "with", "also", "meanwhile", "plus", "or", "+"}
SUBJECT_NOUNS = {"woman", "man", "girl", "boy", "child", "kid", "person", "teenager", "teen", "lady",
                 "gentleman", "guy", "grandmother", "grandfather", "grandma", "grandpa", "student",
                 "actor", "actress", "mother", "father", "mom", "dad", "adult", "toddler", "someone",
                 "individual", "character", "avatar", "women", "men", "people", "businesswoman",
                 "businessman", "stranger"}
SUBJECT_MODIFIERS = {"a", "an", "the", "this", "that", "young", "old", "older", "elderly", "middle",
                     "aged", "teenage", "little", "small", "tall", "short", "bearded", "bald", "blond",
                     "blonde", "dark", "haired", "red", "grey", "gray", "curly", "freckled", "slim"}
CUES = ("turn into", "turning into", "give way to", "giving way to", "shift into", "shift to",
        "melt into", "change into", "change to", "become", "switch to", "slide into", "replaced by",
        "fade into", "dissolve into", "then", "before", "until", "later", "eventually", "end up",
        "take over", "after that", "afterwards", "into", "from")
TEMPO_WORDS = {"slow": ("slow", "slowly", "unhurried", "unhurriedly", "leisurely", "gradually",
                        "gradual", "lazily"),
               "fast": ("quick", "quickly", "fast", "brisk", "briskly", "rapid", "rapidly", "sudden",
                        "suddenly", "swift", "swiftly", "abrupt", "abruptly")}

# Sides of the expression (the character's own). A side word counts only in a sided
# construction: before one of SIDE_NOUNS, after "on the" / "on her", or after one of SIDE_LEADS
# (skipping SIDE_SKIP words): "lopsided to the left". Otherwise "left" is left to the head.
SIDE_NOUNS = {"side", "sided", "sides", "corner", "corners", "half", "hand", "heavy", "cheek", "brow",
              "brows", "eyebrow", "eyebrows", "eye", "eyes", "eyelid", "lid", "lip", "lips", "nostril",
              "mouth", "leaning", "weighted"}
SIDE_LEADS = {"lopsided", "pulled", "tugged", "hitched", "skewed", "skews", "weighted", "favoring",
              "favouring", "crooked", "slanted", "slanting", "higher", "stronger", "deeper", "lifting",
              "tugging", "pulling", "favors", "favours"}
SIDE_SKIP = {"to", "toward", "towards", "the", "its", "her", "his", "their", "up", "over", "off", "more",
             "a", "bit", "little", "on", "at", "in", "of", "mouth", "corner", "just", "slightly", "side"}
SIDE_PARTS = {"mouth", "lip", "lips", "brow", "brows", "eyebrow", "eyebrows", "eye", "eyes", "face", "eyelid",
              "cheek", "nose", "nostril"}
BOTH_SIDES = {("both", "side"), ("both", "sides"), ("both", "corners"), ("symmetrical",), ("symmetric",),
              ("symmetrically",), ("evenly",)}
# Motion dynamics (labels.DYNAMICS), as phrases; "{pos}" stands for her / his / their / the / a.
# Phrases hold every word that would otherwise read as something else ("deep", "long",
# "shaking", "then", "up"), so they are read before intensity, head and cue words.
DYNAMIC_PHRASES = {
    "laugh_pulses": ("laughs in little bursts", "laughs in short bursts", "laughs in bursts",
                     "laughs in rhythmic bursts", "laughs in pulses", "chuckles in little bursts",
                     "chuckles in short bursts", "chuckles in bursts", "giggles in bursts",
                     "giggles in little bursts", "shakes with laughter", "heaves with laughter",
                     "laughs in staccato bursts", "convulses with laughter", "in little bursts",
                     "in short bursts", "in rhythmic bursts", "in bursts", "in pulses", "in rhythmic pulses",
                     "in staccato bursts", "in fits and starts", "laughter in bursts", "laughter in staccato bursts",
                     "laughter comes in bursts", "bursts of laughter that die down", "pulses of laughter",
                     "rhythmic laughter", "ha ha ha"),
    "lip_tremble": ("lower lip trembling", "lower lip trembles", "lower lip tremble", "trembling lower lip",
                    "{pos} lip trembling", "{pos} lip trembles", "{pos} lips trembling", "trembling lip",
                    "a tremble in {pos} lower lip", "a tremble in {pos} lip", "lip trembling", "lips trembling",
                    "lower lip wavering", "lower lip waver", "lower lip wavers", "wavering lower lip",
                    "a quaver in {pos} lower lip", "lower lip shaking"),
    "eye_roll": ("rolls {pos} eyes", "rolling {pos} eyes", "rolls {pos} eyes up and around",
                 "rolling {pos} eyes up and around", "eyes roll up and around", "eyes rolling up and around",
                 "sweeps {pos} eyes up and around", "eyes sweeping up and around",
                 "roll of {pos} eyes", "eyes travel up and around", "eyes circling up and around"),
    "sigh_breath": ("takes a deep breath in and lets out a long sigh", "takes a deep breath and sighs it out",
                    "breathes in deeply and sighs it out", "draws a big breath and sighs it out",
                    "draws in a deep breath and lets it out in a sigh", "heaves a breath in and sighs it away",
                    "a deep breath in and a long sigh out", "a deep breath in and a sigh out",
                    "a big inhale and a slow sigh out", "a big breath in and a long sigh out",
                    "a heaved breath and a long exhale", "breathing in deeply and sighing it out",
                    "a deep inhale and a long exhale", "deep breath in", "long sigh out", "inhale", "exhale",
                    "breathes in", "breath in", "breathes out", "breath out", "sighs it out"),
}
_POS_WORDS = ("her", "his", "their", "the", "a")
_BOTH_FIRST = {k[0] for k in BOTH_SIDES}
_DARTING = {"dart", "flit", "shifty", "shiftily", "flitting", "flits"}
_RETURN = {"back", "again", "return", "returns", "returning", "returned"}
_RETURN_GAP = {"and", "then", "comes", "come", "coming", "straight", "right", "before", "quickly", "to",
               "center", "centre", "front", "forward", "the"}
NEGATED_STATE_SKIP = {"a", "an", "the", "any", "sign", "signs", "trace", "hint", "bit", "even", "at", "all", "so",
                      "quite", "remotely", "exactly", "much", "of", "too", "really", "very", "single", "one"}

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:\.\d+)?|[.,;:!?()+]")
_DOUBLING = set("bdgmnprt")


def tokenize(text: str) -> list[str]:
    t = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    t = t.replace("->", " then ").replace("\u2192", " then ")
    t = re.sub(r"'s\b", "", t)
    t = re.sub(r"[-_/]", " ", t)
    return _TOKEN.findall(t)


def stem(w: str) -> str:
    """Crude suffix stripping, the same for the tables and the text: nods/nodding -> nod."""
    if len(w) <= 3 or not w.isalpha():
        return w
    for suf in ("ing", "ed", "es", "s"):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            if suf == "s" and w.endswith("ss"):
                return w
            w = w[:-len(suf)]
            if suf in ("ing", "ed") and w[-1] == w[-2] and w[-1] in _DOUBLING:
                w = w[:-1]
            break
    return w[:-1] if w.endswith("e") and len(w) > 3 else w


def _key(phrase: str) -> tuple:
    return tuple(stem(t) for t in tokenize(phrase))


@lru_cache(maxsize=None)
def _stems(*words) -> frozenset:
    """The stems of words; cached, as the scanners ask for the same sets at every token."""
    return frozenset(stem(w) for w in words)


# ---------------------------------------------------------------- the lexicon, if any
def _lexicon():
    try:
        from training.corpus import lexicon
        return lexicon
    except Exception:                      # missing, or mid-edit by its author
        return None


def descriptor_entry(name: str) -> tuple:
    """(family or None, synonyms, heldout_synonyms) for a descriptor name, never raising."""
    lex = _lexicon()
    if lex is not None:
        try:
            d = lex.by_name(name)
            return (getattr(d, "family", None), tuple(getattr(d, "synonyms", ()) or ()),
                    tuple(getattr(d, "heldout_synonyms", ()) or ()))
        except Exception:
            pass
    return FALLBACK_DESCRIPTORS.get(name), (), ()


def lexicon_names() -> list[str]:
    lex = _lexicon()
    items = getattr(lex, "LEXICON", ()) if lex is not None else ()
    names = list(items) if isinstance(items, dict) else [getattr(d, "name", d) for d in items]
    return names + [n for n in FALLBACK_DESCRIPTORS if n not in names]


@lru_cache(maxsize=1)
def _tables() -> tuple:
    """(state table: stem key -> [(name or None, family)], intensity table, cue table, maxlen =
    the longest key of the three, in tokens)."""
    states: dict = {}
    for name in lexicon_names():
        fam, syn, held = descriptor_entry(name)
        for p in (name.replace("_", " "),) + syn + held:
            k = _key(p)
            if k and (name, fam) not in states.get(k, []):
                states.setdefault(k, []).append((name, fam))
    lex = _lexicon()
    extra = getattr(lex, "FAMILIES", ()) if lex is not None else ()
    fam_words = {**{f: (f,) for f in extra}, **FAMILY_WORDS}
    for fam, words in fam_words.items():
        for w in set(words) | {fam}:
            states.setdefault(_key(w), []).append((None, fam))
    ints = {_key(p): lvl for lvl, ps in INTENSITY_PHRASES.items() for p in ps}
    cues = {_key(c): True for c in CUES}
    return states, ints, cues, max(len(k) for t in (states, ints, cues) for k in t)


@lru_cache(maxsize=1)
def _dynamic_table() -> tuple:
    """(stem key -> dynamic, longest key in tokens), "{pos}" expanded."""
    table = {}
    for dyn, phrases in DYNAMIC_PHRASES.items():
        for ph in phrases:
            for pos in (_POS_WORDS if "{pos}" in ph else ("",)):
                table[_key(ph.replace("{pos}", pos))] = dyn
    return table, max(len(k) for k in table)


_LENGTHS: dict = {}


def _lengths_by_first(table: dict) -> dict:
    """{first stem: key lengths, longest first} of a phrase table (kept with the table itself,
    so a rebuilt table never meets a stale index)."""
    got = _LENGTHS.get(id(table))
    if got is None or got[0] is not table:
        index: dict = {}
        for k in table:
            index.setdefault(k[0], set()).add(len(k))
        got = _LENGTHS[id(table)] = (table, {f: sorted(v, reverse=True) for f, v in index.items()})
    return got[1]


# ---------------------------------------------------------------- scanning helpers
class _Scan:
    def __init__(self, text: str):
        self.toks = tokenize(text)
        self.st = [stem(t) for t in self.toks]
        self.used = [None] * len(self.toks)
        self.n = len(self.toks)

    def free(self, i: int) -> bool:
        return 0 <= i < self.n and self.used[i] is None

    def mark(self, idx, tag):
        for i in idx:
            if 0 <= i < self.n:
                self.used[i] = tag

    def window(self, i: int, step: int, k: int):
        """Indices from i+step on, at most k, stopping at clause words and used tokens."""
        j = i + step
        while 0 <= j < self.n and abs(j - i) <= k:
            if self.toks[j] in BOUNDARY or self.used[j] not in (None, "mod"):
                return
            yield j
            j += step

    def phrases(self, table: dict, tag: str, maxlen: int, skip=lambda i: False) -> list:
        """Longest-first phrase matches over free tokens, keys of at most maxlen tokens: [(start, end, value)];
        no match starts at a token where skip(i)."""
        out, i = [], 0
        lengths = _lengths_by_first(table)
        while i < self.n:
            for L in (() if skip(i) else lengths.get(self.st[i], ())):
                if L > maxlen or i + L > self.n:
                    continue
                key = tuple(self.st[i:i + L])
                if key in table and all(u is None for u in self.used[i:i + L]):
                    out.append((i, i + L, table[key]))
                    self.mark(range(i, i + L), tag)
                    i += L
                    break
            else:
                i += 1
        return out

    def number(self, j: int):
        t = self.toks[j] if 0 <= j < self.n else ""
        if t[:1].isdigit() and re.fullmatch(r"\d+(\.\d+)?", t):
            return float(t)
        return NUMBER_WORDS.get(t)

    def count_after(self, i: int):
        for j in self.window(i, 1, 4):
            t = self.toks[j]
            if t in COUNT_ADVERBS:
                self.mark([j], "count")
                return COUNT_ADVERBS[t]
            if self.number(j) is not None and j + 1 < self.n and self.st[j + 1] == "tim":
                self.mark([j, j + 1], "count")
                return int(self.number(j))
        return None

    def count_before(self, i: int):
        for j in self.window(i, -1, 3):
            t = self.toks[j]
            if t in COUNT_ADJ or (self.number(j) is not None and float(self.number(j)).is_integer()):
                self.mark([j], "count")
                return COUNT_ADJ.get(t) or int(self.number(j))
        return None

    def negated(self, i: int) -> bool:
        return any(self.toks[j] in NEGATIONS for j in self.window(i, -1, 3))

    def near(self, i: int, stems: set, k: int = 3, both: bool = True):
        for step in ((1, -1) if both else (1,)):
            for j in self.window(i, step, k):
                if self.st[j] in stems or self.toks[j] in stems:
                    return j
        return None


# ---------------------------------------------------------------- the passes
def _subject(sc: _Scan, subject: str | None):
    found = None
    if subject:
        key = [stem(t) for t in tokenize(subject)]
        for i in range(sc.n - len(key) + 1):
            if key and sc.st[i:i + len(key)] == key:
                sc.mark(range(i, i + len(key)), "subject")
                found = found or " ".join(sc.toks[i:i + len(key)])
    for i, t in enumerate(sc.toks):
        if t in SUBJECT_NOUNS and sc.free(i):
            j = i
            while j - 1 >= 0 and sc.toks[j - 1] in SUBJECT_MODIFIERS and sc.free(j - 1):
                j -= 1
            sc.mark(range(j, i + 1), "subject")
            found = found or " ".join(sc.toks[j:i + 1])
    return found


_FRACTIONS = {("halfway",): .5, ("midway",): .5, ("half", "way"): .5, ("right", "in", "the", "middle"): .5,
              ("the", "middle"): .5,
              ("early",): .15, ("right", "away"): .15, ("almost", "immediately"): .15,
              ("late",): .85, ("the", "end"): .85, ("the", "finish"): .85}


_FRACTION_FIRST = {k[0] for k in _FRACTIONS}


def _times(sc: _Scan):
    secs = frac = None
    i = 0
    while i < sc.n:
        t, v = sc.toks[i], sc.number(i)
        if t == "a" and i + 1 < sc.n and sc.st[i + 1] == "second":
            v = 1.0
        if t == "half" and sc.toks[i + 1:i + 3] == ["a", "second"]:
            sc.mark(range(i, i + 3), "time")
            secs = secs if secs is not None else 0.5
            i += 3
            continue
        if v is not None:
            j = i + 1
            if sc.toks[j:j + 3] == ["and", "a", "half"]:
                v, j = v + 0.5, j + 3
            unit = sc.toks[j] if j < sc.n else ""
            if stem(unit) in ("second", "sec") or (unit == "s" and sc.toks[i][0].isdigit()):
                if sc.toks[j + 1:j + 4] == ["and", "a", "half"]:
                    v, j = v + 0.5, j + 3
                if sc.toks[j + 1:j + 2] in (["mark"], ["point"]):
                    j += 1
                sc.mark(range(i, j + 1), "time")
                secs = secs if secs is not None else float(v)
                i = j + 1
                continue
            if stem(unit) in ("third", "quarter"):
                whole = {"third": 3, "quarter": 4}[stem(unit)]
                val = (v if t != "a" else 1) / whole
                sc.mark(range(i, j + 1), "time")
                frac = frac if frac is not None else val
                i = j + 1
                continue
        if t == "a" and i + 1 < sc.n and stem(sc.toks[i + 1]) in ("third", "quarter"):
            sc.mark([i, i + 1], "time")
            frac = frac if frac is not None else (1 / 3 if stem(sc.toks[i + 1]) == "third" else .25)
            i += 2
            continue
        for key, val in (_FRACTIONS.items() if t in _FRACTION_FIRST else ()):
            if tuple(sc.toks[i:i + len(key)]) == key and all(sc.free(k) for k in range(i, i + len(key))):
                sc.mark(range(i, i + len(key)), "time")
                frac = frac if frac is not None else val
                i += len(key) - 1
                break
        i += 1
    return secs, frac


def _sides(sc: _Scan) -> list:
    """Sided constructions: [(start, end, side)], side one of left / right / both."""
    out = []
    for i, t in enumerate(sc.toks):
        if not sc.free(i):
            continue
        if t in ("left", "right"):
            claim = None
            nxt = sc.toks[i + 1] if i + 1 < sc.n else ""
            if nxt in SIDE_NOUNS and sc.free(i + 1):
                claim = [i, i + 1]
                # "the left side of her mouth": the face part goes with it (no brow flash, no closed eyes)
                if nxt in ("side", "corner", "half") and sc.toks[i + 2:i + 3] == ["of"]:
                    k = i + 3 + (sc.toks[i + 3] in _POS_WORDS if i + 3 < sc.n else 0)
                    if k < sc.n and sc.toks[k] in SIDE_PARTS and sc.free(k):
                        claim += list(range(i + 2, k + 1))
            else:
                j, back = i - 1, []
                while j >= 0 and sc.free(j) and sc.toks[j] in _POS_WORDS + ("to", "toward", "towards"):
                    back.append(j)
                    j -= 1
                if j >= 0 and sc.toks[j] == "on" and sc.free(j) and back:
                    claim = [j, *back, i]                 # "on the left", "on her right"
                else:
                    j, steps = i - 1, 0
                    while j >= 0 and steps < 4 and sc.free(j) and sc.toks[j] in SIDE_SKIP:
                        j, steps = j - 1, steps + 1
                    if j >= 0 and sc.free(j) and sc.toks[j] in SIDE_LEADS:
                        claim = list(range(j + 1, i + 1))
            if claim:
                sc.mark(claim, "side")
                out.append((min(claim), max(claim) + 1, t))
            continue
        for key in (BOTH_SIDES if t in _BOTH_FIRST else ()):
            if tuple(sc.toks[i:i + len(key)]) == key and all(sc.free(k) for k in range(i, i + len(key))):
                sc.mark(range(i, i + len(key)), "side")
                out.append((i, i + len(key), "both"))
                break
    return out


_LAUGH_VERBS = _stems("laugh", "chuckle", "giggle")


def _dynamics(sc: _Scan) -> list:
    """Motion dynamics in text order: [(start, end, dynamic)]. A phrase led by a laugh verb
    ("laughs in bursts") takes the verb with it, but not a noun ("a big laugh in bursts":
    the laugh stays the state, "in bursts" is the dynamic)."""
    table, maxlen = _dynamic_table()
    ints = _tables()[1]

    def noun_use(i):
        return sc.st[i] in _LAUGH_VERBS and i > 0 and (
            sc.toks[i - 1] in ("a", "an", "the", "her", "his", "their") or (sc.st[i - 1],) in ints)
    return sc.phrases(table, "dyn", maxlen, skip=noun_use)


_BURST = _stems("rapid", "rapidly", "flurry", "burst", "quick", "quickly", "fast", "flutter",
                "series", "string", "barrage")
_SLOW = _stems("slow", "slowly", "lazy", "lazily", "long", "languid", "drawn")


def _micro(sc: _Scan):
    found, counts, neg = [], {}, []

    def hit(kind, i, partners=()):
        sc.mark([i, *partners], "micro")
        negated = sc.negated(i)
        (neg if negated else found).append(kind)
        return not negated

    for i, s in enumerate(sc.st):
        if not sc.free(i):
            continue
        t = sc.toks[i]
        if s == "blink" or t == "unblinking":
            if t == "unblinking":
                sc.mark([i], "micro")
                neg.append("blink")
                continue
            mod = [j for j in list(sc.window(i, -1, 3)) + list(sc.window(i, 1, 3))
                   if sc.st[j] in _BURST | _SLOW]
            kind = "blink"
            if mod:
                kind = "blink_burst" if sc.st[mod[0]] in _BURST else "slow_blink"
                sc.mark(mod, "mod")
            if hit(kind, i) and kind == "blink":
                n = sc.count_after(i) or sc.count_before(i)
                if n:
                    counts["blink"] = counts.get("blink", 0) + n
        elif s == "flutter":
            hit("blink_burst", i)
        elif s in ("eye", "eyelid", "lid"):
            j = sc.near(i, _stems("close", "closed", "shut"), 2)
            if j is not None:
                hit("eyes_closed", i, [j])
        elif s in _stems("brow", "brows", "eyebrow", "eyebrows"):
            j = sc.near(i, _stems("flash", "flashes", "flashing", "flick", "pop", "pops", "raise", "lift", "jump",
                                  "bounce"), 3)
            if j is not None:
                hit("brow_flash", i, [j])
        elif s == "twitch":
            hit("lip_twitch", i)
        elif s == "lip":
            j = sc.near(i, _stems("press", "pressed", "squeeze", "tighten", "clamp"), 3)
            if j is not None:
                hit("lip_press", i, [j])
        elif s == "puff" or (s == "cheek" and sc.near(i, _stems("blow", "blown", "puffed"), 3) is not None):
            hit("cheek_puff", i)
        elif s == "tongu":
            hit("tongue_out", i, [j for j in sc.window(i, 1, 2) if sc.toks[j] == "out"])
        elif s == "yawn":
            hit("yawn", i)
        elif s in _DARTING or t in _DARTING:
            hit("darting_eyes", i, [j for j in sc.window(i, 1, 2) if sc.st[j] in ("eye", "around", "about")])
    return found, counts, neg


_DIR = {"left": "left", "right": "right", "leftward": "left", "rightward": "right", "leftwards": "left",
        "rightwards": "right", "up": "up", "upward": "up", "upwards": "up",
        "down": "down", "downward": "down", "downwards": "down", "back": "back", "backward": "back",
        "backwards": "back", "away": "back", "in": "in", "forward": "in", "forwards": "in",
        "closer": "in", "toward": "in"}


def _head(sc: _Scan):
    found = []  # [(motion, count)]

    def direction(i, k=5):                  # "tilts her head to the left", not "look ... a down look"
        for j in sc.window(i, 1, k):
            if sc.toks[j] in ("a", "an", "into"):
                break
            if sc.toks[j] in _DIR:
                return j, _DIR[sc.toks[j]]
        return None, None

    def returns(j):                          # "... left and back", "... left and then back again"
        idx = []
        for k in range(j + 1, min(j + 6, sc.n)):
            if not sc.free(k):
                return []
            idx.append(k)
            if sc.toks[k] in _RETURN or sc.st[k] in ("return",):
                while k + 1 < sc.n and sc.free(k + 1) and sc.toks[k + 1] in ("again", "to", "center", "centre"):
                    k += 1
                    idx.append(k)
                return idx
            if sc.toks[k] not in _RETURN_GAP:
                return []
        return []

    for i, s in enumerate(sc.st):
        if not sc.free(i):
            continue
        t, motion, partners = sc.toks[i], None, []
        if s in ("nod", "bob") or s == "shak":
            motion = "nod" if s in ("nod", "bob") else "shake"
            sc.mark([i], "head")
            if sc.negated(i):                   # "no nodding", "doesn't shake her head"
                continue
            n = sc.count_after(i)
            found.append((motion, n if n is not None else sc.count_before(i)))
            continue
        if s in _stems("tilt", "cock", "tip", "angle", "turn", "swivel", "swing", "look", "gaze", "glance", "peer",
                       "peek", "flick", "shoot"):
            j, d = direction(i)
            if d is not None:
                back = returns(j) if d in ("left", "right") else []
                if back or (s in _stems("glance", "peek") and d in ("left", "right")):
                    motion, partners = f"glance_{d}", [j, *back]     # there and back again
                elif s in _stems("turn", "swivel", "swing"):
                    motion = {"left": "turn_left", "right": "turn_right"}.get(d)
                elif s in _stems("look", "gaze", "glance", "peer", "peek"):
                    motion = {"left": "turn_left", "right": "turn_right", "up": "look_up",
                              "down": "look_down"}.get(d)
                elif s in _stems("flick", "shoot"):
                    motion = None
                else:
                    motion = {"left": "tilt_left", "right": "tilt_right", "up": "look_up",
                              "down": "look_down", "back": "look_up"}.get(d)
                partners = partners or [j]
        elif s in _stems("lift", "raise") and sc.near(i, {"chin", "head"}, 3, both=False) is not None:
            motion = "look_up"
        elif s in _stems("lower", "drop", "bow", "hang", "cast", "duck"):
            if sc.near(i, _stems("head", "gaze", "eyes", "chin"), 3) is not None:
                motion = "look_down"           # "casts her eyes down": the "down" goes with it
                partners = [j for j in sc.window(i, 1, 4) if sc.toks[j] in ("down", "downward", "downwards")][:1]
        elif t in ("chin", "head") and i + 1 < sc.n and sc.toks[i + 1] in ("up", "down"):
            motion, partners = ("look_up" if sc.toks[i + 1] == "up" else "look_down"), [i + 1]
        elif t in ("chin", "head") and i + 1 < sc.n and sc.toks[i + 1] in ("lifted", "raised", "up"):
            motion, partners = "look_up", [i + 1]
        elif s in ("lean", "pull", "draw", "mov"):
            j, d = direction(i, 3)
            if s == "lean" and d in ("in", "back"):
                motion = "lean_in" if d == "in" else "lean_back"
            elif s in ("pull", "draw") and d == "back":
                motion = "lean_back"
            elif s == "mov" and d == "in":
                motion = "lean_in"
            elif s == "mov" and sc.negated(i):
                motion = "still"
            partners = [j] if motion and j is not None else []
        elif s in ("sway", "rock", "drift"):
            motion = "sway"
        elif t in ("motionless", "unmoving", "stationary") or (s == "movement" and sc.negated(i)):
            motion = "still"
        elif t in ("still", "steady") and sc.near(i, _stems("head", "hold", "keep", "stay", "remain", "sit",
                                                             "perfectly", "completely"), 3) is not None:
            motion = "still"
        if motion:
            sc.mark([i, *partners], "head")
            found.append((motion, None))
    return found


def _talking(sc: _Scan):
    said = None
    for i, s in enumerate(sc.st):
        if not sc.free(i):
            continue
        t = sc.toks[i]
        if t in ("silent", "silently", "wordless", "wordlessly", "mute"):
            sc.mark([i], "talk")
            said = said or False
        elif s == "say" and i + 1 < sc.n and sc.toks[i + 1] == "nothing":
            sc.mark([i, i + 1], "talk")
            said = said or False
        elif s in _stems("talk", "speak", "chat", "conversation", "mutter", "mumble", "chatter",
                         "speech", "sentence", "say") or (t == "mouthing"):
            sc.mark([i], "talk")
            said = said or (not sc.negated(i))
    return said


# ---------------------------------------------------------------- states and the result
def _state_negated(sc: _Scan, a: int) -> bool:
    """An emotion phrase at token a is denied: "not smiling", "no trace of a smile", "rather than a grin"."""
    j, steps = a - 1, 0
    while j >= 0 and steps < 6:
        t = sc.toks[j]
        prev = sc.toks[j - 1] if j > 0 else ""
        if t in NEGATIONS or t == "nothing" or (t, prev) in (("than", "rather"), ("of", "instead"),
                                                              ("but", "anything"), ("from", "far")):
            return True
        if sc.used[j] == "int" or t in NEGATED_STATE_SKIP:
            j, steps = j - 1, steps + 1
            continue
        return False
    return False


def _groups(sc: _Scan, spans: list, cue_table: dict) -> list:
    """Merge emotion phrases that sit together ("smug, sly grin") into states; a denied
    phrase ("not a smile") is a group of its own, flagged negated."""
    groups = []
    for a, b, vals in spans:
        neg = _state_negated(sc, a)
        if groups:
            g = groups[-1]
            gap = range(g["end"], a)
            gap_ok = len(gap) <= 2 and g["negated"] == neg and not any(
                sc.toks[k] in (".", ";", ":") or sc.used[k] == "time" or (sc.st[k],) in cue_table
                or sc.toks[k] in NEGATIONS for k in gap)
            if gap_ok:
                g["end"], g["vals"] = b, g["vals"] + vals
                continue
        groups.append({"start": a, "end": b, "vals": list(vals), "negated": neg})
    for g in groups:
        names = [n for n, _ in g["vals"] if n is not None]
        fams = [f for n, f in g["vals"] if n is not None] or [f for _, f in g["vals"]]
        g["descriptors"] = list(dict.fromkeys(names))
        g["descriptor"] = names[0] if names else None
        g["family"] = fams[0] if fams else None
        g["families"] = list(dict.fromkeys(f for _, f in g["vals"] if f))
        g["intensity"] = None
        g["side"] = None
        g["dynamic"] = None
    return groups


def _state_out(g) -> dict:
    out = {k: g[k] for k in ("family", "descriptor", "descriptors", "families", "intensity", "dynamic")}
    out["side"] = g["side"] or "both"
    return out


def _nearest(sc: _Scan, groups: list, a: int, b: int, punct_cost: float = 0.0):
    """Index of the group nearest to the span [a, b) (one after it is a little nearer than one
    before it at the same gap); punct_cost is added per clause mark in between."""
    best = None
    for k, g in enumerate(groups):
        gap = range(b, g["start"]) if b <= g["start"] else range(g["end"], a)
        d = sum(sc.used[x] not in ("side", "dyn") for x in gap) + (0.0 if b <= g["start"] else 0.5)
        d += punct_cost * sum(sc.toks[x] in (",", ";", ".", ":", "!", "?") for x in gap)
        if best is None or d < best[0]:
            best = (d, k)
    return None if best is None else best[1]


def parse_caption(text: str, subject: str | None = None) -> dict:
    """Parse one caption (or any free text); `subject` masks that exact phrase first.

    Returns a dict: family / descriptor / descriptors / intensity / side / dynamic of the first
    emotion phrase (side "both" and dynamic None when the text says none), families (all),
    states (each emotion phrase: family, descriptor(s), intensity, side, dynamic), negated_states
    (phrases the text denies: "not a smile"), dynamics (every one said), head {motion, count} and
    head_motions, micro (event types), micro_counts (blinks), negated (denied event types),
    transition (bool), transition_to (the last state, with its own intensity, side and dynamic),
    transition_time_s, transition_frac, talking (True / False / None), tempo and subject."""
    states_t, ints_t, cues_t, maxlen = _tables()
    sc = _Scan(text)
    subj = _subject(sc, subject)
    secs, frac = _times(sc)
    sides = _sides(sc)
    dynamics = _dynamics(sc)
    micro, counts, neg = _micro(sc)
    heads = _head(sc)
    talking = _talking(sc)
    ints = sc.phrases(ints_t, "int", maxlen)
    every = _groups(sc, sc.phrases(states_t, "state", maxlen), cues_t)
    for a, b, lvl in ints:                      # each intensity word to its nearest state
        k = _nearest(sc, every, a, b)
        if k is not None:
            every[k]["intensity"] = every[k]["intensity"] or lvl
    for a, b, side in sides:                    # a side before a state names it ("a left-sided smirk"),
        j = b                                   # else the state it follows ("a smirk on the left side")
        while j < sc.n and (sc.used[j] == "int" or sc.toks[j] in (",", ":", "a", "an", "the") + _POS_WORDS):
            j += 1
        g = next((g for g in every if g["start"] == j), None)
        if g is None:
            before = [g for g in every if g["end"] <= a]
            k = None if before else _nearest(sc, every, a, b, punct_cost=3.0)
            g = before[-1] if before else (every[k] if k is not None else None)
        if g is not None:
            g["side"] = g["side"] or side
    groups = [g for g in every if not g["negated"]]
    for a, b, dyn in dynamics:                  # each dynamic to the state it follows (else the first after it)
        before = [g for g in groups if g["end"] <= a]
        g = before[-1] if before else next((g for g in groups if g["start"] >= b), None)
        if g is not None:
            g["dynamic"] = g["dynamic"] or dyn
    cue = bool(sc.phrases(cues_t, "cue", maxlen))
    tempo = None
    for lvl, words in TEMPO_WORDS.items():
        if any(sc.free(i) and sc.toks[i] in words for i in range(sc.n)):
            tempo = tempo or lvl
    transition = len(groups) >= 2 and (cue or secs is not None or frac is not None)
    first = groups[0] if groups else None
    head_motion, head_count = heads[0] if heads else (None, None)
    return {
        "family": first["family"] if first else None,
        "descriptor": first["descriptor"] if first else None,
        "descriptors": first["descriptors"] if first else [],
        "families": list(dict.fromkeys(f for g in groups for f in g["families"])),
        "intensity": first["intensity"] if first else (ints[0][2] if ints else None),
        "side": (first["side"] or "both") if first else "both",
        "dynamic": first["dynamic"] if first else (dynamics[0][2] if dynamics else None),
        "dynamics": list(dict.fromkeys(d for _, _, d in dynamics)),
        "states": [_state_out(g) for g in groups],
        "negated_states": [_state_out(g) for g in every if g["negated"]],
        "head": {"motion": head_motion, "count": head_count},
        "head_motions": [m for m, _ in heads],
        "micro": sorted(set(micro)),
        "micro_counts": counts,
        "negated": sorted(set(neg) - set(micro)),
        "transition": transition,
        "transition_to": _state_out(groups[-1]) if transition else None,
        "transition_time_s": secs,
        "transition_frac": frac,
        "talking": talking,
        "tempo": tempo,
        "subject": subj,
    }


def reads_as_state(phrase: str, descriptor: str | None = None, family: str | None = None) -> bool:
    """True when `phrase` alone reads as one emotion state (of that descriptor, else of
    that family) and as nothing else: what a caption generator may safely use."""
    r = parse_caption(phrase)
    if (r["head"]["motion"] or r["micro"] or r["negated"] or r["talking"] is not None
            or r["intensity"] or r["tempo"] or r["subject"] or len(r["states"]) != 1
            or r["side"] != "both" or r["dynamics"] or r["negated_states"]
            or r["transition_time_s"] is not None or r["transition_frac"] is not None):
        return False
    if descriptor is not None:
        return r["descriptor"] == descriptor
    return r["family"] == family
