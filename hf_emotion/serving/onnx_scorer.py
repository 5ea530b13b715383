"""An exported ONNX model (``hf-emotion export``) as a scorer, run by onnxruntime.

A module of its own so that onnxruntime, an optional extra, is imported only when an exported
folder is loaded.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch

from hf_emotion.serving.scorers import (
    ONNX_FILE,
    ONNX_MISSING,
    ModelScorer,
    even_frames,
    load_feature_extractor,
)

logger = logging.getLogger(__name__)


class OnnxScorer(ModelScorer):
    """A folder written by ``hf-emotion export``, run by onnxruntime on the CPU.

    Args:
        folder: the exported folder (``model.onnx``, ``config.json``, the feature extractor).
        threads: onnxruntime's intra-op threads; default: torch's thread count, so
            ``OMP_NUM_THREADS`` and ``torch.set_num_threads`` govern both back ends alike.
    """

    def __init__(self, folder: str | os.PathLike, *, threads: int | None = None) -> None:
        try:
            import onnxruntime
        except ImportError as error:
            raise ImportError(ONNX_MISSING) from error
        from hf_emotion.model.configuration_emotion import EmotionConfig

        folder = Path(folder)
        super().__init__(EmotionConfig.from_pretrained(folder), load_feature_extractor(str(folder)))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(folder / ONNX_FILE), options, providers=["CPUExecutionProvider"]
        )
        self.input_names = {node.name for node in self.session.get_inputs()}
        logger.info(
            "loaded %s (ONNX, %s backbone, labels %s)",
            folder,
            self.config.encoder_config.model_type,
            self.labels,
        )

    def run(self, features: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        if self.is_whisper:
            features = even_frames(features)
        feeds = {name: value for name, value in features.items() if name in self.input_names}
        probabilities, regression = self.session.run(["probabilities", "valence_arousal"], feeds)
        return probabilities.astype(np.float32), regression.astype(np.float32)


__all__ = ["OnnxScorer"]
