"""The project's metrics, one implementation for everyone (issue 4): import from here.

The code lives in two modules so each reads in one sitting:
- training.eval.metrics_motion: Language2Motion (R-precision, FD, MM-Dist, Diversity,
  Multimodality, L2, token accuracy, label accuracy, classifier accuracy from
  logits) and the tokenizer (vertex errors, channel MAE, pose error, codebook usage).
- training.eval.metrics_text: Motion2Language (caption label correctness, BLEU, ROUGE-L,
  CIDEr-D, MiniLM embedding similarity).
"""
from training.eval.metrics_motion import (
                                     CLASSIFIER_KEYS,
                                     as_numpy,
                                     channel_mae,
                                     classifier_accuracy,
                                     codebook_usage,
                                     diversity,
                                     frechet_distance,
                                     gaussian_frechet,
                                     l2_expr_pose,
                                     label_accuracy,
                                     label_value,
                                     mm_dist,
                                     multimodality,
                                     pose_error_deg,
                                     r_precision,
                                     retrieval_ranks,
                                     rotation_angle,
                                     token_accuracy,
                                     vertex_errors,
)
from training.eval.metrics_text import (
                                     CAPTION_KEYS,
                                     bleu,
                                     caption_label_correctness,
                                     cider,
                                     embedding_similarity,
                                     minilm_sentence_encoder,
                                     rouge_l,
                                     words,
)

__all__ = [
    "CLASSIFIER_KEYS", "as_numpy", "channel_mae", "classifier_accuracy", "codebook_usage", "diversity",
    "frechet_distance",
    "gaussian_frechet", "l2_expr_pose", "label_accuracy", "label_value", "mm_dist", "multimodality",
    "pose_error_deg", "r_precision", "retrieval_ranks", "rotation_angle", "token_accuracy", "vertex_errors",
    "CAPTION_KEYS", "bleu", "caption_label_correctness", "cider", "embedding_similarity",
    "minilm_sentence_encoder", "rouge_l", "words",
]
