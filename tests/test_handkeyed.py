"""The hand-keyed clips for the captioner's check on motion the corpus did not make: they are
valid clips with the keys asked for, and the word check is right on known captions."""
import numpy as np

from engine.head import load_head
from training.eval.handkeyed import SPECS, caption_passes, handkeyed_clips


def test_handkeyed_clips_are_valid_and_carry_their_keys():
    clips = handkeyed_clips(load_head().expr_names)
    assert len(clips) == len(SPECS) >= 12
    assert {c.fps for _, c, _ in clips} == {24.0, 25.0, 30.0}
    by = {n: c for n, c, _ in clips}
    wink = by["left_wink"]
    i = wink.expr_names.index("eyeBlinkLeft")
    assert wink.expr[int(1.2 * 30), i] == 1.0 and wink.expr[0, i] == 0.0 and wink.expr[-1, i] == 0.0
    assert np.abs(wink.expr[:, wink.expr_names.index("eyeBlinkRight")]).max() == 0
    assert by["two_blinks_only"].expr_names == ["eyeBlinkLeft", "eyeBlinkRight"]     # a partial channel set
    turn = by["turn_left"]
    assert turn.pose[-1, 1, 1] == np.float32(0.5) and turn.num_frames == 75         # neck yaw +: left
    nod = by["two_slow_nods"].pose[:, 1, 0]
    assert nod.max() > 0.27 and nod[int(1.4 * 25)] == 0                              # down, back, down


def test_caption_words_known_answers():
    groups = SPECS["right_smirk"][-1]
    assert caption_passes("A man gives a smug half smile on the right side.", groups)
    assert not caption_passes("A man gives a smug half smile on the left side.", groups)
    assert not caption_passes("Upright, she smiles.", [("right",)])              # whole words' starts only
    assert caption_passes("She is SURPRISED", SPECS["big_surprise"][-1])
