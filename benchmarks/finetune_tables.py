"""Markdown tables of the fine-tuning results in ``benchmarks/results/finetune.json``.

Each function takes stored entries (as ``run_finetune collect`` / ``ensemble`` write them)
and returns table lines; which runs go into which table is the caller's choice, made from each
entry's ``role`` (``current``, ``reproduction`` or ``history``). The prose around the tables
lives in the templates ``make_report`` fills.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from benchmarks.common.reports import table

Row = list[str]


def mean_std(values: Iterable[float | None]) -> dict:
    """Mean, population std and count of the finite values (the fold summary stored per metric)."""
    kept = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if not kept.size:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(kept.mean()), "std": float(kept.std()), "n": int(kept.size)}


def fmt(stat: dict | None, digits: int = 3) -> str:
    """``mean ± std`` of a stored summary, the mean alone for one fold, ``–`` for none."""
    if not stat or stat.get("mean") is None:
        return "–"
    if stat.get("n") == 1:  # one fold: no spread to show
        return f"{stat['mean']:.{digits}f}"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def machine_line(m: dict) -> str:
    return f"{m['nproc']} CPU cores ({m['cpu']}), {m['gpu']}, {m['memory_gib']} GiB, torch {m['torch']}"


def _folds(run: dict) -> str:
    return f"{len(run['folds_done'])} of {run['num_folds']}"


def _inference_conditions(inference: dict) -> str:
    return (
        f"{inference['clips']} clips, {inference['threads']} threads, "
        f"load {inference['machine'].get('load_average_1min', '?')}"
    )


# --------------------------------------------------------------------------- runs


def _corpus(run: dict) -> str:
    """The data folders a run used, e.g. ``ravdess-speech + ravdess-song`` (from ``ravdess (ravdess-speech)``)."""
    return " + ".join(d.split("(")[-1].rstrip(")") for d in run.get("datasets") or ["?"])


def headline_table(runs: dict, ensembles: dict) -> list[str]:
    """Test metrics of the current configs and their ensembles, one row each, grouped by corpus."""
    rows = []
    for name, r in runs.items():
        s = r["summary"]
        rows.append(
            [
                f"`{name}`",
                _corpus(r),
                _folds(r),
                fmt(s["eval_ua"]),
                fmt(s["eval_wa"]),
                fmt(s["eval_macro_f1"]),
            ]
            + [fmt(s["eval_ccc_valence"]), fmt(s["eval_ccc_arousal"]), fmt(s["eval_spknorm_ua"])]
        )
    for name, e in ensembles.items():
        s = e["summary"]
        rows.append(
            [f"`{name}` (ensemble)", _corpus(runs[e["members"][0]]), f"{len(e['folds_done'])}"]
            + [fmt(s["eval_ua"]), fmt(s["eval_wa"]), fmt(s["eval_macro_f1"]), fmt(s["eval_ccc_valence"])]
            + [fmt(s["eval_ccc_arousal"]), fmt(s["eval_spknorm_ua"])]
        )
    corpora = list(dict.fromkeys(row[1] for row in rows))
    rows.sort(key=lambda row: corpora.index(row[1]))  # stable: runs, then their ensembles
    header = ["run", "corpus", "folds", "UA", "WA", "macro-F1", "CCC valence", "CCC arousal"]
    return table(header + ["spknorm UA (transductive)"], rows)


def runs_table(runs: dict, *, why: bool = False) -> list[str]:
    """Test and validation metrics, and what the linear probe and the head refit did; ``why``: a column
    saying why a history run is kept."""
    rows = []
    for name, r in runs.items():
        s = r["summary"]
        kept = [f["probe_selected"] for f in r["folds"] if "probe_selected" in f]
        probe = "–"
        if (s.get("probe_validation_ua") or {}).get("mean") is not None:
            probe = fmt(s["probe_validation_ua"]) + (f", {sum(kept)} of {len(kept)}" if kept else "")
        refit = "–"
        if (s.get("refit_validation_ua") or {}).get("mean") is not None:
            refitted = [f["refit_selected"] for f in r["folds"] if "refit_best_epoch" in f]
            refit = (
                f"{fmt(s['refit_initial_validation_ua'])} → {fmt(s['refit_validation_ua'])}, "
                f"{sum(refitted)} of {len(refitted)}"
            )
        rows.append(
            [f"`{name}`"]
            + ([r.get("kept_as", "")] if why else [])
            + [_folds(r), fmt(s["eval_ua"]), fmt(s["eval_wa"]), fmt(s["eval_macro_f1"])]
            + [fmt(s["eval_ccc_valence"]), fmt(s["eval_ccc_arousal"]), fmt(s["validation_ua"]), probe, refit]
        )
    header = ["run"] + (["kept as"] if why else []) + ["folds", "UA", "WA", "macro-F1", "CCC valence"]
    header += ["CCC arousal", "validation UA", "linear probe: validation UA, folds that kept it"]
    return table(header + ["head refit: validation UA before → after, folds that kept it"], rows)


def mixing_table(runs: dict) -> list[str]:
    """Valence/arousal before and after the class mixing, on the folds that mix."""
    rows = []
    for name, r in runs.items():
        mixing = [f for f in r["folds"] if "class_mixing_weight_valence" in f]
        if not mixing:
            continue
        cells = [
            " ".join(f"{f[f'class_mixing_weight_{d}']:g}" for f in mixing) for d in ("valence", "arousal")
        ]
        for prefix in ("validation", "eval"):
            for d in ("valence", "arousal"):
                before = mean_std([f.get(f"{prefix}_ccc_{d}_regressor") for f in mixing])
                after = mean_std([f.get(f"{prefix}_ccc_{d}") for f in mixing])
                cells.append(f"{fmt(before)} → {fmt(after)}")
        rows.append([f"`{name}`", f"{len(mixing)} of {len(r['folds'])}", *cells])
    header = ["run", "folds mixing", "weights valence", "weights arousal"]
    header += [
        f"{split} CCC {d}: regressor → mixed"
        for split in ("validation", "test")
        for d in ("valence", "arousal")
    ]
    return table(header, rows)


def transductive_table(runs: dict) -> list[str]:
    """Per-speaker normalised scores (spknorm) and the speaker-normalised probe (spkprobe)."""
    rows = []
    for name, r in runs.items():
        s = r["summary"]
        probe_folds = (s.get("eval_spkprobe_ua") or {}).get("n", 0)
        rows.append(
            [f"`{name}`", _folds(r), fmt(s["eval_spknorm_ua"]), fmt(s["eval_spknorm_wa"])]
            + [fmt(s["eval_spknorm_macro_f1"]), f"{probe_folds or '–'}", fmt(s.get("eval_spkprobe_ua"))]
            + [fmt(s.get("eval_spkprobe_wa")), fmt(s.get("eval_spkprobe_macro_f1"))]
            + [fmt(s.get("validation_spkprobe_ua")), fmt(s.get("eval_lrprobe_ua"))]
        )
    header = ["run", "folds", "spknorm UA", "spknorm WA", "spknorm macro-F1", "spkprobe folds"]
    header += ["spkprobe UA", "spkprobe WA", "spkprobe macro-F1", "spkprobe validation UA"]
    return table(header + ["same LR, no speaker norm: UA"], rows)


def cost_table(runs: dict) -> list[str]:
    """Wall time, training time and throughput, memory, and batch-1 inference speed."""
    rows = []
    for name, r in runs.items():
        s, inf = r["summary"], r.get("inference") or {}
        rows.append(
            [f"`{name}`", f"{r['wall_s'] / 60:.1f} min" if r.get("wall_s") else "–"]
            + [f"{r['fold_wall_s_sum'] / 60:.1f} min" if r.get("fold_wall_s_sum") else "–"]
            + [f"{r['train_runtime_total_s'] / 60:.1f} min", fmt(s["train_audio_per_second"], 1)]
            + [f"{round(r['peak_rss_mib'])} MiB" if r.get("peak_rss_mib") else "–"]
            + [f"{inf['rtf']:.3f} ({_inference_conditions(inf)})" if inf else "–"]
            + [f"{round(inf['peak_rss_mib'])} MiB" if inf else "–"]
        )
    header = ["run", "wall time (first start → last end)", "sum of fold wall times"]
    header += ["training time (sum over folds)", "training throughput (audio s / s)", "peak RSS (training)"]
    return table(header + ["inference RTF (batch 1)", "inference peak RSS"], rows)


# --------------------------------------------------------------------------- targets


def _target_row(name: str, run: dict, target: dict) -> Row | None:
    """One target judged on one run, or None when the run has no such measurement."""
    partial = len(run["folds_done"]) < (run["num_folds"] or 0)
    partial_note = f" ({len(run['folds_done'])} of {run['num_folds']} folds only)" if partial else ""
    if target["metric"] == "wall_minutes":
        if len(run["folds_done"]) != target["folds"] or not run.get("wall_s"):
            return None
        minutes = run["wall_s"] / 60
        return [
            f"`{name}`",
            target["label"],
            f"{minutes:.1f} min",
            "yes" if minutes < target["below"] else "no",
        ]
    m = run["summary"].get(target["metric"], {}).get("mean")
    if m is None and target["metric"].startswith("eval_ccc"):
        return None  # a classification-only run has no CCC row at all
    met = "–" if m is None else ("yes" if m >= target["at_least"] else "no") + partial_note
    measured = "–" if m is None else f"{m:.3f}"
    return [f"`{name}`", f"{target['metric']} ≥ {target['at_least']}", measured, met]


def targets_table(runs: dict, targets: dict) -> list[str]:
    """Each judged run against the targets of the config it runs (``judged_as``)."""
    rows = [
        row
        for name, run in runs.items()
        if run.get("judged_as")
        for target in targets.get(run["judged_as"], [])
        if (row := _target_row(name, run, target)) is not None
    ]
    return table(["run", "target", "measured", "met"], rows)


# --------------------------------------------------------------------------- ensembles and the rest


def ensembles_table(ensembles: dict, runs: dict) -> list[str]:
    """The mean of the members' test predictions, beside the members."""
    rows = []
    for name, e in ensembles.items():
        s = e["summary"]
        member_ua = [mean_std([f["member_eval_ua"][i] for f in e["folds"]]) for i in range(len(e["members"]))]
        above = sum(f["eval_ua"] > max(f["member_eval_ua"]) for f in e["folds"])
        if e.get("inference"):
            rtf = f"{e['inference']['rtf']:.3f} ({_inference_conditions(e['inference'])})"
        else:
            rtfs = [(runs.get(m) or {}).get("inference", {}).get("rtf") for m in e["members"]]
            rtf = f"{sum(rtfs):.3f} (sum of the members')" if all(r is not None for r in rtfs) else "–"
        members = ", ".join(f"`{m}` {fmt(u)}" for m, u in zip(e["members"], member_ua, strict=True))
        rows.append(
            [f"`{name}`", f"{len(e['folds_done'])}", fmt(s["eval_ua"]), fmt(s["eval_wa"])]
            + [fmt(s["eval_macro_f1"]), fmt(s["eval_ccc_valence"]), fmt(s["eval_ccc_arousal"])]
            + [fmt(s["eval_spknorm_ua"]), members, f"{above} of {len(e['folds'])}", rtf]
        )
    header = ["ensemble", "folds", "UA", "WA", "macro-F1", "CCC valence", "CCC arousal"]
    header += ["spknorm UA (transductive)", "members' UA on the same folds", "folds above the best member"]
    return table(header + ["inference RTF (batch 1)"], rows)


def anchors_table(anchors: list[dict]) -> list[str]:
    return table(["system", "UA", "source"], ([a["system"], f"{a['ua']:.3f}", a["source"]] for a in anchors))


def _listed(entries: dict, describe: Callable[[str, dict], list[str]]) -> list[str]:
    return [line for name, entry in entries.items() for line in describe(name, entry)]


def provenance(runs: dict, ensembles: dict) -> list[str]:
    """How each number was made: command, folds, machine, date, and each fold's headline numbers."""

    def ensemble_lines(name: str, e: dict) -> list[str]:
        lines = [
            f"- `{name}`: `{e['command']}`, folds {e['folds_done']}, on {machine_line(e['machine'])}; "
            f"collected {e['collected']}."
        ]
        for f in e["folds"]:
            members = " / ".join(f"{ua:.3f}" for ua in f["member_eval_ua"])
            lines.append(
                f"  - fold {f['fold']}: test UA {f['eval_ua']:.3f} (members {members}), "
                f"spknorm UA {f['eval_spknorm_ua']:.3f}"
            )
        return lines

    def run_lines(name: str, r: dict) -> list[str]:
        lines = [
            f"- `{name}`: `{r['command']}` (run dir `{r['run_dir']}`), folds {r['folds_done']}, "
            f"started {r['date']}, on {machine_line(r['machine'])}; collected {r['collected']}."
        ]
        for f in r["folds"]:
            probe = f"spkprobe UA {f['eval_spkprobe_ua']:.3f}, " if "eval_spkprobe_ua" in f else ""
            lines.append(
                f"  - fold {f['fold']}: test UA {f.get('eval_ua', float('nan')):.3f}, "
                f"spknorm UA {f.get('eval_spknorm_ua', float('nan')):.3f}, {probe}validation UA "
                f"{f.get('validation_ua', float('nan')):.3f}, {f.get('epoch', 0):.1f} epochs, "
                f"train {f.get('train_runtime', 0) / 60:.1f} min"
            )
        return lines

    return _listed(ensembles, ensemble_lines) + _listed(runs, run_lines)
