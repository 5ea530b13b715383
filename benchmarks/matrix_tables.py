"""The cross-corpus matrix as markdown, and its leave-one-corpus-out cells judged against the targets.

Reads the JSON ``python -m benchmarks.cross_corpus_matrix`` writes (see ``hf_emotion.evaluation.unseen_corpora`` for its
shape); imports no torch, so ``make_report`` renders BENCHMARKS.md from the JSON with it.
"""

from __future__ import annotations

from collections.abc import Mapping

from hf_emotion.evaluation.unseen_corpora import FOUR_CLASSES, find_cell, find_row, unseen_scores

KIND_SHORT = {"in-corpus": "in", "cross-channel": "channel", "cross-corpus": "corpus"}
NOT_RUN = (
    "*Not measured yet: the cross-corpus matrix has not been run "
    "(`python -m benchmarks.cross_corpus_matrix`, which writes `benchmarks/results/cross_corpus_matrix.json`).*"
)


def labels_title(labels: str) -> str:
    return "the shared labels" if labels == "shared" else labels.replace(",", "/")


def cell_text(cell: Mapping | None) -> str:
    """``in 0.809 (8 cl., 240 clips, 4 spk.)``: kind, UA, scored labels, clips and speakers."""
    if cell is None:
        return "-"
    kind = KIND_SHORT[cell["kind"]]
    if cell["ua"] is None:
        return f"{kind}: no unseen speakers"
    folds = f", {cell['folds']} folds" if cell.get("folds", 1) > 1 else ""
    mark = "" if cell.get("unseen_only", True) else " †"
    return (
        f"{kind} {cell['ua']:.3f} ({len(cell['scored_labels'])} cl., {cell['clips']} clips, "
        f"{cell['speakers']} spk.{folds}){mark}"
    )


def row_title(matrix: Mapping, name: str) -> str:
    corpora = matrix["rows"][name]["corpora"]
    return " + ".join(matrix["corpora"].get(c, c) for c in corpora) + f" (`{name}`)"


def matrix_table(matrix: Mapping, labels: str) -> list[str]:
    corpora = list(matrix["corpora"])
    title = "the labels both sides have" if labels == "shared" else labels.replace(",", ", ")
    lines = [
        f"### UA over {title}",
        "",
        "| trained on | " + " | ".join(matrix["corpora"][c] for c in corpora) + " |",
        "|---" * (len(corpora) + 1) + "|",
    ]
    for name in matrix["rows"]:
        cells = [_any_cell(matrix, name, corpus, labels) for corpus in corpora]
        lines.append(f"| {row_title(matrix, name)} | " + " | ".join(cell_text(c) for c in cells) + " |")
    return [*lines, ""]


def _any_cell(matrix: Mapping, row: str, corpus: str, labels: str) -> dict | None:
    """The cell, also when it has no unseen speaker (``find_cell`` skips those)."""
    return next(
        (c for c in matrix["cells"] if (c["row"], c["corpus"], c["labels"]) == (row, corpus, labels)), None
    )


def leave_one_out(matrix: Mapping) -> list[dict]:
    """Each corpus against the row trained on every other corpus: UA per label set and whether it meets
    the target of ``matrix["targets"]["unseen"]`` (``{labels: at_least}``)."""
    rows = []
    for score in (s for s in unseen_scores(matrix, list(matrix["corpora"])) if s.left_out):
        judged = {"corpus": score.corpus, "row": find_row(matrix, score.trained_on), "kind": score.kind}
        for labels, at_least in matrix["targets"]["unseen"].items():
            cell = score.shared if labels == "shared" else score.four if labels == FOUR_CLASSES else None
            judged[labels] = {
                "ua": cell["ua"] if cell else None,
                "at_least": at_least,
                "met": None if cell is None else cell["ua"] >= at_least,
            }
        rows.append(judged)
    return rows


def in_corpus_target(matrix: Mapping) -> dict:
    """The in-corpus target (``matrix["targets"]["in_corpus"]``: row, corpus, labels, at_least) and its cell."""
    target = dict(matrix["targets"]["in_corpus"])
    cell = find_cell(matrix, target["row"], target["corpus"], target["labels"])
    return target | {
        "ua": cell["ua"] if cell else None,
        "met": None if cell is None else cell["ua"] >= target["at_least"],
    }


def leave_one_out_table(matrix: Mapping) -> list[str]:
    targets = matrix["targets"]["unseen"]
    header = " | ".join(f"UA, {labels_title(k)} | ≥ {v:g}?" for k, v in targets.items())
    lines = [
        "### Leave one corpus out",
        "",
        "Each corpus scored by the row trained on every other corpus (the same recipe, that corpus never "
        "trained on): the estimate of what the general model does on a corpus it has never heard. RAVDESS "
        "speech and song share their actors, so each is also scored by the row trained on neither "
        "(*cross-corpus*), beside the row trained on the other channel (*cross-channel*). "
        "Targets (issue 17): "
        + ", ".join(f"UA ≥ {v:g} over {labels_title(k)}" for k, v in targets.items())
        + ".",
        "",
        f"| left out | trained on | kind | {header} |",
        "|---|---|---|" + "---|---|" * len(targets),
    ]
    for judged in leave_one_out(matrix):
        cells = []
        for labels in targets:
            score = judged[labels]
            cells += (
                ["not measured", "–"]
                if score["ua"] is None
                else [f"{score['ua']:.3f}", "yes" if score["met"] else "no"]
            )
        trained = row_title(matrix, judged["row"]) if judged["row"] else "no such row"
        lines.append(
            f"| {matrix['corpora'][judged['corpus']]} | {trained} | {judged['kind']} | "
            + " | ".join(cells)
            + " |"
        )
    return [*lines, "", *_verdicts(matrix), ""]


def _verdicts(matrix: Mapping) -> list[str]:
    judged = leave_one_out(matrix)
    lines = []
    for labels, at_least in matrix["targets"]["unseen"].items():
        measured = [j[labels] for j in judged if j[labels]["ua"] is not None]
        met = sum(s["met"] for s in measured)
        verdict = "met" if measured and met == len(judged) else "not met"
        lines.append(
            f"- UA ≥ {at_least:g} over {labels_title(labels)} on every corpus left out: **{verdict}** "
            f"({met} of {len(judged)} left-out scores; {len(judged) - len(measured)} not measured)."
        )
    target = in_corpus_target(matrix)
    if target["ua"] is None:
        lines.append(
            f"- In-corpus UA of `{target['row']}` on {target['corpus']} ≥ {target['at_least']:g}: not measured."
        )
    else:
        verdict = "met" if target["met"] else "not met"
        lines.append(
            f"- In-corpus UA of `{target['row']}` on {matrix['corpora'][target['corpus']]} (its test speakers) "
            f"≥ {target['at_least']:g}: {target['ua']:.3f}, **{verdict}**."
        )
    return lines


def render(matrix: Mapping | None) -> list[str]:
    """The BENCHMARKS.md section: both matrices, the leave-one-out judgement, machine, date and commands."""
    lines = ["## Cross-corpus matrix: speakers never heard", ""]
    if matrix is None:
        return [*lines, NOT_RUN, ""]
    lines += [
        f"Machine: {matrix['machine']}. Date: {matrix['date']}.",
        "",
        "Rows are training sets (fold 0 of a run file each, unless said otherwise), columns test corpora. Every "
        "cell scores only the clips of speakers its row's model never trained or chose its checkpoint on (the "
        "train and validation speakers of its `splits.json` are left out): *in* = in-corpus, the model's own "
        "test speakers; *channel* = RAVDESS song against speech, actors the model never heard, singing where "
        "it heard speech or the reverse; *corpus* = a corpus the row never trained on, scored whole. The "
        "arg-max runs over the labels model and corpus share (`cl.` = how many).",
        "",
    ]
    for labels in matrix["label_sets"]:
        lines += matrix_table(matrix, labels)
    if any(not c.get("unseen_only", True) for c in matrix["cells"]):
        lines += ["† the model folder had no splits.json: every clip was scored, its own speakers too.", ""]
    lines += leave_one_out_table(matrix)
    lines += ["Commands:", "", *(f"- `{command}`" for command in matrix["commands"]), ""]
    return lines
