"""``hf-emotion baseline``: run a classical baseline system under the fine-tuning protocol.

Example::

    hf-emotion baseline --system rf-mfcc --dataset ravdess_speech \\
        --data_dir /data/ravdess-speech --output_dir runs/rf-mfcc --cross_validation
"""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..baselines.common import SYSTEMS

    parser.add_argument("--system", required=True, choices=list(SYSTEMS), help="which baseline to run")
    parser.add_argument(
        "--dataset", nargs="+", default=[], help="corpora: ravdess, ravdess_speech, crema_d, ..."
    )
    parser.add_argument("--data_dir", nargs="+", default=[], help="one folder per --dataset")
    parser.add_argument("--output_dir", required=True, help="where results, plots and models go")
    group = parser.add_argument_group("split (same as finetune.py)")
    group.add_argument("--num_folds", type=int, default=6, help="speaker folds (default 6)")
    group.add_argument("--fold", type=int, default=0, help="test fold (the next one validates)")
    group.add_argument(
        "--cross_validation", action="store_true", help="run every fold into OUT/fold_k + cv_summary"
    )
    group.add_argument("--test_speakers", nargs="+", default=None, help="a fixed test set of speaker ids")
    group.add_argument(
        "--random_split", action="store_true", help="80/20 clip split: leaks speakers, for comparison only"
    )
    group.add_argument("--seed", type=int, default=0)
    group = parser.add_argument_group("features")
    group.add_argument("--n_jobs", type=int, default=None, help="worker processes (default: all CPUs)")
    group.add_argument("--cache_dir", default=None, help="feature cache (default $HF_EMOTION_HOME/features)")
    group = parser.add_argument_group("systems")
    group.add_argument(
        "--grid_search", action="store_true", help="rf-mfcc: speaker-grouped inner CV grid search"
    )
    group.add_argument(
        "--balance", action="store_true", help="rf-mfcc: downsample training classes to equal size"
    )
    group.add_argument(
        "--n_estimators",
        type=int,
        default=None,
        help="rf-mfcc/va-rf: trees (default 200; with --grid_search, fixes the number of trees searched)",
    )
    group.add_argument("--max_iter", type=int, default=None, help="mlp-spectral: iterations (default 500)")
    group.add_argument("--epochs", type=int, default=None, help="cnn1d/cnn2d-mel: maximum epochs")
    group.add_argument("--batch_size", type=int, default=None, help="cnn1d/cnn2d-mel: batch size")
    group.add_argument(
        "--learning_rate", type=float, default=None, help="cnn1d/cnn2d-mel: Adam learning rate"
    )
    group.add_argument("--patience", type=int, default=None, help="cnn1d/cnn2d-mel: early-stopping patience")
    group.add_argument(
        "--deam_dir", default=None, help="va-rf: a folder with DEAM arousal.csv and valence.csv"
    )
    group.add_argument(
        "--deam_prefix", type=float, default=0.5, help="va-rf on DEAM: fraction of each series used as input"
    )


def run(args: argparse.Namespace) -> int:
    from ..baselines.common import run_baseline

    if args.data_dir and args.dataset and len(args.data_dir) != len(args.dataset):
        raise SystemExit(
            f"--dataset has {len(args.dataset)} names but --data_dir {len(args.data_dir)} folders; give one folder per dataset"
        )
    if not 0 < args.deam_prefix <= 1:
        raise SystemExit(f"--deam_prefix must be in (0, 1], got {args.deam_prefix}")
    result = run_baseline(args)
    if result["summary"]:
        from hf_emotion.evaluation.metrics import format_summary_markdown

        keys = ("ua", "wa", "macro_f1", "ccc_valence", "ccc_arousal")
        print(format_summary_markdown(result["summary"], title=f"{args.system}", keys=keys))
    return 0
