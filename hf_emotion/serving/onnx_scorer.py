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

from hf_emotion.errors import BadFileError
from hf_emotion.model.batches import load_feature_extractor
from hf_emotion.model.files import ONNX_FILE
from hf_emotion.serving.scorers import ModelScorer, even_frames

logger = logging.getLogger(__name__)

ONNX_MISSING = (
    "running an exported ONNX model needs onnxruntime: pip install 'hf-emotion[onnx]' "
    "(or pip install onnxruntime onnx)"
)
#: The graph output with the encoder's pooled hidden states, which a speaker-adaptive head judges.
POOLED_OUTPUT = "pooled_hidden_states"
#: The graph outputs with what the heads read (``EmotionModel.embeddings``): utterance, frames, frame mask.
EMBEDDING_OUTPUTS = ("embedding", "frame_embeddings", "frame_mask")


def _session(path: Path, options, onnxruntime):
    """onnxruntime's session for ``path``; a file it cannot read is a :class:`BadFileError` naming it."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except (state.InvalidProtobuf, state.InvalidGraph, state.Fail) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise BadFileError(
            f"{path}: onnxruntime cannot load it ({reason}); the file is damaged or cut short: export the model "
            "again (hf-emotion export)"
        ) from None


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
        self.folder = folder
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = _session(folder / ONNX_FILE, options, onnxruntime)
        self.input_names = {node.name for node in self.session.get_inputs()}
        self.output_names = {node.name for node in self.session.get_outputs()}
        logger.info(
            "loaded %s (ONNX, %s backbone, labels %s)",
            folder,
            self.config.encoder_config.model_type,
            self.labels,
        )

    @property
    def has_pooled_features(self) -> bool:
        """Whether the graph gives the pooled hidden states (exports made before it was added do not)."""
        return POOLED_OUTPUT in self.output_names

    def run(self, features: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        probabilities, regression = self.session.run(
            ["probabilities", "valence_arousal"], self._feeds(features)
        )
        return probabilities.astype(np.float32), regression.astype(np.float32)

    def run_pooled(self, features: dict[str, np.ndarray]) -> np.ndarray:
        if not self.has_pooled_features:
            raise ValueError(
                f"{self.folder} is an ONNX export without {POOLED_OUTPUT}, which speaker-adaptive mode needs: "
                "export the model again with this version of hf-emotion export"
            )
        (pooled,) = self.session.run([POOLED_OUTPUT], self._feeds(features))
        return pooled.astype(np.float32)

    def run_embeddings(self, features: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not set(EMBEDDING_OUTPUTS) <= self.output_names:
            raise ValueError(
                f"{self.folder} is an ONNX export without embedding outputs: export the model again with this "
                "version of hf-emotion export"
            )
        utterance, frames, mask = self.session.run(list(EMBEDDING_OUTPUTS), self._feeds(features))
        return utterance.astype(np.float32), frames.astype(np.float32), mask

    def _feeds(self, features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.is_whisper:
            features = even_frames(features)
        return {name: value for name, value in features.items() if name in self.input_names}


__all__ = ["EMBEDDING_OUTPUTS", "ONNX_MISSING", "POOLED_OUTPUT", "OnnxScorer"]
