"""Per-speaker normalisation: scores and features centred on each speaker's own clips (transductive).

Used by the transductive evaluation rows (``eval_spknorm_``, ``eval_spkprobe_``) and by the
speaker-adaptive head, which standardises features the same way at serving time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .metrics import classification_metrics


def speaker_normalize_scores(scores, speakers: Sequence[str]) -> np.ndarray:
    """Centre each speaker's scores on that speaker's own mean (transductive).

    Voices differ more than emotions do: one speaker's clips all lean towards the classes
    their voice resembles. When the speaker of every test clip is known and each speaker
    contributes several clips, subtracting the speaker's mean log-probability (or any score)
    removes that lean. It uses the test speakers' other clips, so numbers obtained with it
    are reported separately and labelled transductive.

    Args:
        scores: ``(N, C)`` log-probabilities or logits, or ``(N, D)`` regression outputs.
        speakers: the speaker of each row.
    """
    return standardize_per_speaker(scores, speakers, scale=False)


def standardize_per_speaker(
    features, speakers: Sequence[str], scale: bool = True, eps: float = 1e-6
) -> np.ndarray:
    """Z-score every feature dimension on each speaker's own clips (transductive for unseen speakers).

    Args:
        features: ``(N, ...)`` one row per clip.
        speakers: the speaker of each row.
        scale: divide by the speaker's standard deviation too (``False``: only centre on the speaker's mean).
    """
    features = np.asarray(features, dtype=np.float64)
    speakers = np.asarray(speakers)
    out = np.empty_like(features)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        out[rows] = features[rows] - features[rows].mean(axis=0, keepdims=True)
        if scale:
            out[rows] /= features[rows].std(axis=0, keepdims=True) + eps
    return out


SPEAKER_PROBE_CS = (0.001, 0.01, 0.1, 1.0)


def speaker_normalized_probe(
    features: dict[str, np.ndarray],
    labels: dict[str, Sequence[int]],
    speakers: dict[str, Sequence[str]],
    label_names: Sequence[str],
    Cs: Sequence[float] = SPEAKER_PROBE_CS,
    per_speaker: bool = True,
) -> tuple[dict[str, float], np.ndarray]:
    """Logistic regression on per-speaker standardised encoder features (transductive evaluation).

    Each of ``train``, ``validation`` and ``test`` maps to ``(N, L, H)`` pooled hidden states (every
    layer), their labels and speakers. Every speaker's features are standardised on that speaker's
    own clips, so the test speakers' unlabelled clips are used as a whole: the result needs the
    speaker of each test clip and several clips per speaker, and is reported apart from the
    clip-by-clip numbers. The regularisation ``C`` is chosen on the validation speakers, then the
    classifier is refitted on training + validation speakers; the test speakers choose nothing.

    With ``per_speaker=False`` the same classifier sees features standardised with the training
    clips' statistics instead (no speaker information at test time, clip by clip): the ablation that
    tells how much of the result comes from the speaker normalisation.

    Returns:
        ``(metrics, test_predictions)``; metric names start ``spkprobe`` (``lrprobe`` without
        per-speaker normalisation): ``validation_spkprobe_ua``, ``spkprobe_C``,
        ``eval_spkprobe_<ua|wa|macro_f1|f1_label>``.
    """
    from sklearn.linear_model import LogisticRegression

    parts = ("train", "validation", "test")
    x = {
        part: np.asarray(features[part], dtype=np.float64).reshape(len(features[part]), -1) for part in parts
    }
    y = {part: np.asarray(labels[part]) for part in parts}
    if per_speaker:
        x = {part: standardize_per_speaker(x[part], speakers[part]) for part in parts}

    def fit(train_x: np.ndarray, train_y: np.ndarray, c: float):
        mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
        classifier = LogisticRegression(C=c, max_iter=2000).fit((train_x - mean) / std, train_y)
        return lambda z: classifier.predict((z - mean) / std)

    best_ua, best_c = -1.0, Cs[0]
    for c in Cs:
        predict = fit(x["train"], y["train"], c)
        ua = classification_metrics(y["validation"], predict(x["validation"]), label_names)["ua"]
        if ua > best_ua:
            best_ua, best_c = ua, c
    predict = fit(
        np.concatenate([x["train"], x["validation"]]), np.concatenate([y["train"], y["validation"]]), best_c
    )
    predictions = predict(x["test"])
    name = "spkprobe" if per_speaker else "lrprobe"
    metrics = {f"validation_{name}_ua": best_ua, f"{name}_C": float(best_c)}
    metrics |= {
        f"eval_{name}_{k}": v for k, v in classification_metrics(y["test"], predictions, label_names).items()
    }
    return metrics, predictions
