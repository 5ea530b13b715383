"""Sharing a trained model on the Hugging Face Hub: its model card, and one push at the end of a run.

The card is built with `huggingface_hub`'s `ModelCard` / `ModelCardData` / `EvalResult`, so its YAML header is
what the Hub reads: `base_model` as a Hub id (never a local cache folder), the licence the training data allow,
`datasets`, `pipeline_tag`, and a `model-index` with the speaker-independent results.

The push is one commit made from the main process after the run: the model the run exported, its card, the
cross-validation summary and plots, and, when asked, each fold's model in `fold_k/`. Checkpoints, optimizer
states, `training_args.bin` (a pickle) and results files that name local paths are never uploaded.
"""

from __future__ import annotations

import glob
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from huggingface_hub import CommitOperationAdd, EvalResult, HfApi, ModelCard, ModelCardData

from hf_emotion.backbones import BACKBONES, read_build_record
from hf_emotion.corpora import CARD_CORPORA as CORPORA
from hf_emotion.corpora import LICENCES, LICENSE_NAMES
from hf_emotion.evaluation.unseen_corpora import card_eval_results, card_section
from hf_emotion.model.files import MODEL_FILE_PATTERNS

logger = logging.getLogger(__name__)

#: Metric key in the results (`eval_<key>`) → its name on the card.
CARD_METRICS = {
    "ua": "UA (unweighted average recall)",
    "wa": "WA (accuracy)",
    "macro_f1": "macro F1",
    "ccc_valence": "CCC valence",
    "ccc_arousal": "CCC arousal",
}
TASK = ("audio-classification", "Speech emotion recognition")
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


def base_model_id(model_name_or_path: str | os.PathLike) -> str | None:
    """The Hub id a run started from: a known backbone's source, the id a built backbone records beside its
    folder, the `base_model` of a trained model's card, or the argument itself when it is no local folder.

    Returns None for a local folder that names no Hub model (a card then has no `base_model`).
    """
    name = os.fspath(model_name_or_path)
    if name in BACKBONES and not os.path.isdir(name):
        return BACKBONES[name].hub_id
    if not os.path.isdir(name):
        return name
    record = read_build_record(name)
    if record and record.get("hub_id"):
        return record["hub_id"]
    card = os.path.join(name, "README.md")
    if os.path.isfile(card):
        base_model = ModelCard.load(card).data.base_model
        if isinstance(base_model, str):
            return base_model
    return None


def card_license(datasets: Sequence[str]) -> tuple[str, str | None, str]:
    """`(license, license_name, sentence)` for a model trained on these corpora.

    One licence for all → its Hub id. Several → `other`, named after them all, since a model trained on both
    must respect both (RAVDESS: non-commercial, share-alike; CREMA-D: share-alike for the database). A corpus
    whose licence is unknown here (a Hub or local dataset) → `unknown`: its dataset card says.
    """
    licences = {name: CORPORA[name][1] for name in datasets if name in CORPORA}
    unknown = [name for name in dataset_ids(datasets) if name not in CORPORA]
    if unknown:
        return "unknown", None, f"See the licences of {', '.join(unknown)} on their dataset cards."
    distinct = sorted(set(licences.values()))
    if len(distinct) == 1:
        return (
            distinct[0],
            None,
            f"The recordings are licensed {LICENSE_NAMES[distinct[0]]}; so is this model.",
        )
    terms = " and ".join(
        f"{CORPORA[name][0]} ({LICENSE_NAMES[licence]})" for name, licence in licences.items()
    )
    return (
        "other",
        "-and-".join(distinct),
        f"Trained on {terms}: use it only as all of these licences allow.",
    )


def _protocol(split: Mapping[str, Any]) -> str:
    if split.get("protocol") == "random":
        return "random clips (not speaker-independent: test speakers were also heard in training)"
    if split.get("protocol") == "speaker_folds":
        return f"speaker fold {split.get('fold')} of {split.get('num_folds')}"
    if split.get("protocol") == "all_speakers":
        return "all speakers (final model; no held-out speakers)"
    return "fixed speakers"


def eval_results(
    datasets: Sequence[str],
    metrics: Mapping[str, Any],
    split: Mapping[str, Any],
    summary: Mapping[str, Mapping[str, float]] | None = None,
) -> list[EvalResult]:
    """The `model-index` entries: this model on its own test speakers and, after cross-validation, the mean
    over all folds' test speakers (each a different `dataset_split`)."""
    names = dataset_ids(datasets)
    dataset_type = "+".join(names)
    dataset_name = " + ".join(CORPORA[name][0] if name in CORPORA else name for name in names)
    common = dict(task_type=TASK[0], task_name=TASK[1], dataset_type=dataset_type, dataset_name=dataset_name)
    results = []
    for key, name in CARD_METRICS.items():
        if f"eval_{key}" in metrics:
            results.append(
                EvalResult(
                    **common,
                    dataset_split=f"test speakers, {_protocol(split)}",
                    dataset_args={
                        "protocol": split.get("protocol"),
                        "test_speakers": list(split.get("test", [])),
                    },
                    metric_type=key,
                    metric_name=name,
                    metric_value=round(float(metrics[f"eval_{key}"]), 4),
                )
            )
    for key, name in CARD_METRICS.items():
        if summary and f"eval_{key}" in summary:
            folds = summary[f"eval_{key}"]
            results.append(
                EvalResult(
                    **common,
                    dataset_split=f"test speakers, mean over {folds['n']} speaker folds",
                    dataset_args={"protocol": "speaker_folds", "num_folds": folds["n"]},
                    metric_type=key,
                    metric_name=f"{name}, mean over folds",
                    metric_value=round(float(folds["mean"]), 4),
                )
            )
    for corpus, folds in corpus_uas(summary).items():
        results.append(
            EvalResult(
                **common,
                dataset_split=f"{corpus} test speakers, mean over {folds['n']} speaker folds",
                dataset_args={"protocol": "speaker_folds", "num_folds": folds["n"], "corpus": corpus},
                metric_type="ua",
                metric_name=f"UA on {corpus}, mean over folds",
                metric_value=round(float(folds["mean"]), 4),
            )
        )
    return results


def corpus_uas(summary: Mapping[str, Mapping[str, float]] | None) -> dict[str, Mapping[str, float]]:
    """``{corpus: {"mean", "std", "n"}}``: each corpus's test UA over the folds (``eval_ua_<corpus>``)."""
    return {k.removeprefix("eval_ua_"): v for k, v in (summary or {}).items() if k.startswith("eval_ua_")}


def dataset_ids(datasets: Sequence[str]) -> list[str]:
    """What a card may name as its datasets: corpus names and Hub ids, never a local path."""
    return [os.path.basename(os.path.normpath(name)) if os.path.exists(name) else name for name in datasets]


CARD_TEMPLATE = """---
{{ card_data }}
---

# Speech emotion recognition ({{ dataset_name }})

{{ label_names | length }}-class emotion recognition ({{ label_names | join(", ") }}) with valence and arousal,
fine-tuned {% if base_model %}from [`{{ base_model }}`](https://huggingface.co/{{ base_model }}) {% endif %}with
the hf-emotion library.

## Use

```python
from transformers import pipeline

classifier = pipeline(model="{{ repo_id }}", {{ subfolder_kwarg }}trust_remote_code=True)
classifier("clip.wav")  # [{"label": ..., "score": ...}, ...] over every emotion, most probable first
classifier(samples, sampling_rate=44_100, details=True)  # + valence, arousal and, for long input, a timeline
```

The pipeline is saved with the model (`pipeline_emotion.py`): it scores each clip at its own length, resamples
any rate, and scores recordings longer than 30 s in 3-s windows. With hf-emotion installed:
`EmotionRecognizer.from_pretrained("{{ repo_id }}"{% if subfolder %}, subfolder="{{ subfolder }}"{% endif %})("clip.wav")`.

## Evaluation protocol

{{ protocol }}
Valence/arousal targets are **proxies** derived from the emotion label and its recorded intensity (circumplex
coordinates, `hf_emotion/data/targets.py`), not listener ratings.{{ mixing }}

## Results

| metric | this model, its test speakers |{% if summary %} mean ± std over {{ folds }} speaker folds |{% endif %}
|---|---|{% if summary %}---|{% endif %}
{% for row in rows -%}
| {{ row.name }} | {{ row.value }} |{% if summary %} {{ row.folds }} |{% endif %}
{% endfor %}
{% if corpus_rows %}
Test UA on each corpus's own test speakers, mean ± std over the folds:

| corpus | UA |
|---|---|
{% for row in corpus_rows -%}
| {{ row.corpus }} | {{ row.value }} |
{% endfor %}
{% endif %}
UA = unweighted average recall (balanced accuracy); WA = accuracy; CCC = concordance correlation coefficient.

{% if unseen_section %}{{ unseen_section }}
{% endif %}## Data and licences

{% for line in data_lines -%}
- {{ line }}
{% endfor %}
{{ license_sentence }}

Files skipped at loading: {{ skipped }}.

Trained {{ date }} on {{ machine }}.
"""


def _protocol_text(split: Mapping[str, Any], summary: Mapping | None) -> str:
    test, validation = ", ".join(split.get("test", [])), ", ".join(split.get("validation", []))
    if split.get("protocol") == "all_speakers":
        return (
            f"Final model: trained on all {len(split.get('train', []))} speakers of every corpus (training, "
            "validation and test speakers of the cross-validation alike), with the epoch counts and class mixing "
            f"its {summary['eval_ua']['n'] if summary else ''} speaker folds chose on their validation speakers. "
            "No speaker is left out, so there was no model selection on it and **this model has no held-out "
            "score of its own**: the results below are the folds', measured on speakers their models never heard."
        )
    if split.get("protocol") == "random":
        text = "Random clips (**not** speaker-independent: the test speakers were also heard in training)."
    else:
        text = (
            f"Speaker-independent ({_protocol(split)}): the test speakers ({test}) were never heard in training "
            f"or model selection; the checkpoint was chosen on the validation speakers ({validation})."
        )
    if summary:
        folds = summary["eval_ua"]["n"]
        text += (
            f" Cross-validation: the run repeated this over {folds} speaker folds, each fold's speakers tested "
            "once; this model is the fold with the best validation UA (never chosen by test score)."
        )
    return text


def _mixing_text(metrics: Mapping[str, Any], final: bool = False) -> str:
    weights = {
        key.removeprefix("class_mixing_weight_"): value
        for key, value in metrics.items()
        if key.startswith("class_mixing_weight_")
    }
    if not weights:
        return ""
    listed = ", ".join(f"{name} {weight:g}" for name, weight in weights.items())
    return (
        " The valence/arousal outputs mix the regressor's with the classifier's expected class coordinates, with "
        f"weights {listed} (0: regressor only), "
        + ("the mean of the folds' choices." if final else "chosen on the validation speakers.")
    )


def build_model_card(
    *,
    repo_id: str,
    base_model: str | None,
    datasets: Sequence[str],
    label_names: Sequence[str],
    metrics: Mapping[str, Any],
    split: Mapping[str, Any],
    summary: Mapping[str, Mapping[str, float]] | None = None,
    skipped_files: Sequence[Mapping[str, Any]] = (),
    machine: str = "",
    subfolder: str | None = None,
    cross_corpus: Mapping[str, Any] | None = None,
    trained_corpora: Sequence[str] | None = None,
) -> ModelCard:
    """The model card of a trained model.

    Args:
        repo_id: The Hub repository (or folder) the card tells users to load.
        base_model: The Hub id fine-tuned from ([`base_model_id`]), or None.
        datasets: The corpus names or dataset ids trained on, as given to `--dataset`.
        label_names: The emotions, in the model's label order.
        metrics: This model's results (`eval_ua`, ... on its test speakers; `class_mixing_weight_*`).
        split: Its split (`splits.json`: protocol, fold, test and validation speakers).
        summary: After cross-validation, `{"eval_ua": {"mean", "std", "n"}, ...}` over the folds.
        skipped_files: `{"path", "detail"}` of the audio files left out at loading.
        machine: What the model was trained on, one line.
        subfolder: Where the model lies inside `repo_id` (a cross-validation fold's `fold_k`), if not at its top.
        cross_corpus: The cross-corpus matrix (`hf_emotion.evaluation.unseen_corpora.read_matrix`), None if not run yet.
        trained_corpora: The matrix names of the corpora trained on (`unseen_corpora.trained_corpora`); given,
            the card has an "Unseen corpora" section from `cross_corpus` (saying "not measured" without it).

    Returns:
        A `ModelCard`; `card.save(folder / "README.md")` writes it.
    """
    license_id, license_name, license_sentence = card_license(datasets)
    card_data = ModelCardData(
        model_name=repo_id.rsplit("/", 1)[-1],
        base_model=base_model,
        datasets=dataset_ids(datasets),
        license=license_id,
        license_name=license_name,
        library_name="transformers",
        pipeline_tag="audio-classification",
        tags=["speech-emotion-recognition", "valence-arousal", "hf-emotion", "custom_code"],
        metrics=list(CARD_METRICS),
        eval_results=eval_results(datasets, metrics, split, summary)
        + card_eval_results(cross_corpus, trained_corpora or ()),
    )
    rows = [
        {
            "name": name,
            "value": f"{metrics[f'eval_{key}']:.3f}" if f"eval_{key}" in metrics else "none held out",
            "folds": f"{summary[f'eval_{key}']['mean']:.3f} ± {summary[f'eval_{key}']['std']:.3f}"
            if summary and f"eval_{key}" in summary
            else "",
        }
        for key, name in CARD_METRICS.items()
        if f"eval_{key}" in metrics or (summary and f"eval_{key}" in summary)
    ]
    corpus_rows = [
        {"corpus": corpus, "value": f"{folds['mean']:.3f} ± {folds['std']:.3f}"}
        for corpus, folds in corpus_uas(summary).items()
    ]
    data_lines = [
        f"**{CORPORA[name][0]}** ({CORPORA[name][2]}): {LICENCES[CORPORA[name][3]]}"
        if name in CORPORA
        else f"**{dataset_ids([name])[0]}**: see its dataset card"
        for name in datasets
    ]
    skipped = ", ".join(f"`{os.path.basename(f['path'])}` ({f['detail']})" for f in skipped_files[:50])
    return ModelCard.from_template(
        card_data,
        template_str=CARD_TEMPLATE,
        repo_id=repo_id,
        subfolder=subfolder,
        subfolder_kwarg=f'model_kwargs={{"subfolder": "{subfolder}"}}, ' if subfolder else "",
        base_model=base_model,
        dataset_name=" + ".join(CORPORA[n][0] if n in CORPORA else n for n in dataset_ids(datasets)),
        label_names=list(label_names),
        protocol=_protocol_text(split, summary),
        mixing=_mixing_text(metrics, final=split.get("protocol") == "all_speakers"),
        summary=summary,
        folds=summary["eval_ua"]["n"] if summary else 0,
        rows=rows,
        corpus_rows=corpus_rows,
        unseen_section=card_section(cross_corpus, trained_corpora) if trained_corpora is not None else "",
        data_lines=data_lines,
        license_sentence=license_sentence,
        skipped=skipped or "none",
        date=datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        machine=machine or "an unrecorded machine",
    )


def _remote_code_files(folder: str) -> list[str]:
    """The Python files a model folder's config names: its `auto_map` classes and `custom_pipelines`."""
    with open(os.path.join(folder, "config.json")) as handle:
        config = json.load(handle)
    references = list(config.get("auto_map", {}).values())
    references += [task["impl"] for task in config.get("custom_pipelines", {}).values()]
    return sorted({reference.split(".")[0] + ".py" for reference in references if isinstance(reference, str)})


def _folder_files(folder: str) -> list[str]:
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
