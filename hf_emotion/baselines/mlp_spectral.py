"""mlp-spectral: an MLP on 40 MFCC means + 12 chroma means + 128 mel-band means (180 features).

scikit-learn's MLPClassifier with the original project's setting (alpha 0.1, batch 30, one
hidden layer of 300, adaptive learning rate, up to 500 iterations), behind a StandardScaler
fitted on the training clips. Plots: the loss curve, and per-class one-vs-rest ROC and
precision-recall curves computed from the predicted probabilities.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .common import FoldData, SystemOutput, full_probabilities, write_json
from .persistence import save_sklearn

logger = logging.getLogger(__name__)

FEATURE_KEY = "spectral"


def plot_loss_curve(loss_curve, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(np.arange(1, len(loss_curve) + 1), loss_curve)
    ax.set(xlabel="epoch", ylabel="training loss (cross-entropy)", title="mlp-spectral loss curve")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_roc_pr(
    y_true: np.ndarray, probabilities: np.ndarray, label_names, output_dir: Path
) -> dict[str, float]:
    """One-vs-rest ROC and precision-recall curves per class from probabilities; returns AUCs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    aucs = {}
    fig_roc, ax_roc = plt.subplots(figsize=(5.5, 5))
    fig_pr, ax_pr = plt.subplots(figsize=(5.5, 5))
    for k, name in enumerate(label_names):
        positive = (y_true == k).astype(int)
        if positive.sum() == 0 or positive.sum() == len(positive):
            continue  # a class absent from the test speakers has no curve
        fpr, tpr, _ = roc_curve(positive, probabilities[:, k])
        precision, recall, _ = precision_recall_curve(positive, probabilities[:, k])
        aucs[f"roc_auc_{name}"] = float(auc(fpr, tpr))
        aucs[f"average_precision_{name}"] = float(average_precision_score(positive, probabilities[:, k]))
        ax_roc.plot(fpr, tpr, label=f"{name} (AUC {aucs[f'roc_auc_{name}']:.2f})")
        ax_pr.plot(recall, precision, label=f"{name} (AP {aucs[f'average_precision_{name}']:.2f})")
    ax_roc.plot([0, 1], [0, 1], color="grey", lw=0.5, ls="--")
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, one vs rest")
    ax_pr.set(xlabel="recall", ylabel="precision", title="precision-recall, one vs rest")
    for fig, ax, name in (
        (fig_roc, ax_roc, "roc_curves.png"),
        (fig_pr, ax_pr, "precision_recall_curves.png"),
    ):
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(output_dir / name, dpi=120)
        plt.close(fig)
    if aucs:
        rocs = [v for k, v in aucs.items() if k.startswith("roc_auc_")]
        aucs["roc_auc_macro"] = float(np.mean(rocs))
    return aucs


def fit_predict(fold: FoldData, output_dir: Path, args) -> SystemOutput:
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = fold.train_and_validation()  # no early stopping here: train on both
    mlp = MLPClassifier(
        alpha=0.1,
        batch_size=30,
        hidden_layer_sizes=(300,),
        learning_rate="adaptive",
        max_iter=args.max_iter or 500,
        random_state=fold.seed,
    )
    model = make_pipeline(StandardScaler(), mlp)
    model.fit(train.features, train.labels)
    save_sklearn(model, output_dir / "model.skops")
    plot_loss_curve(mlp.loss_curve_, output_dir / "loss_curve.png")
    probabilities = full_probabilities(
        model.predict_proba(fold.test.features), mlp.classes_, len(fold.label_names)
    )
    aucs = plot_roc_pr(fold.test.labels, probabilities, fold.label_names, output_dir)
    write_json(output_dir / "roc_pr_auc.json", aucs)
    extra = {"n_iter": int(mlp.n_iter_), **{k: v for k, v in aucs.items() if k == "roc_auc_macro"}}
    return SystemOutput(
        y_pred=model.predict(fold.test.features), probabilities=probabilities, extra_metrics=extra
    )
