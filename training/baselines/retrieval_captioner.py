"""The Motion2Language baseline that needs no language model: caption a motion with the first
caption of its nearest training clip in the evaluator's motion embedding space."""
from __future__ import annotations

import numpy as np


def nearest_captions(query_emb: np.ndarray, pool_emb: np.ndarray, pool_captions: list) -> list[str]:
    """query_emb [N,E], pool_emb [M,E] (unit vectors: dot = cosine), pool_captions M lists of
    captions -> N captions, the first caption of each query's most similar pool clip."""
    nearest = (query_emb @ pool_emb.T).argmax(1)
    return [pool_captions[j][0] for j in nearest]
