"""Everyday-language captions and captioner QA pairs for a corpus clip's labels.

`captions_for(labels, rng)` writes six captions per clip (two prompts, four sentences)
drawn from many templates: short prompts as an animator types them ("young woman,
faint grin, two nods, talking"), fragments ("Deadpan. Head still. Blinks twice."),
full sentences with the subject first, last ("..., is what the old man does") or
absent ("Nods twice with a faint grin."), long run-on sentences, "first ..., then
..., finally ..." chains in time order, negations that deny a contrasting state ("a
frown, not a smile", "not smiling at all") and intensity carried by an adverb on the
verb ("barely grins", "laughs wildly"). Each caption states everything the labels say
that matters: the emotion (descriptor, one of its lexicon synonyms, or a family
word), its intensity in words, its side when the labels give one ("on the left side
of her mouth", "a right-sided sneer", "winks with the left eye"; "both" says nothing),
the motion dynamic ("laughing in bursts", "her lower lip trembling", "rolls his
eyes", "a deep breath in and a long sigh out"), the head motion with its count
("glances to the left and back"), every micro-event type (blinks with their count,
"eyes darting around"), the transition with its time (and the target's own side),
talking, and the subject words with matching pronouns where the subject is named.

Held out, for measuring generalisation to unseen wording: the templates marked
heldout in TEMPLATES, the lexicon's `heldout_synonyms`, and every phrase variant
written with a leading "*" in the tables below. heldout=False never uses any of
them; heldout=True uses only held-out templates, and in every slot that has held-out
variants (a descriptor with held-out synonyms included) only those.

`qa_pairs(labels, rng)` writes the captioner's instruction data: questions in varied
wording about emotion, intensity, head, change, blinks, talking, other micro-events,
the side (sided clips) and the motion dynamic (clips with one), and "describe the
clip" (answered with a full caption).

Everything is drawn from the given numpy Generator, so output is deterministic.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from training.corpus import caption_parse
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
_INT_ADJ = {"subtle": ("slight", "faint", "subtle", "minimal", "*barely-there", "*tiny"),
            "mild": ("mild", "gentle", "small", "modest", "*soft"),
            "moderate": ("moderate", "clear", "noticeable", "definite", "*distinct"),
            "strong": ("strong", "big", "deep", "marked", "*pronounced"),
            "extreme": ("intense", "extreme", "huge", "massive", "*full-blown", "*exaggerated")}
_INT_ADV = {"subtle": ("slightly", "faintly", "barely", "just slightly", "*ever so slightly"),
            "mild": ("mildly", "a little", "somewhat", "a bit", "*a tad"),
            "moderate": ("moderately", "fairly", "noticeably", "clearly", "*distinctly"),
            "strong": ("very", "really", "deeply", "*strongly"),
            "extreme": ("extremely", "intensely", "utterly", "wildly", "*overwhelmingly", "*immensely")}
_INT_QUANT = {"subtle": ("a hint of", "a trace of", "a touch of", "*a flicker of"),
              "mild": ("a little", "mild", "*a bit of"),
              "moderate": ("clear", "noticeable", "*moderate"),
              "strong": ("deep", "strong", "*a lot of"),
              "extreme": ("intense", "overwhelming", "*sheer")}
# Intensity as an adverb on the verb of the emotion: before it ("barely smiles") or after it
# ("grins wildly").
_INT_VPRE = {"subtle": ("barely", "faintly", "slightly", "*ever so faintly"),
             "mild": ("mildly", "gently", "softly"),
             "moderate": ("noticeably", "clearly", "*distinctly"),
             "strong": ("really", "deeply", "*strongly"),
             "extreme": ("intensely", "wildly", "*uncontrollably")}
_INT_VPOST = {"subtle": ("faintly", "slightly", "*ever so slightly"),
              "mild": ("a little", "gently", "mildly", "a bit", "*a tad"),
              "moderate": ("noticeably", "clearly", "moderately", "*distinctly"),
              "strong": ("deeply", "a lot", "heavily", "*strongly"),
              "extreme": ("wildly", "intensely", "like crazy", "*uncontrollably", "*overwhelmingly")}
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
              "keeps {pos} head steady", "holds still", "doesn't move {pos} head at all", "stays motionless",
              "keeps {pos} head motionless", "holds {pos} head steady", "*keeps {pos} head perfectly still"),
    "nod": ("nods {count}", "nods {pos} head {count}", "gives {cnp:nod}", "nods along {count}",
            "does {cnp:nod}", "*bobs {pos} head {count}"),
    "shake": ("shakes {pos} head {count}", "gives {cnp:head shake}", "does {cnp:head shake}",
              "shakes {pos} head no {count}", "*gives {cnp:shake of the head}"),
    "tilt_left": ("tilts {pos} head to the left", "cocks {pos} head left", "tips {pos} head to the left",
                  "tilts {pos} head left", "angles {pos} head to the left", "tilts {pos} head leftward",
                  "tips {pos} head left",
                  "*lets {pos} head tip to the left"),
    "tilt_right": ("tilts {pos} head to the right", "cocks {pos} head right", "tips {pos} head to the right",
                   "tilts {pos} head right", "angles {pos} head to the right", "tilts {pos} head rightward",
                   "tips {pos} head right",
                   "*lets {pos} head tip to the right"),
    "turn_left": ("turns {pos} head to the left", "turns to {pos} left", "turns {pos} head left",
                  "looks off to the left", "swings {pos} head to the left", "looks over to the left",
                  "turns {pos} face to the left", "looks to {pos} left", "turns {pos} head leftward",
                  "*swivels {pos} head to the left"),
    "turn_right": ("turns {pos} head to the right", "turns to {pos} right", "turns {pos} head right",
                   "looks off to the right", "swings {pos} head to the right", "looks over to the right",
                   "turns {pos} face to the right", "looks to {pos} right", "turns {pos} head rightward",
                  "*swivels {pos} head to the right"),
    "look_up": ("looks up", "lifts {pos} chin", "raises {pos} head", "looks upward", "tips {pos} head back",
                "lifts {pos} head", "tilts {pos} head up", "glances upward", "*gazes upward"),
    "look_down": ("looks down", "lowers {pos} head", "drops {pos} gaze", "looks downward", "bows {pos} head",
                  "tips {pos} head down", "glances down", "casts {pos} eyes down", "*hangs {pos} head"),
    "lean_in": ("leans in", "leans forward", "leans closer", "leans toward the camera", "leans in close",
                "*moves in closer"),
    "lean_back": ("leans back", "pulls {pos} head back", "leans away", "pulls back", "draws {pos} head back",
                  "*draws back"),
    "sway": ("sways {pos} head from side to side", "lets {pos} head sway idly", "sways side to side",
             "lets {pos} head drift side to side", "sways back and forth", "lets {pos} head sway from side to side",
             "*rocks {pos} head idly"),
    "glance_left": ("glances to the left and back", "glances left and then back", "looks to {pos} left and back again",
                    "sneaks a glance to the left and back", "glances over to the left and back",
                    "glances off to the left and back", "peeks to the left and back",
                    "*flicks {pos} eyes to the left and back", "*shoots a look to the left and back"),
    "glance_right": ("glances to the right and back", "glances right and then back",
                     "looks to {pos} right and back again", "sneaks a glance to the right and back",
                     "glances over to the right and back", "glances off to the right and back",
                     "peeks to the right and back",
                     "*flicks {pos} eyes to the right and back", "*shoots a look to the right and back"),
}
_HEAD_NP = {
    "still": ("head still", "still head", "no head movement", "steady head", "head held still", "head held steady",
              "head kept still", "*motionless head"),
    "nod": ("{cnp:nod}", "nodding {count}", "nods {count}", "nodding along {count}", "*{cnp:head bob}"),
    "shake": ("{cnp:head shake}", "shaking head {count}", "head shaking {count}", "shakes head {count}",
              "*{cnp:shake of the head}"),
    "tilt_left": ("head tilted left", "head tilt to the left", "tilting head left", "head tilted to the left",
                  "tilts head left", "*head cocked to the left"),
    "tilt_right": ("head tilted right", "head tilt to the right", "tilting head right", "head tilted to the right",
                   "tilts head right", "*head cocked to the right"),
    "turn_left": ("head turned left", "turns to the left", "turning head to the left", "looking off to the left",
                  "head turned to the left", "turns head left", "*head swivels left"),
    "turn_right": ("head turned right", "turns to the right", "turning head to the right", "looking off to the right",
                   "head turned to the right", "turns head right", "*head swivels right"),
    "look_up": ("looks up", "chin up", "looking up", "head up", "head tilted up", "chin lifted", "*gaze upward"),
    "look_down": ("looks down", "head down", "looking down", "head lowered", "eyes cast down", "*gaze lowered"),
    "lean_in": ("leans in", "leaning forward", "leaning in", "leaning closer", "leans forward", "*moving in closer"),
    "lean_back": ("leans back", "leaning back", "pulling back", "leaning away", "head pulled back", "*drawing back"),
    "sway": ("idle head sway", "swaying head", "head swaying side to side", "swaying side to side",
             "head drifting side to side", "*head rocking idly"),
    "glance_left": ("glance to the left and back", "glancing left and back", "a look to the left and back",
                    "glances left and back", "glancing over to the left and back",
                    "*eyes flicking to the left and back"),
    "glance_right": ("glance to the right and back", "glancing right and back", "a look to the right and back",
                     "glances right and back", "glancing over to the right and back",
                     "*eyes flicking to the right and back"),
}
_MICRO_VP = {
    "blink": ("blinks {count}", "gives {cnp:blink}", "*gives {cnp:eye blink}"),
    "blink_burst": ("blinks rapidly", "blinks in a quick flurry", "blinks in rapid succession",
                    "flutters {pos} eyelids", "blinks quickly several times", "*lets out a burst of rapid blinks"),
    "slow_blink": ("blinks slowly", "gives a slow blink", "gives one long blink", "gives a long, slow blink",
                   "blinks slowly once", "*gives a long, lazy blink"),
    "eyes_closed": ("closes {pos} eyes for a moment", "shuts {pos} eyes briefly", "lets {pos} eyes close for a beat",
                    "closes {pos} eyes briefly", "keeps {pos} eyes shut for a moment", "*lets {pos} eyes fall shut"),
    "brow_flash": ("flashes {pos} eyebrows", "gives a brow flash", "raises {pos} eyebrows for an instant",
                   "lifts {pos} eyebrows briefly", "flashes {pos} brows", "*pops {pos} brows up for an instant"),
    "lip_twitch": ("has a twitch at the corner of {pos} mouth", "twitches {pos} lip", "gets a twitch in {pos} lip",
                   "twitches the corner of {pos} mouth", "*lets {pos} lip twitch"),
    "lip_press": ("presses {pos} lips together", "presses {pos} lips tight", "squeezes {pos} lips together",
                  "presses {pos} lips shut", "*tightens {pos} lips"),
    "cheek_puff": ("puffs out {pos} cheeks", "puffs {pos} cheeks up", "puffs up {pos} cheeks",
                   "gives a cheek puff", "*blows {pos} cheeks out"),
    "tongue_out": ("sticks {pos} tongue out", "pokes {pos} tongue out", "shows {pos} tongue",
                   "lets {pos} tongue poke out", "*flicks {pos} tongue out"),
    "yawn": ("yawns", "lets out a yawn", "gives a yawn", "yawns widely", "*stifles a yawn"),
    "darting_eyes": ("lets {pos} eyes dart around", "darts {pos} eyes around", "has {pos} eyes darting around",
                     "*lets {pos} eyes flit about", "*looks around shiftily"),
}
_MICRO_NP = {
    "blink": ("{cnp:blink}", "blinks {count}", "blinking {count}", "*{cnp:eye blink}"),
    "blink_burst": ("rapid blinks", "a flurry of blinks", "rapid blinking", "fluttering eyelids", "*blink burst"),
    "slow_blink": ("slow blink", "one slow blink", "a slow blink", "a long slow blink", "*lazy blink"),
    "eyes_closed": ("eyes closed for a beat", "closed eyes", "eyes shut briefly", "eyes closed briefly",
                    "*eyes shut for a moment"),
    "brow_flash": ("brow flash", "eyebrow flash", "a flash of the eyebrows", "brows flashing", "*brief eyebrow raise"),
    "lip_twitch": ("lip twitch", "twitching lip", "a twitch of the lip", "lip twitching", "*mouth-corner twitch"),
    "lip_press": ("lips pressed together", "lip press", "pressed lips", "lips pressed shut", "*tightened lips"),
    "cheek_puff": ("cheek puff", "puffed-out cheeks", "cheeks puffed up", "puffed cheeks", "*cheeks blown out"),
    "tongue_out": ("tongue out", "tongue poking out", "tongue sticking out", "tongue showing", "*tongue flicking out"),
    "yawn": ("a yawn", "yawning", "one yawn", "a wide yawn", "*stifled yawn"),
    "darting_eyes": ("darting eyes", "eyes darting around", "eyes darting side to side", "*flitting eyes",
                     "*shifty eyes"),
}
# Said only where the labels have no blink at all / no talking (never contradicts them).
_NO_BLINK_VP = ("doesn't blink", "never blinks", "*never once blinks")
_NO_BLINK_NP = ("no blinking", "unblinking", "*not a single blink")
_NO_TALK_VP = ("isn't talking", "says nothing", "stays silent", "*keeps silent")
_NO_TALK_NP = ("silent", "not talking", "no talking", "*wordless")
_TALK_VP = ("is talking", "talks the whole time", "is speaking", "keeps talking", "talks throughout",
            "is mid-sentence", "is chatting", "keeps speaking", "is saying something", "speaks throughout",
            "*chats away")
_TALK_NP = ("talking", "while speaking", "mid-conversation", "speaking", "mid-sentence", "talking throughout",
            "chatting", "saying something", "*mouthing words")
_TEMPO_ADV = {"slow": ("slowly", "unhurriedly", "lazily", "*at a leisurely pace"),
              "fast": ("quickly", "briskly", "swiftly", "*at a brisk pace")}
_TEMPO_NP = {"slow": ("slow pace", "unhurried", "slow", "*leisurely tempo"),
             "fast": ("quick pace", "brisk", "fast", "*fast tempo")}
# The motion dynamic of the start state (labels["dynamic"]); every phrase is one the parser knows.
_DYN_VP = {
    "laugh_pulses": ("laughs in little bursts", "shakes with laughter", "chuckles in short bursts",
                     "laughs in rhythmic bursts", "*laughs in staccato bursts", "*convulses with laughter"),
    "lip_tremble": ("has {pos} lower lip trembling", "lets {pos} lower lip tremble", "has a trembling lower lip",
                    "*has {pos} lower lip wavering"),
    "eye_roll": ("rolls {pos} eyes", "rolls {pos} eyes up and around", "*sweeps {pos} eyes up and around"),
    "sigh_breath": ("takes a deep breath in and lets out a long sigh", "breathes in deeply and sighs it out",
                    "draws a big breath and sighs it out", "*heaves a breath in and sighs it away"),
}
_DYN_NP = {
    "laugh_pulses": ("laughing in bursts", "shaking with laughter", "chuckling in little bursts",
                     "laughter in bursts", "*laughter in staccato bursts", "*convulsing with laughter"),
    "lip_tremble": ("lower lip trembling", "a trembling lower lip", "{pos} lower lip trembling",
                    "*lower lip wavering"),
    "eye_roll": ("rolling {pos} eyes", "eyes rolling up and around", "*eyes sweeping up and around"),
    "sigh_breath": ("a deep breath in and a long sigh out", "a big breath in and a long sigh out",
                    "breathing in deeply and sighing it out", "*a heaved breath and a long exhale"),
}
# The side of a sided state ({side} = left / right): before the noun ("a left-sided smirk")
# or after the state, worded for the face region its asymmetry sits in.
_SIDE_PRE = ("{side}-sided", "{side}-side", "*{side}-heavy")
_SIDE_POST = {
    "mouth": ("on the {side} side of {pos} mouth", "at the {side} corner of {pos} mouth", "pulled to the {side}",
              "hitched to the {side}", "*tugging at the {side} corner of {pos} mouth",
              "*higher on the {side}"),
    "brow": ("in {pos} {side} brow", "on {pos} {side} eyebrow", "*peaked on the {side}"),
    "eye": ("with the {side} eye", "with {pos} {side} eye", "*using the {side} eye"),
    "face": ("on the {side} side of {pos} face", "lopsided to the {side}", "favoring the {side} side",
             "on the {side} side", "*skewed to the {side}", "*weighted to the {side}"),
}
_LINK_NP = ("{a} turning into {b} {t}", "{a} that gives way to {b} {t}", "{a}, then {t} {b}",
            "{a} shifting to {b} {t}", "{a} that turns into {b} {t}", "{a} becoming {b} {t}",
            "{a} changing to {b} {t}", "{a} and then {b} {t}", "{a} fading into {b} {t}", "{a}, and {t}, {b}",
            "*{a} melting into {b} {t}", "*{a} that slides into {b} {t}", "*{a} dissolving into {b} {t}")
_LINK_CLAUSE = ("{T}, {pos} expression shifts to {b}.", "{T}, it gives way to {b}.",
                "{Pos} face changes to {b} {t}.", "{T}, {pos} face changes to {b}.", "{T}, {s} switches to {b}.",
                "{T}, that fades into {b}.", "Then, {t}, it becomes {b}.",
                "*{T}, {b} takes over.", "*{T}, the look melts into {b}.")
# A state the clip does not show, for negations ("a frown, not a smile"): name, family,
# and its forms (gerund, noun phrase, adjective); a contrast always has another valence.
_CONTRAST = {"positive": (("smile", "joy", "smiling", "a smile", None), ("grin", "joy", "grinning", "a grin", None),
                          ("laugh", "joy", "laughing", "a laugh", None), ("happy", "joy", None, None, "happy"),
                          ("amused", "amusement", None, None, "amused")),
             "negative": (("frown", "sadness", "frowning", "a frown", None),
                          ("scowl", "anger", "scowling", "a scowl", None), ("sad", "sadness", None, None, "sad"),
                          ("angry", "anger", None, None, "angry"), ("bored", "boredom", None, None, "bored"))}
_POSITIVE = {"joy", "amusement", "pride", "relief", "tenderness", "playfulness", "flirtation", "awe", "interest"}
_NEG_ING = ("not {x} at all", "not {x}", "not even {x}")
_NEG_NOUN = ("not {x}", "rather than {x}", "instead of {x}", "no sign of {x}", "without a trace of {x}")
_NEG_ADJ = ("not {x} at all", "far from {x}", "anything but {x}")
# Verbs of descriptors whose names are everyday verbs: "grins", "frowns deeply".
_VERBS = {"smile": "smiles", "grin": "grins", "beam": "beams", "laugh": "laughs", "frown": "frowns",
          "sulk": "sulks", "pout": "pouts", "scowl": "scowls", "glare": "glares", "snarl": "snarls",
          "gasp": "gasps", "sneer": "sneers", "smirk": "smirks", "wince": "winces", "grimace": "grimaces",
          "cringe": "cringes", "flinch": "flinches", "squint": "squints", "chuckle": "chuckles",
          "giggle": "giggles", "wink": "winks", "sigh": "sighs", "whistle": "whistles"}
_OPENERS = ("In this clip, ", "In the clip, ", "On screen, ", "Throughout, ", "")
# Frame words of the templates (no labels in them): drawn per caption for variety.
_SHOWS = ("shows", "wears", "has", "carries", "puts on")
_MEANWHILE = ("meanwhile", "at the same time", "all the while", "along the way")
_RUN_ON_ENDS = ("and that is about all there is to it", "and that's pretty much the whole clip", "and that's it",
                "and that is the whole clip", "and nothing else happens")
_THROUGH = ("the whole way through", "all the way through", "throughout", "the whole time", "for the whole clip")
_ONE_SHOT = ("all in one shot", "all in one take", "in a single take", "in one continuous shot")
_WATCH = ("We watch", "We see", "The clip shows", "This shows")
_ACROSS = ("plays across", "spreads across", "shows on", "flickers across")
_CAMERA = ("The camera stays on", "The shot holds on", "We stay on", "The camera holds on")
_IN_CLIP = ("In this clip", "In the clip", "In this shot", "On screen")
_FIRST = ("First", "To begin with", "At the start")
_THEN = ("then", "after that", "next")
_FINALLY = ("finally", "and finally", "lastly")
PHRASE_TABLES = {"intensity_adj": _INT_ADJ, "intensity_adv": _INT_ADV, "intensity_quant": _INT_QUANT,
                 "intensity_verb": {**{f"{k}_pre": v for k, v in _INT_VPRE.items()},
                                    **{f"{k}_post": v for k, v in _INT_VPOST.items()}},
                 "family": {f: a + n for f, (a, n) in _FAM.items()}, "head_vp": _HEAD_VP, "head_np": _HEAD_NP,
                 "micro_vp": _MICRO_VP, "micro_np": _MICRO_NP,
                 "talk": {"vp": _TALK_VP, "np": _TALK_NP, "no_vp": _NO_TALK_VP, "no_np": _NO_TALK_NP},
                 "no_blink": {"vp": _NO_BLINK_VP, "np": _NO_BLINK_NP},
                 "tempo": {**{f"{k}_adv": v for k, v in _TEMPO_ADV.items()},
                           **{f"{k}_np": v for k, v in _TEMPO_NP.items()}},
                 "dynamic": {**{f"{k}_vp": v for k, v in _DYN_VP.items()},
                             **{f"{k}_np": v for k, v in _DYN_NP.items()}},
                 "side": {"pre": _SIDE_PRE, **{f"post_{k}": v for k, v in _SIDE_POST.items()}},
                 "links": {"np": _LINK_NP, "clause": _LINK_CLAUSE},
                 "negation": {"ing": _NEG_ING, "noun": _NEG_NOUN, "adj": _NEG_ADJ}}


def table_phrases(heldout: bool) -> set[str]:
    """The literal words of every table variant (placeholders dropped), held-out ones or the others."""
    out = set()
    for table in PHRASE_TABLES.values():
        for options in table.values():
            for o in options:
                if o.startswith("*") == heldout:
                    for piece in re.split(r"\{[^}]*\}", o.lstrip("*")):
                        piece = piece.strip(" ,.-")
                        if piece:
                            out.add(piece)
    return out


def _norm(text: str) -> str:
    return " " + re.sub(r"[^a-z-]+", " ", text.lower()) + " "


@lru_cache(maxsize=1)
def heldout_wording() -> tuple[frozenset, re.Pattern, frozenset]:
    """The held-out wording no training caption may contain: every held-out table variant and
    every descriptor's held-out synonym, less the phrases that training wording itself contains
    (a held-out "tiny" is no leak inside a training synonym that says it). (phrases, regex, key
    words: the longest word of each phrase, which a text must contain for the phrase to occur)."""
    train = table_phrases(heldout=False)
    for name in caption_parse.lexicon_names():
        _, syn, _ = descriptor_entry(name)
        train |= {name.replace("_", " "), *syn}
    train_text = "|".join(_norm(t) for t in train)
    held = set(table_phrases(heldout=True))
    for name in caption_parse.lexicon_names():
        held |= set(descriptor_entry(name)[2])
    held = frozenset(h.lower() for h in held if h.strip() and _norm(h) not in train_text)
    pattern = "|".join(re.escape(h) for h in sorted(held, key=len, reverse=True)) or "(?!)"
    keys = frozenset(max(re.findall(r"[a-z-]+", h) or [h], key=len) for h in held)
    return held, re.compile(r"(?<![a-z-])(?:" + pattern + r")(?![a-z-])"), keys


def _says_heldout(text: str) -> bool:
    _, regex, keys = heldout_wording()
    text = text.lower()
    if keys.isdisjoint(re.findall(r"[a-z-]+", text)):
        return False
    return regex.search(text) is not None


@lru_cache(maxsize=1 << 16)
def _slot_says_heldout(words: str) -> bool:
    return _says_heldout(words)


_ADJ_HEADS = ("look", "expression", "face")
_NUM = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


# ---------------------------------------------------------------- small grammar helpers
def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _a(word: str) -> str:
    w = word.lower()
    return "an" if w[:1] in "aeiou" and not w.startswith(("one", "uni", "use", "eu")) else "a"


_ADVERB_LEADS = ("never", "also", "barely", "really", "deeply", "faintly", "slightly", "mildly", "gently", "softly",
                 "noticeably", "clearly", "intensely", "wildly", "distinctly", "strongly", "uncontrollably")


def _plural_verb(vp: str) -> str:
    """3rd-person singular verb phrase -> plural ("nods twice" -> "nod twice")."""
    w, _, rest = vp.partition(" ")
    if w in _ADVERB_LEADS or (w == "ever" and rest.startswith("so ")):
        if w == "ever":
            w2, _, rest2 = rest.partition(" ")
            return f"ever {w2} {_plural_verb(rest2)}"
        return f"{w} {_plural_verb(rest)}"
    irregular = {"is": "are", "has": "have", "does": "do", "doesn't": "don't", "isn't": "aren't", "goes": "go"}
    if w in irregular:
        w = irregular[w]
    elif w.endswith("ies"):
        w = w[:-3] + "y"
    elif w.endswith(("ches", "shes", "sses", "xes", "zes")):
        w = w[:-2]
    elif w.endswith("s"):
        w = w[:-1]
    return f"{w} {rest}".strip()


_DOUBLE = ("nod", "bob", "let", "drop", "grin", "sit", "get", "shut", "pop", "flit", "tip", "chat", "sob", "tug",
           "put")


def _gerund(vp: str) -> str:
    """"nods twice" -> "nodding twice", "doesn't move" -> "not moving", "is talking" -> "talking"."""
    w, _, rest = vp.partition(" ")
    if w in ("doesn't", "isn't", "don't", "aren't"):
        return "not " + _gerund(rest)
    if w in ("is", "are") and rest.split(" ")[0].endswith("ing"):
        return rest
    if w in _ADVERB_LEADS:
        return f"{w} {_gerund(rest)}"
    if w.endswith("ing"):
        return vp
    if w in ("has", "have"):
        return f"having {rest}".strip()
    w = w[:-3] + "y" if w.endswith("ies") else w[:-2] if w.endswith(("ches", "shes", "sses")) else \
        w[:-1] if w.endswith("s") else w
    if w in _DOUBLE:
        w += w[-1]
    elif w.endswith("e") and not w.endswith("ee"):
        w = w[:-1]
    return f"{w}ing {rest}".strip()


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    if not items:
        return ""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _also(vps: list[str]) -> str:
    """'also' in the right place: 'also blinks twice', 'is also talking'."""
    first, _, rest = vps[0].partition(" ")
    lead = f"{first} also {rest}" if first in ("is", "are") else f"also {vps[0]}"
    return _join([lead] + vps[1:])


def _and_join(items: list[str]) -> str:
    """Run-on joining: 'a and b and c'."""
    return " and ".join(i for i in items if i)


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




@lru_cache(maxsize=None)
def _verb_forms(descriptor: str) -> tuple[str, str] | None:
    """(3rd-person verb, gerund) of a descriptor named by an everyday verb, when both read
    back as that descriptor: ("grins", "grinning")."""
    verb = _VERBS.get(descriptor)
    if verb is None:
        return None
    ing = _gerund(verb)
    if all(_reads(v, descriptor, None) for v in (verb, ing, _plural_verb(verb))):
        return verb, ing
    return None


_REGION_OF = (("eye", "eye"), ("brow", "brow"), ("mouth", "mouth"), ("cheek", "mouth"), ("nose", "mouth"))


def _regions_from_recipe(recipe: dict, side: str) -> dict:
    """{region: side} from a recipe's one-sided weights, performed on `side` (the lexicon's
    `sided_regions` when it has none)."""
    weights: dict = {}
    for name, w in recipe.items():
        for a, b in (("Left", "Right"), ("Right", "Left")):
            if name.endswith(a) and w - recipe.get(name[: -len(a)] + b, 0.0) > 1e-6:
                region = next((r for p, r in _REGION_OF if name.startswith(p)), None)
                if region:
                    weights.setdefault(region, {}).setdefault(a.lower(), 0.0)
                    weights[region][a.lower()] += w - recipe.get(name[: -len(a)] + b, 0.0)
    out = {r: max(sorted(ws), key=lambda k: ws[k]) for r, ws in weights.items()}
    total = {k: sum(ws.get(k, 0.0) for ws in weights.values()) for k in ("left", "right")}
    native = "left" if total["left"] > total["right"] else "right"
    if out and side != native:
        out = {r: {"left": "right", "right": "left"}[v] for r, v in out.items()}
    return out


@lru_cache(maxsize=None)
def side_region(descriptor: str, side: str = "left") -> str:
    """The face region to say a sided state's side with: "eye" (a wink: the eye that closes),
    "mouth" or "brow", one whose own side is `side` (a skeptical look done on the left has a
    left brow and a right dimple: "her left brow"); "face" when no region can be named (no
    lexicon, or no part on that side)."""
    lex = caption_parse._lexicon()
    try:
        d = lex.by_name(descriptor)
        regions_of = getattr(lex, "sided_regions", None)
        regions = dict(regions_of(d, side)) if regions_of else _regions_from_recipe(dict(d.recipe), side)
    except Exception:
        return "face"
    for region in ("eye", "mouth", "brow"):
        if regions.get(region) == side:
            if region == "eye" and regions.get("mouth") not in (None, side):
                continue                                # an eye on one side, a mouth on the other
            return region
    return "face"


@lru_cache(maxsize=None)
def _split_variants(options: tuple) -> tuple[list, list]:
    """(training variants, held-out variants without their '*')."""
    return [o for o in options if not o.startswith("*")], [o[1:] for o in options if o.startswith("*")]


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
        self.start["side"] = labels.get("side") or "both"
        self.start["dynamic"] = labels.get("dynamic")
        self.tr = labels["transition"]
        self.dynamic = labels.get("dynamic")
        self.fps, self.frames = float(labels["fps"]), int(labels["num_frames"])
        self.on_face = False        # the slot is followed by "on her face": no "... face" head word

    # -- picking
    def pick(self, options, ok: Callable[[str], bool] | None = None, default: str | None = None) -> str:
        """One variant: held-out ones only (where the slot has any) when heldout, else never."""
        train, held = _split_variants(tuple(options))
        if ok is not None:
            train, held = [o for o in train if ok(o)], [o for o in held if ok(o)]
        pool = held if (self.heldout and held) else train
        if not pool:
            return default
        self.picks.append((pool is held, bool(held)))
        return pool[self.index(len(pool))]

    def index(self, n: int) -> int:
        return min(int(self.rng.random() * n), n - 1)

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def choose(self, options):
        """A structural choice (not a wording slot: never held out)."""
        return options[self.index(len(options))]

    @property
    def S(self) -> str:
        return _cap(self.s)

    @property
    def Pos(self) -> str:
        return _cap(self.pos)

    def sub(self, form: str) -> str:
        """The subject as 'a young woman' (form 'a'), 'the young woman' / 'this young woman'
        ('the') or 'young woman' ('')."""
        the = "this" if form == "the" and self.chance(0.2) else "the"
        if self.core == self.L["subject"].strip():      # no article: a name, "someone", ...
            return self.core
        return {"a": f"{_a(self.core)} {self.core}", "the": f"{the} {self.core}", "": self.core}[form]

    def vp(self, phrase: str, pronoun: bool) -> str:
        return _plural_verb(phrase) if pronoun and self.plural else phrase

    def fill(self, phrase: str, count: int | None) -> str:
        if "{cnp:" in phrase:
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

    def fam_word(self, st, noun: bool, then: str = "") -> str:
        adjs, nouns = _FAM.get(st["family"], ((st["family"],), (st["family"],)))
        return self.pick(nouns if noun else adjs,
                         lambda w: _reads(w, None, st["family"]) and self.clean(f"{w}{then}"), default=st["family"])

    def clean(self, words: str) -> bool:
        """Training wording never forms a held-out phrase across slots ("gentle" + "smile")."""
        return self.heldout or not _slot_says_heldout(words)

    @staticmethod
    def sided(st) -> str | None:
        side = st.get("side") or "both"
        return side if side in ("left", "right") else None

    def side_pre(self, st) -> str:
        return self.pick(_SIDE_PRE).format(side=self.sided(st))

    def side_post(self, st) -> str:
        region = side_region(st["descriptor"], self.sided(st))
        options = _SIDE_POST[region] + (_SIDE_POST["face"] if region != "face" else ())
        return self.pick(options).format(side=self.sided(st), pos=self.pos)

    def dyn_tail(self, st) -> str:
        """In a clip with a change, each state's dynamic follows its own name: ', laughing in bursts'."""
        if not (self.tr and st.get("dynamic")):
            return ""
        return ", " + self.fill(self.pick(_DYN_NP[st["dynamic"]]), None)

    def np(self, st, det: str = "a", post: bool = True, dyn: bool = True) -> str:
        """A noun phrase naming the state with its intensity, side and (in a clip with a change)
        dynamic: 'a faint grin', 'a slight smirk on the left side of her mouth', 'a faint
        right-sided sneer'. post=False keeps the side before the noun (for slots followed by
        'on her face')."""
        return self._np(st, det, post) + (self.dyn_tail(st) if dyn else "")

    def _np(self, st, det: str, post: bool) -> str:
        lvl, got = st["intensity"], self._desc_phrase(st)
        side = self.sided(st)
        want_pre = bool(side) and not (post and self.chance(0.6))

        def sides(adj_form: bool) -> tuple[str, str]:
            # (before the noun, after the state); an adjective form ("a slightly smug look") takes
            # its side after it where it may, so the side never sits between two states.
            if not side:
                return "", ""
            if want_pre and not (adj_form and post):
                return self.side_pre(st), ""
            return "", " " + self.side_post(st)

        possessive = det not in ("a", "")
        if got is None or self.chance(0.15):                       # family words only
            if not possessive and self.chance(0.5):
                noun = self.fam_word(st, noun=True)
                pre, tail = sides(False)
                quant = self.pick(_INT_QUANT[lvl], lambda q: self.clean(f"{q} {noun}"), default=_INT_QUANT[lvl][0])
                return f"{quant} {pre + ' ' if pre else ''}{noun}{tail}"
            adv = self.pick(_INT_ADV[lvl], lambda w: " " not in w)
            pre, tail = sides(True)
            core = f"{pre + ', ' if pre else ''}{adv} {self.fam_word(st, noun=False, then=' look')} look"
        else:
            phrase, kind = got
            if kind == "noun":
                pre, tail = sides(False)
                adj = self.pick(_INT_ADJ[lvl], lambda a: self.clean(f"{a} {phrase}"), default=_INT_ADJ[lvl][0])
                core = f"{adj} {pre + ' ' if pre else ''}{phrase}"
                if det == "a" and phrase.endswith("s") and not phrase.endswith("ss"):
                    return core + tail
            else:
                head = self.pick(_ADJ_HEADS, lambda h: _reads(f"{phrase} {h}", st["descriptor"], None)
                                 and self.clean(f"{phrase} {h}") and not (self.on_face and h == "face"),
                                 default="expression")
                pre, tail = sides(True)
                core = f"{pre + ', ' if pre else ''}{self.pick(_INT_ADV[lvl], lambda w: ' ' not in w)} {phrase} {head}"
        text = core if det == "" else f"{_a(core) if det == 'a' else det} {core}"
        return text + tail

    def pred(self, st) -> str:
        """An adjective phrase for 'looks ___': 'slightly happy' (with its side, if any)."""
        text = f"{self.pick(_INT_ADV[st['intensity']])} {self.fam_word(st, noun=False)}"
        return text + (" " + self.side_post(st) if self.sided(st) else "") + self.dyn_tail(st)

    def vstate(self, st, form: str = "3sg", pronoun: bool = False) -> str | None:
        """The state as a verb with its intensity adverb and side: 'grins faintly',
        'barely smirks on the left side of his mouth'; form '3sg', 'ing' or 'base'; None
        when the descriptor has no everyday verb."""
        forms = _verb_forms(st["descriptor"])
        if forms is None:
            return None
        verb, ing = forms
        w = ing if form == "ing" else _plural_verb(verb) if form == "base" or (pronoun and self.plural) else verb
        lvl = st["intensity"]
        text = f"{self.pick(_INT_VPRE[lvl])} {w}" if self.chance(0.5) else f"{w} {self.pick(_INT_VPOST[lvl])}"
        return text + (" " + self.side_post(st) if self.sided(st) else "") + self.dyn_tail(st)

    def tstate(self):
        st = {k: self.tr[k] for k in ("descriptor", "family", "intensity")}
        st["side"] = self.tr.get("side") or "both"
        st["dynamic"] = self.tr.get("dynamic")
        return st

    def timing(self) -> str:
        t, frac = self.tr["frame"] / self.fps, self.tr["frame"] / max(self.frames, 1)
        ts = max(0.5, round(t * 2) / 2)
        whole, half = int(ts), ts % 1 >= 0.5
        words = ("half a second" if whole == 0 else
                 f"{_count_word(whole)} and a half seconds" if half else
                 f"{_count_word(whole)} second{'s' if whole != 1 else ''}")
        seconds = (f"about {words} in", f"after roughly {words}", f"around the {ts:g}-second mark",
                   f"roughly {words} in", f"at about {ts:g} seconds", f"{words} or so in",
                   f"*{ts:g} s into the clip", f"*once {words} {'has' if ts <= 1 else 'have'} passed")
        fracs = (("halfway through", "midway through", "at the halfway point", "*right in the middle of the clip")
                 if abs(frac - .5) < .07 else
                 ("a third of the way in", "*about a third of the way through") if abs(frac - 1 / 3) < .05 else
                 ("two thirds of the way through", "*about two thirds of the way in") if abs(frac - 2 / 3) < .05 else
                 ("early on", "*almost right away") if frac < .25 else
                 ("near the end", "toward the end", "*late in the clip") if frac > .75 else None)
        return self.pick(fracs if fracs and self.chance(0.5) else seconds)

    def story(self, det: str = "a", post: bool = True) -> str:
        """The whole course of the emotion as one noun phrase; post=False: the slot is followed
        by "on her face" (sides before the noun, no "face" head word)."""
        self.on_face = not post
        a = self.np(self.start, det, post=post or bool(self.tr))
        text = a if not self.tr else self.pick(_LINK_NP).format(a=a, b=self.np(self.tstate(), "a"), t=self.timing())
        self.on_face = False
        return text

    def tr_clause(self) -> str:
        t = self.timing()
        return self.pick(_LINK_CLAUSE).format(T=_cap(t), t=t, pos=self.pos, Pos=_cap(self.pos), s=self.s,
                                              b=self.np(self.tstate(), "a"))

    def contrast(self, kinds=("ing", "noun", "adj")) -> str | None:
        """A negation naming a state of the other valence that the clip does not show:
        'not smiling at all', 'rather than a frown', 'far from happy' (None: no safe one)."""
        fams = {self.start["family"]} | ({self.tr["family"]} if self.tr else set())
        positive = self.start["family"] in _POSITIVE
        pool = [c for c in _CONTRAST["negative" if positive else "positive"] if c[1] not in fams]
        forms = [(kind, x, name) for name, _, ing, noun, adj in pool
                 for kind, x in (("ing", ing), ("noun", noun), ("adj", adj)) if x and kind in kinds]
        fam_of = {name: fam for name, fam, *_ in pool}
        forms = [f for f in forms if _reads(_strip_article(f[1]), None, fam_of[f[2]])]
        if not forms:
            return None
        kind, x, _ = self.choose(forms)
        return self.pick({"ing": _NEG_ING, "noun": _NEG_NOUN, "adj": _NEG_ADJ}[kind]).format(x=x)

    # -- head, micro-events, dynamics, talking
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

    def _micro_starts(self) -> dict:
        out: dict = {}
        for ev in sorted(self.L["micro"], key=lambda e: e["start"]):
            out.setdefault(ev["type"], ev["start"])
        return out

    def micro_vps(self, pronoun: bool = False, types=None) -> list[str]:
        """Verb phrases of the micro-events (only those of `types`, if given), in time order."""
        return [self.vp(self.fill(self.pick(_MICRO_VP[t]), n if t == "blink" else None), pronoun)
                for t, n in self._micro() if types is None or t in types]

    def dyn_vp(self, pronoun: bool = False, always: bool = False) -> list[str]:
        """The start state's dynamic as an extra (clips without a change; with one, it follows its state)."""
        if not self.dynamic or (self.tr and not always):
            return []
        return [self.vp(self.fill(self.pick(_DYN_VP[self.dynamic]), None), pronoun)]

    def dyn_np(self) -> list[str]:
        return [self.fill(self.pick(_DYN_NP[self.dynamic]), None)] if self.dynamic and not self.tr else []

    def _no_blinks(self) -> bool:
        return not any(e["type"] in BLINK_TYPES for e in self.L["micro"])

    def negatives(self, np_form: bool, pronoun: bool = False, p: float = 0.2) -> list[str]:
        """Now and then, what does not happen: 'no blinking', 'stays silent' (only when true)."""
        out = []
        if self._no_blinks() and self.chance(p):
            out.append(self.pick(_NO_BLINK_NP) if np_form else self.vp(self.pick(_NO_BLINK_VP), pronoun))
        if not self.L["talking"] and self.chance(p):
            out.append(self.pick(_NO_TALK_NP) if np_form else self.vp(self.pick(_NO_TALK_VP), pronoun))
        return out

    def extras_vp(self, pronoun: bool = False, negatives: bool = True) -> list[str]:
        talk = [self.vp(self.pick(_TALK_VP), pronoun)] if self.L["talking"] else []
        neg = self.negatives(False, pronoun) if negatives else []
        return self.dyn_vp(pronoun) + self.micro_vps(pronoun) + talk + neg

    def extras_np(self, negatives: bool = True) -> list[str]:
        items = [self.fill(self.pick(_MICRO_NP[t]), n if t == "blink" else None) for t, n in self._micro()]
        talk = [self.pick(_TALK_NP)] if self.L["talking"] else []
        return self.dyn_np() + items + talk + (self.negatives(True) if negatives else [])

    def extras_ing(self) -> list[str]:
        return [_gerund(v) for v in self.extras_vp()]

    def does(self, pronoun: bool) -> str:
        """Head motion and extras as one verb phrase: 'nods twice, blinks once and is talking'."""
        return _join([self.head_vp(pronoun)] + self.extras_vp(pronoun))

    def does_base(self) -> str:
        """The same in the bare infinitive: 'nod twice, blink once and keep talking'."""
        return _join([_plural_verb(v) for v in [self.head_vp()] + self.extras_vp(negatives=False)])

    def state_vp(self, st, pronoun: bool = False) -> str:
        """The state as a verb phrase: 'grins faintly' or 'wears a faint grin'."""
        v = self.vstate(st, "3sg", pronoun) if self.chance(0.7) else None
        if v:
            return v
        verb = self.pick(("wears", "shows", "has", "puts on"))
        return f"{self.vp(verb, pronoun)} {self.np(st, 'a')}"

    def beats(self, pronoun_first: bool) -> list[str]:
        """Clauses in time order for 'first ..., then ..., finally ...': the start state, the
        head, the dynamic and talking, each micro-event at its first frame, the change at its frame."""
        first = f"{self.sub('the') if not pronoun_first else self.s} {self.state_vp(self.start, pronoun_first)}"
        items = [(-2.0, first), (-1.5, f"{self.s} {self.head_vp(True)}")]
        items += [(-1.0, f"{self.s} {v}") for v in self.dyn_vp(True)]
        if self.L["talking"]:
            items.append((-0.5, f"{self.s} {self.vp(self.pick(_TALK_VP), True)}"))
        starts = self._micro_starts()
        for t, vp in zip([t for t, _ in self._micro()], self.micro_vps(True)):
            items.append((float(starts[t]), f"{self.s} {vp}"))
        if self.tr:
            t = self.timing()
            items.append((float(self.tr["frame"]), f"{t}, {self.pos} face changes to {self.np(self.tstate(), 'a')}"))
        items.sort(key=lambda x: x[0])
        return [x for _, x in items]


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


def _p_fragments(c: _Ctx) -> str:
    items = [c.story(""), c.head_np(), *c.extras_np(), *c.tempo_items()]
    return " ".join(_cap(i) + "." for i in items)


def _p_subject_paren(c: _Ctx) -> str:
    return ", ".join([c.story(""), c.head_np(), *c.extras_np()]) + f" ({c.sub('')})"


def _p_no_subject(c: _Ctx) -> str:
    return ", ".join([c.story(""), c.head_np(), *c.extras_np(), *c.tempo_items()])


def _p_gerunds(c: _Ctx) -> str:
    state = (c.vstate(c.start, "ing") if not c.tr else None) or c.story("")
    return ", ".join([c.sub(""), state, c.head_ing(), *c.extras_ing()])


def _p_negation(c: _Ctx) -> str:
    neg = c.contrast(("noun", "adj", "ing"))
    items = [c.story("")] + ([neg] if neg else []) + [c.head_np(), *c.extras_np()]
    return ", ".join([c.sub("")] + items)


def _p_and(c: _Ctx) -> str:
    return f"{c.sub('')} with {c.story('a')} and " + " and ".join([c.head_np(), *c.extras_np(negatives=False)])


def _p_verbs(c: _Ctx) -> str:
    return ", ".join([f"{c.sub('')} {c.head_vp()}", c.story("a"), *c.extras_vp()])


def _p_verb_first(c: _Ctx) -> str:
    return ", ".join([c.head_vp(), *c.extras_vp(), c.story(""), c.sub("")])


def _p_chain(c: _Ctx) -> str:
    if not c.tr:
        return ", ".join([c.sub(""), c.np(c.start, ""), f"{c.choose(_THEN)} {c.head_np()}", *c.extras_np()])
    return (f"{c.sub('')}: first {c.np(c.start, '')}, then {c.np(c.tstate(), '')} {c.timing()}, "
            + ", ".join([c.head_np(), *c.extras_np()]))


def _s_head_with(c: _Ctx) -> str:
    text = f"{_cap(c.sub('a'))} {c.head_vp()} with {c.story('a')}."
    extras = c.extras_vp(pronoun=True)
    return text + (f" {c.S} {_also(extras)}." if extras else "")


def _s_with_first(c: _Ctx) -> str:
    c.on_face = True
    text = f"With {c.np(c.start, 'a', post=False, dyn=False)} on {c.pos} face{c.dyn_tail(c.start)}, " \
        f"{c.sub('the')} {c.does(False)}."
    c.on_face = False
    return text + (" " + c.tr_clause() if c.tr else "")


def _s_in_clip(c: _Ctx) -> str:
    return f"{c.choose(_IN_CLIP)}, {c.sub('a')} {c.choose(_SHOWS)} {c.story('a')}. {c.S} {c.does(True)}."


def _s_gerund_first(c: _Ctx) -> str:
    text = f"{_cap(c.head_ing())}, {c.sub('the')} {c.choose(_SHOWS)} {c.story('a')}"
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
    return f"{_cap(c.story('a'))} {c.choose(_ACROSS)} the face of {c.sub('a')}, who {c.does(False)}."


def _s_starts_out(c: _Ctx) -> str:
    text = f"{_cap(c.sub('the'))} starts out with {c.np(c.start, 'a')}"
    if c.tr:
        text += f", and {c.timing()} {c.pos} face changes to {c.np(c.tstate(), 'a')}"
    else:
        text += ", and it stays put the whole way through"
    return text + f". Meanwhile {c.s} {c.does(True)}."


def _s_fragments(c: _Ctx) -> str:
    parts = [_cap(c.story("a")) + "."] + [_cap(v) + "." for v in [c.head_vp(), *c.extras_vp()]]
    return " ".join(parts)


def _s_run_on(c: _Ctx) -> str:
    extras = c.extras_vp(pronoun=True)
    text = f"{_cap(c.sub('the'))} {c.head_vp()}"
    if extras:
        text += f" and {c.s} {_and_join(extras)}"
    return text + f" and {c.choose(_MEANWHILE)} {c.pos} face {c.choose(_SHOWS)} {c.story('a')} " \
        f"{c.choose(_RUN_ON_ENDS)}."


def _s_run_on_so(c: _Ctx) -> str:
    text = f"So there's {c.sub('a')} and {c.s} {c.vp(c.state_vp(c.start), True)}"
    if c.tr:
        text += f" and then {c.timing()} it turns into {c.np(c.tstate(), 'a')}"
    return text + f" and {c.s} {_and_join([c.head_vp(True), *c.extras_vp(True)])} {c.choose(_THROUGH)}."


def _s_subject_last(c: _Ctx) -> str:
    acts = _join([c.head_ing(), *c.extras_ing()])
    return f"{_cap(acts)}, with {c.story('a', post=False)} on {c.pos} face: that is what {c.sub('the')} does." \
        if c.chance(0.5) else f"{_cap(acts)} with {c.story('a')}, all from {c.sub('a')}."


def _s_pronoun_only(c: _Ctx) -> str:
    return f"{c.S} {c.does(True)}, with {c.story('a')}."


def _s_no_subject(c: _Ctx) -> str:
    return f"{_cap(c.does(False))}, showing {c.story('a')}."


def _s_chain(c: _Ctx) -> str:
    beats = c.beats(pronoun_first=c.chance(0.3))
    out = f"{c.choose(_FIRST)}, {beats[0]}"
    for b in beats[1:-1]:
        out += f", {c.choose(_THEN)} {b}"
    return out + f", {c.choose(_FINALLY)} {beats[-1]}."


def _s_negation(c: _Ctx) -> str:
    neg = c.contrast()
    if neg is None:
        return f"{_cap(c.sub('the'))} {c.state_vp(c.start)} and {c.does(False)}" + (
            f". {c.tr_clause()}" if c.tr else ".")
    if c.chance(0.5):
        text = f"{_cap(neg)}, {c.sub('the')} {c.state_vp(c.start)}"
    else:
        text = f"{_cap(c.sub('the'))} {c.state_vp(c.start)}, {neg}"
    text += f"; {c.s} {c.does(True)}."
    return text + (f" {c.tr_clause()}" if c.tr else "")


def _s_verb_adverb(c: _Ctx) -> str:
    text = f"{_cap(c.sub('the'))} {c.state_vp(c.start)}"
    if c.tr:
        v = c.vstate(c.tstate(), "3sg", pronoun=True)
        text += f", and then, {c.timing()}, {c.s} {v}" if v else f", and then, {c.timing()}, {c.s} " \
            f"{c.vp('switches', True)} to {c.np(c.tstate(), 'a')}"
    return text + f". {c.S} {_also([c.head_vp(True), *c.extras_vp(True)])}."


def _s_verb_gerund(c: _Ctx) -> str:
    lead = c.vstate(c.start, "ing")
    if lead is None or c.tr:
        return f"{_cap(c.head_ing())} and {c.vp('wearing', False)} {c.story('a')}, {c.sub('the')} " \
               f"{_join(c.extras_vp()) or 'carries on'}."
    return f"{_cap(lead)}, {c.sub('the')} {c.does(False)}."


def _s_there_is(c: _Ctx) -> str:
    return f"There's {c.story('a')} on the face of {c.sub('a')} as {c.s} {c.does(True)}."


def _s_we_watch(c: _Ctx) -> str:
    return f"{c.choose(_WATCH)} {c.sub('a')} {c.does_base()} with {c.story('a')}."


def _s_as_clause(c: _Ctx) -> str:
    return f"As {c.s} {c.does(True)}, {c.sub('the')} {c.choose(_SHOWS)} {c.story('a')}."


def _s_face_first(c: _Ctx) -> str:
    return f"{c.Pos} face showing {c.story('a')}, {c.sub('the')} {c.does(False)}."


def _s_two_short(c: _Ctx) -> str:
    extras = c.extras_np()
    return f"{_cap(c.sub('a'))} {c.head_vp()}. {_cap(c.story('a'))}" + (
        f", {_join(extras)}." if extras else ".")


def _s_long_detail(c: _Ctx) -> str:
    text = f"{c.choose(_OPENERS)}{c.sub('a')} {c.head_vp()}; {c.pos} expression is {c.story('a')}"
    extras = c.extras_vp(pronoun=True)
    text = _cap(text)
    return text + (f", and {c.choose(_MEANWHILE)} {c.s} {_join(extras)}." if extras else ".")


def _s_camera(c: _Ctx) -> str:
    return f"{c.choose(_CAMERA)} {c.sub('a')}, who {c.does(False)} while {_gerund(c.choose(_SHOWS))} {c.story('a')}."


def _s_whole_time(c: _Ctx) -> str:
    text = f"{_cap(c.choose(_THROUGH))}, {c.sub('the')} {c.head_vp()}; {c.pos} face, {c.choose(_MEANWHILE)}, " \
        f"{c.choose(_SHOWS)} {c.story('a')}"
    extras = c.extras_vp(pronoun=True)
    return text + (f", and {c.s} {_join(extras)}." if extras else ".")


def _s_question(c: _Ctx) -> str:
    return f"What does {c.sub('the')} do? {c.S} {c.does(True)}, {c.story('a', post=False)} on {c.pos} face." \
        if not c.tr else f"What does {c.sub('the')} do? {c.S} {c.does(True)}, with {c.story('a')}."


def _s_all_in_one(c: _Ctx) -> str:
    return f"{_cap(c.sub('a'))}, {c.story('a')}, " + ", ".join([c.head_np(), *c.extras_np()]) + \
        f", {c.choose(_ONE_SHOT)}."


def _s_who_clause(c: _Ctx) -> str:
    return f"{_cap(c.sub('a'))} who {c.does(False)} and who {c.choose(_SHOWS)} {c.story('a')}"


def _h_semicolons(c: _Ctx) -> str:
    return f"{c.story('')} on {c.sub('a')}; " + "; ".join([c.head_np(), *c.extras_np()])


def _h_plus(c: _Ctx) -> str:
    return f"{c.sub('')}: " + " + ".join([c.head_np(), c.story(""), *c.extras_np()])


def _h_fields(c: _Ctx) -> str:
    extras = c.extras_np()
    text = f"face: {c.story('')}. head: {c.head_np()}."
    return f"{c.sub('')}. " + text + (f" other: {', '.join(extras)}." if extras else "")


def _h_arrows(c: _Ctx) -> str:
    return " -> ".join([c.sub(""), c.story(""), c.head_np(), *c.extras_np()])


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


def _h_you_see(c: _Ctx) -> str:
    text = f"You can see {c.sub('a')} {c.head_ing()} with {c.story('a')}"
    extras = c.extras_vp(pronoun=True)
    return text + (f"; {c.s} {_also(extras)} too." if extras else ".")


TEMPLATES: dict[str, Template] = {t.id: t for t in (
    Template("p_list", "prompt", False, _p_list),
    Template("p_head_first", "prompt", False, _p_head_first),
    Template("p_with", "prompt", False, _p_with),
    Template("p_extras_first", "prompt", False, _p_extras_first),
    Template("p_fragments", "prompt", False, _p_fragments),
    Template("p_subject_paren", "prompt", False, _p_subject_paren),
    Template("p_no_subject", "prompt", False, _p_no_subject),
    Template("p_gerunds", "prompt", False, _p_gerunds),
    Template("p_negation", "prompt", False, _p_negation),
    Template("p_and", "prompt", False, _p_and),
    Template("p_verbs", "prompt", False, _p_verbs),
    Template("p_verb_first", "prompt", False, _p_verb_first),
    Template("p_chain", "prompt", False, _p_chain),
    Template("s_head_with", "sentence", False, _s_head_with),
    Template("s_with_first", "sentence", False, _s_with_first),
    Template("s_in_clip", "sentence", False, _s_in_clip),
    Template("s_gerund_first", "sentence", False, _s_gerund_first),
    Template("s_looks", "sentence", False, _s_looks),
    Template("s_while", "sentence", False, _s_while),
    Template("s_plays_across", "sentence", False, _s_plays_across),
    Template("s_starts_out", "sentence", False, _s_starts_out),
    Template("s_fragments", "sentence", False, _s_fragments),
    Template("s_run_on", "sentence", False, _s_run_on),
    Template("s_run_on_so", "sentence", False, _s_run_on_so),
    Template("s_subject_last", "sentence", False, _s_subject_last),
    Template("s_pronoun_only", "sentence", False, _s_pronoun_only),
    Template("s_no_subject", "sentence", False, _s_no_subject),
    Template("s_chain", "sentence", False, _s_chain),
    Template("s_negation", "sentence", False, _s_negation),
    Template("s_verb_adverb", "sentence", False, _s_verb_adverb),
    Template("s_verb_gerund", "sentence", False, _s_verb_gerund),
    Template("s_there_is", "sentence", False, _s_there_is),
    Template("s_we_watch", "sentence", False, _s_we_watch),
    Template("s_as_clause", "sentence", False, _s_as_clause),
    Template("s_face_first", "sentence", False, _s_face_first),
    Template("s_two_short", "sentence", False, _s_two_short),
    Template("s_long_detail", "sentence", False, _s_long_detail),
    Template("s_camera", "sentence", False, _s_camera),
    Template("s_whole_time", "sentence", False, _s_whole_time),
    Template("s_question", "sentence", False, _s_question),
    Template("s_all_in_one", "sentence", False, _s_all_in_one),
    Template("s_who_clause", "sentence", False, _s_who_clause),
    Template("h_semicolons", "prompt", True, _h_semicolons),
    Template("h_plus", "prompt", True, _h_plus),
    Template("h_fields", "prompt", True, _h_fields),
    Template("h_arrows", "prompt", True, _h_arrows),
    Template("h_here", "sentence", True, _h_here),
    Template("h_picture", "sentence", True, _h_picture),
    Template("h_stands_out", "sentence", True, _h_stands_out),
    Template("h_holds", "sentence", True, _h_holds),
    Template("h_you_see", "sentence", True, _h_you_see),
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
            for _ in range(6):                       # redraw the words on a (rare) duplicate or leak
                c = _Ctx(labels, rng, heldout)
                text = t.build(c)
                if text not in seen and (heldout or not _says_heldout(text)):
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
    "side": ("Which side of the face is the expression on?", "Is the expression one-sided, and on which side?",
             "On which side does {the} show it?", "Left or right: where is the expression?"),
    "dynamic": ("How does the expression move over time?", "Is there a rhythm or pattern to the expression?",
                "What does the expression do as it plays out?"),
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
    if kind == "side":
        return f"The {c.start['side']} side: {c.np(c.start, 'a')}." if c.sided(c.start) else \
            f"{_cap(c.np(c.start, 'a'))}, the same on both sides."
    if kind == "dynamic":
        if c.dynamic:
            return f"{c.S} {c.dyn_vp(True, always=True)[0]}."
        return f"{_cap(c.np(c.start, 'a'))} simply comes and goes."
    ids = [t.id for t in TEMPLATES.values() if t.style == "sentence" and not t.heldout]
    return TEMPLATES[ids[int(rng.integers(len(ids)))]].build(c)


def qa_pairs(labels: dict, rng: np.random.Generator) -> list[dict]:
    """One question/answer pair per kind: [{q, a, kind}]; "side" only for sided clips
    (side left / right) and "dynamic" only for clips with a dynamic."""
    out = []
    for kind, questions in _QUESTIONS.items():
        if kind == "side" and (labels.get("side") or "both") == "both":
            continue
        if kind == "dynamic" and not labels.get("dynamic"):
            continue
        c = _Ctx(labels, rng, heldout=False)
        q = questions[int(rng.integers(len(questions)))].format(pos=c.pos, the=c.sub("the"))
        out.append({"q": q, "a": _answer(c, kind, rng), "kind": kind})
    return out
