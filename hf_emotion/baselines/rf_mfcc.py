"""rf-mfcc: a random forest on 40 MFCC means and standard deviations (80 features).

The tuned setting of the original project is the default (200 trees, max depth 30, min
samples leaf 1, min samples split 2, no bootstrap). ``--grid_search`` picks these by an inner
speaker-grouped cross-validation (GroupKFold over the training speakers, so the search
itself never scores a model on a voice it trained on), scored by balanced accuracy (UA).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .common import FoldData, SystemOutput, full_probabilities, write_json
from .persistence import save_sklearn

logger = logging.getLogger(__name__)

FEATURE_KEY = "rf"
TUNED = {
    "n_estimators": 200,
    "max_depth": 30,
    "min_samples_leaf": 1,
    "min_samples_split": 2,
    "bootstrap": False,
}
GRID = {
    "n_estimators": [100, 200],
    "max_depth": [10, 30, None],
    "min_samples_leaf": [1, 2],
    "min_samples_split": [2, 5],
    "bootstrap": [False, True],
}


def feature_names(n_mfcc: int = 40) -> list[str]:
    return [f"mfcc{i}_mean" for i in range(n_mfcc)] + [f"mfcc{i}_std" for i in range(n_mfcc)]


def downsample(labels: np.ndarray, seed: int) -> np.ndarray:
    """Indices keeping an equal number of clips per class (the smallest class's count)."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    keep = [rng.choice(np.flatnonzero(labels == c), counts.min(), replace=False) for c in classes]
    return np.sort(np.concatenate(keep))


def plot_feature_importance(importances: np.ndarray, names: list[str], path: Path, top: int = 30) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(importances)[::-1][:top]
    fig, ax = plt.subplots(figsize=(7, 0.22 * len(order) + 1.2))
    ax.barh(range(len(order))[::-1], importances[order], color="tab:green")
    ax.set_yticks(range(len(order))[::-1], [names[i] for i in order], fontsize=7)
    ax.set_xlabel("mean decrease in impurity")
    ax.set_title(f"rf-mfcc: top {len(order)} feature importances")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def fit_predict(fold: FoldData, output_dir: Path, args) -> SystemOutput:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV, GroupKFold

    train = fold.train_and_validation()  # no model selection on validation: train on both
    x, y, groups = train.features, train.labels, train.speakers
    if args.balance:
        keep = downsample(y, fold.seed)
        logger.info("class balancing: downsampled %d → %d training clips", len(y), len(keep))
        x, y, groups = x[keep], y[keep], groups[keep]
    params = dict(TUNED)
    if args.n_estimators:
        params["n_estimators"] = args.n_estimators
    n_jobs = args.n_jobs or None
    extra = {}
    if args.grid_search:
        splits = min(3, len(set(groups)))
        grid = dict(GRID, n_estimators=[args.n_estimators]) if args.n_estimators else GRID
        search = GridSearchCV(
            RandomForestClassifier(random_state=fold.seed),
            grid,
            scoring="balanced_accuracy",
            cv=GroupKFold(n_splits=splits),
            n_jobs=n_jobs,
        )
        search.fit(x, y, groups=groups)
        params = search.best_params_
        logger.info(
            "grid search (GroupKFold over %d speaker groups): best %s, UA %.3f",
            splits,
            params,
            search.best_score_,
        )
        write_json(
            output_dir / "grid_search.json", {"best_params": params, "best_inner_ua": search.best_score_}
        )
        extra["inner_cv_ua"] = float(search.best_score_)
    model = RandomForestClassifier(**params, random_state=fold.seed, n_jobs=n_jobs)
    model.fit(x, y)
    save_sklearn(model, output_dir / "model.skops")
    plot_feature_importance(
        model.feature_importances_, feature_names(), output_dir / "feature_importance.png"
    )
    probabilities = full_probabilities(
        model.predict_proba(fold.test.features), model.classes_, len(fold.label_names)
    )
    return SystemOutput(
        y_pred=model.predict(fold.test.features), probabilities=probabilities, extra_metrics=extra
    )
