"""hf-emotion: speech and song emotion recognition with pretrained speech encoders.

The public API, imported lazily so that ``import hf_emotion`` stays cheap::

    from hf_emotion import EmotionRecognizer, EmotionModel, EmotionConfig, decode_audio
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "EmotionConfig": "hf_emotion.configuration_emotion",
    "EmotionModel": "hf_emotion.modeling_emotion",
    "EmotionModelOutput": "hf_emotion.modeling_emotion",
    "EmotionRecognizer": "hf_emotion.inference",
    "EmotionPrediction": "hf_emotion.inference",
    "EnsembleRecognizer": "hf_emotion.inference",
    "RecognizerOptions": "hf_emotion.inference",
    "SpeakerAdaptiveRecognizer": "hf_emotion.speaker_adaptive",
    "decode_audio": "hf_emotion.audio",
    "AudioDecodeError": "hf_emotion.audio",
    "load_corpora": "hf_emotion.corpora",
    "load_ravdess": "hf_emotion.corpora",
    "load_crema_d": "hf_emotion.corpora",
    "load_audio_dataset": "hf_emotion.corpora",
    "make_split": "hf_emotion.splits",
    "speaker_folds": "hf_emotion.splits",
    "build_backbone": "hf_emotion.backbones",
    "EMOTIONS": "hf_emotion.labels",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hf_emotion' has no attribute {name!r}")
