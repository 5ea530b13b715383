"""Embeddings: the vectors the model's heads read, for people's own classifiers and for clustering.

As emotion2vec's ``extract_embedding`` gives an utterance vector and, on request, one per frame, so
:meth:`hf_emotion.serving.recognizer.EmotionRecognizer.embed` gives ``EmotionModel.embeddings``: the
layer-weighted encoder frames through the projector (``classifier_proj_size`` wide), pooled over the
clip as the heads pool them. Each input is decoded whole, at the model's rate, and encoded whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hf_emotion.serving.inputs import AudioLike, decode_whole


def embed_inputs(
    scorer: Any,
    audio: AudioLike | Sequence[AudioLike],
    *,
    frames: bool = False,
    sampling_rate: int | None = None,
    batch_size: int = 16,
) -> Any:
    """The embeddings of one input or a list of inputs (see ``EmotionRecognizer.embed``)."""
    if not hasattr(scorer, "embeddings"):
        raise ValueError(
            "embeddings come from one model, and an ensemble has no one embedding space: load one model folder"
        )
    single = not isinstance(audio, (list, tuple))
    items = [audio] if single else list(audio)
    signals = []
    for item in items:
        source, samples = decode_whole(item, scorer.sampling_rate, sampling_rate, allow_silence=True)
        seconds = samples.shape[0] / scorer.sampling_rate
        if seconds > scorer.max_clip_seconds:
            raise ValueError(
                f"{source}: {seconds:.1f} s is longer than this model takes whole ({scorer.max_clip_seconds:g} s); "
                "embed it in pieces of at most that length"
            )
        signals.append(samples)
    utterances, frame_vectors = scorer.embeddings(signals, frames=frames, batch_size=batch_size)
    if not frames:
        return utterances[0] if single else utterances
    return (utterances[0], frame_vectors[0]) if single else (utterances, frame_vectors)


def write_embeddings(path: str, names: Sequence[str], utterances: np.ndarray, frames: list | None) -> None:
    """An ``.npz`` of the embeddings: ``files`` (N,), ``embeddings`` (N, P) and, with frames, ``frames_<i>``
    (F_i, P) for the i-th file (clips differ in length, so their frames cannot share one array)."""
    arrays = {"files": np.asarray(list(names)), "embeddings": np.asarray(utterances, dtype=np.float32)}
    for index, rows in enumerate(frames or []):
        arrays[f"frames_{index}"] = np.asarray(rows, dtype=np.float32)
    np.savez(path, **arrays)


__all__ = ["embed_inputs", "write_embeddings"]
