"""A trained ``EmotionModel`` as one ONNX graph, optionally with int8 weights, for onnxruntime.

The graph is the whole model as the recognizer runs it: encoder at the input's own length,
layer weights, pooling, both heads and the valence/arousal class mixing, ending in softmax
probabilities. It is made by torch.onnx's exporter and shrunk by onnxruntime's dynamic int8
quantisation; nothing is rebuilt by hand, so the ONNX model computes what ``EmotionModel.forward``
computes. The exported folder loads with ``EmotionRecognizer.from_pretrained(folder)``.

Inputs: ``input_features`` (B, M, T) log-mel for Whisper (T even: the recognizer pads an odd
length with one masked zero frame, as the torch model does inside) or ``input_values`` (B, S)
raw audio for wav2vec2-like encoders; ``attention_mask`` (B, T or S) when the model takes one.
Outputs: ``probabilities`` (B, C), the softmax of the raw logits (scorers temper them with the
``temperature`` of the folder's config.json), ``valence_arousal`` (B, R), and ``pooled_hidden_states``
(B, L, H): every encoder layer mean-pooled over the unpadded frames, from the same encoder pass, what a
speaker-adaptive head judges (a model's head is copied into the export, so the export serves ``speaker=``
too; exports made before this output existed still load and score clip by clip); ``embedding`` (B, P),
``frame_embeddings`` (B, F, P) and ``frame_mask`` (B, F): what the heads read (``EmotionModel.embeddings``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from huggingface_hub import ModelCard, ModelCardData
from torch import nn

from hf_emotion.model.files import (
    CONFIG_FILE,
    ONNX_EXPORT_INFO_FILE,
    ONNX_FILE,
    REMOTE_CODE_FILES,
    SPEAKER_ADAPTIVE_HEAD_FILE,
)
from hf_emotion.serving.onnx_scorer import EMBEDDING_OUTPUTS, ONNX_MISSING, POOLED_OUTPUT
from hf_emotion.serving.scorers import TorchScorer, even_frames

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 18
EXPORT_INFO_FILE = ONNX_EXPORT_INFO_FILE
#: How int8 weights are made, by --quantize value; both quantise the matrix products, which hold
#: nearly all the weights and time (convolutions stay float32: onnxruntime's ConvInteger was
#: slower than its float convolution here).
QUANTIZE_METHODS = {
    # Weight-only int8 in blocks of 32 (MatMulNBits), products computed in int8 with each
    # block's activations scaled on its own (accuracy_level 4). Adopted: on the RAVDESS test
    # speakers of a tiny.en checkpoint its top label matched float32 on 98.8 % of clips (UA
    # -0.004) and it ran batch 1 fastest (benchmarks/results/serve.md).
    "int8": "int8 weights in blocks of 32 (onnxruntime MatMulNBits, bits=8, accuracy_level=4)",
    # quantize_dynamic, per output channel: one scale per tensor of activations, so Whisper's
    # outlier activations cost accuracy (97.9 % agreement, UA -0.012 on the same clips).
    "int8-dynamic": "int8 weights per output channel, activations quantised per tensor at run time "
    "(onnxruntime quantize_dynamic)",
}
QUANTIZE_CHOICES = tuple(QUANTIZE_METHODS)
OUTPUT_NAMES = ["probabilities", "valence_arousal", POOLED_OUTPUT, *EMBEDDING_OUTPUTS]


class ScoringGraph(nn.Module):
    """``EmotionModel`` reduced to what inference needs, all from one encoder pass: ``EmotionModel.forward``'s
    steps at inference (dropout is off), plus the pooled hidden states and the embeddings the heads read."""

    def __init__(self, model: nn.Module, input_name: str) -> None:
        super().__init__()
        self.model = model
        self.input_name = input_name

    def forward(self, inputs: torch.Tensor, attention_mask: torch.Tensor | None = None):
        model = self.model
        hidden_states, frames, frame_mask = model._projected_frames(inputs, attention_mask)
        if frame_mask is None:
            frame_mask = torch.ones(frames.shape[:2], dtype=torch.long, device=frames.device)
        utterance = model._pool(frames, frame_mask)  # (B, P)
        logits = model.classifier(utterance)
        valence_arousal = model.mix_class_valence_arousal(logits, torch.tanh(model.regressor(utterance)))
        # The softmax of the raw logits: scorers temper it with config.json's temperature (``scorers.temper``).
        probabilities = torch.softmax(logits.float(), dim=-1)
        return (
            probabilities,
            valence_arousal.float(),
            self._pooled(hidden_states, attention_mask),
            utterance.float(),
            frames.float(),
            frame_mask.long(),
        )

    def _pooled(
        self, hidden_states: tuple[torch.Tensor, ...], attention_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """What ``EmotionModel.pooled_hidden_states`` computes, from the hidden states ``forward`` returned:
        ``(B, L, H)``, each layer's mean over the frames the mask keeps."""
        stacked = torch.stack(hidden_states, dim=1).float()  # (B, L, F, H)
        if attention_mask is None:
            return stacked.mean(dim=2)
        if self.input_name == "input_features":  # Whisper: conv2 halves the (even) mel frames
            frame_mask = attention_mask[:, ::2]
        else:
            frame_mask = self.model.encoder._get_feature_vector_attention_mask(
                stacked.shape[2], attention_mask
            )
        mask = frame_mask[:, None, :, None].to(stacked.dtype)  # (B, 1, F, 1)
        return (stacked * mask).sum(dim=2) / mask.sum(dim=2).clamp(min=1.0)


def example_inputs(scorer: TorchScorer) -> dict[str, np.ndarray]:
    """Two clips of different lengths (1.0 s and 0.7 s), so the traced graph sees padding."""
    rng = np.random.default_rng(0)
    signals = [0.1 * rng.standard_normal(int(seconds * scorer.sampling_rate)) for seconds in (1.0, 0.7)]
    features = scorer.features([s.astype(np.float32) for s in signals])
    return even_frames(features) if scorer.is_whisper else features


def export_onnx(
    model_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    quantize: str | None = None,
    opset: int = DEFAULT_OPSET,
    dynamo: bool = False,
) -> Path:
    """Write ``model.onnx``, ``config.json``, the feature extractor and a card to ``out_dir``.

    Args:
        model_dir: a trained model folder (``save_pretrained`` output with its feature extractor).
        out_dir: the folder to write (created; files of the same names are replaced).
        quantize: ``"int8"`` (blockwise weight-only int8) or ``"int8-dynamic"`` (per-channel
            weights, per-tensor activations) on the matrix products; ``None``: float32.
        opset: the ONNX opset.
        dynamo: use torch.onnx's ``torch.export``-based exporter instead of the TorchScript one
            (both give the same graph numerically; the TorchScript one is ~10× faster to export).

    Returns:
        ``out_dir`` as a ``Path``.
    """
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError(ONNX_MISSING) from error
    if quantize not in (None, *QUANTIZE_CHOICES):
        raise ValueError(f"quantize={quantize!r} must be one of {QUANTIZE_CHOICES} or None")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scorer = TorchScorer.from_pretrained(model_dir, dtype="float32")
    inputs = example_inputs(scorer)
    with tempfile.TemporaryDirectory() as tmp:
        fp32_path = Path(tmp if quantize else out_dir) / ONNX_FILE
        _export_graph(scorer, inputs, fp32_path, opset=opset, dynamo=dynamo)
        if quantize:
            quantize_int8(fp32_path, out_dir / ONNX_FILE, method=quantize)
    save_export_config(scorer.config, out_dir)
    scorer.feature_extractor.save_pretrained(out_dir)
    head = Path(model_dir) / SPEAKER_ADAPTIVE_HEAD_FILE
    if head.is_file():  # the graph gives the pooled features the head judges: the export serves speaker= too
        shutil.copyfile(head, out_dir / SPEAKER_ADAPTIVE_HEAD_FILE)
    difference = _check_against_torch(scorer, inputs, out_dir / ONNX_FILE, onnxruntime)
    info = {
        "source": os.fspath(model_dir),
        "backbone": scorer.config.encoder_config.model_type,
        "inputs": list(inputs),
        "opset": opset,
        "exporter": "torch.onnx (dynamo)" if dynamo else "torch.onnx (TorchScript)",
        "quantize": quantize,
        "quantization": QUANTIZE_METHODS.get(quantize),
        "max_abs_probability_difference_on_example": difference,
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    (out_dir / EXPORT_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    metadata = export_card_data(model_dir, quantize).to_yaml()
    ModelCard(f"---\n{metadata}\n---\n{export_card(info, scorer.labels)}").save(out_dir / "README.md")
    logger.info(
        "wrote %s (%.1f MB, %s); probabilities within %.2g of torch on an example batch; load it with "
        "EmotionRecognizer.from_pretrained or hf-emotion predict (transformers' pipeline() runs the torch folder)",
        out_dir / ONNX_FILE,
        (out_dir / ONNX_FILE).stat().st_size / 1e6,
        quantize or "float32",
        difference,
    )
    return out_dir


def save_export_config(config, out_dir: Path) -> None:
    """``config.json`` without the remote code a torch model folder advertises.

    A model's config names its classes (``auto_map``) and its pipeline (``custom_pipelines``) so that
    ``pipeline(..., trust_remote_code=True)`` builds the torch model from the folder. An export holds an ONNX
    graph, no torch weights and no modelling code, so that promise cannot be kept; serving the graph through
    remote code would mean a second, onnxruntime-running copy of the recognizer's windowing and batching inside
    the model's self-contained files. The export is read by :class:`~hf_emotion.EmotionRecognizer` (and
    ``hf-emotion predict``), as its card says; ``pipeline()`` stays with the torch folder it was exported from.
    """
    written_before = {name for name in REMOTE_CODE_FILES if (out_dir / name).exists()}
    config.save_pretrained(out_dir)
    for name in set(REMOTE_CODE_FILES) - written_before:  # copied by save_pretrained for the auto_map
        (out_dir / name).unlink(missing_ok=True)
    path = out_dir / CONFIG_FILE
    values = json.loads(path.read_text())
    for key in ("auto_map", "custom_pipelines"):
        values.pop(key, None)
    path.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")


def _export_graph(
    scorer: TorchScorer, inputs: dict[str, np.ndarray], path: Path, *, opset: int, dynamo: bool
) -> None:
    graph = ScoringGraph(scorer.model, scorer.input_name).eval()
    names = list(inputs)  # [input_name] or [input_name, "attention_mask"]
    args = tuple(torch.from_numpy(inputs[name]) for name in names)
    time_axis = 2 if scorer.is_whisper else 1
    kwargs = dict(input_names=names, output_names=OUTPUT_NAMES, opset_version=opset)
    if dynamo:
        from torch.export import Dim

        batch = Dim("batch", min=1, max=4096)
        if scorer.is_whisper:  # even frames up to the position table's length
            time = 2 * Dim("half_frames", min=1, max=scorer.config.encoder_config.max_source_positions)
        else:
            time = Dim("samples", min=int(0.1 * scorer.sampling_rate), max=3600 * scorer.sampling_rate)
        shapes = [{0: batch, time_axis: time}, {0: batch, 1: time}][: len(names)]
        kwargs["dynamic_shapes"] = tuple(shapes)
    else:
        axes = {names[0]: {0: "batch", time_axis: "time"}}
        if len(names) > 1:
            axes["attention_mask"] = {0: "batch", 1: "time"}
        outputs = {name: {0: "batch"} for name in OUTPUT_NAMES}
        outputs |= {name: {0: "batch", 1: "frames"} for name in ("frame_embeddings", "frame_mask")}
        kwargs["dynamic_axes"] = {**axes, **outputs}
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(graph, args, str(path), dynamo=dynamo, **kwargs)


def quantize_int8(source: Path, target: Path, *, method: str = "int8") -> None:
    """Write ``source`` with int8 matrix-product weights to ``target`` (see ``QUANTIZE_METHODS``)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    # The quantizers log a line per tensor: keep those out of the user's log.
    quiet = [logging.getLogger(), logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")]
    levels = [each.level for each in quiet]
    for logger_ in quiet:
        logger_.setLevel(max(logger_.level, logging.WARNING))
    try:
        if method == "int8-dynamic":
            quantize_dynamic(
                source,
                target,
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul", "Gemm"],
            )
            return
        config = DefaultWeightOnlyQuantConfig(block_size=32, is_symmetric=True, accuracy_level=4, bits=8)
        quantizer = MatMulNBitsQuantizer(onnx.load(str(source)), algo_config=config)
        quantizer.process()
        quantizer.model.save_model_to_file(str(target), False)
    finally:
        for logger_, level in zip(quiet, levels, strict=True):
            logger_.setLevel(level)


def _check_against_torch(
    scorer: TorchScorer, inputs: dict[str, np.ndarray], path: Path, onnxruntime
) -> float:
    """Max abs difference of the ONNX model's probabilities from torch's on the example batch."""
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (probabilities, _) = session.run(["probabilities", "valence_arousal"], inputs)
    expected, _ = scorer.run(inputs)
    return float(np.abs(probabilities - expected).max())


#: What an export's card keeps of its model's metadata: the licence, the data, the language, the lineage.
KEPT_CARD_METADATA = (
    "license",
    "license_name",
    "license_link",
    "datasets",
    "training_corpora",
    "language",
    "base_model",
    "pipeline_tag",
)


def export_card_data(model_dir: str | os.PathLike, quantize: str | None) -> ModelCardData:
    """The export's card metadata: its model card's licence, datasets, language and base model, tagged
    ``onnx`` (and ``int8``). The model's ``model-index`` is not kept: it was measured on the torch model, and
    int8 weights move the numbers a little. A model given by Hub id becomes the export's ``base_model``."""
    source = os.fspath(model_dir)
    kept: dict = {"pipeline_tag": "audio-classification"}
    try:
        path = os.path.join(source, "README.md")
        if os.path.isdir(source):
            kept |= ModelCard.load(path).data.to_dict() if os.path.isfile(path) else {}
        else:
            kept |= ModelCard.load(source).data.to_dict() | {"base_model": source}
    except (OSError, ValueError) as error:  # no card on the Hub, offline: the export's card says less
        logger.warning(
            "the export's card keeps no metadata of %s: its card could not be read (%s)", source, error
        )
    tags = [tag for tag in kept.get("tags") or [] if tag != "custom_code"]  # the export runs no remote code
    tags += ["onnx"] + (["int8"] if quantize else [])
    return ModelCardData(
        **{key: kept[key] for key in KEPT_CARD_METADATA if kept.get(key)}, tags=list(dict.fromkeys(tags))
    )


def export_card(info: dict, labels: list[str]) -> str:
    """The README of an exported folder: what it is, how it was made, how to run it."""
    command = f"hf-emotion export --model {info['source']} --out DIR" + (
        f" --quantize {info['quantize']}" if info["quantize"] else ""
    )
    return f"""# ONNX export of `{info["source"]}`

Speech emotion recognition ({info["backbone"]} encoder): {", ".join(labels)}, plus valence and
arousal in [-1, 1].

## How it was made

- {info["exporter"]}, opset {info["opset"]}, torch {info["torch"]}, onnxruntime {info["onnxruntime"]},
  {info["created"]}: `{command}`
- Precision: {info["quantization"] or "float32"}.
- The whole model is one graph: encoder at the input's own length, layer weights, pooling,
  classifier, regressor and the valence/arousal class mixing.
- On an example batch of two noise clips (1.0 s and 0.7 s) the probabilities differ from the
  torch model's by at most {info["max_abs_probability_difference_on_example"]:.2g}: a check that the
  graph runs as the model does, not a measure of accuracy on speech. The model's results are on
  its own card; they were measured in torch, so this card's metadata does not repeat them.

## Inputs and outputs

Inputs: {", ".join(f"`{name}`" for name in info["inputs"])} as the feature extractor in this
folder makes them (padding to the longest clip, not to 30 s{"; an odd number of mel frames padded with one zero frame, masked" if info["backbone"] == "whisper" else ""}).
Outputs: `probabilities` (batch, {len(labels)}): the softmax of the raw logits; the recognizer raises them
to the power 1 / `temperature` of `config.json` and renormalises, which gives the calibrated
probabilities. `valence_arousal` (batch, 2); `pooled_hidden_states` (batch, layers, hidden): what a
speaker-adaptive head judges (`speaker=` in calls, when the folder has `{SPEAKER_ADAPTIVE_HEAD_FILE}`);
`embedding` (batch, P), `frame_embeddings` (batch, frames, P) and `frame_mask` (batch, frames): what
the heads read (`EmotionRecognizer.embed`).

## Use

```python
from hf_emotion import EmotionRecognizer
recognizer = EmotionRecognizer.from_pretrained("this-folder")  # runs with onnxruntime
print(recognizer("clip.wav"))
```

or `hf-emotion predict clip.wav --model this-folder` (needs `pip install 'hf-emotion[onnx]'`).
`transformers.pipeline()` does not load this folder: it holds an ONNX graph, not the torch weights and code a
pipeline runs; use `EmotionRecognizer` here, or the pipeline on the torch model folder `{info["source"]}`.
"""


__all__ = [
    "DEFAULT_OPSET",
    "EXPORT_INFO_FILE",
    "QUANTIZE_CHOICES",
    "ScoringGraph",
    "export_card",
    "export_card_data",
    "export_onnx",
]
