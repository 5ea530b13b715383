"""What the demo tells a visitor about its model, read from the model folder: the "About this model" panel.

The facts come from the model's card (``README.md``, read with ``huggingface_hub.ModelCard``: its datasets,
licence and ``model-index`` results, the "Unseen corpora" ones included) and, where the card is silent, from
the files a run leaves beside the model (``splits.json``, ``all_results.json``, ``cv_summary.json``). A model
that is no local folder (a Hub id, an ensemble) gets no panel. Nothing heavy is imported here (no gradio, no
datasets): a Space reads its model's facts with the demo's requirements alone.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import ModelCard

logger = logging.getLogger(__name__)

#: What the model must not be used for, in one sentence: acted emotions of a few dozen actors say little
#: about a real person's state.
NOT_FOR = (
    "decisions about real people (hiring, health, policing, lie detection): it learned the emotions actors "
    "portrayed, in the language of its training recordings."
)
UNSEEN_CORPORA_HEADING = "## Unseen corpora"


@dataclass(frozen=True)
class UnseenCorpusScore:
    """UA on a corpus the model (or its recipe without that corpus) never trained on."""

    corpus: str
    ua: float
    how: str  # "" (this recipe as it is) or "trained without <corpus>"


@dataclass(frozen=True)
class ModelFacts:
    """What the panel shows.

    Attributes:
        corpora: the names of the corpora trained on.
        labels: the emotions it tells apart.
        speakers: ``{"train", "validation", "test"}`` speaker counts (empty when unknown).
        test_ua: UA on this model's own test speakers, or None (none held out, or not recorded).
        folds_ua: ``(mean, std, folds)`` of test UA over a cross-validation's speaker folds, or None.
        unseen: UA on corpora never trained on; None when the card has no "Unseen corpora" section.
        licence: the Hub licence id (``cc-by-nc-sa-4.0``), or None when unknown.
        licence_name: its long name when the id is ``other``.
    """

    corpora: list[str]
    labels: list[str]
    speakers: dict[str, int] = field(default_factory=dict)
    test_ua: float | None = None
    folds_ua: tuple[float, float, int] | None = None
    unseen: list[UnseenCorpusScore] | None = None
    licence: str | None = None
    licence_name: str | None = None

    @property
    def non_commercial(self) -> bool:
        """True when a licence it comes under is non-commercial (``-nc-`` in its id or name)."""
        names = f"{self.licence or ''} {self.licence_name or ''}".lower()
        return re.search(r"(^|[-\s])nc([-\s]|$)", names) is not None


def _read_json(path: Path):
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except ValueError:
        logger.warning("%s is not JSON: the demo's model panel leaves it out", path)
        return None


def read_model_facts(model: str | os.PathLike, labels: list[str]) -> ModelFacts | None:
    """The facts of the model folder ``model``; None for a Hub id or an ensemble (nothing local to read)."""
    folder = Path(model)
    if not folder.is_dir():
        return None
    card = ModelCard.load(folder / "README.md") if (folder / "README.md").is_file() else None
    data = card.data if card else None
    results = list(data.eval_results or []) if data else []
    facts = dict(
        corpora=_corpus_names(results, list(data.datasets or []) if data else [], folder),
        labels=list(labels),
        speakers=_speaker_counts(folder, results),
        licence=data.license if data else None,
        licence_name=data.get("license_name") if data else None,
    )
    for result in results:  # the card's UA on held-out speakers: this model's, then the folds' mean
        args = result.dataset_args or {}
        if result.metric_type != "ua" or "corpus" in args or "matrix_row" in args:
            continue
        if "num_folds" in args:
            facts.setdefault("folds_ua", (result.metric_value, None, args["num_folds"]))
        elif args.get("test_speakers"):
            facts.setdefault("test_ua", result.metric_value)
    _fill_from_run_files(folder, facts)
    if card is not None and UNSEEN_CORPORA_HEADING in card.text:
        facts["unseen"] = _unseen_scores(results)
    return ModelFacts(**facts)


def _corpus_names(results, datasets: list[str], folder: Path) -> list[str]:
    """The corpora by the names the card gives them (its results' ``dataset_name``: ``RAVDESS speech +
    CREMA-D subset``), else as ``--dataset`` named them."""
    named = next((r.dataset_name for r in results if "matrix_row" not in (r.dataset_args or {})), None)
    if named:
        return named.split(" + ")
    if not datasets:
        identity = _read_json(folder / "run_identity.json") or {}
        datasets = list(identity.get("dataset") or [])
    return datasets


def _speaker_counts(folder: Path, results) -> dict[str, int]:
    split = _read_json(folder / "splits.json")
    if isinstance(split, dict):  # a random split's lists are clips, not speakers
        if split.get("protocol") == "random":
            return {}
        return {part: len(split.get(part) or []) for part in ("train", "validation", "test")}
    tested = next(
        (r.dataset_args["test_speakers"] for r in results if (r.dataset_args or {}).get("test_speakers")), []
    )
    return {"test": len(tested)} if tested else {}


def _fill_from_run_files(folder: Path, facts: dict) -> None:
    """UA from ``all_results.json`` and ``cv_summary.json`` where the card gave none (or no std)."""
    results = _read_json(folder / "all_results.json") or {}
    split = _read_json(folder / "splits.json") or {}
    if (
        facts.get("test_ua") is None
        and "eval_ua" in results
        and split.get("protocol") in ("speaker_folds", "fixed")
    ):
        facts["test_ua"] = float(results["eval_ua"])
    summary = (_read_json(folder / "cv_summary.json") or {}).get("summary", {}).get("eval_ua")
    if summary:
        facts["folds_ua"] = (float(summary["mean"]), float(summary["std"]), int(summary["n"]))


def _unseen_scores(results) -> list[UnseenCorpusScore]:
    """The card's leave-one-corpus-out and cross-corpus UAs over the labels both sides share."""
    scores = []
    for result in results:
        args = result.dataset_args or {}
        if "matrix_row" in args and result.dataset_config == "shared labels":
            how = result.metric_name.split(", ", 1)[1] if ", " in result.metric_name else ""
            how = "" if how == "this recipe" else f"the recipe {how}"
            scores.append(UnseenCorpusScore(result.dataset_name, result.metric_value, how))
    return scores


def _ua_line(facts: ModelFacts) -> str:
    chance = f" (chance: {1 / len(facts.labels):.2f})" if facts.labels else ""
    parts = []
    if facts.test_ua is not None:
        tested = f"{facts.speakers['test']} " if facts.speakers.get("test") else ""
        parts.append(f"**{facts.test_ua:.2f}** on its {tested}test speakers")
    if facts.folds_ua is not None:
        mean, std, folds = facts.folds_ua
        spread = f" ± {std:.2f}" if std is not None else ""
        parts.append(f"{mean:.2f}{spread} over {folds} speaker folds")
    if not parts:
        return "- **On voices it never heard**: not measured (no speakers were held out)."
    return f"- **On voices it never heard**: UA {'; '.join(parts)}{chance}."


def _licence_line(facts: ModelFacts) -> str:
    licence = facts.licence_name if facts.licence == "other" and facts.licence_name else facts.licence
    if not licence or licence == "unknown":
        return "- **Licence**: not stated; see the licences of the data it was trained on."
    if facts.non_commercial:
        return f"- **Licence**: {licence}: **non-commercial use only**, as its training recordings require."
    return f"- **Licence**: {licence}, as its training recordings require."


def facts_markdown(facts: ModelFacts) -> str:
    """The panel's text: trained on, UA on unseen speakers and corpora, licence, what it is not for."""
    counts = facts.speakers
    who = f": {counts['train']} speakers" if counts.get("train") else ""
    if counts.get("validation"):
        who += f" ({counts['validation']} more chose its checkpoint)"
    lines = [f"- **Trained on** {' + '.join(facts.corpora) or 'data its card does not name'}{who}."]
    lines.append(_ua_line(facts))
    if facts.unseen:
        listed = "; ".join(
            f"{s.ua:.2f} on {s.corpus}" + (f" ({s.how})" if s.how else "") for s in facts.unseen
        )
        lines.append(f"- **On corpora it never trained on**: UA {listed}.")
    elif facts.unseen is not None:
        lines.append("- **On corpora it never trained on**: not measured yet.")
    lines.append(_licence_line(facts))
    lines.append(f"- **Not for** {NOT_FOR}")
    lines.append("\nUA: unweighted average recall, the mean of each emotion's hit rate.")
    return "\n".join(lines)
