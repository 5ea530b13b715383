"""What makes a run, recorded in its output folder, so that a reused folder never mixes two runs.

A run takes up what its ``--output_dir`` holds: the newest checkpoint (``--resume_from_checkpoint latest``,
the default), the folds a cross-validation finished, the speaker-adaptive head beside the model. That is
right only when the folder holds *this* run. Fold 0's checkpoint was trained on fold 2's test speakers;
another backbone's checkpoint does not fit the model (a size mismatch); another corpus's finished folds
would be reported under the new model's name.

So the first thing a run does with its folder, before any decoding, is :func:`claim_output_dir`: the
arguments that make the run (:data:`RUN_DEFINING_ARGUMENTS`) and the labels of its data are compared with
the ``run_identity.json`` an earlier run left there. The same run resumes; another run is refused with one
line naming the first difference, unless ``--overwrite_output_dir`` is given, which removes what the earlier
run wrote (:data:`RUN_OUTPUTS`) and leaves the rest of the folder alone.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import shutil
from enum import Enum

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from ..errors import ConfigurationError
from ..model.files import MODEL_FILES
from .placement import from_main

logger = logging.getLogger(__name__)

RUN_IDENTITY_FILE = "run_identity.json"

# The arguments that make a run: two runs that differ in one of them train or test another model, so one must
# not take up the other's checkpoints, finished folds or head. Names are fields of finetune.py's argument
# dataclasses, in the order a difference is reported.
RUN_DEFINING_ARGUMENTS = (
    # What is fine-tuned: another backbone's checkpoint does not fit (a size mismatch) or is another model.
    "model_name_or_path",
    # Which clips: other corpora, folders, channels, label sources or columns are other data.
    "dataset",
    "data_dir",
    "ravdess_channel",
    "crema_d_labels",
    "audio_column_name",
    "label_column_name",
    "speaker_column_name",
    "gender_column_name",
    "valence_column_name",
    "arousal_column_name",
    "dataset_split",
    "dataset_config_name",
    "max_audio_seconds",
    "max_train_samples",
    # Who trains, validates and tests: fold 0's training speakers are fold 2's test speakers.
    "cross_validation",
    "num_folds",
    "fold",  # None with --cross_validation, which runs every fold whatever --fold says
    "test_speakers",
    "validation_speakers",
    "random_split",
    # The seed deals a random split and draws the heads, crops and batches.
    "seed",
    "data_seed",
    # How the model is trained: the same checkpoint step of another schedule is another model.
    "learning_rate",
    "head_learning_rate",
    "weight_decay",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "warmup_steps",
    "lr_scheduler_type",
    "optim",
    "max_grad_norm",
    "max_train_seconds",
    "augment_conditions",
    "freeze_feature_encoder",
    "freeze_base_model",
    "freeze_encoder_epochs",
    "use_weighted_layer_sum",
    "classifier_proj_size",
    "head_dropout",
    "ccc_loss_weight",
    "label_smoothing",
    "class_weighting",
    "mask_time_prob",
    "mask_time_length",
    "mask_feature_prob",
    "mask_feature_length",
    # Which model is kept: the best epoch, probe and refit are chosen on validation scores of these clips.
    "linear_probe_epochs",
    "linear_probe_learning_rate",
    "refit_heads_epochs",
    "max_eval_seconds",
    "eval_strategy",
    "eval_steps",
    "metric_for_best_model",
    "greater_is_better",
    "load_best_model_at_end",
    # What is fitted after training and saved with the model: the mixing weights and the head.
    "class_mixing",
    "speaker_adaptive_head",
)
# Left out on purpose, so that a resume may change them: how fast or where the same numbers are computed
# (batch size of encode-only passes, workers, precision, compilation, gradient checkpointing), when checkpoints
# and logs are written, where results are published (--push_to_hub, cards, --cross_corpus_results), how to
# resume, and --final_model (trained again after the folds by every run that asks for it).

# What a run writes into its output folder (the recipe's reports, the Trainer's checkpoints and state, the
# cross-validation's folds and final model, the exported model and its card): what --overwrite_output_dir
# removes, so that nothing of the earlier run is resumed, served or reported. Anything else is the user's.
RUN_OUTPUTS = (
    RUN_IDENTITY_FILE,
    f"{PREFIX_CHECKPOINT_DIR}-*",
    "fold_*",
    "final",
    "runs",
    *MODEL_FILES,
    "training_args.bin",
    "trainer_state.json",
    "all_results.json",
    "predictions.json",
    "splits.json",
    "cv_summary.json",
    "cv_summary.md",
    "confusion_matrix.png",
    "valence_arousal.png",
    "README.md",
)


def run_identity(model_args, data_args, training_args, label_names) -> dict:
    """The values of :data:`RUN_DEFINING_ARGUMENTS` and the data's labels, as JSON values.

    Local folders are made absolute, so the same folder named from another working directory is the same
    run. Call it before a backbone name is replaced by its cached folder.

    Args:
        model_args, data_args, training_args: finetune.py's parsed argument groups.
        label_names: the emotions of the loaded data, in label order.
    """
    groups = (model_args, data_args, training_args)
    values = {}
    for name in RUN_DEFINING_ARGUMENTS:
        value = next(getattr(group, name) for group in groups if hasattr(group, name))
        values[name] = value.value if isinstance(value, Enum) else value
    if os.path.isdir(values["model_name_or_path"]):
        values["model_name_or_path"] = os.path.abspath(values["model_name_or_path"])
    values["data_dir"] = [os.path.abspath(folder) for folder in values["data_dir"]]
    if data_args.cross_validation:
        values["fold"] = None
    values["labels"] = list(label_names)
    return json.loads(json.dumps(values))  # lists, not tuples: compared as read back from the file


def first_difference(recorded: dict, identity: dict) -> str | None:
    """``"<name> <recorded value>, this run asks for <name> <value>"`` for the first argument that differs.

    Only names both hold are compared: a name an older version did not record cannot tell the runs apart.
    """
    for name, value in identity.items():
        if name in recorded and recorded[name] != value:
            return f"{name} {_show(recorded[name])}, this run asks for {name} {_show(value)}"
    return None


def _show(value) -> str:
    if isinstance(value, list):
        return " ".join(map(str, value)) or "none"
    if isinstance(value, bool):
        return str(value).lower()
    return "none" if value is None else str(value)


def earlier_run_outputs(output_dir: str) -> list[str]:
    """The names of :data:`RUN_OUTPUTS` present in ``output_dir``, sorted."""
    if not os.path.isdir(output_dir):
        return []
    return sorted({name for pattern in RUN_OUTPUTS for name in glob.glob(pattern, root_dir=output_dir)})


def read_identity(output_dir: str) -> dict | None:
    """The identity an earlier run recorded in ``output_dir``, or None when it recorded none.

    Raises:
        ConfigurationError: the file is there but unreadable, not JSON, or not an object.
    """
    path = os.path.join(output_dir, RUN_IDENTITY_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as handle:
            recorded = json.load(handle)
    except (OSError, ValueError) as error:
        recorded = error
    if not isinstance(recorded, dict):
        reason = recorded if isinstance(recorded, Exception) else f"a JSON {type(recorded).__name__}"
        raise ConfigurationError(
            f"{path} does not say which run the folder holds ({reason}): give another --output_dir or "
            "--overwrite_output_dir"
        )
    return recorded


def output_dir_problem(output_dir: str, identity: dict, overwrite: bool) -> str | None:
    """Why this run must not use ``output_dir``, or None.

    A folder holding an earlier run's files is this run's only if its ``run_identity.json`` says so. A folder
    without such files (new, or holding only the identity of a run that stopped before writing anything) is
    free, and so is every folder with ``overwrite`` (the earlier run's files are removed).
    """
    found = [name for name in earlier_run_outputs(output_dir) if name != RUN_IDENTITY_FILE]
    if overwrite or not found:
        return None
    recorded = read_identity(output_dir)
    if recorded is None:
        shown = ", ".join(found[:4]) + (", ..." if len(found) > 4 else "")
        return (
            f"--output_dir {output_dir} holds an earlier run's files ({shown}) but no {RUN_IDENTITY_FILE} to "
            "tell whether it is this run: give another --output_dir or --overwrite_output_dir"
        )
    difference = first_difference(recorded, identity)
    if difference is None:
        return None
    return (
        f"--output_dir {output_dir} holds a run with {difference}: give another --output_dir or "
        "--overwrite_output_dir"
    )


def remove_earlier_run(output_dir: str) -> None:
    """Delete the :data:`RUN_OUTPUTS` in ``output_dir`` (``--overwrite_output_dir``), saying what went.

    Raises:
        ConfigurationError: one of them cannot be removed (a read-only folder).
    """
    found = earlier_run_outputs(output_dir)
    for name in found:
        path = os.path.join(output_dir, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
        except OSError as error:
            raise ConfigurationError(
                f"--overwrite_output_dir cannot remove {path} ({error.strerror or error}); remove it yourself or "
                "give another --output_dir"
            ) from error
    if found:
        logger.info(
            "--overwrite_output_dir: removed the earlier run's %s from %s", ", ".join(found), output_dir
        )


def write_identity(output_dir: str, identity: dict) -> None:
    """``run_identity.json``, written whole or not at all (a run killed meanwhile leaves no half file).

    Raises:
        ConfigurationError: the folder cannot be made or written to.
    """
    path = os.path.join(output_dir, RUN_IDENTITY_FILE)
    partial = f"{path}.partial"
    try:
        os.makedirs(output_dir, exist_ok=True)
        with open(partial, "w") as handle:
            json.dump(identity, handle, indent=2)
        os.replace(partial, path)
    except OSError as error:
        raise ConfigurationError(
            f"--output_dir {output_dir}: cannot write {RUN_IDENTITY_FILE} there ({error.strerror or error}); "
            "give a writable folder"
        ) from error


def check_inputs_survive_overwrite(output_dir: str, overwrite: bool, inputs: dict[str, str | None]) -> None:
    """``--overwrite_output_dir`` must not delete what the run reads: a checkpoint to resume, the model to train
    further (a folder in ``--output_dir``, or the folder itself).

    Args:
        inputs: flag -> the local path it names, or None.

    Raises:
        ConfigurationError: naming the flag whose path lies in ``--output_dir``.
    """
    if not overwrite:
        return
    folder = os.path.abspath(output_dir)
    for flag, path in inputs.items():
        if path and os.path.commonpath([folder, os.path.abspath(path)]) == folder:
            raise ConfigurationError(
                f"{flag} {path} lies in --output_dir {output_dir}, which --overwrite_output_dir empties first: "
                "give another --output_dir"
            )


def claim_output_dir(training_args, identity: dict) -> None:
    """Make ``--output_dir`` this run's: refuse a folder holding another run, or (``--overwrite_output_dir``)
    remove that run's files; then record this run's identity. Decided and done on the main process, which tells
    the others, so every process refuses together.

    Raises:
        ConfigurationError: one line naming the folder, the first difference and what to do.
    """
    output_dir, overwrite = training_args.output_dir, training_args.overwrite_output_dir
    checkpoint, model = training_args.resume_from_checkpoint, identity["model_name_or_path"]
    named_checkpoint = None if checkpoint in (None, True, "true", "True", "latest") else checkpoint
    check_inputs_survive_overwrite(
        output_dir,
        overwrite,
        {
            "--resume_from_checkpoint": named_checkpoint,
            "--model_name_or_path": model if os.path.isdir(model) else None,
        },
    )
    problem = None
    if training_args.process_index == 0:
        try:
            problem = output_dir_problem(output_dir, identity, overwrite)
            if problem is None:
                if overwrite:
                    remove_earlier_run(output_dir)
                write_identity(output_dir, identity)
        except ConfigurationError as error:  # told to the other processes too, so none waits for the main one
            problem = str(error)
    problem = from_main(problem, training_args)
    if problem:
        raise ConfigurationError(problem)
