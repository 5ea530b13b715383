"""hf-emotion: speech and song emotion recognition with pretrained speech encoders.

The public API, imported lazily so that ``import hf_emotion`` stays cheap::

    from hf_emotion import EmotionRecognizer, EmotionModel, EmotionConfig, decode_audio
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:  # what editors and type checkers see; at run time each name loads on first use
    from .audio import AudioDecodeError as AudioDecodeError
    from .audio import decode_audio as decode_audio
    from .backbones import build_backbone as build_backbone
    from .configuration_emotion import EmotionConfig as EmotionConfig
    from .corpora import load_audio_dataset as load_audio_dataset
    from .corpora import load_corpora as load_corpora
    from .corpora import load_corpus as load_corpus
    from .corpora import load_crema_d as load_crema_d
    from .corpora import load_ravdess as load_ravdess
    from .errors import UserError as UserError
    from .inference import EmotionPrediction as EmotionPrediction
    from .inference import EmotionRecognizer as EmotionRecognizer
    from .inference import EnsembleRecognizer as EnsembleRecognizer
    from .inference import RecognizerOptions as RecognizerOptions
    from .labels import EMOTIONS as EMOTIONS
    from .modeling_emotion import EmotionModel as EmotionModel
    from .modeling_emotion import EmotionModelOutput as EmotionModelOutput
    from .speaker_adaptive import SpeakerAdaptiveHead as SpeakerAdaptiveHead
    from .speaker_adaptive import SpeakerAdaptiveRecognizer as SpeakerAdaptiveRecognizer
    from .splits import make_split as make_split
    from .splits import speaker_folds as speaker_folds

# name -> module, read by __getattr__ so that ``import hf_emotion`` loads neither torch nor transformers.
_EXPORTS = {
    "EmotionConfig": "hf_emotion.configuration_emotion",
    "EmotionModel": "hf_emotion.modeling_emotion",
    "EmotionModelOutput": "hf_emotion.modeling_emotion",
    "EmotionRecognizer": "hf_emotion.inference",
    "EmotionPrediction": "hf_emotion.inference",
    "EnsembleRecognizer": "hf_emotion.inference",
    "RecognizerOptions": "hf_emotion.inference",
    "SpeakerAdaptiveRecognizer": "hf_emotion.speaker_adaptive",
    "SpeakerAdaptiveHead": "hf_emotion.speaker_adaptive",
    "decode_audio": "hf_emotion.audio",
    "AudioDecodeError": "hf_emotion.audio",
    "load_corpus": "hf_emotion.corpora",
    "load_corpora": "hf_emotion.corpora",
    "load_ravdess": "hf_emotion.corpora",
    "load_crema_d": "hf_emotion.corpora",
    "load_audio_dataset": "hf_emotion.corpora",
    "make_split": "hf_emotion.splits",
    "speaker_folds": "hf_emotion.splits",
    "build_backbone": "hf_emotion.backbones",
    "EMOTIONS": "hf_emotion.labels",
    "UserError": "hf_emotion.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hf_emotion' has no attribute {name!r}")
