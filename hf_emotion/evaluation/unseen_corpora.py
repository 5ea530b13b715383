"""What the cross-corpus matrix says about corpora a model never trained on.

``benchmarks/cross_corpus_matrix.py`` trains one recipe on several sets of corpora (the matrix's
rows) and scores every row on every corpus, on speakers the row never heard, writing
``benchmarks/results/cross_corpus_matrix.json``. A model trained on every corpus we have has
no corpus left to be tested on; the row trained on the same corpora *but one* (leave that
corpus out), scored on the one left out, is the honest estimate of what the recipe does on a
new corpus. This module reads those numbers for a model's card: the text of its "Unseen
corpora" section and its ``model-index`` entries.

Matrix JSON, the parts read here::

    {"date": ..., "machine": ..., "corpora": {"crema_d": "CREMA-D subset", ...},
     "rows": {"song-crema-d": {"corpora": ["ravdess_song", "crema_d"], ...}, ...},
     "cells": [{"row", "corpus", "labels" ("shared" or "angry,happy,neutral,sad"), "kind",
                "ua" (None: no unseen speaker), "clips", "speakers", "scored_labels"}, ...]}
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from huggingface_hub import EvalResult, ModelCard

from ..errors import BadFileError

#: The 4-class subset cross-corpus papers report.
FOUR_CLASSES = "angry,happy,neutral,sad"
LEAVE_ONE_OUT = "leave-one-corpus-out"
RAVDESS_CHANNELS = ("ravdess_speech", "ravdess_song")
SECTION = re.compile(r"^## Unseen corpora\n.*?(?=^## |\Z)", re.S | re.M)
SECTION_BEFORE = "## Data and licences"
MATRIX_SCRIPT = "benchmarks/cross_corpus_matrix.py"


def corpus_key(corpus: str, channel: str) -> str:
    """The matrix's name of a clip's corpus: RAVDESS speech and song are two (``ravdess_speech``)."""
    return f"ravdess_{channel}" if corpus == "ravdess" else corpus


def trained_corpora(dataset) -> list[str]:
    """The matrix names of the corpora a dataset's clips come from (``corpus``/``channel`` columns)."""
    channels = dataset["channel"] if "channel" in dataset.column_names else [""] * len(dataset)
    keys = [corpus_key(c, ch) for c, ch in zip(dataset["corpus"], channels, strict=True)]
    return list(dict.fromkeys(keys))


def cell_kind(trained: Sequence[str], corpus: str) -> str:
    """``in-corpus``, ``cross-channel`` (RAVDESS song against speech: the other channel, actors never
    heard) or ``cross-corpus`` (a corpus the row never trained on)."""
    if corpus in trained:
        return "in-corpus"
    if corpus in RAVDESS_CHANNELS and set(trained) & set(RAVDESS_CHANNELS):
        return "cross-channel"
    return "cross-corpus"


def read_matrix(path: str | os.PathLike | None) -> dict | None:
    """The matrix JSON at ``path``; None when no path is given or the matrix has not been written yet.

    Raises:
        BadFileError: the file is not a matrix (not JSON, or without the rows and cells read here).
    """
    if not path or not os.path.isfile(path):
        return None
    with open(path) as handle:
        try:
            matrix = json.load(handle)
        except ValueError as error:
            raise BadFileError(f"{path}: not a cross-corpus matrix, not even JSON ({error})") from None
    problem = matrix_problem(matrix)
    if problem:
        raise BadFileError(
            f"{path}: not a cross-corpus matrix ({problem}); give the JSON {MATRIX_SCRIPT} writes"
        )
    return matrix


def matrix_problem(matrix) -> str | None:
    """What keeps ``matrix`` from being read as the layout above, or None."""
    if not isinstance(matrix, dict):
        return f"a {type(matrix).__name__}, not an object"
    rows, cells = matrix.get("rows"), matrix.get("cells")
    if not isinstance(rows, dict) or not isinstance(cells, list):
        return "no 'rows' object and 'cells' list"
    for name, row in rows.items():
        if not isinstance(row, dict) or not isinstance(row.get("corpora"), list):
            return f"row {name!r} has no list of 'corpora'"
    for cell in cells:
        if not isinstance(cell, dict) or not {"row", "corpus", "labels", "ua"} <= set(cell):
            return f"a cell without row, corpus, labels and ua: {str(cell)[:80]}"
    return None


def find_row(matrix: Mapping, corpora: Sequence[str]) -> str | None:
    """The row trained on exactly these corpora."""
    wanted = set(corpora)
    return next((name for name, row in matrix["rows"].items() if set(row["corpora"]) == wanted), None)


def find_cell(matrix: Mapping, row: str | None, corpus: str, labels: str) -> dict | None:
    return next(
        (
            c
            for c in matrix.get("cells", [])
            if (c["row"], c["corpus"], c["labels"]) == (row, corpus, labels) and c["ua"] is not None
        ),
        None,
    )


@dataclass(frozen=True)
class UnseenScore:
    """One corpus a model (or its recipe without that corpus) never trained on, and how the row did there."""

    corpus: str
    row: str | None  # None: the matrix has no such row, or it was not scored on this corpus
    trained_on: list[str]  # the row's corpora
    kind: str
    shared: dict | None  # the cell over the shared labels
    four: dict | None  # the cell over angry/happy/neutral/sad
    without: tuple[str, ...] = ()  # the corpora left out of the row's training (this one, or RAVDESS whole)

    @property
    def left_out(self) -> bool:
        """True: the recipe trained without this corpus; False: this model's recipe as is."""
        return bool(self.without)


def unseen_scores(matrix: Mapping | None, corpora: Sequence[str]) -> list[UnseenScore]:
    """For each corpus the model trained on, the row trained without it, on it; then the model's own row on
    every matrix corpus it did not train on."""
    if matrix is None:
        return []
    scores = []
    if len(corpora) > 1:  # a single corpus: the recipe has nothing to train on without it
        for corpus in corpora:
            rest = [c for c in corpora if c != corpus]
            scores.append(_score(matrix, find_row(matrix, rest), rest, corpus, without=(corpus,)))
    # RAVDESS speech and song share their actors, so leaving one channel out still trains on those voices:
    # leaving RAVDESS out whole (both channels) is the cross-corpus estimate for each channel.
    without_ravdess = [c for c in corpora if c not in RAVDESS_CHANNELS]
    if set(RAVDESS_CHANNELS) <= set(corpora) and without_ravdess:
        row = find_row(matrix, without_ravdess)
        scores += [
            _score(matrix, row, without_ravdess, channel, without=RAVDESS_CHANNELS)
            for channel in RAVDESS_CHANNELS
        ]
    own = find_row(matrix, corpora)
    for corpus in matrix.get("corpora", {}):
        if corpus not in corpora and own:
            scores.append(_score(matrix, own, list(corpora), corpus))
    return scores


def quoted_rows(matrix: Mapping | None, corpora: Sequence[str]) -> list[str]:
    """The matrix rows whose numbers the card of a model trained on ``corpora`` quotes."""
    return list(dict.fromkeys(score.row for score in unseen_scores(matrix, corpora) if score.row))


def other_recipe_row(
    matrix: Mapping | None,
    corpora: Sequence[str],
    base_model: str | None,
    row_base_models: Mapping[str, str | None],
) -> str | None:
    """What shows that the rows a card would quote are not this model's recipe, or None when they are.

    The rows' numbers stand for "the same recipe" only when their models were fine-tuned from the model's own
    base model (a Whisper tiny.en matrix says nothing about a wav2vec2 model).

    Args:
        matrix: the matrix JSON.
        corpora: the matrix corpora the model trained on.
        base_model: the Hub id the model was fine-tuned from (its card's ``base_model``).
        row_base_models: each row's base model, by row name; None where the matrix cannot say.
    """
    for row in quoted_rows(matrix, corpora):
        theirs = row_base_models.get(row)
        if theirs is None:
            return f"its row {row} does not say which base model it fine-tuned, so it cannot be checked against this model"
        if base_model is None:
            return f"the model's card names no base_model to check its row {row} ({theirs}) against"
        if theirs != base_model:
            return f"its row {row} fine-tuned {theirs}, this model {base_model}"
    return None


def _score(
    matrix: Mapping, row: str | None, trained: list[str], corpus: str, *, without: Sequence[str] = ()
) -> UnseenScore:
    """``without`` empty: the model's own row; else the row trained on ``trained`` (the others left out)."""
    shared, four = (find_cell(matrix, row, corpus, labels) for labels in ("shared", FOUR_CLASSES))
    found = row if shared or four else None
    kind = cell_kind(trained, corpus)
    return UnseenScore(corpus, found, trained, kind, shared, four, tuple(without))


def _without_text(matrix: Mapping | None, score: UnseenScore) -> str:
    """``trained without CREMA-D subset`` (or ``without RAVDESS speech and RAVDESS song``)."""
    return "trained without " + " and ".join(_title(matrix, c) for c in score.without)


def _title(matrix: Mapping | None, corpus: str) -> str:
    return (matrix or {}).get("corpora", {}).get(corpus, corpus)


def _ua_text(score: UnseenScore) -> str:
    parts = []
    if score.shared:
        parts.append(
            f"UA {score.shared['ua']:.3f} over the {len(score.shared['scored_labels'])} shared labels"
        )
    if score.four:
        parts.append(f"{score.four['ua']:.3f} over angry/happy/neutral/sad")
    cell = score.shared or score.four
    return f"{' and '.join(parts)} ({cell['clips']} clips, {cell['speakers']} speakers; {score.kind})"


def section_line(matrix: Mapping | None, score: UnseenScore) -> str:
    """One bullet of the card's "Unseen corpora" section."""
    corpus = _title(matrix, score.corpus)
    trained = " + ".join(_title(matrix, c) for c in score.trained_on)
    if score.row is None:
        what = _without_text(matrix, score) if score.left_out else "as this model"
        return f"**{corpus}**: not measured (the matrix has no row of the same recipe {what} scored on it)."
    if score.left_out:
        return (
            f"**{corpus}**: the same recipe {_without_text(matrix, score)} (on {trained}) scored {_ua_text(score)} "
            f"on {corpus}'s speakers."
        )
    return (
        f"**{corpus}**: this recipe (trained on {trained}) scored {_ua_text(score)} on {corpus}'s speakers."
    )


def card_section(matrix: Mapping | None, corpora: Sequence[str]) -> str:
    """The markdown of the card's "Unseen corpora" section (its heading included)."""
    lines = ["## Unseen corpora", ""]
    if matrix is None:
        lines.append(
            f"Not measured: the cross-corpus matrix (`{MATRIX_SCRIPT}`) has not been run for this recipe."
        )
        return "\n".join(lines) + "\n"
    lines += [
        "What this recipe does on a corpus it never trained on, from the cross-corpus matrix "
        f"(`{MATRIX_SCRIPT}`): for each corpus this model trained on, the same recipe trained without that "
        "corpus; then this recipe as it is on the corpora it did not train on. Each is scored clip by clip on "
        "speakers the row's model never trained or chose its checkpoint on, over the labels both sides have and "
        "over angry/happy/neutral/sad.",
        "",
        *(
            [f"- {section_line(matrix, score)}" for score in unseen_scores(matrix, corpora)]
            or ["- Not measured: the matrix has no row trained on these corpora, nor on all of them but one."]
        ),
        "",
        f"Measured {matrix.get('date', 'on an unrecorded date')} on {matrix.get('machine', 'an unrecorded machine')}.",
    ]
    return "\n".join(lines) + "\n"


def card_eval_results(matrix: Mapping | None, corpora: Sequence[str]) -> list[EvalResult]:
    """The ``model-index`` entries of the section: UA per unseen corpus and label set, marked leave-one-out."""
    results = []
    for score in unseen_scores(matrix, corpora):
        for labels, cell in (("shared", score.shared), (FOUR_CLASSES, score.four)):
            if cell is None:
                continue
            title = _title(matrix, score.corpus)
            how = _without_text(matrix, score) if score.left_out else "this recipe"
            results.append(
                EvalResult(
                    task_type="audio-classification",
                    task_name="Speech emotion recognition",
                    dataset_type=score.corpus,
                    dataset_name=title,
                    dataset_config="shared labels" if labels == "shared" else labels.replace(",", ", "),
                    dataset_split=f"speakers never heard, {how}",
                    dataset_args={
                        "protocol": LEAVE_ONE_OUT if score.left_out else score.kind,
                        "trained_on": list(score.trained_on),
                        "left_out": list(score.without),
                        "matrix_row": score.row,
                        "labels": list(cell["scored_labels"]),
                        "clips": cell["clips"],
                        "speakers": cell["speakers"],
                    },
                    metric_type="ua",
                    metric_name=f"UA on {title}, {how}",
                    metric_value=round(float(cell["ua"]), 4),
                )
            )
    return results


def update_card(card: ModelCard, matrix: Mapping | None, corpora: Sequence[str]) -> ModelCard:
    """``card`` with its "Unseen corpora" section and their ``model-index`` entries made anew from ``matrix``
    (the section goes before "Data and licences" when the card has none yet)."""
    section = card_section(matrix, corpora) + "\n"
    text = SECTION.sub("", card.text)
    if SECTION_BEFORE in text:
        text = text.replace(SECTION_BEFORE, section + SECTION_BEFORE, 1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    card.text = text
    kept = [r for r in card.data.eval_results or [] if "matrix_row" not in (r.dataset_args or {})]
    card.data.eval_results = kept + card_eval_results(matrix, corpora)
    return card
