"""hf-emotion: speech and song emotion recognition with pretrained speech encoders.

The public API, imported lazily so that ``import hf_emotion`` stays cheap::

    from hf_emotion import EmotionRecognizer, EmotionModel, EmotionConfig, decode_audio
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:  # what editors and type checkers see; at run time each name loads on first use
    from .backbones import build_backbone as build_backbone
    from .corpora import load_audio_dataset as load_audio_dataset
    from .corpora import load_corpora as load_corpora
    from .corpora import load_corpus as load_corpus
    from .corpora import load_crema_d as load_crema_d
    from .corpora import load_ravdess as load_ravdess
    from .data.audio import AudioDecodeError as AudioDecodeError
    from .data.audio import decode_audio as decode_audio
    from .data.labels import EMOTIONS as EMOTIONS
    from .data.splits import make_split as make_split
    from .data.splits import speaker_folds as speaker_folds
    from .errors import UserError as UserError
    from .model.configuration_emotion import EmotionConfig as EmotionConfig
    from .model.modeling_emotion import EmotionModel as EmotionModel
    from .model.modeling_emotion import EmotionModelOutput as EmotionModelOutput
    from .serving.adaptive_recognizer import SpeakerAdaptiveRecognizer as SpeakerAdaptiveRecognizer
    from .serving.recognizer import EmotionPrediction as EmotionPrediction
    from .serving.recognizer import EmotionRecognizer as EmotionRecognizer
    from .serving.recognizer import EnsembleRecognizer as EnsembleRecognizer
    from .serving.recognizer import RecognizerOptions as RecognizerOptions
    from .serving.speaker_adaptive import SpeakerAdaptiveHead as SpeakerAdaptiveHead

# name -> module, read by __getattr__ so that ``import hf_emotion`` loads neither torch nor transformers.
_EXPORTS = {
    "EmotionConfig": "hf_emotion.model.configuration_emotion",
    "EmotionModel": "hf_emotion.model.modeling_emotion",
    "EmotionModelOutput": "hf_emotion.model.modeling_emotion",
    "EmotionRecognizer": "hf_emotion.serving.recognizer",
    "EmotionPrediction": "hf_emotion.serving.recognizer",
    "EnsembleRecognizer": "hf_emotion.serving.recognizer",
    "RecognizerOptions": "hf_emotion.serving.recognizer",
    "SpeakerAdaptiveRecognizer": "hf_emotion.serving.adaptive_recognizer",
    "SpeakerAdaptiveHead": "hf_emotion.serving.speaker_adaptive",
    "decode_audio": "hf_emotion.data.audio",
    "AudioDecodeError": "hf_emotion.data.audio",
    "load_corpus": "hf_emotion.corpora",
    "load_corpora": "hf_emotion.corpora",
    "load_ravdess": "hf_emotion.corpora",
    "load_crema_d": "hf_emotion.corpora",
    "load_audio_dataset": "hf_emotion.corpora",
    "make_split": "hf_emotion.data.splits",
    "speaker_folds": "hf_emotion.data.splits",
    "build_backbone": "hf_emotion.backbones",
    "EMOTIONS": "hf_emotion.data.labels",
    "UserError": "hf_emotion.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hf_emotion' has no attribute {name!r}")
