"""Fine-tuning with the Trainer: the model it starts from, the Trainer of this project (two learning rates,
whole-clip validation, the warm-start freeze, metrics), and the fine-tuning a fold and the final model run.

``build_model`` and ``fine_tune`` are steps of the recipe (``recipe``) that the final model (``final_model``)
repeats on every speaker, so they live here, where both import them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from safetensors import SafetensorError
from transformers import Trainer, TrainerCallback
from transformers.trainer import TRAINING_ARGS_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from ..errors import DiskFullError, is_disk_full, no_space_left_in
from ..evaluation.metrics import classification_metrics, regression_metrics
from ..evaluation.reports import IGNORE_KEYS, unpack_predictions
from ..model.batches import EmotionDataCollator
from ..model.modeling_emotion import EmotionModel
from .phases import EpochClockCallback, PhaseClock
from .placement import log_phase

if TYPE_CHECKING:
    from .recipe import Run

logger = logging.getLogger(__name__)


def make_compute_metrics(label_names: Sequence[str]):
    """``compute_metrics`` for the Trainer: ua, wa, macro_f1, f1_<label>, ccc_valence, ccc_arousal (+ mse, r2)."""

    def compute_metrics(eval_pred) -> dict[str, float]:
        logits, valence_arousal = unpack_predictions(eval_pred.predictions)
        label_ids = eval_pred.label_ids
        labels, valence, arousal = (np.asarray(x) for x in label_ids)
        result = classification_metrics(labels, logits.argmax(-1), label_names)
        result.update(regression_metrics(valence_arousal, np.stack([valence, arousal], axis=1)))
        return result

    return compute_metrics


class EmotionTrainer(Trainer):
    """Trainer with separate learning rates for the encoder and for the heads.

    With ``eval_data_collator`` the validation passes during training see whole clips, as the
    final evaluation does, instead of the training collator's random crops (which would make
    the choice of the best epoch depend on which crop each clip happened to get).

    With ``clock`` (a :class:`~hf_emotion.training.phases.PhaseClock`) each validation pass and checkpoint is
    timed into it as ``validation_<n>`` / ``checkpoint_<n>``.
    """

    def __init__(
        self,
        *args,
        head_learning_rate: float | None = None,
        eval_data_collator=None,
        trimmed_eval_dataset=None,
        clock: PhaseClock | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.head_learning_rate = head_learning_rate
        self.eval_data_collator = eval_data_collator
        # The validation clips cut to their speech: scored beside the whole clips at every evaluation
        # (``eval_trimmed_*``), so a run shows whether its model judges the voice or the framing.
        self.trimmed_eval_dataset = trimmed_eval_dataset
        self.clock = clock

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval"):
        with self._timed("validation"):
            train_collator = self.data_collator
            self.data_collator = self.eval_data_collator or train_collator
            try:
                metrics = super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
                if eval_dataset is None and metric_key_prefix == "eval" and "eval_ua" in metrics:
                    if self.trimmed_eval_dataset is not None:  # the validation pass of an epoch
                        metrics |= super().evaluate(self.trimmed_eval_dataset, ignore_keys, "eval_trimmed")
                    selection = {f"eval_{WHOLE_TRIMMED_UA}": whole_trimmed_ua(metrics)}
                    self.log(selection)
                    metrics |= selection
                return metrics
            finally:
                self.data_collator = train_collator

    def _timed(self, kind: str):
        if self.clock is None:
            return contextlib.nullcontext()
        return self.clock.phase(f"{kind}_{self.clock.count(kind) + 1}")

    def _save_checkpoint(self, model, trial):
        """The Trainer's checkpoint, timed; on a full disk, the half-written checkpoint is removed (it would never
        be resumed from: it lacks the trainer state written last) and the error names the folder."""
        with self._timed("checkpoint"):
            self._save_checkpoint_or_clean_up(model, trial)

    def _save_checkpoint_or_clean_up(self, model, trial):
        try:
            super()._save_checkpoint(model, trial)
        except (OSError, RuntimeError, SafetensorError) as error:
            run_dir = self._get_output_dir(trial=trial)
            if not (is_disk_full(error) or no_space_left_in(run_dir)):
                raise
            checkpoint = os.path.join(run_dir, f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
            shutil.rmtree(checkpoint, ignore_errors=True)
            raise DiskFullError(
                f"--output_dir {run_dir}: no space left on the device while writing {checkpoint} (removed, "
                "half-written); free space there or give another --output_dir, then run again: the run "
                "resumes from its last complete checkpoint"
            ) from error

    def _save(self, output_dir: str | None = None, state_dict=None):
        super()._save(output_dir, state_dict)
        # training_args.bin is a pickle (Hub scanners flag it) that no loader needs: it stays in
        # checkpoint-N/ (the Trainer's own layout) and is kept out of the model folder exported and pushed.
        output_dir = output_dir or self.args.output_dir
        if not os.path.basename(os.path.normpath(output_dir)).startswith(PREFIX_CHECKPOINT_DIR):
            path = os.path.join(output_dir, TRAINING_ARGS_NAME)
            if os.path.exists(path):
                os.remove(path)

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            model = self.model if model is None else model
            head_lr = self.head_learning_rate or 10 * self.args.learning_rate
            # The Trainer builds the optimiser before on_train_begin, so FreezeEncoderCallback's
            # warm-start freeze comes after this: the encoder is in its group from the start and
            # AdamW skips it while its gradients are None.
            groups = model.parameter_groups(self.args.learning_rate, head_lr, self.args.weight_decay)
            optimizer_cls, optimizer_kwargs = Trainer.get_optimizer_cls_and_kwargs(self.args, model)
            optimizer_kwargs.pop("lr", None)
            self.optimizer = optimizer_cls(groups, lr=self.args.learning_rate, **optimizer_kwargs)
            logger.info(
                "Optimiser groups: %s",
                ", ".join(
                    f"{g['name']} ({sum(p.numel() for p in g['params']):,} params, lr {g['lr']:g})"
                    for g in groups
                ),
            )
        return self.optimizer


class FreezeEncoderCallback(TrainerCallback):
    """Keep the encoder frozen for the first ``epochs`` epochs, then let it train.

    Training the fresh heads first keeps their large early gradients out of the pretrained
    encoder; with the encoder frozen the backward pass also stops at the heads, which makes
    those epochs several times cheaper on a CPU.
    """

    def __init__(self, epochs: float, freeze_feature_encoder: bool):
        self.epochs = epochs
        self.freeze_feature_encoder = freeze_feature_encoder
        self.unfrozen = False

    def _apply(self, model, epoch: float) -> None:
        if epoch < self.epochs:
            model.freeze_base_model()
        elif not self.unfrozen:
            model.unfreeze_base_model()
            if self.freeze_feature_encoder:
                model.freeze_feature_encoder()
            self.unfrozen = True
            logger.info("Epoch %.2f: the encoder now trains too", epoch)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._apply(model, state.epoch or 0.0)

    def on_epoch_begin(self, args, state, control, model=None, **kwargs):
        self._apply(model, state.epoch or 0.0)


def evaluation_trainer(model, feature_extractor, output_dir: str, batch_size: int, max_seconds: float | None):
    """A Trainer that only predicts: whole clips (cut to ``max_seconds``), the project's metrics."""
    from transformers import TrainingArguments

    label_names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    return Trainer(
        model=model,
        args=TrainingArguments(
            output_dir=output_dir,
            per_device_eval_batch_size=batch_size,
            remove_unused_columns=False,
            label_names=["labels", "valence", "arousal"],
            report_to="none",
            dataloader_pin_memory=False,
        ),
        data_collator=EmotionDataCollator(feature_extractor, model.config.is_whisper, max_seconds),
        compute_metrics=make_compute_metrics(label_names),
    )


def build_model(run: Run, train_dataset) -> tuple[EmotionModel, list]:
    """The encoder with fresh heads (or the trained model to continue), frozen as asked, and its callbacks."""
    model_args, label_names = run.model_args, run.label_names
    class_weights = None
    if model_args.class_weighting == "balanced":
        counts = np.bincount(np.asarray(train_dataset["emotion"]), minlength=len(label_names)).astype(float)
        class_weights = (counts.sum() / np.maximum(counts, 1) / len(label_names)).round(4).tolist()
    head_config = dict(
        use_weighted_layer_sum=model_args.use_weighted_layer_sum,
        classifier_proj_size=model_args.classifier_proj_size,
        head_dropout=model_args.head_dropout,
        ccc_loss_weight=model_args.ccc_loss_weight,
        label_smoothing=model_args.label_smoothing,
        class_weights=class_weights,
        sampling_rate=run.feature_extractor.sampling_rate,
    )
    if run.data_args.speech_framing_seconds:
        # Trained on margins of 0 to s seconds around speech: --segment vad pads speech with the middle.
        head_config["speech_margin_seconds"] = run.data_args.speech_framing_seconds / 2
    if run.continuing:
        model = EmotionModel.from_pretrained(model_args.model_name_or_path, **head_config)
        if [model.config.id2label[i] for i in range(model.config.num_labels)] != label_names:
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
    return model, callbacks


def condition_augmenter(run: Run, train_dataset):
    """``--augment_conditions``: recording conditions for the training crops, babble made of the training
    clips themselves (other voices of the same split, never a validation or test speaker)."""
    if not run.data_args.augment_conditions:
        return None
    from ..data.augmentation import ConditionAugmenter

    rir_folder = os.path.join(
        os.environ.get("HF_EMOTION_HOME") or os.path.expanduser("~/.cache/hf_emotion"), "rirs"
    )
    augmenter = ConditionAugmenter(
        run.feature_extractor.sampling_rate,
        noise_clips=list(train_dataset["audio"]),
        rir_folder=rir_folder,
        p=run.data_args.augment_conditions,
    )
    logger.info("Augmentation: %.0f%% of training crops degraded by a recording condition", 100 * augmenter.p)
    return augmenter


def cut_to_speech(run: Run, parts: dict) -> dict:
    """A fold's (or the final model's) clips with their speech found once (Silero VAD, else energy), for every
    step that uses it:

    - ``train_spans``: the training clips with ``speech_start``/``speech_end`` (``--speech_framing_seconds``),
      from which the Trainer's crops are framed anew (``training_framing``);
    - ``train_trimmed``: the training clips cut to their speech (framing, with a probe or a refit), which the
      head fits train on beside the whole clips, as the encoder saw speech framed every way;
    - ``validation_trimmed``: the validation clips cut to their speech (``--validate_trimmed``), scored by the
      Trainer at every evaluation and by the head fits.

    A key is missing where it is not asked for.
    """
    from ..data.framing import add_speech_spans, available_trim_method, cut_to_spans, trimmed_to_speech
    from ..model.batches import with_model_columns

    method, rate = available_trim_method(), run.feature_extractor.sampling_rate
    settings = dict(method=method, num_proc=run.data_args.preprocessing_num_workers)
    found = {}
    if run.data_args.speech_framing_seconds:
        spans = add_speech_spans(parts["train"], rate, **settings)
        found["train_spans"] = with_model_columns(spans)
        if run.model_args.linear_probe_epochs or run.model_args.refit_heads_epochs:
            found["train_trimmed"] = with_model_columns(cut_to_spans(spans, method))
    validation = parts.get("validation")
    if run.data_args.validate_trimmed and validation is not None and len(validation):
        found["validation_trimmed"] = with_model_columns(trimmed_to_speech(validation, rate, **settings))
    return found


def training_framing(run: Run):
    """How the Trainer's crops are framed (``--speech_framing_seconds``), logged once."""
    from ..data.framing import TrainingFraming

    seconds = run.data_args.speech_framing_seconds
    logger.info(
        "Framing: training crops cut from the speech, 0-%.2f s of silence, room noise or none around", seconds
    )
    return TrainingFraming(run.feature_extractor.sampling_rate, max_pad_seconds=seconds)


def fine_tune(
    run: Run,
    model: EmotionModel,
    parts,
    output_dir: str,
    checkpoint: str | None,
    callbacks: list,
    clock: PhaseClock | None = None,
):
    """The Trainer over random crops (framed from ``parts["train_spans"]`` when there); validation on whole clips
    (and on ``parts["validation_trimmed"]``) each epoch: see ``cut_to_speech``. Returns it and its train
    metrics.

    With ``clock`` each epoch, validation pass and checkpoint is timed into it."""
    args = run.training_args
    if clock is not None:
        callbacks = [*callbacks, EpochClockCallback(clock)]
    args.output_dir = output_dir
    framing = training_framing(run) if "train_spans" in parts else None
    trainer = EmotionTrainer(
        model=model,
        args=args,
        train_dataset=parts.get("train_spans", parts["train"]),
        eval_dataset=parts["validation"],
        trimmed_eval_dataset=parts.get("validation_trimmed"),
        data_collator=EmotionDataCollator(
            run.feature_extractor,
            run.is_whisper,
            run.data_args.max_train_seconds,
            random_crop=True,
            seed=args.seed,
            augment=condition_augmenter(run, parts["train"]),
            framing=framing,
        ),
        compute_metrics=make_compute_metrics(run.label_names),
        callbacks=callbacks,
        head_learning_rate=run.model_args.head_learning_rate,
        eval_data_collator=run.eval_collator(),
        clock=clock,
    )
    log_phase("fine-tuning", args, args.per_device_train_batch_size)
    if checkpoint:
        logger.info("Resuming from %s", checkpoint)
    result = trainer.train(resume_from_checkpoint=checkpoint, ignore_keys_for_eval=IGNORE_KEYS)
    trainer.data_collator = trainer.eval_data_collator  # every later pass sees whole clips
    trainer.clock = None  # later passes (class mixing, evaluation) are the recipe's phases, timed there
    return trainer, dict(result.metrics)


WHOLE_TRIMMED_UA = "whole_trimmed_ua"


def whole_trimmed_ua(metrics: dict) -> float:
    """The default --metric_for_best_model: the mean of validation UA on whole clips and on clips cut to their
    speech, so the epoch kept is one that judges the voice, not the silence around it (an epoch chosen on whole
    clips alone kept, in one RAVDESS fold, 0.52 trimmed validation UA where a later epoch tied on whole clips
    with 0.65). Whole-clip UA alone when no trimmed validation ran (``--validate_trimmed false``)."""
    trimmed = metrics.get("eval_trimmed_ua")
    return metrics["eval_ua"] if trimmed is None else (metrics["eval_ua"] + trimmed) / 2


def best_logged(state, key: str) -> float | None:
    """``key`` (e.g. ``eval_ua``) as logged at the Trainer's best checkpoint, whatever metric chose it; None
    without a best checkpoint or where it was not logged."""
    if state.best_global_step is None:
        return None
    scores = [e[key] for e in state.log_history if e.get("step") == state.best_global_step and key in e]
    return float(scores[-1]) if scores else None


def best_whole_ua(state) -> float | None:
    """Validation UA on whole clips at the Trainer's best checkpoint."""
    return best_logged(state, "eval_ua")


def best_epoch(state) -> float | None:
    """The epoch of the Trainer's best checkpoint (what a final model trained without validation repeats);
    None when nothing was evaluated during training."""
    return best_logged(state, "epoch")
