"""Heads fitted on cached features: the linear-probe warm start before fine-tuning and the refit after it,
and which of those candidates a fold keeps.

The encoder runs once over every clip (whole clips, as an evaluation collator cuts them); the
layer weights and heads then train for many passes over those mean-pooled hidden states, which
costs seconds instead of an epoch of fine-tuning each. Under ``accelerate launch`` the main process
fits them and sends them to the others (``fit_heads_once``). The probe, the fine-tuned heads and the
refitted ones are then weighed on the validation speakers (``choose_heads``, ``keep_heads``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from ..evaluation.metrics import classification_metrics
from .placement import encoder_autocast, from_main, log_phase, share_tensors, training_dtype
from .trainer import WHOLE_TRIMMED_UA, best_logged, whole_trimmed_ua

if TYPE_CHECKING:
    from .recipe import Run

logger = logging.getLogger(__name__)

HEAD_MODULES = ("projector", "classifier", "regressor")


def head_state(model) -> dict[str, torch.Tensor]:
    """A copy of everything the heads are: ``layer_weights`` and the projector, classifier and regressor."""
    state = {
        f"{m}.{k}": v.detach().clone()
        for m in HEAD_MODULES
        for k, v in getattr(model, m).state_dict().items()
    }
    if model.layer_weights is not None:
        state["layer_weights"] = model.layer_weights.detach().clone()
    return state


def load_head_state(model, state: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for name, value in state.items():
            if name == "layer_weights":
                model.layer_weights.copy_(value)
            else:
                module, key = name.split(".", 1)
                getattr(model, module).state_dict()[key].copy_(value)


@torch.no_grad()
def pooled_features(
    model,
    dataset,
    collator,
    batch_size: int = 16,
    description: str = "",
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[str, torch.Tensor]:
    """Run the (frozen) encoder once over a dataset: ``hidden`` `(N, L, H)` mean-pooled hidden states of every
    layer (float32, on the CPU), plus ``labels``, ``valence``, ``arousal`` as the collator gives them.

    The model runs on ``device`` (default: where it is) under autocast to ``dtype`` (the training dtype).
    """
    from tqdm.auto import tqdm

    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    was_training = model.training
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {}
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
            with encoder_autocast(device, dtype):
                hidden = model.pooled_hidden_states(**inputs)
            parts.setdefault("hidden", []).append(hidden.float().cpu())
            for key in ("labels", "valence", "arousal"):
                if key in batch:
                    parts.setdefault(key, []).append(batch[key])
    finally:
        model.train(was_training)
    return {key: torch.cat(values) for key, values in parts.items()}


def head_parameter_groups(model, learning_rate: float, weight_decay: float) -> list[dict]:
    """``model.parameter_groups`` of the heads alone (layer weights, projector, classifier, regressor).

    The encoder is frozen while the groups are built, then every parameter gets back the
    ``requires_grad`` it had; the heads are made trainable.
    """
    trainable = {name: p.requires_grad for name, p in model.named_parameters()}
    model.freeze_base_model()
    for name, p in model.named_parameters():
        if not name.startswith("encoder."):
            p.requires_grad_(True)
    groups = model.parameter_groups(learning_rate, learning_rate, weight_decay)
    for name, p in model.named_parameters():
        p.requires_grad_(trainable[name] or not name.startswith("encoder."))
    return groups


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
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    encode=pooled_features,
    trimmed_train_dataset=None,
    trimmed_validation_dataset=None,
) -> dict[str, float]:
    """Linear-probe warm start (LP-FT: Kumar et al., "Fine-Tuning can Distort Pretrained Features and
    Underperform Out-of-Distribution", ICLR 2022): fit the layer weights and heads on the frozen encoder
    before fine-tuning it, so the encoder's first gradients come from a head that already works.

    The encoder runs once over every clip (on ``device`` in ``dtype``, ``encode_batch_size`` at a time, through
    ``encode``: :func:`pooled_features`, or a ``PooledFeatureCache`` that reuses what this encoder state has
    encoded before); the heads then train for ``epochs`` passes over those cached features with AdamW (the model's own
    parameter groups) and the model's own loss. The epoch with the best validation UA is kept; the
    validation speakers choose, never the test ones.

    After fine-tuning the same procedure refits the heads on the fine-tuned encoder (``keep_current_heads=True``,
    ``name="refit"``): the encoder was trained on random crops of a few seconds, while a prediction pools the
    whole clip, so heads fitted on whole-clip features match what they see at test time. The current heads are
    then epoch 0, and they stay unless a refitted epoch does better on the validation speakers.

    Without ``validation_dataset`` (a final model trained on every speaker) nothing is chosen: the heads train
    ``epochs`` passes, an epoch count the cross-validation folds chose, and the last one is kept.

    Clips cut to their speech keep the heads from judging the framing again, as the encoder was kept from it:
    ``trimmed_train_dataset`` (the training clips cut to their speech) is encoded too and the heads train on
    both sets of features; with ``trimmed_validation_dataset`` an epoch is chosen by the mean of its validation
    UA on whole and on trimmed clips (the Trainer's ``whole_trimmed_ua``), not on whole clips alone.

    Returns:
        ``<name>_validation_ua`` (whole clips), ``<name>_validation_trimmed_ua`` (with trimmed validation),
        ``<name>_validation_whole_trimmed_ua`` (what chose the epoch: their mean, or whole-clip UA),
        ``<name>_best_epoch`` (0: the current heads were kept), ``<name>_seconds`` (encoding included),
        ``<name>_encoding_seconds``; with ``keep_current_heads`` also ``<name>_initial_validation_ua`` and
        ``<name>_initial_validation_whole_trimmed_ua``.
    """
    if model.config.pooling != "mean":
        raise ValueError(
            "--linear_probe_epochs and --refit_heads_epochs need mean pooling (the heads are fitted on pooled features)"
        )
    started = time.perf_counter()
    place = dict(device=device, dtype=dtype)
    train = encode(model, train_dataset, collator, encode_batch_size, "training clips", **place)
    if trimmed_train_dataset is not None:
        cut = encode(model, trimmed_train_dataset, collator, encode_batch_size, "training speech", **place)
        train = {key: torch.cat([train[key], cut[key]]) for key in train}
    validations = {}  # by the score each gives: "ua" (whole clips), "trimmed_ua"
    if validation_dataset is not None:
        validations["ua"] = encode(
            model, validation_dataset, collator, encode_batch_size, "validation clips", **place
        )
    if validation_dataset is not None and trimmed_validation_dataset is not None:
        validations["trimmed_ua"] = encode(
            model, trimmed_validation_dataset, collator, encode_batch_size, "validation speech", **place
        )
    encoded = {f"{name}_encoding_seconds": round(time.perf_counter() - started, 3)}
    was_training = model.training
    if validation_dataset is None:
        for _ in head_epochs(model, train, epochs, learning_rate, weight_decay, batch_size, seed):
            pass
        model.train(was_training)
        logger.info("%s: %d epochs on every speaker, no model selection", name, epochs)
        return {
            f"{name}_epochs": epochs,
            f"{name}_seconds": round(time.perf_counter() - started, 1),
            **encoded,
        }
    best, best_epoch, best_state = {WHOLE_TRIMMED_UA: -1.0}, 0, head_state(model)
    initial = {}
    if keep_current_heads:
        best = validation_scores(model, validations, label_names)
        initial[f"{name}_initial_validation_ua"] = best["ua"]
        initial[f"{name}_initial_validation_{WHOLE_TRIMMED_UA}"] = best[WHOLE_TRIMMED_UA]
    for epoch in head_epochs(model, train, epochs, learning_rate, weight_decay, batch_size, seed):
        scores = validation_scores(model, validations, label_names)
        if scores[WHOLE_TRIMMED_UA] > best[WHOLE_TRIMMED_UA]:
            best, best_epoch, best_state = scores, epoch, head_state(model)
    load_head_state(model, best_state)
    model.train(was_training)
    result = {
        **initial,
        **{f"{name}_validation_{key}": value for key, value in best.items()},
        f"{name}_best_epoch": best_epoch,
        f"{name}_seconds": round(time.perf_counter() - started, 1),
        **encoded,
    }
    logger.info(
        "%s on the %s encoder: validation UA %.3f (whole clips), %s at epoch %d of %d%s (%.0f s)",
        "Heads refitted" if keep_current_heads else "Linear probe",
        "fine-tuned" if keep_current_heads else "frozen",
        best["ua"],
        f"{best['trimmed_ua']:.3f} (cut to speech)" if "trimmed_ua" in best else "",
        best_epoch,
        epochs,
        f" (the heads it started from: {initial[f'{name}_initial_validation_ua']:.3f})" if initial else "",
        result[f"{name}_seconds"],
    )
    return result


def validation_scores(model, validations: dict[str, dict], label_names: Sequence[str]) -> dict[str, float]:
    """The heads' validation UA on pooled features: ``ua`` (whole clips), ``trimmed_ua`` (clips cut to their
    speech, when given) and ``whole_trimmed_ua``, what chooses (their mean; whole-clip UA alone)."""
    device = next(model.parameters()).device
    model.eval()
    scores = {}
    for key, features in validations.items():
        with torch.no_grad():
            logits, _ = model.heads_from_pooled(features["hidden"].to(device))
        ua = classification_metrics(features["labels"].numpy(), logits.argmax(-1).cpu().numpy(), label_names)
        scores[key] = float(ua["ua"])
    scores[WHOLE_TRIMMED_UA] = whole_trimmed_ua({f"eval_{k}": v for k, v in scores.items()})
    return scores


def head_epochs(model, train: dict, epochs: int, learning_rate, weight_decay, batch_size: int, seed: int):
    """Train the heads on cached pooled features (AdamW, the model's own loss), yielding each epoch's number
    once it is done, so the caller can score it; the model is left in training mode."""
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(head_parameter_groups(model, learning_rate, weight_decay), lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(1, epochs + 1):
        model.train()
        for index in torch.randperm(train["hidden"].shape[0], generator=generator).split(batch_size):
            logits, valence_arousal = model.heads_from_pooled(train["hidden"][index].to(device))
            targets = {k: train[k][index].to(device) for k in ("labels", "valence", "arousal") if k in train}
            loss, _, _ = model.compute_loss(logits, valence_arousal, **targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        yield epoch


def fit_heads_once(run: Run, model, parts, *, epochs: int, name: str) -> dict:
    """``fit_heads_on_pooled_features`` on the main process; its heads and metrics then go to every process.

    The encoder pass runs on ``--device`` in the training dtype, ``--per_device_eval_batch_size`` clips at a time,
    through the run's feature cache (what this encoder state encoded before is not encoded again).
    """
    args = run.training_args
    log_phase(f"{name}: encoding the clips", args, args.per_device_eval_batch_size)
    model.to(args.device)
    metrics = None
    if run.is_main:
        metrics = fit_heads_on_pooled_features(
            model,
            parts["train"],
            parts["validation"],
            run.eval_collator(),
            run.label_names,
            trimmed_train_dataset=parts.get("train_trimmed"),
            trimmed_validation_dataset=parts.get("validation_trimmed") if chooses_on_trimmed(args) else None,
            epochs=epochs,
            learning_rate=run.model_args.linear_probe_learning_rate,
            weight_decay=args.weight_decay,
            encode_batch_size=args.per_device_eval_batch_size,
            seed=args.seed,
            keep_current_heads=name == "refit",
            name=name,
            device=args.device,
            dtype=training_dtype(args),
            encode=run.features,
        )
    heads = [p for m in HEAD_MODULES for p in getattr(model, m).parameters()]
    share_tensors([*heads, *([model.layer_weights] if model.layer_weights is not None else [])], args)
    return from_main(metrics, args)


def chooses_on_trimmed(training_args) -> bool:
    """Whether models are chosen on whole and trimmed validation UA (``--metric_for_best_model
    whole_trimmed_ua``): then the head fits' epochs, and the probe, fine-tuned and refitted heads, are too."""
    return training_args.metric_for_best_model.removeprefix("eval_") == WHOLE_TRIMMED_UA


def selects_by_ua(training_args) -> bool:
    """Whether the Trainer's best epoch was chosen by validation UA (on whole clips, or on whole and trimmed
    clips), so that its whole-clip UA, the probe's own measure, can weigh the two."""
    metric = training_args.metric_for_best_model.removeprefix("eval_")
    return bool(training_args.load_best_model_at_end) and metric in ("ua", WHOLE_TRIMMED_UA)


def choose_heads(
    *,
    probe_ua: float | None,
    fine_tuned_ua: float | None,
    refit_ua: float | None,
    refit_improved: bool,
    compare_by_ua: bool,
) -> str:
    """Which model a fold keeps: ``"probe"``, ``"refit"`` or ``"fine-tuned"``.

    Every score is a validation UA on the one measure models are chosen by (``whole_trimmed_ua``: the mean of
    whole and trimmed clips' UA, or whole clips' alone), so the three are weighed alike.

    Args:
        probe_ua: the linear probe's (None: no probe).
        fine_tuned_ua: the Trainer's, at its best epoch (None: no evaluation during training).
        refit_ua: after the head refit (None: no refit); the refit kept whichever of its epochs and the
            fine-tuned heads did best, so this is the fine-tuned model as it will be used.
        refit_improved: whether a refitted epoch beat the fine-tuned heads.
        compare_by_ua: whether the fine-tuned model's score is a validation UA too (otherwise the probe
            cannot be weighed against it and is dropped).

    The probe wins only when strictly better: a tie keeps what fine-tuning made.
    """
    fine_tuned = refit_ua if refit_ua is not None else fine_tuned_ua
    if probe_ua is not None and compare_by_ua and (fine_tuned is None or probe_ua > fine_tuned):
        return "probe"
    return "refit" if refit_improved else "fine-tuned"


def fine_tuned_score(training_args, state) -> float | None:
    """The fine-tuned model's validation score at its best epoch, on the measure the head fits report as
    ``<name>_validation_whole_trimmed_ua``: the mean of whole and trimmed UA when models are chosen on both
    (``chooses_on_trimmed``), whole-clip UA otherwise."""
    return best_logged(state, f"eval_{WHOLE_TRIMMED_UA}" if chooses_on_trimmed(training_args) else "eval_ua")


def weigh_heads(run: Run, state, probe_metrics: dict, refit_metrics: dict) -> tuple[str, float | None]:
    """``choose_heads`` on a fold's probe, fine-tuned (Trainer ``state``) and refitted heads; returns what it
    kept and the fine-tuned model's score."""
    fine_tuned = fine_tuned_score(run.training_args, state)
    kept = choose_heads(
        probe_ua=probe_metrics.get(f"probe_validation_{WHOLE_TRIMMED_UA}"),
        fine_tuned_ua=fine_tuned,
        refit_ua=refit_metrics.get(f"refit_validation_{WHOLE_TRIMMED_UA}"),
        refit_improved=refit_metrics.get("refit_best_epoch", 0) > 0,
        compare_by_ua=selects_by_ua(run.training_args),
    )
    return kept, fine_tuned


def keep_heads(
    run: Run,
    model,
    kept: str,
    probe_metrics: dict,
    probe_state,
    refit_metrics: dict,
    fine_tuned_ua: float | None,
) -> dict:
    """Load the probe's weights if ``choose_heads`` kept it; the choice as metrics (``*_selected``)."""
    metrics = {}
    if probe_state is not None and run.training_args.load_best_model_at_end:
        metrics["probe_selected"] = kept == "probe"
    if refit_metrics:
        metrics["refit_selected"] = kept == "refit"
    if kept == "probe":
        model.load_state_dict(probe_state)
    logger.info(
        "Keeping the %s model (validation %s: probe %s, fine-tuned %s, refitted %s)",
        kept,
        "UA on whole and trimmed clips" if chooses_on_trimmed(run.training_args) else "UA",
        *(
            f"{v:.3f}" if v is not None else "-"
            for v in (
                probe_metrics.get(f"probe_validation_{WHOLE_TRIMMED_UA}"),
                fine_tuned_ua,
                refit_metrics.get(f"refit_validation_{WHOLE_TRIMMED_UA}"),
            )
        ),
    )
    return metrics
