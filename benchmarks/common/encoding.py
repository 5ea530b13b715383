"""A model's pooled hidden states of decoded clips, and its own classifier on them: what the speaker-adaptive
benchmarks score both ways from one encoding pass."""

from __future__ import annotations

import logging

import numpy as np
import torch

logger = logging.getLogger(__name__)


class Encoder:
    """The model's pooled hidden states ``(N, L, H)`` of decoded clips, and its own classifier on them."""

    def __init__(self, path: str, batch_size: int, max_seconds: float):
        from transformers import AutoFeatureExtractor

        from hf_emotion import EmotionModel

        self.model = EmotionModel.from_pretrained(path).eval()
        self.extractor = AutoFeatureExtractor.from_pretrained(path)
        self.sampling_rate = self.extractor.sampling_rate
        self.max_seconds = max_seconds
        self.labels = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]
        self.batch_size = batch_size

    def encode(self, decoded, description: str) -> dict:
        from hf_emotion.model.batches import with_model_columns
        from hf_emotion.training.speaker_adaptive_head import encode_clips

        logger.info("encoding %s", description)
        with torch.inference_mode():
            encoded = encode_clips(
                self.model,
                self.extractor,
                with_model_columns(decoded),
                max_seconds=self.max_seconds,
                batch_size=self.batch_size,
            )
        names = decoded.features["emotion"].names
        return {
            "hidden": encoded["hidden"],
            "labels": [names[i] for i in decoded["emotion"]],
            "speakers": list(decoded["speaker"]),
        }

    def probabilities(self, hidden: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            logits, _ = self.model.heads_from_pooled(torch.from_numpy(hidden))
        return torch.softmax(logits.float(), dim=-1).numpy()
