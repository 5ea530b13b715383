"""Reading run folders: a run's finished folds, each fold's number, the speakers a model heard, its saved
test predictions.

A run folder holds ``fold_k/`` folders (``run_finetune run --folds``) or is one fold itself; a finished fold
has ``all_results.json``, and every model folder the recipe writes has the ``splits.json`` it was trained on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def read_json(path: str | Path):
    return json.loads(Path(path).read_text())


def fold_number(fold_dir: Path) -> int:
    """``fold_k`` → k; a folder named otherwise: the fold its ``splits.json`` records (0 when none)."""
    if fold_dir.name.startswith("fold_"):
        return int(fold_dir.name.split("_")[1])
    return int(read_json(fold_dir / "splits.json").get("fold") or 0)


def finished_folds(run_dir: Path, folds: list[int] | None = None) -> list[Path]:
    """The run's ``fold_k`` folders that finished (``all_results.json`` written), in fold order; only ``folds``
    when given."""
    fold_dirs = sorted((p.parent for p in run_dir.glob("fold_*/all_results.json")), key=fold_number)
    return [d for d in fold_dirs if folds is None or fold_number(d) in folds]


def heard_speakers(model_dir: str | Path) -> set[str] | None:
    """The speakers a model trained or chose its checkpoint on (``train`` + ``validation`` of the
    ``splits.json`` in its folder); None when the folder has no split file."""
    from hf_emotion.data.splits import Split

    path = Path(model_dir) / "splits.json"
    if not path.is_file():
        return None
    split = Split.from_json(path)
    return set(split.train) | set(split.validation)


def saved_test_predictions(fold_dir: Path) -> tuple[dict, float]:
    """A fold's saved test predictions (``predictions.json``), checked against the test UA the fold reported
    (``all_results.json``), and that UA."""
    from hf_emotion.evaluation.metrics import classification_metrics

    record = read_json(fold_dir / "predictions.json")
    reported = read_json(fold_dir / "all_results.json")["eval_ua"]
    probabilities = np.asarray(record["probabilities"])
    ua = classification_metrics(record["y_true"], probabilities.argmax(1), record["label_names"])["ua"]
    # probabilities are saved to 5 decimals: a near tie may round into a different arg-max, rarely
    if abs(ua - reported) > 0.01:
        raise SystemExit(
            f"{fold_dir}: predictions.json gives test UA {ua:.3f}, the fold reported {reported:.3f}; "
            "it is not the fold's final test evaluation"
        )
    return record, reported
