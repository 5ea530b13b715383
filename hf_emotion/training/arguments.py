"""Argument groups of finetune.py, one dataclass each, read by ``HfArgumentParser``.

The defaults are the adopted recipe (README, "The recipe"; configs/README.md): a run file under
``configs/`` says only what differs (backbone, corpora, folders). Where the right value depends on
the backbone (the learning rate), the default is None and :func:`resolve_backbone_defaults` fills
it in once the encoder's type is known.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from transformers import TrainingArguments
from transformers.trainer import TRAINER_STATE_NAME

from ..corpora import BUILTIN_CORPORA
from ..data.splits import read_speaker_folds
from . import placement
from .plan import checkpoint_schedule

logger = logging.getLogger(__name__)

# Encoder learning rate by backbone family. Whisper's was tuned on RAVDESS speech fold 0 (tiny.en; base
# kept it, BENCHMARKS.md); wav2vec2-like encoders (wav2vec2, HuBERT, WavLM, data2vec-audio) take the
# transformers audio-classification example's, not tuned here.
LEARNING_RATES = {"whisper": 5e-5}
DEFAULT_LEARNING_RATE = 3e-5


@dataclass
class ModelArguments:
    """Which encoder to start from and how to fine-tune it."""

    model_name_or_path: str = field(
        default="facebook/wav2vec2-base",
        metadata={
            "help": "Pretrained encoder: a Hub id (wav2vec2, HuBERT, WavLM, data2vec-audio, openai/whisper-*) or a "
            "local folder, e.g. one made by `hf-emotion backbone build whisper-tiny.en`. A folder holding a "
            "trained hf-emotion model continues from it."
        },
    )
    freeze_feature_encoder: bool = field(
        default=True,
        metadata={"help": "Keep the convolutional front end fixed (wav2vec2 CNN / Whisper convs)."},
    )
    freeze_base_model: bool = field(
        default=False,
        metadata={"help": "Train only the layer weights and heads (a linear probe on the encoder)."},
    )
    freeze_encoder_epochs: float = field(
        default=0.0,
        metadata={
            "help": "Train the heads alone for this many epochs before the encoder joins in (warm start)."
        },
    )
    linear_probe_epochs: int = field(
        default=100,
        metadata={
            "help": "Before fine-tuning, fit the layer weights and heads for this many epochs on the frozen "
            "encoder's pooled hidden states of whole training clips (and, with --speech_framing_seconds, of "
            "the same clips cut to their speech), computed once (LP-FT warm start; the epoch is chosen on the "
            "validation speakers by --metric_for_best_model's UA, and the probe is kept if no fine-tuned epoch "
            "beats it there). Needs mean pooling. 0 disables."
        },
    )
    linear_probe_learning_rate: float = field(
        default=1e-3,
        metadata={"help": "AdamW learning rate of the linear-probe warm start and the head refit."},
    )
    refit_heads_epochs: int = field(
        default=100,
        metadata={
            "help": "After fine-tuning, refit the layer weights and heads for this many epochs on the fine-tuned "
            "encoder's pooled hidden states of whole training clips (and, with --speech_framing_seconds, of "
            "the same clips cut to their speech; the encoder trains on random crops of --max_train_seconds, "
            "predictions pool whole clips). The refit is kept only if it beats the "
            "fine-tuned heads on the validation speakers; a linear probe (--linear_probe_epochs) is then weighed "
            "against the refitted model, not the crop-trained heads. Needs mean pooling. 0 disables."
        },
    )
    head_learning_rate: float | None = field(
        default=None,
        metadata={"help": "Learning rate of the heads and layer weights; default: 10 × --learning_rate."},
    )
    use_weighted_layer_sum: bool = field(
        default=True,
        metadata={"help": "Pool a learned softmax-weighted sum of every encoder layer's output."},
    )
    classifier_proj_size: int = field(
        default=256, metadata={"help": "Width of the projection before the heads."}
    )
    head_dropout: float = field(default=0.1, metadata={"help": "Dropout on the pooled vector."})
    ccc_loss_weight: float = field(
        default=0.5,
        metadata={"help": "Weight of (1 - CCC) per valence/arousal dimension in the loss; 0 disables."},
    )
    label_smoothing: float = field(default=0.0, metadata={"help": "Label smoothing of the cross-entropy."})
    mask_time_prob: float | None = field(
        default=None,
        metadata={
            "help": "SpecAugment while training: the chance that each frame starts a masked span of "
            "--mask_time_length frames (Whisper: log-mel frames, 10 ms; wav2vec2-like: encoder frames, 20 ms). "
            "Default: the backbone config's (wav2vec2 0.05, on; Whisper's Hub configs have it off). For Whisper, "
            "a probability above 0 here or in --mask_feature_prob turns it on, 0 for both turns it off."
        },
    )
    mask_time_length: int | None = field(
        default=None, metadata={"help": "SpecAugment: frames per time mask. Default: the backbone config's."}
    )
    mask_feature_prob: float | None = field(
        default=None,
        metadata={
            "help": "SpecAugment while training: the chance that each channel (Whisper: mel bin) starts a "
            "masked band of --mask_feature_length. Default: the backbone config's (0)."
        },
    )
    mask_feature_length: int | None = field(
        default=None,
        metadata={"help": "SpecAugment: channels per feature mask. Default: the backbone config's."},
    )
    class_mixing: bool = field(
        default=True,
        metadata={
            "help": "After training, mix the classifier's expected valence/arousal (the training clips' mean "
            "per class, weighted by the class probabilities) into the regressor's output, with one weight per "
            "dimension among 0, 0.25, 0.5, 0.75, 1 chosen by CCC on the validation speakers (0: the "
            "regressor alone). Stored in the model's config, so every later prediction uses it."
        },
    )
    temperature_scaling: bool = field(
        default=True,
        metadata={
            "help": "After the heads and the class mixing, divide the logits by one temperature fitted on the "
            "validation speakers (lowest negative log-likelihood), so that probabilities mean what they say; "
            "the labels do not change. Stored in the model's config (temperature) and applied by every "
            "scorer; the results report eval_ece and eval_wrong_over_0.9 before and after."
        },
    )
    speaker_adaptive_head: bool = field(
        default=False,
        metadata={
            "help": "After training, also fit a speaker-adaptive head (hf_emotion/serving/speaker_adaptive.py: a "
            "logistic regression on the encoder's pooled features, each speaker standardised on their own "
            "clips) on the training speakers, its C chosen on the validation speakers; scored on the test "
            "speakers as eval_adaptive_* (transductive) and saved as speaker_adaptive_head.npz beside the "
            "model, for EmotionRecognizer(..., speaker=...) and hf-emotion predict --speaker."
        },
    )
    class_weighting: str = field(
        default="none",
        metadata={
            "help": "'balanced' weights the cross-entropy by inverse class frequency of the training set."
        },
    )
    cache_dir: str | None = field(default=None, metadata={"help": "Where Hub downloads are stored."})
    token: str | None = field(
        default=None,
        metadata={"help": "Hub token for every Hub call: private models and datasets, and --push_to_hub."},
    )
    push_folds: bool = field(
        default=False,
        metadata={
            "help": "With --push_to_hub and --cross_validation, also push each fold's model, card and plots "
            "into fold_k/ of the repository (in the same single commit)."
        },
    )

    def __post_init__(self):
        if self.class_weighting not in ("none", "balanced"):
            raise ValueError(f"--class_weighting must be 'none' or 'balanced', got {self.class_weighting!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"--label_smoothing must lie in [0, 1), got {self.label_smoothing}")
        if self.linear_probe_epochs < 0:
            raise ValueError(f"--linear_probe_epochs must be >= 0, got {self.linear_probe_epochs}")
        if self.refit_heads_epochs < 0:
            raise ValueError(f"--refit_heads_epochs must be >= 0, got {self.refit_heads_epochs}")
        if self.ccc_loss_weight < 0:
            raise ValueError(f"--ccc_loss_weight must be >= 0, got {self.ccc_loss_weight}")


@dataclass
class DataArguments:
    """Which corpora, how to split them by speaker, and how to cut the audio."""

    dataset: list[str] = field(
        default_factory=lambda: ["ravdess"],
        metadata={
            "help": f"Corpora to train and test on: {', '.join(BUILTIN_CORPORA)} (read from --data_dir), or any Hub "
            "dataset id / local dataset folder / CSV with audio and label columns. Several are concatenated."
        },
    )
    data_dir: list[str] = field(
        default_factory=list,
        metadata={
            "help": "One folder per --dataset. Without it a built-in corpus is read from ~/.cache/hf_emotion/data, "
            "downloaded from its official source the first time (hf-emotion data download)."
        },
    )
    ravdess_channel: str = field(default="both", metadata={"help": "RAVDESS: 'speech', 'song' or 'both'."})
    crema_d_labels: str = field(
        default="intended",
        metadata={
            "help": "CREMA-D labels: 'intended' (file name) or 'perceived' (summaryTable.csv VoiceVote)."
        },
    )
    audio_column_name: str = field(default="audio", metadata={"help": "Generic datasets: the audio column."})
    label_column_name: str = field(
        default="label", metadata={"help": "Generic datasets: the emotion column."}
    )
    speaker_column_name: str | None = field(
        default=None, metadata={"help": "Generic datasets: the speaker column."}
    )
    gender_column_name: str | None = field(
        default=None, metadata={"help": "Generic datasets: the gender column."}
    )
    valence_column_name: str | None = field(
        default=None, metadata={"help": "Generic datasets: real valence."}
    )
    arousal_column_name: str | None = field(
        default=None, metadata={"help": "Generic datasets: real arousal."}
    )
    dataset_split: str = field(default="train", metadata={"help": "Generic datasets: which split to load."})
    dataset_config_name: str | None = field(
        default=None, metadata={"help": "Hub datasets: the configuration (subset) to load, e.g. a language."}
    )

    num_folds: int = field(
        default=6, metadata={"help": "Speaker folds (gender-balanced). RAVDESS: 6 folds of 4."}
    )
    fold: int = field(default=0, metadata={"help": "The test fold; the next fold is the validation set."})
    folds_file: str | None = field(
        default=None,
        metadata={
            "help": "Speaker folds from a JSON file instead of dealing them: a list of speaker lists (fold k tests "
            "list k, list k+1 validates), e.g. configs/folds/emobox-ravdess.json, to compare with a published "
            "protocol. --num_folds is then the file's number of lists; every speaker of the data must be in one."
        },
    )
    cross_validation: bool = field(
        default=False, metadata={"help": "Run every fold in turn and write the mean ± std of each metric."}
    )
    final_model: bool = field(
        default=False,
        metadata={
            "help": "With --cross_validation: after the folds, train one model on every speaker with the epoch "
            "counts and class mixing the folds chose, into <output_dir>/final/, and make it the run's model "
            "(it has no held-out score; its card gives the folds')."
        },
    )
    cross_corpus_results: str | None = field(
        default=None,
        metadata={
            "help": "The cross-corpus matrix JSON (benchmarks/cross_corpus_matrix.py): the model cards get an "
            "'Unseen corpora' section from it, saying 'not measured' while the file does not exist yet."
        },
    )
    test_speakers: list[str] = field(
        default_factory=list,
        metadata={"help": "A fixed split instead of folds: these speakers are the test set."},
    )
    validation_speakers: list[str] = field(
        default_factory=list, metadata={"help": "With --test_speakers: the validation speakers."}
    )
    random_split: bool = field(
        default=False,
        metadata={
            "help": "Split clips at random (speakers leak into test: inflated numbers, for comparison only)."
        },
    )
    max_train_seconds: float = field(
        default=3.0, metadata={"help": "Training clips are randomly cropped to at most this long."}
    )
    max_eval_seconds: float = field(default=20.0, metadata={"help": "Evaluation clips are cut to this long."})
    augment_conditions: float = field(
        default=0.0,
        metadata={
            "help": "Share of training crops degraded on the fly by one random recording condition (white noise "
            "or babble of other training clips at 5-20 dB SNR, a simulated room, telephone band, MP3); "
            "evaluation audio is never degraded. Needs pip install 'hf-emotion[conditions]'. 0 disables."
        },
    )
    speech_framing_seconds: float = field(
        # 1.0 since 2026-12-07: chosen on validation speakers of RAVDESS speech folds 0 and 1, where it raised
        # validation UA on whole clips and on clips cut to their speech (benchmarks/DETAILS.md, "Validation UA
        # per epoch"); 0 left a model that lost 0.15 UA on test clips cut to their speech.
        default=1.0,
        metadata={
            "help": "Framing of the training crops. s > 0 cuts each training clip to its speech once (Silero VAD, "
            "cached; an energy trim without the vad extra) and frames every crop anew with 0 to s seconds of "
            "digital silence, quiet room noise or nothing on each side; the saved model records s / 2 as the "
            "margin --segment vad pads speech with. 0 keeps each corpus's own framing (RAVDESS: about 1 s of "
            "silence around every utterance, which a model learns and then misjudges clips cut to their speech)."
        },
    )
    validate_trimmed: bool = field(
        default=True,
        metadata={
            "help": "Also score the validation speakers' clips cut to their speech (Silero VAD) at every "
            "evaluation, logged as eval_trimmed_ua beside eval_ua; the default --metric_for_best_model chooses on both. "
            "Needs pip install 'hf-emotion[vad]'; false skips it."
        },
    )
    max_audio_seconds: float = field(
        default=600.0, metadata={"help": "Files longer than this are reported and skipped at loading."}
    )
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "Processes for decoding."})
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Debug: keep this many training clips."}
    )

    def __post_init__(self):
        if self.data_dir and len(self.data_dir) != len(self.dataset):
            raise ValueError(
                f"got {len(self.dataset)} --dataset value(s) {self.dataset} but {len(self.data_dir)} --data_dir; "
                "give one --data_dir per --dataset, in the same order"
            )
        if not 0.0 <= self.augment_conditions <= 1.0:
            raise ValueError(
                f"--augment_conditions is a share of clips in [0, 1], got {self.augment_conditions}"
            )
        if not 0.0 <= self.speech_framing_seconds <= 5.0:
            raise ValueError(
                f"--speech_framing_seconds is the most silence put around speech, 0 to 5 s, got {self.speech_framing_seconds}"
            )
        if self.ravdess_channel not in ("speech", "song", "both"):
            raise ValueError(f"--ravdess_channel must be speech, song or both, got {self.ravdess_channel!r}")
        if self.crema_d_labels not in ("intended", "perceived"):
            raise ValueError(f"--crema_d_labels must be intended or perceived, got {self.crema_d_labels!r}")
        if self.cross_validation and (self.test_speakers or self.random_split):
            raise ValueError(
                "--cross_validation runs speaker folds; do not combine it with --test_speakers/--random_split"
            )
        if self.folds_file:
            if self.test_speakers or self.random_split:
                raise ValueError(
                    "--folds_file gives speaker folds; do not combine it with --test_speakers/--random_split"
                )
            self.num_folds = len(read_speaker_folds(self.folds_file))
        if self.final_model and not self.cross_validation:
            raise ValueError("--final_model trains on what the folds chose: add --cross_validation")
        if not 0 <= self.fold < self.num_folds:
            raise ValueError(f"--fold must lie in [0, --num_folds={self.num_folds}), got {self.fold}")


@dataclass
class EmotionTrainingArguments(TrainingArguments):
    """transformers' TrainingArguments with defaults for this task (model selection by UA on validation speakers)."""

    output_dir: str = field(
        default="outputs/run", metadata={"help": "Where the model, metrics and plots go."}
    )
    eval_strategy: str | None = field(
        default=None,
        metadata={"help": "When to evaluate on the validation speakers. Default: as --save_strategy."},
    )
    save_strategy: str | None = field(
        default=None,
        metadata={
            "help": "When to write a checkpoint. Default: 'steps' when --save_steps is given, else 'epoch'."
        },
    )
    save_steps: float | None = field(
        default=None, metadata={"help": "Save (and, by default, evaluate) every this many steps."}
    )
    load_best_model_at_end: bool = field(
        default=True, metadata={"help": "Keep the checkpoint best on validation."}
    )
    metric_for_best_model: str = field(
        default="whole_trimmed_ua",
        metadata={
            "help": "Validation metric that picks the best epoch. whole_trimmed_ua: the mean of UA on whole "
            "validation clips and on the same clips cut to their speech (whole-clip UA alone with "
            "--validate_trimmed false); ua: whole clips only; or any logged metric (loss, macro_f1, ...)."
        },
    )
    greater_is_better: bool = field(default=True, metadata={"help": "Whether a larger metric is better."})
    save_total_limit: int = field(default=1, metadata={"help": "Checkpoints kept (the best is always kept)."})
    learning_rate: float | None = field(
        default=None,
        metadata={
            "help": "Learning rate of the encoder. Default: by backbone, "
            f"{', '.join(f'{k} {v:g}' for k, v in LEARNING_RATES.items())}, others {DEFAULT_LEARNING_RATE:g}."
        },
    )
    weight_decay: float = field(
        default=0.01, metadata={"help": "AdamW weight decay (not on biases and norms)."}
    )
    num_train_epochs: float = field(default=6.0, metadata={"help": "Training epochs."})
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Training batch size."})
    per_device_eval_batch_size: int = field(
        default=32, metadata={"help": "Batch size of every pass that only encodes: evaluation, probe, refit."}
    )
    warmup_steps: float = field(
        default=0.1, metadata={"help": "Warm-up steps, or a fraction of all steps if < 1."}
    )
    logging_steps: float = field(default=10, metadata={"help": "Log every this many steps."})
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Keep the audio column for the collator."}
    )
    label_names: list[str] = field(
        default_factory=lambda: ["labels", "valence", "arousal"], metadata={"help": "Target keys of a batch."}
    )
    dataloader_num_workers: int = field(default=0, metadata={"help": "Data loading processes."})
    dataloader_pin_memory: bool = field(
        default=False, metadata={"help": "Pin memory (only useful with a GPU)."}
    )
    precision: str = field(
        default="auto",
        metadata={
            "help": f"{' | '.join(placement.PRECISIONS)}: what training and every encoder pass compute in. auto: bf16 "
            "autocast on a CPU with native bf16 (avx512_bf16 or amx_bf16 in /proc/cpuinfo), fp32 on other CPUs; "
            "on a GPU what the Trainer does (fp32 unless --bf16/--fp16). The choice and its reason are logged."
        },
    )
    resume_from_checkpoint: str | None = field(
        default="latest",
        metadata={
            "help": "'latest' (or 'true'): continue from the newest complete checkpoint in the output folder, "
            "if any, and skip the folds a cross-validation has finished; a path: that checkpoint; "
            "'none': start again. Only the same run resumes: an output folder holding another run (its "
            "run_identity.json differs) is refused, see --overwrite_output_dir."
        },
    )
    # The transformers examples' flag (TrainingArguments dropped it in transformers 5).
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Use --output_dir even if it holds another run: that run's checkpoints, folds, results, "
            "model and speaker-adaptive head are removed first (other files stay)."
        },
    )

    def __post_init__(self):
        # --save_steps alone saves by steps (and evaluates with it) instead of being ignored.
        self.save_strategy, self.save_steps, self.eval_strategy, self.eval_steps = checkpoint_schedule(
            self.save_strategy, self.save_steps, self.eval_strategy, self.eval_steps
        )
        if isinstance(self.resume_from_checkpoint, str) and self.resume_from_checkpoint.lower() in (
            "none",
            "false",
        ):
            self.resume_from_checkpoint = None
        check_resume_path(self.resume_from_checkpoint)
        # Chosen before the Trainer's own checks, which then see the resolved --bf16 (and, for bf16 on a CPU,
        # --use_cpu, which they ask for; without an accelerator it changes nothing else).
        on_cpu = self.use_cpu or not placement.has_accelerator()
        self.precision, self.precision_reason = placement.choose_precision(
            self.precision, bf16=self.bf16, fp16=self.fp16, on_cpu=on_cpu, flags=placement.cpu_flags()
        )
        self.bf16 = self.precision == "bf16"
        self.use_cpu = self.use_cpu or (on_cpu and self.bf16)
        super().__post_init__()


def check_resume_path(resume_from_checkpoint) -> None:
    """``--resume_from_checkpoint PATH``: a checkpoint folder the Trainer finished writing, checked before any
    work (the Trainer itself finds out only after the data is decoded and the warm start has run)."""
    if not isinstance(resume_from_checkpoint, str) or resume_from_checkpoint.lower() in ("latest", "true"):
        return
    if not os.path.isdir(resume_from_checkpoint):
        raise ValueError(
            f"--resume_from_checkpoint {resume_from_checkpoint}: no such folder; give a checkpoint-N folder of a "
            "run, 'latest' (the newest in --output_dir) or 'none'"
        )
    if not os.path.isfile(os.path.join(resume_from_checkpoint, TRAINER_STATE_NAME)):
        raise ValueError(
            f"--resume_from_checkpoint {resume_from_checkpoint}: not a complete checkpoint (no "
            f"{TRAINER_STATE_NAME}, the last file the Trainer writes); give a checkpoint-N folder of a run, "
            "'latest' or 'none'"
        )


def resolve_backbone_defaults(
    model_args: ModelArguments, training_args: TrainingArguments, encoder_type: str
):
    """Fill in the defaults that depend on the backbone (``encoder_type``: its config's ``model_type``), and
    log what was chosen."""
    if training_args.learning_rate is None:
        training_args.learning_rate = LEARNING_RATES.get(encoder_type, DEFAULT_LEARNING_RATE)
        logger.info(
            "Learning rate %g for a %s encoder (--learning_rate to change it)",
            training_args.learning_rate,
            encoder_type,
        )
    if model_args.head_learning_rate is None:
        model_args.head_learning_rate = 10 * training_args.learning_rate
        logger.info("Heads' learning rate %g: 10 × the encoder's", model_args.head_learning_rate)
