"""Publishing a run's model: its card in the model folder and, with ``--push_to_hub``, one push to the Hub.

The recipe calls ``publish`` for each fold's folder (``write_fold_reports``) and for the run's own folder
(``summary.summarise_folds``); the card itself is ``hub.card``'s, the push ``hub.push``'s.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..evaluation.machine import describe_machine
from ..evaluation.unseen_corpora import read_matrix, trained_corpora
from ..hub.card import build_model_card
from ..hub.push import push_run

if TYPE_CHECKING:
    from .recipe import Run


def publish(
    run: Run,
    folder: str,
    *,
    split: dict,
    metrics: dict,
    push: bool,
    commit_message: str,
    summary: dict | None = None,
    subfolder: str | None = None,
) -> None:
    """The one place a model folder gets its card and, with ``--push_to_hub``, goes to the Hub: from the main
    process, in one commit (``hub.push_run``; with ``--push_folds`` each ``fold_k/`` goes in the same commit).

    ``subfolder`` is where the folder lies in the run's repository (``fold_k`` of a cross-validation), so a
    fold's card loads its own model from there.
    """
    if not run.is_main:
        return
    repo_id = card_repo_id(run)
    build_model_card(
        repo_id=repo_id,
        subfolder=subfolder,
        base_model=run.base_model,
        datasets=run.data_args.dataset,
        label_names=run.label_names,
        metrics=metrics,
        split=split,
        summary=summary,
        skipped_files=run.skipped_files,
        machine=describe_machine(),
        **unseen_corpora_card_args(run),
    ).save(os.path.join(folder, "README.md"))
    if not push:
        return
    push_run(
        folder,
        repo_id,
        token=run.push.token,
        private=run.push.private,
        include_folds=run.push.include_folds,
        commit_message=commit_message,
    )


def unseen_corpora_card_args(run: Run) -> dict:
    """With ``--cross_corpus_results``: the matrix (None until it is written) and the corpora trained on."""
    path = run.data_args.cross_corpus_results
    if not path:
        return {}
    return {"cross_corpus": read_matrix(path), "trained_corpora": trained_corpora(run.dataset)}


def card_repo_id(run: Run) -> str:
    """The repository a card tells users to load from: ``--hub_model_id``, else the run folder's name (the
    repository ``--push_to_hub`` creates then; never a local path, which means nothing once shared)."""
    if run.push is not None and run.push.repo_id:
        return run.push.repo_id
    return os.path.basename(os.path.abspath(run.run_dir))
