"""Writers of synthetic CTranslate2 Whisper files, for the backbone tests only.

:func:`write_ct2_model` is the inverse of :func:`hf_emotion.backbones.ct2_format.read_ct2_model`
and :func:`whisper_to_ct2` the forward mapping of CTranslate2's ``WhisperLoader``, so a tiny
random Whisper can travel through a ``model.bin`` and back without CTranslate2 installed.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hf_emotion.backbones.ct2_format import CT2_DTYPES, CT2Model
from hf_emotion.backbones.weights import CT2_ACTIVATION_GELU


def write_ct2_model(path: str | Path, model: CT2Model) -> None:
    """Write a CTranslate2 ``model.bin``, variables sorted by name like CTranslate2's ``_serialize``."""

    def string(value: str) -> bytes:
        raw = value.encode("utf-8") + b"\0"
        return struct.pack("<H", len(raw)) + raw

    chunks = [struct.pack("<I", model.binary_version), string(model.spec_name)]
    chunks += [struct.pack("<I", model.spec_revision), struct.pack("<I", len(model.variables))]
    for name, value in sorted(model.variables.items()):
        value = np.asarray(value)  # (not ascontiguousarray: it turns scalars into 1-d arrays)
        chunks += [string(name), struct.pack("<B", value.ndim)]
        chunks += [struct.pack("<I", dim) for dim in value.shape]
        chunks += [struct.pack("<B", CT2_DTYPES.index(value.dtype.name))]
        chunks += [struct.pack("<I", value.nbytes), value.astype(value.dtype.newbyteorder("<")).tobytes()]
    chunks.append(struct.pack("<I", len(model.aliases)))
    for alias, target in sorted(model.aliases.items()):
        chunks += [string(alias), string(target)]
    Path(path).write_bytes(b"".join(chunks))


def whisper_to_ct2(state_dict: dict, config) -> CT2Model:
    """Map a transformers Whisper state dict to CTranslate2 names, like WhisperLoader does.

    Weights are stored as float16 like the published wheels.
    """

    def f16(name: str) -> np.ndarray:
        return state_dict[name].detach().float().numpy().astype(np.float16)

    def linear(out: dict, ct2: str, hf: str, bias: bool = True) -> None:
        out[f"{ct2}/weight"] = f16(f"{hf}.weight")
        if bias:
            out[f"{ct2}/bias"] = f16(f"{hf}.bias")

    def norm(out: dict, ct2: str, hf: str) -> None:
        out[f"{ct2}/gamma"], out[f"{ct2}/beta"] = f16(f"{hf}.weight"), f16(f"{hf}.bias")

    def fused(out: dict, ct2: str, hf: str, projections: Sequence[str]) -> None:
        out[f"{ct2}/weight"] = np.concatenate([f16(f"{hf}.{p}_proj.weight") for p in projections])
        biases = [
            f16(f"{hf}.{p}_proj.bias") if p != "k" else np.zeros(config.d_model, np.float16)
            for p in projections
        ]
        out[f"{ct2}/bias"] = np.concatenate(biases)

    v: dict[str, np.ndarray] = {}
    for stack in ("encoder", "decoder"):
        hf_stack = f"model.{stack}"
        for i in range(getattr(config, f"{stack}_layers")):
            ct2, hf = f"{stack}/layer_{i}", f"{hf_stack}.layers.{i}"
            fused(v, f"{ct2}/self_attention/linear_0", f"{hf}.self_attn", "qkv")
            linear(v, f"{ct2}/self_attention/linear_1", f"{hf}.self_attn.out_proj")
            norm(v, f"{ct2}/self_attention/layer_norm", f"{hf}.self_attn_layer_norm")
            if stack == "decoder":
                fused(v, f"{ct2}/attention/linear_0", f"{hf}.encoder_attn", "q")
                fused(v, f"{ct2}/attention/linear_1", f"{hf}.encoder_attn", "kv")
                linear(v, f"{ct2}/attention/linear_2", f"{hf}.encoder_attn.out_proj")
                norm(v, f"{ct2}/attention/layer_norm", f"{hf}.encoder_attn_layer_norm")
            linear(v, f"{ct2}/ffn/linear_0", f"{hf}.fc1")
            linear(v, f"{ct2}/ffn/linear_1", f"{hf}.fc2")
            norm(v, f"{ct2}/ffn/layer_norm", f"{hf}.final_layer_norm")
        v[f"{stack}/position_encodings/encodings"] = f16(f"{hf_stack}.embed_positions.weight")
        norm(v, f"{stack}/layer_norm", f"{hf_stack}.layer_norm")
        v[f"{stack}/num_heads"] = np.array(getattr(config, f"{stack}_attention_heads"), np.int16)
    linear(v, "encoder/conv1", "model.encoder.conv1")
    linear(v, "encoder/conv2", "model.encoder.conv2")
    v["decoder/embeddings/weight"] = f16("model.decoder.embed_tokens.weight")
    v["decoder/activation"] = np.array(CT2_ACTIVATION_GELU, np.int8)
    v["decoder/pre_norm"] = np.array(1, np.int8)
    for flag in ("alibi", "scale_embeddings", "start_from_zero_embedding"):
        v[f"decoder/{flag}"] = np.array(0, np.int8)
    v["decoder/alignment_heads"] = np.array(1, np.int16)
    v["decoder/alignment_layer"] = np.array(-1, np.int16)
    return CT2Model("WhisperSpec", 3, v, {"decoder/projection/weight": "decoder/embeddings/weight"})
