"""The corpus lexicon: ~230 emotion / facial-action descriptors as FACS recipes.

Each descriptor is written in FACS action units (AUs, Ekman & Friesen) and
translated to the ARKit expression channels of our default head through one
AU -> channel map (`AU_CHANNELS`), so that every recipe is principled and a
fix to the map fixes every face that uses that AU. Recipes are given at the
apex of a *strong* expression; `training.corpus.motion` scales them per intensity.

Notation of a recipe string: space-separated `AU:weight` items, e.g.
`"6:.8 12:1 25:.6"` (cheek raiser, lip corner puller, lips part). `12R:.7`
means the character's own right side only (the ARKit `...Right` channel);
asymmetric faces (smirk, contempt, one-sided sneer, wink) use such sided AUs.
Jaw opening (AU25/26/27) is the jaw joint, not a channel: it becomes
`Descriptor.jaw` in radians (0.36 rad is about ARKit jawOpen 1.0).

Sides (corpus v2): an asymmetric recipe is written on one side, its *native side*
(`Descriptor.side`, from `native_side`: the side that carries more of the recipe's
one-sided weight); the corpus performs it on either side, the other one being its
exact mirror image (training/corpus/mirror.py `on_side`). A symmetric descriptor's
side is "both". `sided_regions` says which side each part of the face (mouth, brow,
eye) is on, for recipes that mix sides (a raised left brow with a right dimple).

Families carry the defaults of valence/arousal, the typical gaze and head
tendency (shame looks down, pride lifts the chin, confusion tilts) and the
*recruitment* that an extreme intensity adds (e.g. a laugh opens the jaw and
squints the eyes). A descriptor may override any of them.

Joint conventions (FLAME frame, radians): head=(pitch, yaw, roll) of the neck,
+pitch = chin down, +yaw = turn to the character's left, +roll = right ear
towards the right shoulder (so a tilt to the left is a negative roll);
gaze=(pitch, yaw) of both eyes, +pitch = look down, +yaw = look to the
character's left.
"""
from __future__ import annotations

from dataclasses import dataclass

# -- FACS action units -> ARKit channels ---------------------------------------
# "{S}" is Left/Right; an AU with a {S} channel can be written sided (12L).
# Gains < 1 are secondary shapes the AU drags along.
AU_CHANNELS: dict[int, tuple[tuple[str, float], ...]] = {
    1: (("browInnerUp", 1.0),),                        # inner brow raiser
    2: (("browOuterUp{S}", 1.0),),                     # outer brow raiser
    4: (("browDown{S}", 1.0),),                        # brow lowerer
    5: (("eyeWide{S}", 1.0),),                         # upper lid raiser
    6: (("cheekSquint{S}", 1.0),),                     # cheek raiser
    7: (("eyeSquint{S}", 1.0),),                       # lid tightener
    9: (("noseSneer{S}", 1.0), ("mouthUpperUp{S}", 0.2)),   # nose wrinkler lifts the lip a little
    10: (("mouthUpperUp{S}", 1.0),),                   # upper lip raiser
    12: (("mouthSmile{S}", 1.0),),                     # lip corner puller
    14: (("mouthDimple{S}", 1.0),),                    # dimpler
    15: (("mouthFrown{S}", 1.0),),                     # lip corner depressor
    16: (("mouthLowerDown{S}", 1.0),),                 # lower lip depressor
    17: (("mouthShrugLower", 1.0), ("mouthShrugUpper", 0.35)),  # chin raiser pushes both lips up
    18: (("mouthPucker", 1.0),),                       # lip pucker
    19: (("tongueOut", 1.0),),                         # tongue show
    20: (("mouthStretch{S}", 1.0),),                   # lip stretcher
    22: (("mouthFunnel", 1.0),),                       # lip funneler
    23: (("mouthPress{S}", 0.6), ("mouthRollUpper", 0.15)),  # lip tightener
    24: (("mouthPress{S}", 1.0),),                     # lip pressor
    25: (("mouthLowerDown{S}", 0.35),),                # lips part (+ a little jaw, see AU_JAW)
    28: (("mouthRollLower", 1.0), ("mouthRollUpper", 0.8)),  # lip suck
    29: (("jawForward", 1.0),),                        # jaw thrust
    30: (("mouth{S}", 1.0),),                          # jaw/mouth sideways (mouthLeft/mouthRight)
    32: (("mouthRollLower", 0.8), ("mouthPress{S}", 0.3)),  # lip bite
    34: (("cheekPuff", 1.0),),                         # puff
    43: (("eyeBlink{S}", 1.0),),                       # eyes closed / lids drooping
    46: (("eyeBlink{S}", 1.0),),                       # wink (write it sided: 46L)
}
# Jaw-opening AUs are the jaw joint: radians per unit weight.
AU_JAW = {25: 0.03, 26: 0.2, 27: 0.38}
JAW_MAX = 0.45          # a recipe never asks for more than this (motion clamps at 0.5)


@dataclass(frozen=True)
class Descriptor:
    name: str
    family: str
    recipe: dict                      # channel -> weight at the apex of a 'strong' expression
    valence: float                    # -1 unpleasant .. +1 pleasant
    arousal: float                    # -1 calm .. +1 excited
    gaze: tuple | None = None         # (pitch, yaw) radians, eyes' typical direction
    head: tuple | None = None         # (pitch, yaw, roll) radians, the neck's typical pose
    jaw: float = 0.0                  # radians of jaw opening at apex
    asymmetric: bool = False          # a sided channel without its mirror (smirk, wink)
    synonyms: tuple = ()              # everyday words for it, used in training captions
    heldout_synonyms: tuple = ()      # words kept out of training captions (test only)
    side: str = "both"                # native side of the recipe: "left"/"right" if asymmetric, else "both"


@dataclass(frozen=True)
class Family:
    name: str
    valence: float
    arousal: float
    gaze: tuple | None
    head: tuple | None
    recruit: dict                     # channel -> weight added at 'extreme'
    recruit_jaw: float                # radians added at 'extreme'


def parse_aus(spec: str) -> tuple[dict, float]:
    """'6:.8 12R:1 26:.5' -> ({channel: weight}, jaw radians). Weights add, then clip to 1."""
    channels: dict[str, float] = {}
    jaw = 0.0
    for item in spec.split():
        au, _, weight = item.partition(":")
        side = au[-1] if au[-1] in "LR" else None
        num = int(au[:-1] if side else au)
        w = float(weight)
        if num not in AU_CHANNELS and num not in AU_JAW:
            raise ValueError(f"recipe item {item!r}: AU{num} has no ARKit mapping; see AU_CHANNELS")
        jaw += AU_JAW.get(num, 0.0) * w
        for template, gain in AU_CHANNELS.get(num, ()):
            if "{S}" not in template:
                if side:
                    raise ValueError(f"recipe item {item!r}: {template} has no left/right channel; drop the side")
                names = [template]
            else:
                sides = [{"L": "Left", "R": "Right"}[side]] if side else ["Left", "Right"]
                names = [template.replace("{S}", s) for s in sides]
            for n in names:
                channels[n] = min(1.0, channels.get(n, 0.0) + gain * w)
    return channels, min(jaw, JAW_MAX)


def _is_asymmetric(recipe: dict) -> bool:
    for name, w in recipe.items():
        for a, b in (("Left", "Right"), ("Right", "Left")):
            if name.endswith(a) and abs(recipe.get(name[: -len(a)] + b, 0.0) - w) > 1e-6:
                return True
    # mouthLeft / mouthRight pull the whole mouth to one side: one without the other is lopsided.
    return ("mouthLeft" in recipe) != ("mouthRight" in recipe)


_SIDE_OF = (("Left", "left"), ("Right", "right"))
# Face regions by channel prefix, for `sided_regions` (a sided channel is in exactly one).
_REGIONS = (("brow", ("brow",)), ("eye", ("eye",)), ("mouth", ("mouth", "cheek", "nose")))


def _one_sided(recipe: dict) -> dict:
    """{channel: weight it has beyond its twin} for the sided channels that outweigh their twin."""
    out = {}
    for name, w in recipe.items():
        for a, b in (("Left", "Right"), ("Right", "Left")):
            if name.endswith(a):
                extra = w - recipe.get(name[: -len(a)] + b, 0.0)
                if extra > 1e-6:
                    out[name] = extra
    return out


def _side_of(weights: dict, what: str | None) -> str:
    # what=None: a tie is "both" (a region of a mixed recipe); else a tie is an error.
    total = {side: sum(w for n, w in weights.items() if n.endswith(suffix)) for suffix, side in _SIDE_OF}
    if abs(total["left"] - total["right"]) <= 1e-6:
        if total["left"] == 0.0 or what is None:
            return "both"
        raise ValueError(f"{what}: its left and right one-sided weights tie ({total['left']:.3f}); "
                         "make one side stronger so that the recipe has a native side")
    return "left" if total["left"] > total["right"] else "right"


def native_side(descriptor) -> str:
    """The side an asymmetric recipe is written on: "left" or "right", whichever carries more
    of the recipe's one-sided weight (a channel's weight beyond its twin's; mouthLeft, the
    whole mouth pulled to the left, counts as left); "both" for a symmetric recipe.
    Takes a Descriptor, a descriptor name or a {channel: weight} recipe."""
    if isinstance(descriptor, str):
        descriptor = by_name(descriptor)
    recipe = descriptor if isinstance(descriptor, dict) else descriptor.recipe
    return _side_of(_one_sided(recipe), getattr(descriptor, "name", "recipe"))


def sided_regions(descriptor, side: str | None = None) -> dict:
    """{region: side} for the face regions ("brow", "eye", "mouth") where the descriptor is
    one-sided, as performed on `side` (None: its native side), e.g. skeptical ->
    {"brow": "left", "mouth": "right"} (a raised left brow, a right dimple). Empty for a
    symmetric descriptor. For captions that name a part ("his left brow")."""
    d = by_name(descriptor) if isinstance(descriptor, str) else descriptor
    extra = _one_sided(d.recipe)
    out = {}
    for region, prefixes in _REGIONS:
        s = _side_of({n: w for n, w in extra.items() if n.startswith(prefixes)}, None)
        if s != "both":
            out[region] = s
    if side in ("left", "right") and d.side not in (side, "both"):
        out = {r: {"left": "right", "right": "left"}[s] for r, s in out.items()}
    return out


# -- families: name, valence, arousal, gaze, head, extreme recruitment ------------
_FAMILY_ROWS = [
    ("neutral", 0.0, -0.2, None, None, ""),
    ("joy", 0.8, 0.6, None, (-0.03, 0, 0), "6:.4 7:.3 25:.6 26:.4"),
    ("sadness", -0.7, -0.3, (0.15, 0), (0.1, 0, 0), "17:.5 15:.3 7:.3 4:.2"),
    ("anger", -0.7, 0.8, None, (0.05, 0, 0), "10:.5 9:.3 5:.3 20:.3 26:.3"),
    ("fear", -0.8, 0.8, None, (-0.05, 0, 0), "20:.5 5:.3 27:.4"),
    ("surprise", 0.1, 0.8, None, (-0.06, 0, 0), "5:.3 27:.5"),
    ("disgust", -0.7, 0.4, None, (-0.03, -0.05, 0), "10:.4 9:.4 7:.3 17:.3"),
    ("contempt", -0.5, 0.2, None, (-0.08, 0, 0), "7:.3 2:.2"),
    ("confusion", -0.2, 0.3, None, (0, 0, 0.12), "4:.4 7:.3"),
    ("boredom", -0.3, -0.6, (0.05, 0.12), (0.05, 0.08, 0.06), "43:.3 15:.2"),
    ("pain", -0.8, 0.7, None, (0.05, 0, 0.05), "27:.3 10:.3 43:.3"),
    ("pride", 0.6, 0.3, None, (-0.18, 0, 0), "12:.2 17:.3"),
    ("shame", -0.6, -0.2, (0.3, 0), (0.3, 0, 0), "17:.3 15:.2 43:.2"),
    ("embarrassment", -0.3, 0.4, (0.25, -0.2), (0.18, -0.12, 0), "12:.2 24:.3"),
    ("concentration", 0.0, 0.4, (0.05, 0), (0.05, 0, 0), "4:.3 7:.3 24:.3"),
    ("relief", 0.6, -0.3, None, (-0.1, 0, 0), "43:.3 25:.3"),
    ("amusement", 0.7, 0.5, None, (0, 0, 0.06), "6:.3 25:.4 26:.3"),
    ("skepticism", -0.3, 0.2, None, (0.05, 0, 0.08), "7:.3 4:.2"),
    ("flirtation", 0.6, 0.4, (0.05, 0.12), (0.08, 0.1, 0.12), "6:.2 7:.2"),
    ("determination", 0.2, 0.6, None, (0.06, 0, 0), "7:.3 24:.3 4:.2"),
    ("tiredness", -0.3, -0.8, (0.1, 0), (0.12, 0, 0.05), "43:.4 26:.2"),
    ("anxiety", -0.5, 0.5, (0.05, 0), None, "20:.3 1:.3 24:.2"),
    ("interest", 0.4, 0.5, None, (0.02, 0, 0.1), "5:.2 2:.2"),
    ("tenderness", 0.8, -0.1, None, (0.05, 0, 0.12), "6:.2 43:.2"),
    ("disappointment", -0.5, -0.2, None, (0.08, 0, 0), "17:.3 15:.3"),
    ("awe", 0.6, 0.6, (-0.15, 0), (-0.1, 0, 0), "27:.3 5:.3"),
    ("playfulness", 0.6, 0.6, None, (0, 0, 0.08), "6:.3 25:.3 26:.2"),
]


def _family(row) -> Family:
    name, v, a, gaze, head, recruit = row
    ch, jaw = parse_aus(recruit)
    return Family(name, v, a, gaze, head, ch, jaw)


FAMILIES: dict[str, Family] = {row[0]: _family(row) for row in _FAMILY_ROWS}

# -- descriptors: (name, AUs, synonyms, held-out synonyms, overrides) --------------
# Overrides: g=(pitch, yaw) gaze, h=(pitch, yaw, roll) head, va=(valence, arousal).
_ROWS = {
    "neutral": [
        ("neutral", "", "blank face|relaxed face", "expressionless face", {}),
        ("calm", "43:.1", "composed|at ease", "collected", {}),
        ("poker face", "24:.2", "straight face|stone face", "unreadable face", {}),
        ("blank stare", "5:.15", "vacant stare|empty gaze", "glassy stare", {}),
        ("resting face", "43:.1 15:.1", "resting expression|idle face", "default look", {}),
        ("listening", "2:.1 5:.1", "listening quietly|paying attention", "all ears", {}),
        ("deadpan", "24:.25 43:.15", "dry look|flat expression", "impassive face", {}),
        ("waiting", "24:.1 43:.1", "patient look|waiting quietly", "biding time", {"g": (0.05, 0.1)}),
        ("relaxed", "43:.15 12:.05", "unbothered|loose face", "laid-back look", {}),
    ],
    "joy": [
        ("smile", "6:.5 12:.8", "happy smile|pleased look", "cheerful look", {}),
        ("grin", "6:.8 12:1 25:.6 26:.15", "big grin|toothy grin", "ear-to-ear grin", {}),
        ("beam", "6:1 12:1 25:.4 1:.2 2:.2", "beaming|radiant smile", "glowing smile", {}),
        ("laugh", "6:1 12:1 25:1 27:.55 7:.4", "laughing|burst of laughter", "cracking up", {"va": (0.9, 0.8)}),
        ("delight", "6:.7 12:.9 1:.3 2:.4 5:.3 25:.3 26:.2", "delighted|overjoyed", "thrilled", {}),
        ("elation", "6:.9 12:1 2:.5 5:.3 25:.5 26:.4", "elated|ecstatic", "on cloud nine", {"va": (0.9, 0.9)}),
        ("glee", "6:.8 12:1 14:.2 25:.4 26:.2 7:.3", "gleeful|giddy", "tickled pink", {}),
        ("contentment", "12:.45 6:.3 43:.15", "content|satisfied smile", "at peace", {"va": (0.6, -0.3)}),
        ("cheerful", "6:.6 12:.8 2:.3 25:.2", "upbeat|bright smile", "sunny look", {}),
        ("warm smile", "6:.6 12:.65 43:.1", "kind smile|friendly smile", "gentle smile", {"va": (0.7, 0.1)}),
        ("happy", "6:.6 12:.9 25:.2", "happiness|joyful", "glad", {}),
        ("duchenne smile", "6:1 12:.9 7:.3", "genuine smile|smile that reaches the eyes", "real smile", {}),
        ("excitement", "1:.3 2:.6 5:.5 6:.5 12:.8 25:.5 26:.3", "excited|buzzing", "pumped", {"va": (0.8, 0.9)}),
    ],
    "sadness": [
        ("sad", "1:1 4:.35 15:1 17:.5 43:.1", "sadness|unhappy", "down", {}),
        ("frown", "4:.7 15:.6 17:.3", "frowning|downturned mouth", "glum face", {}),
        ("sulk", "15:.6 17:.8 18:.2 4:.3", "sulking|moping", "brooding", {"g": (0.2, 0.1)}),
        ("pout", "17:.9 18:.5 15:.4 1:.3", "pouting|sticking the lower lip out", "moue", {}),
        ("grief", "1:1 4:.6 15:1 17:.5 6:.3 7:.4 25:.3 26:.15", "grieving|heartbroken", "devastated",
         {"h": (0.2, 0, 0)}),
        ("sorrow", "1:.9 4:.3 15:.7 43:.2", "sorrowful|mournful", "woeful", {}),
        ("melancholy", "1:.5 15:.4 43:.3", "melancholic|wistful", "blue", {"g": (0.15, 0.1)}),
        ("tearful", "1:1 4:.4 15:.8 17:.6 7:.3 6:.2", "on the verge of tears|teary-eyed", "welling up", {}),
        ("crying", "1:1 4:.7 6:.5 7:.6 15:1 17:.4 20:.4 25:.6 26:.3", "weeping|sobbing", "bawling",
         {"va": (-0.8, 0.5)}),
        ("dejected", "1:.6 15:.5 43:.25", "dejection|downcast", "defeated", {"h": (0.25, 0, 0)}),
        ("lip quiver", "1:.7 15:.6 17:.7 20:.2", "quivering lip|trembling chin", "chin wobble", {}),
    ],
    "anger": [
        ("angry", "4:1 5:.4 7:.5 23:.7 24:.4", "anger|mad", "cross", {}),
        ("scowl", "4:1 7:.6 15:.3 17:.3 9:.2", "scowling|dark look", "black look", {}),
        ("glare", "4:.8 5:.5 7:.4 24:.4", "glaring|hard stare", "death stare", {}),
        ("fury", "4:1 5:.7 7:.6 9:.4 10:.6 20:.4 25:.6 26:.3", "furious|enraged", "livid", {"va": (-0.8, 0.9)}),
        ("rage", "4:1 5:.8 7:.7 9:.6 10:.8 20:.6 25:.8 27:.4", "raging|seething with rage", "apoplectic",
         {"va": (-0.9, 1.0)}),
        ("irritation", "4:.5 7:.3 24:.5 14:.2", "irritated|annoyed", "miffed", {"va": (-0.4, 0.4)}),
        ("exasperation", "1:.3 4:.4 43:.3 24:.3", "exasperated|fed up", "at wits' end",
         {"g": (-0.3, 0), "h": (-0.08, 0, 0)}),
        ("snarl", "4:.8 9:.8 10:1 7:.5 25:.6 26:.15", "snarling|baring teeth", "growl", {}),
        ("clenched jaw", "4:.5 24:.9 23:.5 7:.3", "clenching the jaw|tense jaw", "grinding teeth", {}),
        ("indignation", "4:.6 1:.2 5:.4 24:.5", "indignant|offended", "outraged", {"h": (-0.08, 0, 0)}),
        ("hostile", "4:.8 7:.5 10:.3 24:.5", "hostility|menacing look", "threatening look", {"h": (0.08, 0, 0)}),
        ("grumpy", "4:.6 15:.6 17:.5 24:.2", "grumpiness|cranky", "grouchy", {"va": (-0.5, 0.2)}),
    ],
    "fear": [
        ("fear", "1:1 2:.6 4:.4 5:1 20:.8 25:.4 26:.2", "afraid|scared", "frightened", {}),
        ("terror", "1:1 2:.8 4:.5 5:1 20:1 25:.8 27:.5", "terrified|horror-struck", "petrified", {"va": (-0.9, 1.0)}),
        ("panic", "1:1 2:.7 4:.5 5:1 20:.9 25:.7 26:.4", "panicked|panic-stricken", "freaking out",
         {"h": (-0.08, 0, 0)}),
        ("dread", "1:.8 4:.4 5:.5 20:.4 24:.3", "dreading|foreboding", "sinking feeling", {"g": (0.05, 0)}),
        ("alarm", "1:.8 2:.8 5:.9 20:.4 25:.4 26:.2", "alarmed|on alert", "jumpy", {}),
        ("horror", "1:1 2:.6 4:.6 5:1 9:.3 10:.3 20:.8 25:.7 26:.4", "horrified|aghast", "appalled", {}),
        ("flinch", "4:.6 7:.8 43:.5 20:.6 24:.2", "flinching|recoiling", "shying away", {"h": (0.12, 0.12, 0)}),
        ("apprehension", "1:.6 4:.3 5:.3 20:.3", "apprehensive|with misgivings", "wary", {"va": (-0.5, 0.4)}),
        ("wide-eyed fear", "1:.8 2:.8 5:1 20:.5", "eyes wide with fear|frozen in fear", "deer in the headlights", {}),
        ("timid", "1:.5 5:.2 20:.2 24:.2", "meek|shrinking", "timorous",
         {"g": (0.2, 0.1), "h": (0.1, 0, 0), "va": (-0.4, 0.1)}),
    ],
    "surprise": [
        ("surprise", "1:1 2:1 5:.9 25:.6 26:.6", "surprised|taken aback", "caught off guard", {}),
        ("gasp", "1:1 2:.9 5:1 25:1 27:.5 22:.3", "gasping|sharp intake of breath", "catching one's breath",
         {"h": (-0.08, 0, 0)}),
        ("astonishment", "1:1 2:1 5:1 25:.8 27:.6", "astonished|flabbergasted", "astounded", {}),
        ("shock", "1:1 2:.9 5:1 20:.3 25:.9 27:.6", "shocked|stunned", "thunderstruck", {"va": (-0.3, 0.9)}),
        ("startle", "1:.7 2:.7 5:1 7:.2 20:.5 25:.3", "startled|jumping in surprise", "spooked",
         {"h": (-0.1, 0, 0)}),
        ("raised eyebrows", "1:.8 2:.9", "brows raised|eyebrows up", "arched brows", {"va": (0.0, 0.4)}),
        ("jaw drop", "1:.6 2:.6 5:.5 25:1 27:.8", "jaw dropping|mouth falling open", "slack-jawed", {}),
        ("wide eyes", "5:1 1:.3 2:.3", "wide-eyed|eyes popping", "saucer eyes", {}),
        ("pleasant surprise", "1:.8 2:.9 5:.6 6:.4 12:.7 25:.5 26:.3", "happily surprised|delighted surprise",
         "pleasantly startled", {"va": (0.7, 0.7)}),
        ("disbelief", "1:.7 2:.8 5:.4 25:.3 26:.2 15:.2", "in disbelief|can't believe it", "beyond belief",
         {"h": (0, 0, 0.06)}),
    ],
    "disgust": [
        ("disgust", "9:1 10:.8 4:.4 15:.4 17:.5", "disgusted|grossed out", "revolted", {}),
        ("sneer", "9:.7 10:.9 4:.3 7:.2", "sneering|curled lip", "nasty look", {}),
        ("one-sided sneer", "9R:.8 10R:1 4R:.3", "lip curled on one side|half sneer", "lopsided sneer", {}),
        ("nose wrinkle", "9:1 7:.3 4:.2", "wrinkled nose|scrunched nose", "nose scrunch", {}),
        ("revulsion", "9:1 10:1 4:.6 7:.5 15:.5 17:.5 25:.4", "repulsed|revulsed", "sickened",
         {"h": (-0.05, -0.15, 0)}),
        ("distaste", "9:.4 10:.4 15:.3 17:.4", "distasteful look|mild disgust", "put off", {"va": (-0.5, 0.1)}),
        ("yuck face", "9:.9 10:.7 19:.6 25:.6 26:.2 7:.4", "yuck|ew face", "blech face", {}),
        ("loathing", "9:.8 10:.7 4:.7 7:.5 24:.3", "loathing look|detestation", "abhorrence", {}),
        ("aversion", "9:.5 10:.3 4:.3 24:.3", "averse|turning away in disgust", "recoiling from a smell",
         {"h": (-0.03, -0.2, 0), "g": (0, -0.2)}),
        ("queasy", "9:.3 15:.4 17:.3 1:.4 43:.2 25:.2", "queasiness|nauseous", "green around the gills", {}),
    ],
    "contempt": [
        ("contempt", "12R:.6 14R:.8", "contemptuous|scornful look", "disdainfully", {}),
        ("smirk", "12R:.7 14R:.5 6R:.2", "smirking|half smile", "sly grin", {"va": (0.1, 0.2)}),
        ("disdain", "14L:.7 12L:.3 10L:.3 43:.2", "looking down one's nose|disdainful look", "haughty look",
         {"h": (-0.1, 0, 0), "g": (0.05, 0)}),
        ("scorn", "14R:.8 10R:.4 4:.2", "derisive look|scornful sneer", "mocking look", {}),
        ("condescension", "14L:.6 12L:.4 1:.2 2:.3", "condescending|patronizing", "talking down",
         {"h": (-0.12, 0, 0.05)}),
        ("smug", "12L:.6 14L:.7 43:.2", "self-satisfied|smug grin", "complacent", {"va": (0.2, 0.1)}),
        ("sardonic", "12R:.5 14R:.4 2L:.4", "sarcastic look|sardonic smile", "snide look", {}),
        ("derision", "14R:.7 12R:.5 9R:.3 25:.2", "derisive snort|ridicule", "jeering face", {}),
        ("dismissive", "14L:.5 15L:.2 43:.2", "dismissiveness|brushing off", "waving off", {"h": (-0.05, 0.12, 0)}),
    ],
    "confusion": [
        ("confused", "4:.6 1:.3 7:.2 15L:.35", "confusion|puzzled", "baffled", {}),
        ("bewildered", "1:.6 2:.5 4:.4 5:.3 25:.3", "bewilderment|lost", "at sea", {}),
        ("perplexed", "4:.7 7:.3 17:.3 24:.2", "perplexity|stumped", "mystified", {"h": (0, 0, 0.15)}),
        ("quizzical", "2L:.7 4R:.5 1:.2", "quizzical look|puzzled brow", "questioning look", {}),
        ("squint of confusion", "4:.5 7:.6 6:.2", "squinting in confusion|trying to make sense",
         "straining to understand", {}),
        ("uncertain", "1:.4 4:.3 15:.3 20:.2", "uncertainty|unsure", "hesitant", {"g": (0, 0.15)}),
        ("disoriented", "1:.5 5:.2 43:.1 25:.3", "disorientation|dazed", "befuddled", {"g": (0.05, 0.2)}),
        ("huh face", "1:.5 2:.6 4:.3 25:.4 26:.2", "huh|what face", "say-what look", {"h": (0, 0, 0.1)}),
        ("torn", "1:.4 4:.4 20:.3 24:.3 14:.2", "conflicted|torn between", "in two minds", {}),
    ],
    "boredom": [
        ("bored", "43:.35 15:.2 17:.2", "boredom|uninterested", "listless", {}),
        ("stifled yawn", "43:.3 25:.3 26:.3 28:.3 20:.2", "holding back a yawn|suppressed yawn",
         "swallowing a yawn", {}),
        ("indifferent", "43:.2 17:.2", "indifference|apathetic", "couldn't care less", {}),
        ("eye roll", "1:.2 43:.2 14L:.2", "rolling the eyes|eye-rolling", "whatever look", {"g": (-0.35, 0.05)}),
        ("glazed", "43:.3 25:.2", "glazed eyes|zoned out", "tuned out", {"g": (0.05, 0)}),
        ("disinterested", "43:.25 14:.2 24:.2", "disinterest|not paying attention", "checked out",
         {"h": (0.05, 0.15, 0)}),
        ("unimpressed", "14:.4 17:.4 43:.2 24:.2", "not impressed|meh face", "underwhelmed", {}),
        ("restless", "24:.3 14:.3 28:.2", "restlessness|fidgety", "antsy", {"g": (0, 0.2), "va": (-0.3, 0.3)}),
        ("blase", "43:.3 12:.1 17:.2", "nonchalant|blase look", "casual indifference", {"h": (-0.05, 0, 0)}),
    ],
    "pain": [
        ("wince", "4:.8 6:.6 7:1 9:.4 10:.4 20:.3 43:.4", "wincing|flinching in pain", "sharp twinge", {}),
        ("grimace", "4:.7 6:.5 7:.7 10:.6 20:.9 25:.6 12:.2", "grimacing|pained face", "contorted face", {}),
        ("agony", "4:1 6:.7 7:1 9:.6 10:.7 20:.8 25:.8 27:.4 43:.5", "agonized|in agony", "excruciating pain",
         {"va": (-0.9, 0.9)}),
        ("ache", "4:.5 7:.4 24:.4 43:.2", "aching|dull pain", "sore", {"va": (-0.5, 0.2)}),
        ("headache", "4:.6 7:.5 43:.4 1:.3", "having a headache|throbbing head", "migraine face", {"h": (0.1, 0, 0)}),
        ("stung", "4:.6 7:.6 20:.4 43:.3 24:.3", "stinging pain|sudden sting", "smarting", {}),
        ("gritted teeth", "4:.6 7:.5 20:.6 10:.5 25:.5 24:.3", "gritting the teeth|clenched teeth", "bearing down",
         {}),
        ("suffering", "1:.6 4:.7 7:.5 15:.4 43:.3", "in pain|hurting badly", "tormented", {}),
    ],
    "pride": [
        ("proud", "12:.5 17:.3 24:.2", "pride|proud look", "dignified", {}),
        ("triumph", "6:.6 12:.9 25:.4 2:.3 5:.2", "triumphant|victorious", "exultant", {"h": (-0.15, 0, 0)}),
        ("confident", "12:.4 43:.1", "confidence|self-assured", "poised", {"h": (-0.08, 0, 0)}),
        ("haughty", "2:.3 43:.25 17:.3 14:.3", "arrogant|lofty air", "supercilious",
         {"h": (-0.22, 0, 0), "g": (0.1, 0)}),
        ("chin up", "17:.4 12:.2", "chin raised|head held high", "nose in the air", {"h": (-0.25, 0, 0)}),
        ("satisfied", "12:.5 14:.3 43:.15", "satisfaction|pleased with oneself", "gratified", {"h": (-0.06, 0, 0)}),
        ("accomplished", "6:.4 12:.7 25:.2", "sense of accomplishment|job well done", "achievement glow",
         {"h": (-0.1, 0, 0.05)}),
        ("boastful", "12:.7 14:.3 2:.4 25:.3", "boasting|bragging", "showing off", {"h": (-0.14, 0, 0)}),
    ],
    "shame": [
        ("ashamed", "1:.5 15:.4 17:.4 43:.2 24:.2", "shame|ashamed look", "shamefaced", {}),
        ("guilt", "1:.6 4:.3 15:.3 24:.3", "guilty|remorseful", "contrite", {"h": (0.22, 0.08, 0), "g": (0.3, 0.1)}),
        ("humiliation", "1:.7 4:.4 15:.5 17:.5 7:.3 43:.2", "humiliated|degraded", "belittled",
         {"h": (0.3, 0.1, 0), "g": (0.35, 0)}),
        ("regret", "1:.5 15:.4 24:.3 43:.2", "regretful|rueful", "sorry look", {"h": (0.15, 0, 0), "g": (0.2, 0.1)}),
        ("hanging head", "15:.3 43:.3", "head hung low|hanging one's head", "head bowed in shame",
         {"h": (0.4, 0, 0)}),
        ("downcast eyes", "1:.3 43:.3 24:.1", "eyes downcast|avoiding eye contact", "lowered gaze",
         {"g": (0.4, 0), "h": (0.12, 0, 0)}),
        ("disgrace", "1:.5 4:.3 15:.6 17:.3 43:.3", "feeling disgraced|in disgrace", "dishonored", {}),
    ],
    "embarrassment": [
        ("embarrassed", "12:.4 24:.4 14:.2", "embarrassment|awkward", "red-faced", {}),
        ("sheepish grin", "12:.6 6:.3 14:.3 24:.3 1:.2", "sheepish|sheepish smile", "bashful grin",
         {"h": (0.15, 0, 0.08), "g": (0.2, 0)}),
        ("awkward smile", "12:.5 20:.4 24:.3 14:.2", "awkward grin|forced awkward smile", "cringey smile", {}),
        ("mortified", "1:.6 4:.3 12:.2 20:.3 24:.5 43:.3", "mortification|dying of embarrassment",
         "wanting to disappear", {"h": (0.25, 0.2, 0), "g": (0.3, -0.2)}),
        ("cringe", "4:.5 7:.6 20:.7 24:.3 9:.2", "cringing|cringe face", "second-hand embarrassment",
         {"h": (0.05, 0.15, 0)}),
        ("bashful", "12:.4 6:.2 24:.2", "bashfulness|shy smile", "demure smile",
         {"h": (0.2, 0.1, 0.1), "g": (0.3, 0.15)}),
        ("flustered", "1:.5 2:.3 12:.3 20:.3 5:.2 25:.2", "flustered look|rattled", "all in a fluster",
         {"g": (0.1, -0.2)}),
        ("self-conscious", "24:.4 14:.3 1:.2", "self-consciousness|uncomfortable", "ill at ease",
         {"h": (0.12, 0.1, 0), "g": (0.2, 0.2)}),
    ],
    "concentration": [
        ("focused", "4:.5 7:.4 24:.3", "focus|concentrating", "locked in", {}),
        ("pensive", "4:.3 24:.3 14:.2", "pensiveness|thoughtful", "musing", {"g": (-0.15, 0.15)}),
        ("squint", "7:1 6:.3 4:.3", "squinting|narrowed eyes", "peering", {}),
        ("intent stare", "4:.4 5:.2 7:.3", "staring intently|intent gaze", "fixated", {}),
        ("deep in thought", "4:.4 17:.3 24:.2 14:.2", "lost in thought|mulling it over", "contemplative",
         {"g": (-0.2, -0.15), "h": (0, 0, 0.05)}),
        ("studying", "4:.4 7:.5 24:.2", "studying something|reading closely", "scrutinizing",
         {"g": (0.2, 0), "h": (0.1, 0, 0)}),
        ("calculating", "4:.3 7:.4 14:.3 24:.2", "calculating look|working it out", "crunching numbers",
         {"g": (-0.1, 0.2)}),
        ("effort", "4:.6 7:.6 24:.6 28:.3", "straining|great effort", "exerting oneself", {"va": (-0.2, 0.7)}),
        ("listening closely", "1:.2 4:.3 7:.2", "listening hard|hanging on every word", "lending an ear",
         {"h": (0.05, 0.1, 0.1)}),
    ],
    "relief": [
        ("relieved", "1:.3 12:.4 43:.3 25:.3", "relief|relieved smile", "off the hook", {}),
        ("sigh of relief", "43:.5 25:.5 26:.15 22:.3 1:.3", "sighing with relief|exhale of relief", "phew",
         {"h": (-0.15, 0, 0)}),
        ("reassured", "12:.4 6:.2 43:.15", "reassurance|comforted", "put at rest", {}),
        ("unwinding", "43:.4 12:.2", "winding down|decompressing", "letting go", {"h": (-0.05, 0, 0.05)}),
        ("grateful", "1:.3 6:.4 12:.6 43:.2", "gratitude|thankful", "appreciative", {"h": (0.05, 0, 0)}),
        ("easing up", "43:.4 12:.3 25:.3", "tension melting away|shoulders dropping", "breathing easy", {}),
        ("soothed", "43:.35 12:.3", "calmed down|settled", "mollified", {}),
    ],
    "amusement": [
        ("amused", "6:.5 12:.7 14:.2", "amusement|entertained", "tickled", {}),
        ("chuckle", "6:.6 12:.8 25:.4 26:.2 7:.3", "chuckling|little laugh", "chortle", {}),
        ("giggle", "6:.7 12:.9 25:.4 26:.15 7:.4 1:.2", "giggling|tittering", "snicker", {"h": (0.05, 0, 0.08)}),
        ("wry smile", "12L:.6 14L:.4 2L:.3", "crooked smile|wry grin", "lopsided smile", {}),
        ("suppressed laugh", "6:.4 12:.5 24:.6 28:.3 14:.3", "holding back laughter|stifled laugh",
         "trying not to laugh", {}),
        ("belly laugh", "6:1 7:.6 12:1 25:1 27:.7 1:.2", "roaring with laughter|big belly laugh", "in stitches",
         {"h": (-0.12, 0, 0), "va": (0.9, 0.9)}),
        ("teasing smile", "12:.6 14:.3 6:.3 2:.2", "teasing|playful smile", "ribbing", {"h": (0, 0, 0.08)}),
        ("smiling to oneself", "12:.4 6:.2 24:.2", "private smile|quiet smile", "inner smile", {"g": (0.15, 0.1)}),
    ],
    "skepticism": [
        ("skeptical", "2L:.6 4R:.4 14R:.3", "skepticism|doubtful", "unconvinced", {}),
        ("raised eyebrow", "2L:.9 4R:.3", "one eyebrow raised|arched eyebrow", "cocked brow", {}),
        ("suspicious", "4:.5 7:.7 24:.3", "suspicion|distrustful", "leery", {"g": (0, 0.2), "h": (0.05, -0.1, 0)}),
        ("side eye", "7:.4 4:.3 14:.2", "side-eye|sideways look", "shifty look", {"g": (0, 0.45), "h": (0, -0.15, 0)}),
        ("doubt", "1:.3 4:.3 15:.3 17:.4", "doubting|not sure about it", "having reservations", {"h": (0, 0, 0.1)}),
        ("incredulous", "2:.6 4:.3 7:.2 25:.2", "incredulity|really? face", "are-you-kidding look",
         {"h": (0.08, 0, 0.08)}),
        ("sizing up", "7:.5 4:.3", "sizing someone up|appraising look", "once-over",
         {"g": (0.1, 0), "h": (-0.05, 0, 0)}),
        ("cynical", "14R:.5 2L:.4 43:.2", "cynicism|jaded look", "world-weary", {}),
        ("pursed lips", "18:.5 24:.5 4:.3", "lips pursed|pursing the lips", "tight pucker", {}),
    ],
    "flirtation": [
        ("flirty smile", "12:.6 6:.3 14L:.35", "flirtatious smile|flirty", "come-hither look", {}),
        ("wink", "46L:1 12L:.5 6L:.4", "winking|a wink", "knowing wink", {}),
        ("coy", "12:.4 24:.2", "coyness|playing coy", "kittenish", {"h": (0.18, 0.15, 0.1), "g": (0.15, -0.3)}),
        ("sultry look", "43:.35 12:.2 25:.2", "sultry|smoldering look", "bedroom eyes", {"h": (0.08, 0, 0)}),
        ("blowing a kiss", "18:1 22:.3 6:.2", "blown kiss|kissy lips", "air kiss", {}),
        ("glance and smile", "12:.5 6:.3", "sidelong glance with a smile|glancing over", "stolen glance",
         {"g": (0.05, 0.35)}),
        ("flirty lip bite", "32:.5 12:.4", "biting the lip flirtatiously|seductive lip bite", "teasing lip bite", {}),
        ("eyelash flutter", "43:.3 12:.4 1:.2", "fluttering eyelashes|batting eyelashes", "doe eyes", {}),
        ("charming smile", "6:.5 12:.7 2:.2", "charming|winning smile", "disarming smile", {"h": (0, 0, 0.1)}),
    ],
    "determination": [
        ("determined", "4:.6 7:.4 24:.6 17:.3", "determination|resolute", "dogged", {}),
        ("set jaw", "24:.7 17:.4 29:.3 4:.3", "jaw set|firm jaw", "jutting chin", {}),
        ("steely gaze", "4:.4 7:.6", "steely-eyed|unwavering stare", "cold resolve", {}),
        ("defiant", "4:.5 17:.5 24:.4", "defiance|standing firm", "rebellious", {"h": (-0.12, 0, 0)}),
        ("fierce", "4:.8 7:.5 10:.3 24:.5 5:.2", "fierceness|intense", "ferocious", {"va": (-0.1, 0.8)}),
        ("bracing", "4:.5 7:.5 24:.6 20:.3", "bracing oneself|steeling oneself", "preparing for impact", {}),
        ("stubborn", "4:.4 24:.6 14:.3 17:.4", "stubbornness|obstinate", "mulish", {}),
        ("game face", "4:.5 7:.3 24:.4", "game face on|ready to go", "war face", {}),
    ],
    "tiredness": [
        ("tired", "43:.45 1:.2 15:.2", "tiredness|weary", "worn out", {}),
        ("sleepy", "43:.65 25:.2", "sleepiness|drowsy", "dozy", {"h": (0.15, 0, 0.08)}),
        ("exhausted", "43:.6 1:.4 15:.3 25:.3 26:.15", "exhaustion|drained", "spent", {"h": (0.2, 0, 0.05)}),
        ("heavy-lidded", "43:.55", "heavy eyelids|droopy eyes", "half-closed eyes", {}),
        ("fatigue", "43:.4 4:.2 17:.2", "fatigued|run down", "bone-tired", {}),
        ("groggy", "43:.5 4:.3 7:.2 25:.3", "grogginess|bleary-eyed", "foggy", {"g": (0.05, 0.1)}),
        ("nodding off", "43:.8 25:.3", "dozing|drifting off", "falling asleep", {"h": (0.3, 0, 0.1)}),
        ("burned out", "43:.4 15:.3 1:.3", "burnt out|running on empty", "frazzled", {"g": (0.1, 0)}),
    ],
    "anxiety": [
        ("worry", "1:1 2:.25 4:.15 20:.45 24:.2 5:.2", "worried|fretting", "troubled", {}),
        ("nervous", "1:.6 4:.3 20:.4 24:.3 5:.2", "nervousness|jittery", "on edge", {"g": (0, 0.15)}),
        ("anxious", "1:.8 4:.5 5:.3 20:.4 28:.2", "anxiety|fretful", "keyed up", {}),
        ("tense", "4:.4 7:.4 20:.4 24:.5", "tension|tensed up", "strung tight", {}),
        ("biting lip", "32:.8 1:.4 4:.3", "biting the lower lip|lip biting", "nibbling the lip", {"g": (0.1, 0.1)}),
        ("nervous smile", "12:.4 20:.4 1:.4 24:.2", "nervous grin|uneasy smile", "tight smile", {}),
        ("stressed", "1:.5 4:.6 7:.4 24:.4", "stress|under pressure", "overwhelmed", {}),
        ("concern", "1:.6 4:.5 15:.2", "concerned look|worried frown", "furrowed with concern", {"h": (0.05, 0, 0.06)}),
        ("dismay", "1:.8 4:.4 15:.5 20:.3 25:.3 26:.15", "dismayed|consternation", "disconcerted", {}),
    ],
    "interest": [
        ("curious", "1:.4 2:.5 5:.3", "curiosity|inquisitive", "nosy", {}),
        ("interested", "2:.4 5:.3 12:.2", "interest|engaged", "keen", {"h": (-0.03, 0, 0.05)}),
        ("intrigued", "1:.3 2:.5 4:.2 5:.3", "intrigue|fascinated", "captivated", {}),
        ("eager", "2:.5 5:.4 12:.5 25:.3", "eagerness|enthusiastic", "raring to go", {"h": (-0.05, 0, 0)}),
        ("attentive", "5:.3 2:.2", "attentiveness|alert", "watchful", {"h": (0, 0, 0)}),
        ("anticipation", "1:.3 2:.4 5:.4 24:.2 12:.2", "anticipating|expectant", "on tenterhooks", {}),
        ("hopeful", "1:.5 2:.3 12:.3", "hope|optimistic", "wishful", {"g": (-0.1, 0)}),
    ],
    "tenderness": [
        ("tender smile", "12:.5 6:.4 43:.2", "tenderness|affectionate smile", "loving look", {}),
        ("adoring", "1:.3 12:.6 6:.5 43:.2", "adoration|adoring gaze", "besotted", {}),
        ("compassion", "1:.6 12:.3 15:.1 43:.15", "compassionate|sympathetic", "empathetic", {}),
        ("fond smile", "12:.5 6:.4 14:.2", "fond|fondness", "soft spot", {}),
        ("serene", "12:.25 43:.3", "serenity|peaceful", "tranquil", {"va": (0.6, -0.6), "h": (0, 0, 0.04)}),
        ("moved", "1:.7 12:.4 6:.3 17:.3 7:.2", "touched|emotionally moved", "heartwarmed", {}),
        ("nostalgic", "1:.4 12:.35 43:.2", "nostalgia|reminiscing", "sentimental", {"g": (-0.1, 0.15)}),
        ("kind eyes", "6:.4 12:.3 43:.15", "kindly look|warm eyes", "benevolent look", {}),
    ],
    "disappointment": [
        ("disappointed", "1:.5 15:.6 17:.5 24:.2", "disappointment|let down", "deflated", {}),
        ("crestfallen", "1:.7 15:.7 17:.4 43:.2", "downhearted|face falling", "dispirited", {"h": (0.2, 0, 0)}),
        ("sigh", "1:.4 43:.4 15:.3 25:.4 22:.3", "sighing|heavy sigh", "long sigh", {"h": (-0.08, 0, 0)}),
        ("resigned", "1:.3 15:.4 17:.4 43:.3", "resignation|giving in", "throwing in the towel", {}),
        ("pressed lips", "24:.7 15:.3 17:.3", "lips pressed thin|tight-lipped", "thin-lipped", {}),
        ("frustrated", "4:.6 24:.6 15:.3 17:.4 7:.3", "frustration|thwarted look", "stymied", {"va": (-0.6, 0.5)}),
        ("hurt", "1:.8 4:.3 15:.5 17:.4 5:.2", "hurt feelings|wounded look", "aggrieved", {}),
    ],
    "awe": [
        ("awe", "1:.7 2:.8 5:.6 25:.6 26:.3", "awestruck|in awe", "spellbound", {}),
        ("wonder", "1:.5 2:.6 5:.4 12:.3 25:.4 26:.15", "wonderment|wide-eyed wonder", "enchanted", {}),
        ("amazement", "1:.8 2:.9 5:.8 12:.3 25:.6 27:.3", "amazed|mind blown", "dumbfounded", {}),
        ("admiration", "1:.3 2:.4 12:.5 6:.3", "admiring|impressed", "looking up to", {"h": (-0.05, 0, 0)}),
        ("reverence", "1:.4 43:.2 12:.1", "reverent|deep respect", "solemn respect", {"h": (0.1, 0, 0), "g": (0.1, 0)}),
        ("mesmerized", "5:.5 25:.4 26:.15 2:.3", "transfixed|entranced", "hypnotized", {"g": (0, 0)}),
    ],
    "playfulness": [
        ("tongue out", "19:1 25:.6 26:.3 6:.3 12:.3", "sticking the tongue out|tongue poke", "blep", {}),
        ("cheeky grin", "12:.8 6:.5 14:.3 2:.3", "cheeky|impish grin", "mischievous smile", {"h": (0, 0, 0.1)}),
        ("raspberry", "19:.6 34:.5 18:.2 25:.3", "blowing a raspberry|razz", "bronx cheer", {}),
        ("puffed cheeks", "34:1 24:.3", "puffing the cheeks|chipmunk cheeks", "blowfish face", {}),
        ("silly face", "19:.5 2:.7 5:.5 30L:.6 12:.4 25:.4 26:.2", "goofy face|making a face", "clowning", {}),
        ("duck face", "18:1 22:.3 2:.3", "duck lips|pouty lips", "selfie pout", {}),
        ("mischievous", "12R:.6 6:.3 4:.3 14R:.3", "up to no good|mischief", "scheming", {"g": (0, 0.15)}),
        ("whistle", "22:.8 18:.6", "whistling|whistle lips", "tootling", {}),
    ],
}


def _build() -> tuple[Descriptor, ...]:
    out = []
    for family_name, rows in _ROWS.items():
        fam = FAMILIES[family_name]
        for name, aus, syn, held, over in rows:
            recipe, jaw = parse_aus(aus)
            v, a = over.get("va", (fam.valence, fam.arousal))
            side = _side_of(_one_sided(recipe), name)
            if (side != "both") != _is_asymmetric(recipe):
                raise ValueError(f"lexicon {name!r}: native side {side!r} disagrees with its asymmetry")
            out.append(Descriptor(
                name=name, family=family_name, recipe=recipe, valence=v, arousal=a,
                gaze=over.get("g", fam.gaze), head=over.get("h", fam.head), jaw=jaw,
                asymmetric=_is_asymmetric(recipe),
                synonyms=tuple(s for s in syn.split("|") if s),
                heldout_synonyms=tuple(s for s in held.split("|") if s), side=side))
    names = [d.name for d in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"lexicon names repeat: {', '.join(dupes)}")
    return tuple(out)


LEXICON: tuple[Descriptor, ...] = _build()
_BY_NAME = {d.name: d for d in LEXICON}
BY_FAMILY: dict[str, tuple[Descriptor, ...]] = {f: tuple(d for d in LEXICON if d.family == f) for f in FAMILIES}


def by_name(name: str) -> Descriptor:
    """The descriptor called `name`; KeyError lists close names when there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        import difflib
        close = difflib.get_close_matches(name, list(_BY_NAME), n=5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see training.corpus.lexicon.LEXICON"
        raise KeyError(f"no descriptor called {name!r}{hint}") from None


def channels_used() -> set[str]:
    """Every ARKit channel any recipe or family recruitment touches."""
    used = {c for d in LEXICON for c in d.recipe}
    return used | {c for f in FAMILIES.values() for c in f.recruit}
