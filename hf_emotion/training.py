"""The pieces finetune.py wires together: collator, metrics, optimiser groups, callbacks, reports."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import torch
from transformers import Trainer, TrainerCallback
from transformers.trainer import TRAINER_STATE_NAME, TRAINING_ARGS_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from .machine import describe_machine
from .metrics import (
    HEADLINE_METRICS,
    ccc,
    classification_metrics,
    plot_confusion_matrix,
    plot_valence_arousal,
    regression_metrics,
    speaker_normalize_scores,
)

logger = logging.getLogger(__name__)


# Model outputs that are not predictions: kept out of what the Trainer gathers at evaluation.
IGNORE_KEYS = ["classification_loss", "regression_loss", "hidden_states"]

# --------------------------------------------------------------------------- batches


def with_model_columns(dataset):
    """A decoded dataset whose audio and targets come out as numpy arrays (what the collator takes), the
    other columns (speaker, path, ...) as they are."""
    return dataset.with_format(
        "numpy", columns=["input_audio", "emotion", "valence", "arousal"], output_all_columns=True
    )


@dataclass
class EmotionDataCollator:
    """Pads a list of decoded clips into a model batch.

    Training batches take a random window of at most ``max_seconds`` from each clip (a new
    one every epoch); evaluation batches take the first ``max_seconds``. Whisper inputs are
    log-mel features at the batch's own length (no padding to 30 s); wav2vec2-like inputs are
    normalised raw audio. Both come with an attention mask so pooling ignores padding.
    """

    feature_extractor: object
    is_whisper: bool
    max_seconds: float | None = None
    random_crop: bool = False
    seed: int = 0
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self):
        self._rng = np.random.default_rng(self.seed)

    def _crop(self, audio: np.ndarray, sampling_rate: int) -> np.ndarray:
        if not self.max_seconds:
            return audio
        limit = int(self.max_seconds * sampling_rate)
        if audio.shape[0] <= limit:
            return audio
        start = int(self._rng.integers(0, audio.shape[0] - limit + 1)) if self.random_crop else 0
        return audio[start : start + limit]

    def __call__(self, examples: Sequence[dict]) -> dict[str, torch.Tensor]:
        sampling_rate = self.feature_extractor.sampling_rate
        audio = [self._crop(np.asarray(e["input_audio"], dtype=np.float32), sampling_rate) for e in examples]
        if self.is_whisper:
            batch = self.feature_extractor(
                audio,
                sampling_rate=sampling_rate,
                padding="longest",
                return_attention_mask=True,
                return_tensors="pt",
            )
            batch = {"input_features": batch["input_features"], "attention_mask": batch["attention_mask"]}
        else:
            batch = self.feature_extractor(
                audio,
                sampling_rate=sampling_rate,
                padding=True,
                return_attention_mask=True,
                return_tensors="pt",
            )
            batch = {"input_values": batch["input_values"], "attention_mask": batch["attention_mask"]}
        if "emotion" in examples[0]:
            batch["labels"] = torch.tensor([int(e["emotion"]) for e in examples], dtype=torch.long)
        for name in ("valence", "arousal"):
            if name in examples[0]:
                batch[name] = torch.tensor([float(e[name]) for e in examples], dtype=torch.float32)
        return batch


def load_feature_extractor(model_name_or_path: str, encoder_type: str, num_mel_bins: int = 80, **kwargs):
    """The folder's feature extractor, or the standard one for its encoder when it has none.

    An encoder saved with only ``save_pretrained`` of the model (no preprocessor_config.json)
    still trains: wav2vec2-like encoders get normalised 16 kHz raw audio, Whisper its log-mel
    extractor with the encoder's number of mel bins.
    """
    from transformers import AutoFeatureExtractor, Wav2Vec2FeatureExtractor, WhisperFeatureExtractor

    try:
        return AutoFeatureExtractor.from_pretrained(model_name_or_path, **kwargs)
    except (OSError, ValueError) as error:
        if not os.path.isdir(model_name_or_path):
            raise
        logger.warning(
            "%s has no feature extractor (%s); using the standard one for %s",
            model_name_or_path,
            error,
            encoder_type,
        )
    if encoder_type == "whisper":
        return WhisperFeatureExtractor(feature_size=num_mel_bins)
    return Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=True
    )


# --------------------------------------------------------------------------- metrics


def _unpack_predictions(predictions) -> tuple[np.ndarray, np.ndarray]:
    """(logits, valence_arousal) from what the Trainer gathered."""
    if isinstance(predictions, (tuple, list)):
        return np.asarray(predictions[0]), np.asarray(predictions[1])
    return np.asarray(predictions), np.full((len(predictions), 2), np.nan)


def make_compute_metrics(label_names: Sequence[str]):
    """``compute_metrics`` for the Trainer: ua, wa, macro_f1, f1_<label>, ccc_valence, ccc_arousal (+ mse, r2)."""

    def compute_metrics(eval_pred) -> dict[str, float]:
        logits, valence_arousal = _unpack_predictions(eval_pred.predictions)
        label_ids = eval_pred.label_ids
        labels, valence, arousal = (np.asarray(x) for x in label_ids)
        result = classification_metrics(labels, logits.argmax(-1), label_names)
        result.update(regression_metrics(valence_arousal, np.stack([valence, arousal], axis=1)))
        return result

    return compute_metrics


# --------------------------------------------------------------------------- optimiser and schedule


class EmotionTrainer(Trainer):
    """Trainer with separate learning rates for the encoder and for the heads.

    With ``eval_data_collator`` the validation passes during training see whole clips, as the
    final evaluation does, instead of the training collator's random crops (which would make
    the choice of the best epoch depend on which crop each clip happened to get).
    """

    def __init__(self, *args, head_learning_rate: float | None = None, eval_data_collator=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.head_learning_rate = head_learning_rate
        self.eval_data_collator = eval_data_collator

    def evaluate(self, *args, **kwargs):
        if self.eval_data_collator is None:
            return super().evaluate(*args, **kwargs)
        train_collator, self.data_collator = self.data_collator, self.eval_data_collator
        try:
            return super().evaluate(*args, **kwargs)
        finally:
            self.data_collator = train_collator

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


def last_complete_checkpoint(output_dir: str) -> str | None:
    """The newest ``checkpoint-N`` in ``output_dir`` that the Trainer finished writing, or None.

    ``Trainer._save_checkpoint`` writes ``trainer_state.json`` after the weights, optimiser and RNG
    state, so a run killed while saving leaves a newest checkpoint without it (or with it cut
    short). transformers' ``get_last_checkpoint`` would pick that one and the resumed run would
    fail on it; this skips it, with a warning naming it, and resumes from the one before.
    """
    checkpoints = []
    for name in os.listdir(output_dir) if os.path.isdir(output_dir) else []:
        prefix, _, step = name.partition("-")
        if (
            prefix == PREFIX_CHECKPOINT_DIR
            and step.isdigit()
            and os.path.isdir(os.path.join(output_dir, name))
        ):
            checkpoints.append((int(step), name))
    for _, name in sorted(checkpoints, reverse=True):
        path = os.path.join(output_dir, name)
        try:
            with open(os.path.join(path, TRAINER_STATE_NAME)) as f:
                json.load(f)
        except (OSError, ValueError) as error:
            logger.warning(
                "%s is incomplete (no readable %s, the last file the Trainer writes: %s); "
                "resuming from an earlier checkpoint",
                path,
                TRAINER_STATE_NAME,
                error,
            )
            continue
        return path
    return None


# --------------------------------------------------------------------------- linear-probe warm start


HEAD_MODULES = ("projector", "classifier", "regressor")


def _head_state(model) -> dict[str, torch.Tensor]:
    state = {
        f"{m}.{k}": v.detach().clone()
        for m in HEAD_MODULES
        for k, v in getattr(model, m).state_dict().items()
    }
    if model.layer_weights is not None:
        state["layer_weights"] = model.layer_weights.detach().clone()
    return state


def _load_head_state(model, state: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for name, value in state.items():
            if name == "layer_weights":
                model.layer_weights.copy_(value)
            else:
                module, key = name.split(".", 1)
                getattr(model, module).state_dict()[key].copy_(value)


@torch.no_grad()
def pooled_features(
    model, dataset, collator, batch_size: int = 16, description: str = ""
) -> dict[str, torch.Tensor]:
    """Run the (frozen) encoder once over a dataset: ``hidden`` `(N, L, H)` mean-pooled hidden states of every
    layer, plus ``labels``, ``valence``, ``arousal`` as the collator gives them."""
    from tqdm.auto import tqdm

    was_training = model.training
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    device = next(model.parameters()).device
    try:
        for start in tqdm(
            range(0, len(dataset), batch_size), desc=f"encoding {description}".strip(), unit="batch"
        ):
            batch = collator([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
            inputs = {
                k: batch[k].to(device)
                for k in ("input_values", "input_features", "attention_mask")
                if k in batch
            }
            parts.setdefault("hidden", []).append(model.pooled_hidden_states(**inputs).float().cpu())
            for key in ("labels", "valence", "arousal"):
                if key in batch:
                    parts.setdefault(key, []).append(batch[key])
    finally:
        model.train(was_training)
    return {key: torch.cat(values) for key, values in parts.items()}


def fit_heads_on_pooled_features(
    model,
    train_dataset,
    validation_dataset,
    collator,
    label_names: Sequence[str],
    *,
    epochs: int,
    learning_rate: float,
    weight_decay: float = 0.0,
    batch_size: int = 32,
    encode_batch_size: int = 16,
    seed: int = 0,
    keep_current_heads: bool = False,
    name: str = "probe",
) -> dict[str, float]:
    """Linear-probe warm start (LP-FT: Kumar et al., "Fine-Tuning can Distort Pretrained Features and
    Underperform Out-of-Distribution", ICLR 2022): fit the layer weights and heads on the frozen encoder
    before fine-tuning it, so the encoder's first gradients come from a head that already works.

    The encoder runs once over every clip (whole clips, as ``collator`` cuts them); the heads then train for
    ``epochs`` passes over those cached features with AdamW and the model's own loss, which costs seconds.
    The epoch with the best validation UA is kept; the validation speakers choose, never the test ones.

    After fine-tuning the same procedure refits the heads on the fine-tuned encoder (``keep_current_heads=True``,
    ``name="refit"``): the encoder was trained on random crops of a few seconds, while a prediction pools the
    whole clip, so heads fitted on whole-clip features match what they see at test time. The current heads are
    then epoch 0, and they stay unless a refitted epoch does better on the validation speakers.

    Returns:
        ``<name>_validation_ua``, ``<name>_best_epoch`` (0: the current heads were kept), ``<name>_seconds``
        (encoding included); with ``keep_current_heads`` also ``<name>_initial_validation_ua``.
    """
    if model.config.pooling != "mean":
        raise ValueError(
            "--linear_probe_epochs and --refit_heads_epochs need mean pooling (the heads are fitted on pooled features)"
        )
    started = time.perf_counter()
    train = pooled_features(model, train_dataset, collator, encode_batch_size, "training clips")
    validation = pooled_features(model, validation_dataset, collator, encode_batch_size, "validation clips")
    device = next(model.parameters()).device
    parameters = [p for m in HEAD_MODULES for p in getattr(model, m).parameters()]
    if model.layer_weights is not None:
        parameters.append(model.layer_weights)
    for p in parameters:
        p.requires_grad_(True)
    decay = [p for p in parameters if p.ndim >= 2]
    no_decay = [p for p in parameters if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=learning_rate,
    )
    generator = torch.Generator().manual_seed(seed)
    n = train["hidden"].shape[0]

    def validation_ua() -> float:
        model.eval()
        with torch.no_grad():
            logits, _ = model.heads_from_pooled(validation["hidden"].to(device))
        return classification_metrics(
            validation["labels"].numpy(), logits.argmax(-1).cpu().numpy(), label_names
        )["ua"]

    was_training = model.training
    best_ua, best_epoch, best_state = -1.0, 0, _head_state(model)
    initial = {}
    if keep_current_heads:
        best_ua = validation_ua()
        initial[f"{name}_initial_validation_ua"] = float(best_ua)
    for epoch in range(1, epochs + 1):
        model.train()
        for index in torch.randperm(n, generator=generator).split(batch_size):
            logits, valence_arousal = model.heads_from_pooled(train["hidden"][index].to(device))
            loss, _, _ = model.compute_loss(
                logits,
                valence_arousal,
                **{k: train[k][index] for k in ("labels", "valence", "arousal") if k in train},
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        ua = validation_ua()
        if ua > best_ua:
            best_ua, best_epoch, best_state = ua, epoch, _head_state(model)
    _load_head_state(model, best_state)
    model.train(was_training)
    result = {
        **initial,
        f"{name}_validation_ua": float(best_ua),
        f"{name}_best_epoch": best_epoch,
        f"{name}_seconds": round(time.perf_counter() - started, 1),
    }
    logger.info(
        "%s on the %s encoder: validation UA %.3f at epoch %d of %d%s (%.0f s)",
        "Heads refitted on whole clips" if keep_current_heads else "Linear probe",
        "fine-tuned" if keep_current_heads else "frozen",
        best_ua,
        best_epoch,
        epochs,
        f" (the heads it started from: {initial[f'{name}_initial_validation_ua']:.3f})" if initial else "",
        result[f"{name}_seconds"],
    )
    return result


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


# --------------------------------------------------------------------------- valence/arousal from the classes

CLASS_MIXING_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def class_mean_targets(dataset, num_labels: int, targets: Sequence[str]) -> list[list[float]] | None:
    """Each class's mean of the training clips' ``targets`` (``valence``, ``arousal`` columns): ``(C, R)``.

    For the proxy targets of RAVDESS and CREMA-D this is the class's circumplex coordinate (arousal averaged
    over the recorded intensities); with real annotations, where the class's clips lie on average. ``None``
    when a class has no clip with finite targets.
    """
    labels = np.asarray(dataset["emotion"])
    values = np.stack([np.asarray(dataset[name], dtype=np.float64) for name in targets], axis=1)
    means = []
    for label in range(num_labels):
        rows = values[(labels == label) & np.isfinite(values).all(axis=1)]
        if not len(rows):
            return None
        means.append(rows.mean(axis=0).round(5).tolist())
    return means


def choose_class_mixing(
    probabilities: np.ndarray,
    valence_arousal: np.ndarray,
    targets: np.ndarray,
    class_valence_arousal: Sequence[Sequence[float]],
    weights: Sequence[float] = CLASS_MIXING_WEIGHTS,
) -> tuple[list[float], np.ndarray]:
    """Per target, the weight of the class expectation that gives the highest CCC on these (validation) clips.

    The candidates are ``(1 - w) * valence_arousal + w * probabilities @ class_valence_arousal`` for each
    ``w`` in ``weights``; a tie keeps the smaller weight (the regressor alone, first). Returns the weights and
    the ``(len(weights), R)`` CCC table they were chosen from.
    """
    expected = np.asarray(probabilities, dtype=np.float64) @ np.asarray(
        class_valence_arousal, dtype=np.float64
    )
    regressed = np.asarray(valence_arousal, dtype=np.float64)
    scores = np.array(
        [
            [
                ccc((1 - w) * regressed[:, j] + w * expected[:, j], targets[:, j])
                for j in range(regressed.shape[1])
            ]
            for w in weights
        ]
    )
    chosen = [
        float(weights[int(np.argmax(np.nan_to_num(scores[:, j], nan=-np.inf)))])
        for j in range(scores.shape[1])
    ]
    return chosen, scores


def fit_class_mixing(trainer: Trainer, train_dataset, validation_dataset) -> dict[str, float]:
    """Sets ``class_valence_arousal`` and ``valence_arousal_class_weight`` of ``trainer.model``'s config.

    The class coordinates are the training clips' mean targets; the weight of each target is chosen by CCC on
    the validation clips (one prediction pass, with ``trainer``'s data collator). Returns the chosen weights,
    the validation CCC they give and the regressor's own, for the run's metrics. Without targets (a dataset
    with no valence/arousal) or with fewer than 2 validation clips, the model keeps the regressor alone and
    the result is empty.
    """
    config = trainer.model.config
    names = list(config.regression_targets)
    config.valence_arousal_class_weight = None
    coordinates = class_mean_targets(train_dataset, config.num_labels, names)
    if coordinates is None or len(validation_dataset) < 2:
        logger.info(
            "Valence/arousal: no class coordinates or validation clips to choose a mixing on; regressor only"
        )
        return {}
    output = trainer.predict(validation_dataset, metric_key_prefix="mixing", ignore_keys=IGNORE_KEYS)
    logits, regressed = _unpack_predictions(output.predictions)
    targets = np.stack(
        [np.asarray(output.label_ids[1 + ("valence", "arousal").index(n)]) for n in names], axis=1
    )
    probabilities = torch.softmax(torch.from_numpy(logits.astype(np.float32)), dim=-1).numpy()
    weights, scores = choose_class_mixing(probabilities, regressed, targets, coordinates)
    config.class_valence_arousal, config.valence_arousal_class_weight = coordinates, weights
    result = {}
    for j, name in enumerate(names):
        best = CLASS_MIXING_WEIGHTS.index(weights[j])
        logger.info(
            "Valence/arousal: %s mixes in the class expectation with weight %.2f (validation CCC %.3f; "
            "regressor alone %.3f)",
            name,
            weights[j],
            scores[best, j],
            scores[0, j],
        )
        result[f"class_mixing_weight_{name}"] = weights[j]
        result[f"validation_ccc_{name}"] = float(scores[best, j])
        result[f"validation_ccc_{name}_regressor"] = float(scores[0, j])
    return result


# --------------------------------------------------------------------------- reports


def predict_dataset(trainer: Trainer, dataset, label_names: Sequence[str], prefix: str) -> tuple[dict, dict]:
    """Evaluate on a dataset; returns (metrics with ``prefix``, predictions record)."""
    output = trainer.predict(dataset, metric_key_prefix=prefix, ignore_keys=IGNORE_KEYS)
    logits, valence_arousal = _unpack_predictions(output.predictions)
    labels, valence, arousal = (np.asarray(x) for x in output.label_ids)
    probabilities = torch.softmax(torch.from_numpy(logits.astype(np.float32)), dim=-1).numpy()
    record = {
        "label_names": list(label_names),
        "y_true": labels.astype(int).tolist(),
        "y_pred": logits.argmax(-1).astype(int).tolist(),
        "probabilities": np.round(probabilities, 5).tolist(),
        "valence_arousal_pred": np.round(valence_arousal, 5).tolist(),
        "valence_arousal_true": np.stack([valence, arousal], axis=1).round(5).tolist(),
        "speakers": list(dataset["speaker"]),
        "paths": list(dataset["audio"]),
    }
    metrics = dict(output.metrics)
    metrics |= _spknorm_metrics(probabilities, labels, record["speakers"], label_names, prefix)
    return metrics, record


def _spknorm_metrics(probabilities, labels, speakers, label_names: Sequence[str], prefix: str) -> dict:
    """Transductive, labelled as such: each test speaker's log-probabilities centred on their own mean."""
    log_probs = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, None))
    normalized = speaker_normalize_scores(log_probs, speakers)
    return {
        f"{prefix}_spknorm_{key}": value
        for key, value in classification_metrics(labels, normalized.argmax(-1), label_names).items()
    }


def record_metrics(record: dict, prefix: str = "eval") -> dict[str, float]:
    """The metrics of a predictions record (``predict_dataset``'s): those of ``compute_metrics``, and spknorm."""
    names = record["label_names"]
    probabilities = np.asarray(record["probabilities"], dtype=np.float64)
    metrics = classification_metrics(record["y_true"], probabilities.argmax(-1), names)
    metrics |= regression_metrics(record["valence_arousal_pred"], record["valence_arousal_true"])
    metrics = {f"{prefix}_{k}": v for k, v in metrics.items()}
    return metrics | _spknorm_metrics(probabilities, record["y_true"], record["speakers"], names, prefix)


def average_predictions(records: Sequence[dict], key=os.path.normpath) -> dict:
    """The equal-weight mean of several models' predictions records over the same clips: an ensemble's record.

    Probabilities and valence/arousal are averaged clip by clip, the clips matched by ``key(path)``
    (records saved in different orders, or with differently spelled paths, still line up); the result
    is in the first record's order. A ``ValueError`` names what differs when the records are not over
    the same clips, labels and true answers.
    """
    first = records[0]
    keys = [key(p) for p in first["paths"]]
    if len(set(keys)) != len(keys):
        raise ValueError("two clips share a key; give a key that tells them apart")
    arrays = {"probabilities": [], "valence_arousal_pred": []}
    for number, record in enumerate(records, start=1):
        if record["label_names"] != first["label_names"]:
            raise ValueError(
                f"record {number} has labels {record['label_names']}, record 1 {first['label_names']}"
            )
        index = {key(p): i for i, p in enumerate(record["paths"])}
        if set(index) != set(keys) or len(index) != len(record["paths"]):
            raise ValueError(f"record {number} is not over the same clips as record 1")
        rows = [index[k] for k in keys]
        if np.asarray(record["y_true"])[rows].tolist() != list(first["y_true"]):
            raise ValueError(f"record {number} has other true labels for the same clips than record 1")
        for name, values in arrays.items():
            values.append(np.asarray(record[name], dtype=np.float64)[rows])
    probabilities = np.mean(arrays["probabilities"], axis=0)
    valence_arousal = np.mean(arrays["valence_arousal_pred"], axis=0)
    return first | {
        "y_pred": probabilities.argmax(-1).astype(int).tolist(),
        "probabilities": probabilities.tolist(),
        "valence_arousal_pred": valence_arousal.tolist(),
    }


def save_predictions(record: dict, output_dir: str, title: str = "") -> None:
    """predictions.json plus the confusion matrix and valence/arousal plots of one evaluation."""
    with open(os.path.join(output_dir, "predictions.json"), "w") as handle:
        json.dump(record, handle)
    plot_confusion_matrix(
        record["y_true"],
        record["y_pred"],
        record["label_names"],
        os.path.join(output_dir, "confusion_matrix.png"),
        title=title,
    )
    plot_valence_arousal(
        record["valence_arousal_pred"],
        record["valence_arousal_true"],
        record["y_true"],
        record["label_names"],
        os.path.join(output_dir, "valence_arousal.png"),
    )


MODEL_FILES = (
    "config.json",
    "model.safetensors",
    "preprocessor_config.json",
    "configuration_emotion.py",
    "modeling_emotion.py",
)


def export_model(source_dir: str, target_dir: str) -> None:
    """Copy a trained model (weights, config, feature extractor, remote code) into another folder."""
    import shutil

    for name in MODEL_FILES:
        path = os.path.join(source_dir, name)
        if os.path.exists(path):
            shutil.copy2(path, os.path.join(target_dir, name))


def write_model_card(
    output_dir: str,
    *,
    base_model: str,
    datasets_used: Sequence[str],
    licences: dict[str, str],
    split: dict,
    metrics: dict,
    label_names: Sequence[str],
    skipped_files: Sequence[dict],
    summary: dict | None = None,
) -> None:
    """README.md of a trained model: protocol, metrics, data and licences (Hub model-card format)."""
    rows = "\n".join(
        f"| {key} | {metrics[f'eval_{key}']:.3f} |" for key in HEADLINE_METRICS if f"eval_{key}" in metrics
    )
    cv = ""
    if summary:
        cv_rows = "\n".join(
            f"| {key} | {summary[f'eval_{key}']['mean']:.3f} ± {summary[f'eval_{key}']['std']:.3f} |"
            for key in HEADLINE_METRICS
            if f"eval_{key}" in summary
        )
        cv = f"\n### Cross-validation (mean ± std over {summary['eval_ua']['n']} speaker folds)\n\n| metric | value |\n|---|---|\n{cv_rows}\n"
    licence_lines = "\n".join(
        f"- **{name}**: {licences.get(name, 'see the dataset card')}" for name in datasets_used
    )
    skipped = (
        "\n".join(f"- `{f['path']}`: {f['detail']}" for f in skipped_files[:50]) if skipped_files else "none"
    )
    mixing = ""
    weights = {
        k.removeprefix("class_mixing_weight_"): v
        for k, v in metrics.items()
        if k.startswith("class_mixing_weight_")
    }
    if weights:
        mixing = (
            "\nThe valence/arousal outputs mix the regressor's with the classifier's expected class coordinates, "
            f"with weights {', '.join(f'{name} {w:g}' for name, w in weights.items())} (0: regressor only), chosen "
            "on the validation speakers (`valence_arousal_class_weight` in config.json)."
        )
    card = f"""---
library_name: transformers
pipeline_tag: audio-classification
base_model: {base_model}
tags:
- speech-emotion-recognition
- hf-emotion
metrics:
- balanced_accuracy
- f1
---

# Speech emotion recognition ({", ".join(datasets_used)})

Fine-tuned from `{base_model}` with the hf-emotion library for {len(label_names)}-class emotion
({", ".join(label_names)}) plus valence/arousal regression.

## Evaluation protocol

Speaker-independent: the test speakers were never heard in training or model selection.
Protocol `{split.get("protocol")}`; test speakers {", ".join(split.get("test", []))};
validation speakers (best checkpoint by UA) {", ".join(split.get("validation", []))}.
Valence/arousal targets are **proxies** derived from the emotion label and its recorded intensity
(circumplex coordinates, see `hf_emotion/targets.py`), not listener ratings.{mixing}

## Results on the test speakers

| metric | value |
|---|---|
{rows}
{cv}
UA = unweighted average recall (balanced accuracy); WA = accuracy; CCC = concordance correlation.

## Data and licences

{licence_lines}

Files skipped at loading: {skipped}

## Use

```python
from hf_emotion import EmotionRecognizer
recognizer = EmotionRecognizer.from_pretrained("{output_dir}")
print(recognizer("clip.wav"))
```

Or without hf-emotion installed: `AutoModelForAudioClassification.from_pretrained(path, trust_remote_code=True)`.

Trained {datetime.now(timezone.utc).strftime("%Y-%m-%d")} on {describe_machine()}.
"""
    with open(os.path.join(output_dir, "README.md"), "w") as handle:
        handle.write(card)
