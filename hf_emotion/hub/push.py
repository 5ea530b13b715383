"""One push of a finished run to the Hugging Face Hub: what `--push_to_hub` asked for, and the single commit.

`--push_to_hub` is taken from the `TrainingArguments` when a run starts ([`take_push_request`]), so the
Trainer never pushes by itself; the run pushes once, from the main process, after its last step
([`push_run`]): the model the run exported, its card, the cross-validation summary and plots, and, when asked,
each fold's model in `fold_k/`. Checkpoints, optimizer states, `training_args.bin` (a pickle) and results
files that name local paths are never uploaded.
"""

from __future__ import annotations

import glob
import json
import logging
import os
from dataclasses import dataclass

from huggingface_hub import CommitOperationAdd, HfApi

from hf_emotion.model.files import MODEL_FILE_PATTERNS

logger = logging.getLogger(__name__)

#: Reports pushed beside a model: its card, the cross-validation summary, the plots, the speakers of its split.
REPORT_FILE_PATTERNS = ("README.md", "cv_summary.md", "*.png", "splits.json")


@dataclass
class PushRequest:
    """What `--push_to_hub` asked for, held apart from the `TrainingArguments` (see [`take_push_request`])."""

    repo_id: str | None  # None: the run folder's name
    token: str | None
    private: bool | None
    include_folds: bool = False


def take_push_request(
    training_args, *, token: str | None = None, include_folds: bool = False
) -> PushRequest | None:
    """Take `--push_to_hub` out of the `TrainingArguments` and return it, or None when no push was asked for.

    Left on, the Trainer creates the repository when it is built, pushes at every checkpoint save and again at
    `save_model`, with its own model card and `training_args.bin`. The run pushes once, at its end, instead.
    """
    if not training_args.push_to_hub:
        return None
    request = PushRequest(
        repo_id=training_args.hub_model_id,
        token=token or training_args.hub_token,
        private=training_args.hub_private_repo,
        include_folds=include_folds,
    )
    training_args.push_to_hub = False
    return request


def use_token(token: str | None) -> None:
    """Make `--token` the token of every Hub call of this process and its children.

    transformers, datasets and huggingface_hub all fall back to `$HF_TOKEN` when a call is given no token, which
    reaches the calls deep inside the libraries (a dataset's download, a backbone's weights) as well.
    """
    if token:
        os.environ["HF_TOKEN"] = token


def _remote_code_files(folder: str) -> list[str]:
    """The Python files a model folder's config names (its `auto_map` classes and `custom_pipelines`) and the
    siblings they import (`pipeline_emotion.py` imports `rate_check.py`), as transformers downloads them."""
    from transformers.dynamic_module_utils import get_relative_import_files

    with open(os.path.join(folder, "config.json")) as handle:
        config = json.load(handle)
    references = list(config.get("auto_map", {}).values())
    references += [task["impl"] for task in config.get("custom_pipelines", {}).values()]
    names = {reference.split(".")[0] + ".py" for reference in references if isinstance(reference, str)}
    for name in list(names):
        if os.path.isfile(os.path.join(folder, name)):
            names.update(os.path.basename(f) for f in get_relative_import_files(os.path.join(folder, name)))
    return sorted(names)


def _folder_files(folder: str) -> list[str]:
    """The files of one model folder that go to the Hub: model, remote code, reports (see `files_to_push`)."""
    missing = [
        name
        for name in (
            _remote_code_files(folder) if os.path.isfile(os.path.join(folder, "config.json")) else []
        )
        if not os.path.isfile(os.path.join(folder, name))
    ]
    if missing:
        raise FileNotFoundError(
            f"{folder}: config.json names {', '.join(missing)} but the folder lacks it; save the model there "
            "again with save_pretrained (copying only some of its files leaves its code behind)"
        )
    names = {
        name
        for pattern in MODEL_FILE_PATTERNS + REPORT_FILE_PATTERNS
        for name in glob.glob(pattern, root_dir=folder)
    }
    if os.path.isfile(os.path.join(folder, "config.json")):
        names.update(_remote_code_files(folder))
    return sorted(name for name in names if os.path.isfile(os.path.join(folder, name)))


def files_to_push(run_dir: str | os.PathLike, *, include_folds: bool = False) -> list[str]:
    """The files of a run that go to the Hub, relative to `run_dir`: the model it exported, its card, the
    cross-validation summary, plots and split; with `include_folds`, the same of every `fold_k/`."""
    run_dir = os.fspath(run_dir)
    files = _folder_files(run_dir)
    if "config.json" not in files:
        raise FileNotFoundError(
            f"{run_dir}: no config.json; push the folder a finished run saved its model to (its --output_dir)"
        )
    if include_folds:
        for fold in sorted(glob.glob("fold_*", root_dir=run_dir)):
            if os.path.isdir(os.path.join(run_dir, fold)):
                files += [f"{fold}/{name}" for name in _folder_files(os.path.join(run_dir, fold))]
    return files


def push_run(
    run_dir: str | os.PathLike,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool | None = None,
    include_folds: bool = False,
    commit_message: str = "Upload hf-emotion model",
    api: HfApi | None = None,
):
    """Upload a finished run to a Hub model repository in one commit (the repository is created if needed).

    Call it once, from the main process, after the run: see [`files_to_push`] for what is uploaded.

    Args:
        run_dir: The run's output folder.
        repo_id: `owner/name` of the model repository.
        token: Hub token, passed to every call (None: the logged-in user's).
        private: Create the repository private (an existing one keeps its visibility).
        include_folds: Also upload each cross-validation fold's model, card and plots as `fold_k/`.
        commit_message: The commit's message.
        api: The `HfApi` to call (tests pass a recording stand-in).

    Returns:
        The `CommitInfo` of the commit.
    """
    api = api if api is not None else HfApi()
    run_dir = os.fspath(run_dir)
    files = files_to_push(run_dir, include_folds=include_folds)
    repo = api.create_repo(repo_id, token=token, private=private, repo_type="model", exist_ok=True)
    operations = [
        CommitOperationAdd(path_in_repo=name, path_or_fileobj=os.path.join(run_dir, name)) for name in files
    ]
    commit = api.create_commit(
        getattr(repo, "repo_id", repo_id),
        operations=operations,
        commit_message=commit_message,
        token=token,
        repo_type="model",
    )
    logger.info("Pushed %d files of %s to %s", len(files), run_dir, getattr(repo, "repo_id", repo_id))
    return commit
