"""The one loader of serving: a model folder, Hub id or ONNX export → its scorer, and its speaker-adaptive head.

The scorers' modules import nothing of this one, so that the torch, ONNX and mean scorers never
import each other in a circle; onnxruntime (an optional extra) is imported only for an export.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import torch

from hf_emotion.model.batches import load_feature_extractor
from hf_emotion.model.files import ONNX_FILE, SPEAKER_ADAPTIVE_HEAD_FILE
from hf_emotion.serving.scorers import Scorer, TorchScorer

if TYPE_CHECKING:
    from hf_emotion.serving.speaker_adaptive import SpeakerAdaptiveHead


def is_onnx_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder written by ``hf-emotion export``."""
    return os.path.isfile(os.path.join(os.fspath(path), ONNX_FILE))


def load_scorer(
    name: str | os.PathLike,
    *,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype | None = None,
    **hub_kwargs: Any,
) -> Scorer:
    """An :class:`~hf_emotion.serving.onnx_scorer.OnnxScorer` for an exported folder, else a
    :class:`~hf_emotion.serving.scorers.TorchScorer`."""
    if not is_onnx_folder(name):
        return TorchScorer.from_pretrained(name, device=device, dtype=dtype, **hub_kwargs)
    if str(device) != "cpu":
        raise ValueError(f"{os.fspath(name)} is an ONNX export, which runs on the CPU; use device='cpu'")
    if dtype not in (None, "float32", torch.float32):
        raise ValueError(
            f"{os.fspath(name)} is an ONNX export and runs as exported: dtype={dtype!r} does not apply "
            "(export with --quantize int8 for a smaller, faster model)"
        )
    from hf_emotion.serving.onnx_scorer import (
        OnnxScorer,
    )  # onnxruntime is an optional extra: loaded only here

    return OnnxScorer(name)


def load_adaptive_head(name: str | os.PathLike) -> SpeakerAdaptiveHead | None:
    """The speaker-adaptive head saved in a local model folder, or ``None`` when it has none."""
    if not os.path.isfile(os.path.join(os.fspath(name), SPEAKER_ADAPTIVE_HEAD_FILE)):
        return None
    # Imported only for a model with a head: the head's module brings scikit-learn's metrics.
    from hf_emotion.serving.speaker_adaptive import SpeakerAdaptiveHead

    return SpeakerAdaptiveHead.load(name)


__all__ = ["is_onnx_folder", "load_adaptive_head", "load_feature_extractor", "load_scorer"]
