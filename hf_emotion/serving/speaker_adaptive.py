"""Speaker-adaptive classification: a head on encoder features standardised on each speaker's own clips.

A voice differs from the training voices in pitch, loudness and timbre far more than one
emotion differs from another in the same voice. Standardising the encoder's pooled features
on a speaker's own clips removes that speaker's offset and spread, so a classifier trained on
features standardised the same way (per training speaker) sees only how each clip departs
from that voice's average: the lever behind the jump from ~0.4 to ~0.6 UA on unseen corpora in
issue 17's measurements.

It needs several clips of one speaker at once, and it misleads when those clips are not
varied: a speaker who is angry in every clip has "angry" as their average, and the head sees
only departures from it. The results of this mode must say so (``mode="speaker_adaptive"``).

The head is saved next to the model as ``speaker_adaptive_head.npz`` (arrays only, no pickle).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..evaluation.metrics import classification_metrics
from ..evaluation.speaker_normalisation import SPEAKER_PROBE_CS, standardize_per_speaker
from ..model.files import SPEAKER_ADAPTIVE_HEAD_FILE

logger = logging.getLogger(__name__)

HEAD_FILE = SPEAKER_ADAPTIVE_HEAD_FILE
MIN_CLIPS_PER_SPEAKER = 4


def check_speakers(speakers: Sequence[str], minimum: int = MIN_CLIPS_PER_SPEAKER) -> None:
    """A ``ValueError`` naming the speakers with too few clips to standardise on."""
    few = sorted(s for s, n in Counter(speakers).items() if n < minimum)
    if few:
        shown = ", ".join(few[:5]) + (" ..." if len(few) > 5 else "")
        raise ValueError(
            f"speaker-adaptive mode needs at least {minimum} clips of each speaker; {len(few)} speakers have "
            f"fewer ({shown}). Give more clips per speaker, or score clip by clip."
        )


@dataclass
class SpeakerAdaptiveHead:
    """A logistic regression over per-speaker standardised pooled features (every layer, flattened)."""

    labels: list[str]
    mean: np.ndarray  # (D,) of the per-speaker standardised training features
    scale: np.ndarray  # (D,)
    coef: np.ndarray  # (K, D)
    intercept: np.ndarray  # (K,)
    C: float

    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        labels: Sequence[int],
        speakers: Sequence[str],
        label_names: Sequence[str],
        C: float,
    ) -> SpeakerAdaptiveHead:
        """Fit on ``(N, ...)`` pooled features of training clips, each speaker standardised on their own clips."""
        from sklearn.linear_model import LogisticRegression

        check_speakers(speakers)
        x = standardize_per_speaker(np.asarray(features).reshape(len(features), -1), speakers)
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        present = sorted(set(int(y) for y in labels))
        if present != list(range(len(label_names))):
            raise ValueError(f"the training clips must cover every label of {list(label_names)}")
        model = LogisticRegression(C=C, max_iter=2000).fit((x - mean) / scale, np.asarray(labels))
        return cls(list(label_names), mean, scale, model.coef_, model.intercept_, float(C))

    def probabilities(self, features: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
        """``(N, K)`` class probabilities; every speaker's clips are standardised on themselves first."""
        check_speakers(speakers)
        x = standardize_per_speaker(np.asarray(features).reshape(len(features), -1), speakers)
        logits = ((x - self.mean) / self.scale) @ self.coef.T + self.intercept
        if logits.shape[1] == 1:  # sklearn's binary case: one column for the second class
            logits = np.concatenate([np.zeros_like(logits), logits], axis=1)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def probabilities_against(self, features: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """``(N, K)`` class probabilities of new clips of one speaker, each standardised together with the
        ``(M, ...)`` features of that speaker's ``reference`` clips (e.g. a voice's calibration clips, encoded
        once) and not with the other new clips: row ``i`` is the last row of :meth:`probabilities` over the
        reference clips and clip ``i``, so a clip's answer does not depend on which clips come with it."""
        reference = np.asarray(reference).reshape(len(reference), -1)
        features = np.asarray(features).reshape(len(features), reference.shape[1])
        speakers = ["speaker"] * (len(reference) + 1)
        rows = [
            self.probabilities(np.concatenate([reference, clip[None]]), speakers)[-1] for clip in features
        ]
        return np.stack(rows) if rows else np.zeros((0, len(self.labels)))

    def save(self, folder: str | os.PathLike) -> Path:
        path = Path(folder) / HEAD_FILE
        np.savez(
            path,
            labels=np.array(self.labels),
            mean=self.mean,
            scale=self.scale,
            coef=self.coef,
            intercept=self.intercept,
            C=np.array(self.C),
        )
        return path

    @classmethod
    def load(cls, folder: str | os.PathLike) -> SpeakerAdaptiveHead:
        path = Path(folder) / HEAD_FILE
        if not path.exists():
            raise FileNotFoundError(
                f"{path} not found: this model has no speaker-adaptive head; add one with hf-emotion adapt "
                f"--model {folder} --dataset ... --data_dir ... --split_file ..."
            )
        with np.load(path, allow_pickle=False) as saved:
            return cls(
                labels=[str(x) for x in saved["labels"]],
                mean=saved["mean"],
                scale=saved["scale"],
                coef=saved["coef"],
                intercept=saved["intercept"],
                C=float(saved["C"]),
            )


def fit_speaker_adaptive_head(
    train: tuple[np.ndarray, Sequence[int], Sequence[str]],
    validation: tuple[np.ndarray, Sequence[int], Sequence[str]],
    label_names: Sequence[str],
    Cs: Sequence[float] = SPEAKER_PROBE_CS,
) -> tuple[SpeakerAdaptiveHead, dict[str, float]]:
    """Choose ``C`` on the validation speakers' UA, then refit on training + validation speakers.

    Each part is ``(features, labels, speakers)``. Returns the head and
    ``{"validation_adaptive_ua": ..., "adaptive_C": ...}``.
    """
    best_ua, best_c = -1.0, Cs[0]
    for c in Cs:
        head = SpeakerAdaptiveHead.fit(*train, label_names, C=c)
        predicted = head.probabilities(validation[0], validation[2]).argmax(axis=1)
        ua = classification_metrics(validation[1], predicted, label_names)["ua"]
        logger.info("speaker-adaptive head, C=%g: validation UA %.3f", c, ua)
        if ua > best_ua:
            best_ua, best_c = ua, c
    features = np.concatenate([np.asarray(train[0]), np.asarray(validation[0])])
    labels = [*train[1], *validation[1]]
    speakers = [*train[2], *validation[2]]
    head = SpeakerAdaptiveHead.fit(features, labels, speakers, label_names, C=best_c)
    return head, {"validation_adaptive_ua": best_ua, "adaptive_C": float(best_c)}


# ---------------------------------------------------------------------------------------- with a model

#: Clips are cut to this many seconds before encoding, as ``hf-emotion evaluate`` cuts them.
DEFAULT_MAX_SECONDS = 20.0
#: Fewer clips than this are classified with a warning. Measured (benchmarks/results/speaker_adaptive_clips.md,
#: Whisper tiny.en fold 0): with 4 clips a speaker the mode already beats clip-by-clip prediction on corpora
#: the model never heard (RAVDESS song 0.605 against 0.481 UA) but not on its own corpus's new speakers
#: (0.782 against 0.809); it catches up there at 5 (0.816) and keeps gaining to 20 (0.904).
RECOMMENDED_CLIPS_PER_SPEAKER = 10
#: What results made with the head say about themselves.
MODE = "speaker_adaptive"


def encode_clips(
    model, feature_extractor, clips, *, max_seconds: float | None = DEFAULT_MAX_SECONDS, batch_size: int = 8
) -> dict[str, np.ndarray]:
    """Pooled hidden states of every layer ``hidden`` `(N, L, H)` (and ``labels`` when the clips have an
    ``emotion`` column) for a decoded dataset or a list of mono arrays at the extractor's rate, cut to
    ``max_seconds`` and padded as ``hf-emotion evaluate`` does."""
    from ..model.batches import EmotionDataCollator
    from ..training.heads import pooled_features

    if len(clips) and isinstance(clips[0], np.ndarray):
        clips = [{"input_audio": clip} for clip in clips]
    collator = EmotionDataCollator(feature_extractor, model.config.is_whisper, max_seconds)
    encoded = pooled_features(model, clips, collator, batch_size, f"{len(clips)} clips")
    return {key: encoded[key].numpy() for key in ("hidden", "labels") if key in encoded}


def fit_head_for_model(
    model,
    feature_extractor,
    train_dataset,
    validation_dataset,
    *,
    max_seconds=DEFAULT_MAX_SECONDS,
    batch_size=8,
) -> tuple[SpeakerAdaptiveHead, dict[str, float]]:
    """A speaker-adaptive head for a trained model, fitted on decoded training and validation speakers.

    What the recipe calls once a fold's model is chosen (then ``head.save(output_dir)``) and what
    ``hf-emotion adapt`` runs for an existing model; the model is not changed. ``emotion`` holds the model's
    label ids; the head covers the labels the training clips have (CREMA-D: 6 of a RAVDESS model's 8).
    """
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    settings = dict(max_seconds=max_seconds, batch_size=batch_size)
    parts = {
        part: _encode_speakers(model, feature_extractor, dataset, **settings)
        for part, dataset in (("train", train_dataset), ("validation", validation_dataset))
    }
    present = sorted(set(parts["train"][1].tolist()))
    index = {label: i for i, label in enumerate(present)}
    keep = np.isin(parts["validation"][1], present)
    train = (parts["train"][0], [index[y] for y in parts["train"][1]], parts["train"][2])
    validation = (
        parts["validation"][0][keep],
        [index[y] for y in parts["validation"][1][keep]],
        [s for s, k in zip(parts["validation"][2], keep, strict=True) if k],
    )
    return fit_speaker_adaptive_head(train, validation, [names[i] for i in present])


def fit_head_on_every_speaker(
    model, feature_extractor, dataset, C: float, *, max_seconds=DEFAULT_MAX_SECONDS, batch_size=8
) -> SpeakerAdaptiveHead:
    """A head on every clip of ``dataset`` with a ``C`` chosen elsewhere: the final model's, whose folds chose
    ``C`` on their validation speakers (no speaker is left to choose on)."""
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    hidden, labels, speakers = _encode_speakers(
        model, feature_extractor, dataset, max_seconds=max_seconds, batch_size=batch_size
    )
    present = sorted(set(labels.tolist()))
    index = {label: i for i, label in enumerate(present)}
    return SpeakerAdaptiveHead.fit(
        hidden, [index[y] for y in labels], speakers, [names[i] for i in present], C=C
    )


def _encode_speakers(
    model, feature_extractor, dataset, **settings
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(hidden, label ids, speakers)`` of a decoded dataset, its speakers checked before minutes of encoding."""
    speakers = list(dataset["speaker"])
    check_speakers(speakers)
    encoded = encode_clips(model, feature_extractor, dataset, **settings)
    return encoded["hidden"], encoded["labels"], speakers


def score_speaker_adaptive(
    head: SpeakerAdaptiveHead,
    model,
    feature_extractor,
    dataset,
    *,
    labels: Sequence[str] | None = None,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    batch_size: int = 8,
    prefix: str = "eval_adaptive",
) -> dict[str, float]:
    """``<prefix>_<ua|wa|macro_f1|f1_label>`` of the head on a decoded dataset (``emotion`` in the model's label
    ids), each speaker standardised on their own clips of ``labels`` (default: the head's), the arg-max
    restricted to those labels. Transductive: report apart from clip-by-clip numbers."""
    model_names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    wanted = list(labels or head.labels)
    keep = [head.labels.index(name) for name in wanted]
    rows = [i for i, y in enumerate(dataset.with_format(None)["emotion"]) if model_names[y] in wanted]
    subset = dataset.select(rows)
    encoded = encode_clips(model, feature_extractor, subset, max_seconds=max_seconds, batch_size=batch_size)
    probabilities = head.probabilities(encoded["hidden"], list(subset["speaker"]))
    predicted = np.asarray(keep)[probabilities[:, keep].argmax(axis=1)]
    truth = [head.labels.index(model_names[y]) for y in encoded["labels"]]
    metrics = classification_metrics(truth, predicted, head.labels)
    return {f"{prefix}_{key}": value for key, value in metrics.items()}


@dataclass
class SpeakerAdaptivePrediction:
    """One clip's (or window's) emotion, judged against the other clips of its speaker.

    Attributes:
        probabilities: every label's probability, in the head's label order.
        label: the most probable label; confidence: its probability.
        speaker: the speaker the clip was standardised with.
        source: the file name, or ``"<array>"``; start, end: seconds within it.
        mode: always ``"speaker_adaptive"``: this result depends on the speaker's other clips.
    """

    probabilities: dict[str, float]
    label: str
    confidence: float
    speaker: str
    source: str
    start: float = 0.0
    end: float = 0.0
    mode: str = MODE

    def to_dict(self) -> dict:
        return asdict(self)


class SpeakerAdaptiveRecognizer:
    """Emotions for several clips of the same speaker(s), or one speaker's long recording, each clip
    standardised on its speaker's own clips (a model folder with a :data:`HEAD_FILE`).

    Example:
        ``SpeakerAdaptiveRecognizer.from_pretrained("my-model")(["a.wav", "b.wav", "c.wav", "d.wav"])`` gives
        one :class:`SpeakerAdaptivePrediction` per file, all standardised as one speaker's clips.
    """

    def __init__(self, model, feature_extractor, head: SpeakerAdaptiveHead, *, device="cpu", batch_size=8):
        self.model = model.to(device).eval()
        self.feature_extractor = feature_extractor
        self.head = head
        self.batch_size = batch_size
        self.sampling_rate = int(feature_extractor.sampling_rate)

    @classmethod
    def from_pretrained(cls, folder, *, device="cpu", batch_size: int = 8) -> SpeakerAdaptiveRecognizer:
        """A model folder with a speaker-adaptive head (written by ``hf-emotion adapt`` or the recipe)."""
        from transformers import AutoFeatureExtractor

        from ..model.modeling_emotion import EmotionModel

        head = SpeakerAdaptiveHead.load(folder)  # first: the error that says what to do
        model = EmotionModel.from_pretrained(folder)
        extractor = AutoFeatureExtractor.from_pretrained(folder)
        return cls(model, extractor, head, device=device, batch_size=batch_size)

    def __call__(self, clips, *, speakers=None, sampling_rate=None) -> list[SpeakerAdaptivePrediction]:
        """Predict every clip (paths, bytes or arrays at ``sampling_rate``), standardised on the clips of its
        speaker (``speakers``: one per clip; ``None``: all one speaker). Too few clips of a speaker are refused
        before anything is read."""
        speakers = ["speaker"] * len(clips) if speakers is None else [str(s) for s in speakers]
        if len(speakers) != len(clips):
            raise ValueError(f"{len(speakers)} speakers given for {len(clips)} clips; give one per clip")
        check_speakers(speakers)
        few = [
            f"{s} ({n})" for s, n in sorted(Counter(speakers).items()) if n < RECOMMENDED_CLIPS_PER_SPEAKER
        ]
        if few:
            logger.warning(
                "speaker-adaptive predictions from fewer than %d clips are noisy: %s; give more clips of each "
                "speaker, in different moods",
                RECOMMENDED_CLIPS_PER_SPEAKER,
                ", ".join(few),
            )
        signals = self._decode(clips, sampling_rate)
        features = self._encode(signals)
        return self._predictions(
            self.head.probabilities(features, speakers), speakers, _sources(clips), self._spans(signals)
        )

    def encode(self, clips, *, sampling_rate=None) -> np.ndarray:
        """``(N, L, H)`` pooled encoder features of clips (paths, bytes or arrays at ``sampling_rate``), decoded
        and cut as :meth:`__call__` does: encode one speaker's reference clips once, then judge each new clip
        against them with :meth:`against`."""
        return self._encode(self._decode(clips, sampling_rate))

    def against(
        self, clips, reference: np.ndarray, *, sampling_rate=None, speaker: str = "speaker"
    ) -> list[SpeakerAdaptivePrediction]:
        """Predict new clips of one speaker, each standardised together with that speaker's ``reference``
        features (from :meth:`encode`; at least ``MIN_CLIPS_PER_SPEAKER - 1`` clips): only the new clips are
        encoded, and each gets what :meth:`__call__` gives it as the last of the reference clips and itself."""
        if len(reference) < MIN_CLIPS_PER_SPEAKER - 1:
            raise ValueError(
                f"{len(reference)} reference clips; speaker-adaptive mode judges a clip against at least "
                f"{MIN_CLIPS_PER_SPEAKER - 1} others of the same speaker"
            )
        signals = self._decode(clips, sampling_rate)
        probabilities = self.head.probabilities_against(self._encode(signals), reference)
        speakers = [speaker] * len(clips)
        return self._predictions(probabilities, speakers, _sources(clips), self._spans(signals))

    def _decode(self, clips, sampling_rate) -> list[np.ndarray]:
        from ..data.audio import decode_audio

        rate = self.sampling_rate
        return [decode_audio(c, rate, orig_sampling_rate=sampling_rate, max_duration=None) for c in clips]

    def _encode(self, signals: list[np.ndarray]) -> np.ndarray:
        return encode_clips(self.model, self.feature_extractor, signals, batch_size=self.batch_size)["hidden"]

    def _spans(self, signals: list[np.ndarray]) -> list[tuple[float, float]]:
        return [(0.0, len(signal) / self.sampling_rate) for signal in signals]

    def recording(
        self,
        source,
        *,
        window=3.0,
        hop=1.5,
        sampling_rate=None,
        silence_threshold_db=-60.0,
        speaker="speaker",
    ) -> list[SpeakerAdaptivePrediction]:
        """One speaker's long recording in sliding windows, each standardised on the recording's other windows.

        The file is read block by block. Windows quieter than ``silence_threshold_db`` are left out (silence
        would count as the speaker's usual self), and so is a last window shorter than half ``window`` (its
        audio is in the window before it when ``hop <= window / 2``); the log says how many.
        """
        from ..data.audio import decode_audio, stream_audio_blocks
        from .windows import rms_dbfs, sliding_windows

        rate = self.sampling_rate
        if isinstance(source, (str, os.PathLike)):
            name, blocks = os.fspath(source), stream_audio_blocks(source, rate)
        else:
            name = "<array>"
            blocks = [decode_audio(source, rate, orig_sampling_rate=sampling_rate, max_duration=None)]
        spans, parts, pending = [], [], []
        silent = short = 0

        def flush() -> None:
            parts.append(
                encode_clips(self.model, self.feature_extractor, pending, max_seconds=None)["hidden"]
            )
            pending.clear()

        for start, samples in sliding_windows(
            blocks, window_samples=round(window * rate), hop_samples=round(hop * rate)
        ):
            if len(samples) < window * rate / 2:
                short += 1
            elif silence_threshold_db is not None and rms_dbfs(samples) < silence_threshold_db:
                silent += 1
            else:
                pending.append(samples)
                spans.append((start / rate, (start + len(samples)) / rate))
                if len(pending) >= 4 * self.batch_size:
                    flush()
        if pending:
            flush()
        if silent or short:
            logger.info("%s: left out %d silent windows and %d short last windows", name, silent, short)
        if len(spans) < MIN_CLIPS_PER_SPEAKER:
            raise ValueError(
                f"{name}: {len(spans)} speech windows of {window:g} s; speaker-adaptive mode needs at least "
                f"{MIN_CLIPS_PER_SPEAKER} (give a longer recording or a shorter window/hop)"
            )
        features = np.concatenate(parts)
        probabilities = self.head.probabilities(features, [speaker] * len(spans))
        return self._predictions(probabilities, [speaker] * len(spans), [name] * len(spans), spans)

    def _predictions(self, probabilities, speakers, sources, spans) -> list[SpeakerAdaptivePrediction]:
        return [
            SpeakerAdaptivePrediction(
                probabilities={name: float(p) for name, p in zip(self.head.labels, row, strict=True)},
                label=self.head.labels[int(row.argmax())],
                confidence=float(row.max()),
                speaker=speaker,
                source=source,
                start=round(start, 4),
                end=round(end, 4),
            )
            for row, speaker, source, (start, end) in zip(
                probabilities, speakers, sources, spans, strict=True
            )
        ]


def _sources(clips) -> list[str]:
    return [os.fspath(c) if isinstance(c, (str, os.PathLike)) else "<array>" for c in clips]
