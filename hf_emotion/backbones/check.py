"""Check a built backbone by ear: transcribe known speech with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hf_emotion.backbones.conversion import check_converted_backbone
from hf_emotion.backbones.wheels import resolve_backbone
from hf_emotion.data.audio import decode_audio

__all__ = ["transcribe", "verify_backbone"]


def transcribe(folder: str | Path, audio: str | Path | np.ndarray, *, sampling_rate: int = 16000) -> str:
    """Transcribe English speech with a converted folder (greedy, no timestamps).

    Args:
        folder: A converted backbone folder with a tokenizer.
        audio: A file in any format :func:`~hf_emotion.data.audio.decode_audio` reads, or an
            array of samples at ``sampling_rate``.
        sampling_rate: Rate of ``audio`` when it is an array.

    Returns:
        The transcript.
    """
    import torch
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperTokenizer

    folder = Path(folder)
    # Whisper reads at most 30 s; longer input is cut by the feature extractor, not refused.
    audio = decode_audio(audio, 16000, orig_sampling_rate=sampling_rate, max_duration=None)
    if not (folder / "tokenizer_config.json").is_file():
        raise FileNotFoundError(f"{folder} has no tokenizer; transcription needs one")
    model = WhisperForConditionalGeneration.from_pretrained(folder).eval()
    features = WhisperFeatureExtractor.from_pretrained(folder)(
        audio, sampling_rate=16000, return_tensors="pt"
    ).input_features
    kwargs = {"language": "en", "task": "transcribe"} if model.generation_config.is_multilingual else {}
    with torch.no_grad():
        ids = model.generate(features, **kwargs)
    return WhisperTokenizer.from_pretrained(folder).batch_decode(ids, skip_special_tokens=True)[0].strip()


def verify_backbone(name_or_dir: str | Path, audio: str | Path) -> str:
    """Load a backbone folder, run the cheap checks, and transcribe ``audio``.

    Returns:
        The transcript.
    """
    folder = resolve_backbone(name_or_dir)
    check_converted_backbone(folder)
    return transcribe(folder, audio)
