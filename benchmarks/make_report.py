#!/usr/bin/env python
"""Render BENCHMARKS.md (current results) and benchmarks/DETAILS.md (details, history) from the stored results.

    python -m benchmarks.make_report [--output BENCHMARKS.md] [--details benchmarks/DETAILS.md]

Fills ``benchmarks/report_template.md`` (BENCHMARKS.md) and ``benchmarks/details_template.md``
(benchmarks/DETAILS.md): ``{{TABLE:ROLE}}`` markers (``runs``, ``mixing``, ``ensembles``, ``transductive``,
``cost``; ``current`` or ``history``) become tables of the entries in ``benchmarks/results/finetune.json`` with
that role (``current`` takes the reproductions of a current config too); ``{{headline}}``, ``{{targets}}``,
``{{anchors}}``, ``{{provenance}}`` and ``{{notes}}`` the tables and lists of the same name;
``{{cross_corpus_matrix}}`` the matrix of ``benchmarks.cross_corpus_matrix``, from its JSON;
``{{snippet:NAME.md}}`` the snippet another benchmark wrote into ``benchmarks/results/``; ``{{other_snippets}}``
every snippet neither template names, so a new result shows with the current ones until a template places it.
A snippet not written yet is listed as missing rather than silently left out. The output depends on the stored
results only, so rendering twice gives the same files.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from benchmarks import finetune_tables as tables
from benchmarks import matrix_tables
from benchmarks.common.paths import RESULTS, ROOT

TEMPLATE = ROOT / "benchmarks" / "report_template.md"
DETAILS_TEMPLATE = ROOT / "benchmarks" / "details_template.md"
#: Each rendered file and the template it is rendered from.
REPORTS = {ROOT / "BENCHMARKS.md": TEMPLATE, ROOT / "benchmarks" / "DETAILS.md": DETAILS_TEMPLATE}

PRODUCERS = {
    "baselines.md": "python -m benchmarks.run_baselines",
    "inference.md": "python -m benchmarks.inference_speed",
    "baseline_features.md": "python -m benchmarks.baseline_features",
    "framing_shortcut.md": "python -m benchmarks.framing_shortcut",
    "framing_by_emotion.md": "python -m benchmarks.framing_shortcut",
    "framing_fold0.md": "python -m benchmarks.robustness",
    "validation_framing.md": "python -m benchmarks.validation_curves",
    "framing_fold1.md": "python -m benchmarks.robustness",
    "validation_framing_fold1.md": "python -m benchmarks.validation_curves",
}
MATRIX = "cross_corpus_matrix"  # .json rendered by {{cross_corpus_matrix}}; its .md is the same tables
ROLES = {"current": ("current", "reproduction"), "history": ("history",)}
MARKER = re.compile(r"\{\{([a-z_]+)(?::([\w.-]+))?\}\}")


def named_snippets() -> set[str]:
    """The snippets some template places by name: ``{{other_snippets}}`` leaves them to it."""
    texts = (template.read_text() for template in REPORTS.values())
    return {m.group(2) for text in texts for m in MARKER.finditer(text) if m.group(1) == "snippet"}


def _with_role(entries: dict, role: str) -> dict:
    return {name: e for name, e in entries.items() if e.get("role") in ROLES[role]}


def _table(kind: str, role: str, store: dict) -> list[str]:
    runs, ensembles = _with_role(store["runs"], role), _with_role(store.get("ensembles", {}), role)
    if kind == "runs":
        return tables.runs_table(runs, why=role == "history")
    if kind == "ensembles":
        return tables.ensembles_table(ensembles, store["runs"])
    render = {
        "mixing": tables.mixing_table,
        "transductive": tables.transductive_table,
        "cost": tables.cost_table,
    }
    return render[kind](runs)


def _snippet(name: str, results: Path) -> str:
    path = results / name
    if not path.exists():
        return f"*Not measured yet: `{name}` (made by `{PRODUCERS.get(name, 'its benchmark script')}`).*"
    return path.read_text().strip()


def build(results: Path = RESULTS, template: Path = TEMPLATE) -> str:
    """One report: ``template`` filled from the stored ``results``."""
    store = json.loads((results / "finetune.json").read_text())
    text = template.read_text()
    named = named_snippets()
    current = {n: r for n, r in store["runs"].items() if r.get("role") == "current"}
    current_ensembles = _with_role(store.get("ensembles", {}), "current")

    def fill(match: re.Match) -> str:
        kind, arg = match.groups()
        if kind == "snippet":
            return _snippet(arg, results)
        if kind == "other_snippets":
            others = [p for p in sorted(results.glob("*.md")) if p.name not in named | {f"{MATRIX}.md"}]
            return "\n\n".join(p.read_text().strip() for p in others)
        if kind == "headline":
            lines = tables.headline_table(current, current_ensembles)
        elif kind == "targets":
            lines = tables.targets_table(store["runs"], store["targets"])
        elif kind == "anchors":
            lines = tables.anchors_table(store["anchors"])
        elif kind == "provenance":
            lines = tables.provenance(store["runs"], store.get("ensembles", {}))
        elif kind == MATRIX:
            matrix = results / f"{MATRIX}.json"
            lines = matrix_tables.render(json.loads(matrix.read_text()) if matrix.exists() else None)
        elif kind == "notes":
            lines = [f"- {note}" for note in store["notes"]]
        else:
            lines = _table(kind, arg, store)
        return "\n".join(lines)

    # Markers with nothing to show leave no run of blank lines behind.
    return re.sub(r"\n{3,}", "\n\n", MARKER.sub(fill, text)).strip() + "\n"


def render_all(results: Path = RESULTS) -> dict[Path, str]:
    """Every report, by the file it is rendered into."""
    return {path: build(results, template) for path, template in REPORTS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="the current results")
    parser.add_argument(
        "--details", default=str(ROOT / "benchmarks" / "DETAILS.md"), help="details, studies and history"
    )
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args(argv)
    for output, template in ((args.output, TEMPLATE), (args.details, DETAILS_TEMPLATE)):
        Path(output).write_text(build(Path(args.results), template))
        print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
