"""The old home of the training pieces, split by idea; these names keep working from here.

batches (model inputs, collator), trainer (Trainer, callbacks, metrics), checkpoints, heads (probe
and refit), class_mixing, reports (predictions, plots); the model card is in ``hf_emotion.hub``; the
recipe that runs them is ``hf_emotion.recipe``. New code imports from those modules.
"""

from .batches import EmotionDataCollator, load_feature_extractor, model_inputs, with_model_columns
from .checkpoints import MODEL_FILES, export_model, last_complete_checkpoint
from .class_mixing import CLASS_MIXING_WEIGHTS, choose_class_mixing, class_mean_targets, fit_class_mixing
from .heads import HEAD_MODULES, fit_heads_on_pooled_features, pooled_features
from .reports import average_predictions, predict_dataset, record_metrics, save_predictions
from .trainer import (
    IGNORE_KEYS,
    EmotionTrainer,
    FreezeEncoderCallback,
    evaluation_trainer,
    make_compute_metrics,
)

__all__ = [
    "CLASS_MIXING_WEIGHTS",
    "HEAD_MODULES",
    "IGNORE_KEYS",
    "MODEL_FILES",
    "EmotionDataCollator",
    "EmotionTrainer",
    "FreezeEncoderCallback",
    "average_predictions",
    "choose_class_mixing",
    "class_mean_targets",
    "evaluation_trainer",
    "export_model",
    "fit_class_mixing",
    "fit_heads_on_pooled_features",
    "last_complete_checkpoint",
    "load_feature_extractor",
    "make_compute_metrics",
    "model_inputs",
    "pooled_features",
    "predict_dataset",
    "record_metrics",
    "save_predictions",
    "with_model_columns",
]
