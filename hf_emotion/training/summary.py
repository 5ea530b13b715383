"""The run's summary, after its folds: mean ± std over the folds, the pooled reports, and the run's own model
(the final model, or the fold best on validation) with its card and push."""

from __future__ import annotations

import json
import logging
import os

import numpy as np

from ..evaluation.metrics import format_summary_markdown, headline, summarize_folds
from ..evaluation.reports import save_cv_summary
from .checkpoints import export_model
from .final_model import train_final_model
from .publish import publish
from .recipe import FoldResult, Run

logger = logging.getLogger(__name__)


def summarise_folds(run: Run, results: list[FoldResult]) -> dict:
    """Mean ± std over the folds (cv_summary.json/.md, all_results.json), the pooled confusion matrix, and the
    run's model (``export_run_model``); with ``--final_model``, the final model is trained first."""
    numeric = [{k: v for k, v in r.metrics.items() if isinstance(v, (int, float))} for r in results]
    summary = summarize_folds(numeric)
    means = {k: v["mean"] for k, v in summary.items()} | {f"{k}_std": v["std"] for k, v in summary.items()}
    means |= {
        "num_folds": len(results),
        "num_skipped_files": len(run.skipped_files),
        "skipped_files": run.skipped_files,
    }
    keys = [f"eval_{k}" for k in ("ua", "wa", "macro_f1", "ccc_valence", "ccc_arousal")]
    keys += sorted(k for k in summary if k.startswith("eval_ua_"))  # per corpus, with several corpora
    keys += [f"eval_f1_{name}" for name in run.label_names] + ["train_runtime"]
    final = None
    if run.data_args.final_model:
        final = train_final_model(run, [r.metrics for r in results])
        means |= {k: v for k, v in final[1].items() if k.startswith("final_")}
    if not run.is_main:
        return means
    save_cv_summary(
        run.run_dir,
        [r.metrics for r in results],
        [r.record for r in results],
        summary,
        means,
        label_names=run.label_names,
        title=f"{run.model_args.model_name_or_path} on {', '.join(run.data_args.dataset)}",
        keys=keys,
    )
    logger.info(
        "Cross-validation over %d folds:\n%s", len(results), format_summary_markdown(summary, keys=keys)
    )
    export_run_model(run, results, summary, final)
    return means


def export_run_model(
    run: Run, results: list[FoldResult], summary: dict, final: tuple[str, dict] | None
) -> None:
    """The run's own model, in its folder with its card (and pushed, with ``--push_to_hub``): the final model
    when there is one, else the fold that did best on its *validation* speakers (never chosen by test score)."""
    out = run.run_dir
    mean_headline = headline({f"eval_{k}": summary[f"eval_{k}"]["mean"] for k in ("ua", "wa")})
    if final is not None:
        # No speaker is held out of the final model: its card reports the folds' test scores, saying so.
        split = {"protocol": "all_speakers", "train": sorted(set(run.dataset["speaker"]))}
        publish(run, final[0], split=split, metrics=final[1], summary=summary, push=False, commit_message="")
        export_model(final[0], out)
        logger.info("Final model (all speakers, no held-out score) exported to %s", out)
        metrics = final[1]
    else:
        best = results[int(np.argmax([r.metrics["validation_ua"] for r in results]))]
        export_model(best.output_dir, out)
        logger.info("Model of fold %d (best validation UA) exported to %s", best.fold, out)
        with open(os.path.join(best.output_dir, "splits.json")) as handle:
            split = json.load(handle)
        metrics = best.metrics
    # Which speakers the exported model heard, beside it as beside every fold's: the demo counts them and picks
    # its examples from the test speakers, and the benchmarks score only voices it never heard.
    with open(os.path.join(out, "splits.json"), "w") as handle:
        json.dump(split, handle, indent=2)
    publish(
        run,
        out,
        split=split,
        metrics=metrics,
        summary=summary,
        push=run.push is not None,
        commit_message=f"hf-emotion {len(results)}-fold CV: {mean_headline}",
    )
