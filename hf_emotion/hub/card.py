"""The model card of a trained model, as the Hugging Face Hub reads it.

The card is built with `huggingface_hub`'s `ModelCard` / `ModelCardData` / `EvalResult`, so its YAML header is
what the Hub reads: `base_model` as a Hub id (never a local cache folder), the licence the training data allow,
`datasets` as Hub dataset ids only (a corpus with none is named in the text; `training_corpora` lists every
`--dataset` name for this package's own readers), `language`, `pipeline_tag`, and a `model-index` with the
speaker-independent results. Its text is the Jinja
template `model_card_template.md` beside this module (installed with the package); pushing it: `hub.push`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from importlib import resources
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from hf_emotion.backbones import BACKBONES, read_build_record
from hf_emotion.corpora import CARD_CORPORA as CORPORA
from hf_emotion.corpora import LICENCES, LICENSE_NAMES, find_corpus
from hf_emotion.evaluation.unseen_corpora import card_eval_results, card_section

#: Metric key in the results (`eval_<key>`) → its name on the card.
CARD_METRICS = {
    "ua": "UA (unweighted average recall)",
    "wa": "WA (accuracy)",
    "macro_f1": "macro F1",
    "ccc_valence": "CCC valence",
    "ccc_arousal": "CCC arousal",
}
TASK = ("audio-classification", "Speech emotion recognition")
#: The card's text, a Jinja template that `ModelCard.from_template` fills (a file of the package, not a string
#: here: it reads as the Markdown it renders to, and can be edited as such).
TEMPLATE_NAME = "model_card_template.md"


def card_template() -> str:
    """The text of `model_card_template.md`, read from the installed package."""
    return resources.files(__package__).joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")


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


def hub_dataset_ids(datasets: Sequence[str]) -> list[str]:
    """The card's `datasets`: what the Hub can link to. A built-in corpus gives its publishers' Hub dataset
    (none do so far: they are named in the card's text instead), a Hub dataset trained on is itself, a local
    folder or table is left out."""
    ids = []
    for name in datasets:
        corpus = find_corpus(name)
        if corpus is not None:
            found = corpus.hub_dataset
        else:
            found = None if os.path.exists(name) else name.rstrip("/")
        if found and found not in ids:
            ids.append(found)
    return ids


def card_languages(datasets: Sequence[str]) -> list[str]:
    """The card's `language`: what the speakers of the built-in corpora trained on speak (others unknown)."""
    return sorted({corpus.language for name in datasets if (corpus := find_corpus(name)) is not None})


def _one_or_list(values: list[str]) -> str | list[str] | None:
    """`language: en` for one, a list for several, nothing for none."""
    return values[0] if len(values) == 1 else (values or None)


def _calibration_text(metrics: Mapping[str, Any]) -> str:
    temperature = metrics.get("temperature")
    if not temperature:
        return ""
    text = (
        f" Probabilities are temperature-scaled (T = {temperature:.2f}, fitted on the validation speakers), so that "
        "a probability means how often the label is right"
    )
    if "eval_ece" in metrics and "eval_ece_before_temperature" in metrics:
        text += (
            f": expected calibration error on the test speakers {metrics['eval_ece_before_temperature']:.3f} "
            f"before, {metrics['eval_ece']:.3f} after"
        )
    return text + "."


def dataset_ids(datasets: Sequence[str]) -> list[str]:
    """What a card may name as its datasets: corpus names and Hub ids, never a local path."""
    return [os.path.basename(os.path.normpath(name)) if os.path.exists(name) else name for name in datasets]


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
    # A corpus given twice (RAVDESS speech and song are both --dataset ravdess) is one corpus on the card.
    datasets = list(dict.fromkeys(datasets))
    license_id, license_name, license_sentence = card_license(datasets)
    card_data = ModelCardData(
        model_name=repo_id.rsplit("/", 1)[-1],
        base_model=base_model,
        datasets=hub_dataset_ids(datasets) or None,
        # What `datasets` cannot hold (corpora with no Hub dataset), for `hf-emotion card` and the demo.
        training_corpora=dataset_ids(datasets),
        language=_one_or_list(card_languages(datasets)),
        license=license_id,
        license_name=license_name,
        library_name="transformers",
        pipeline_tag="audio-classification",
        tags=["speech-emotion-recognition", "valence-arousal", "hf-emotion", "custom_code"],
        metrics=list(CARD_METRICS),
        eval_results=eval_results(datasets, metrics, split, summary)
        + card_eval_results(cross_corpus, trained_corpora or ()),
    )
    skipped = ", ".join(f"`{os.path.basename(f['path'])}` ({f['detail']})" for f in skipped_files[:50])
    return ModelCard.from_template(
        card_data,
        template_str=card_template(),
        repo_id=repo_id,
        subfolder=subfolder,
        subfolder_kwarg=f'model_kwargs={{"subfolder": "{subfolder}"}}, ' if subfolder else "",
        base_model=base_model,
        dataset_name=" + ".join(CORPORA[n][0] if n in CORPORA else n for n in dataset_ids(datasets)),
        label_names=list(label_names),
        protocol=_protocol_text(split, summary),
        mixing=_mixing_text(metrics, final=split.get("protocol") == "all_speakers")
        + _calibration_text(metrics),
        summary=summary,
        folds=summary["eval_ua"]["n"] if summary else 0,
        rows=_result_rows(metrics, summary),
        corpus_rows=[
            {"corpus": corpus, "value": f"{folds['mean']:.3f} ± {folds['std']:.3f}"}
            for corpus, folds in corpus_uas(summary).items()
        ],
        unseen_section=card_section(cross_corpus, trained_corpora) if trained_corpora is not None else "",
        data_lines=_data_lines(datasets),
        license_sentence=license_sentence,
        skipped=skipped or "none",
        date=datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        machine=machine or "an unrecorded machine",
    )


def _result_rows(metrics: Mapping[str, Any], summary: Mapping[str, Mapping[str, float]] | None) -> list[dict]:
    """The results table: each card metric on this model's test speakers and, after cross-validation, over
    the folds."""
    return [
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


def _data_lines(datasets: Sequence[str]) -> list[str]:
    """One line per corpus trained on: its name, what it holds, its licence (a dataset card for the others)."""
    return [
        f"**{CORPORA[name][0]}** ({CORPORA[name][2]}): {LICENCES[CORPORA[name][3]]}"
        if name in CORPORA
        else f"**{dataset_ids([name])[0]}**: see its dataset card"
        for name in datasets
    ]
