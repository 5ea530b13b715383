"""CTranslate2 Whisper variable names → a transformers Whisper state dict.

The mapping is the inverse of ``WhisperLoader`` in ``ctranslate2/converters/transformers.py``:
it renames every variable, splits the fused q/k/v projections, drops the key bias the
converter filled with zeros, and reads the architecture numbers from the shapes. Every
variable must be consumed, so a file from another converter fails loudly instead of loading
half its weights.
"""

from __future__ import annotations

import re

import numpy as np

from hf_emotion.backbones.ct2_format import CT2Model

__all__ = ["CT2_ACTIVATION_GELU", "ct2_to_whisper_state_dict"]

CT2_ACTIVATION_GELU = 3
"""``common_spec.Activation.GELU`` in CTranslate2; the Whisper decoder uses it."""


def _layer_count(variables: dict[str, np.ndarray], stack: str) -> int:
    indices = {int(m.group(1)) for name in variables if (m := re.match(rf"{stack}/layer_(\d+)/", name))}
    if indices != set(range(len(indices))):
        raise ValueError(f"{stack} layers are not numbered 0..n-1: {sorted(indices)}")
    return len(indices)


# Scalar attributes of the CTranslate2 Whisper spec: value required for a faithful conversion,
# or None when the value does not change the transformers model (alignment metadata).
_EXPECTED_SCALARS: dict[str, int | None] = {
    "decoder/activation": CT2_ACTIVATION_GELU,
    "decoder/pre_norm": 1,
    "decoder/alibi": 0,
    "decoder/scale_embeddings": 0,
    "decoder/start_from_zero_embedding": 0,
    "decoder/alignment_heads": None,
    "decoder/alignment_layer": None,
}


def ct2_to_whisper_state_dict(model: CT2Model) -> tuple[dict, dict]:
    """Map CTranslate2 Whisper variables to a transformers state dict, consuming every one.

    Args:
        model: A parsed ``WhisperSpec`` model.

    Returns:
        ``(state_dict, dims)``: float32 torch tensors by transformers name, and the
        architecture numbers (``d_model``, layers, heads, ...) read from the shapes.

    Raises:
        ValueError: If a name is missing, left unused, has an unexpected value, or the
            spec is not Whisper.
    """
    import torch

    if model.spec_name != "WhisperSpec":
        raise ValueError(f"expected a CTranslate2 WhisperSpec model, got {model.spec_name!r}")
    remaining = dict(model.variables)
    for alias, target in model.aliases.items():
        if target not in remaining:
            raise ValueError(f"alias {alias!r} points to unknown variable {target!r}")
    # The only alias WhisperLoader produces is the tied output projection.
    unknown_aliases = set(model.aliases) - {"decoder/projection/weight"}
    if unknown_aliases or model.aliases.get("decoder/projection/weight") != "decoder/embeddings/weight":
        raise ValueError(
            f"unexpected aliases {model.aliases}; expected only "
            "decoder/projection/weight -> decoder/embeddings/weight (tied output projection)"
        )

    def take(name: str) -> np.ndarray:
        if name not in remaining:
            raise ValueError(f"CTranslate2 model has no variable {name!r}")
        return remaining.pop(name)

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array.astype(np.float32))

    sd: dict[str, torch.Tensor] = {}
    d_model = int(model.variables["encoder/conv1/weight"].shape[0])

    def linear(ct2: str, hf: str, bias: bool = True) -> None:
        sd[f"{hf}.weight"] = tensor(take(f"{ct2}/weight"))
        if bias:
            sd[f"{hf}.bias"] = tensor(take(f"{ct2}/bias"))

    def norm(ct2: str, hf: str) -> None:
        sd[f"{hf}.weight"], sd[f"{hf}.bias"] = tensor(take(f"{ct2}/gamma")), tensor(take(f"{ct2}/beta"))

    def unfuse(ct2: str, hf: str, projections: str) -> None:
        weights = np.split(take(f"{ct2}/weight"), len(projections))
        biases = np.split(take(f"{ct2}/bias"), len(projections))
        for p, weight, bias in zip(projections, weights, biases, strict=True):
            if weight.shape != (d_model, d_model):
                raise ValueError(f"{ct2}/weight: expected {len(projections)} × ({d_model}, {d_model}) blocks")
            sd[f"{hf}.{p}_proj.weight"] = tensor(weight)
            if p == "k":
                # Whisper's key projection has no bias; the converter fills the fused bias with zeros.
                if np.any(bias != 0):
                    raise ValueError(f"{ct2}/bias: the key part is not zero, cannot drop it")
            else:
                sd[f"{hf}.{p}_proj.bias"] = tensor(bias)

    dims: dict[str, int] = {"d_model": d_model}
    for stack in ("encoder", "decoder"):
        hf_stack = f"model.{stack}"
        num_layers = _layer_count(model.variables, stack)
        for i in range(num_layers):
            ct2, hf = f"{stack}/layer_{i}", f"{hf_stack}.layers.{i}"
            unfuse(f"{ct2}/self_attention/linear_0", f"{hf}.self_attn", "qkv")
            linear(f"{ct2}/self_attention/linear_1", f"{hf}.self_attn.out_proj")
            norm(f"{ct2}/self_attention/layer_norm", f"{hf}.self_attn_layer_norm")
            if stack == "decoder":
                unfuse(f"{ct2}/attention/linear_0", f"{hf}.encoder_attn", "q")
                unfuse(f"{ct2}/attention/linear_1", f"{hf}.encoder_attn", "kv")
                linear(f"{ct2}/attention/linear_2", f"{hf}.encoder_attn.out_proj")
                norm(f"{ct2}/attention/layer_norm", f"{hf}.encoder_attn_layer_norm")
            linear(f"{ct2}/ffn/linear_0", f"{hf}.fc1")
            linear(f"{ct2}/ffn/linear_1", f"{hf}.fc2")
            norm(f"{ct2}/ffn/layer_norm", f"{hf}.final_layer_norm")
        positions = take(f"{stack}/position_encodings/encodings")
        sd[f"{hf_stack}.embed_positions.weight"] = tensor(positions)
        norm(f"{stack}/layer_norm", f"{hf_stack}.layer_norm")
        dims[f"{stack}_layers"] = num_layers
        dims[f"{stack}_attention_heads"] = int(take(f"{stack}/num_heads"))
        dims[f"{stack}_ffn_dim"] = int(model.variables[f"{stack}/layer_0/ffn/linear_0/weight"].shape[0])
        dims["max_source_positions" if stack == "encoder" else "max_target_positions"] = positions.shape[0]
    linear("encoder/conv1", "model.encoder.conv1")
    linear("encoder/conv2", "model.encoder.conv2")
    embeddings = take("decoder/embeddings/weight")
    sd["model.decoder.embed_tokens.weight"] = tensor(embeddings)
    sd["proj_out.weight"] = sd["model.decoder.embed_tokens.weight"]  # tied, as the alias says
    dims["vocab_size"] = embeddings.shape[0]
    dims["num_mel_bins"] = int(model.variables["encoder/conv1/weight"].shape[1])

    for name, expected in _EXPECTED_SCALARS.items():
        value = int(take(name))
        if expected is not None and value != expected:
            raise ValueError(f"{name} is {value}, but the transformers Whisper model needs {expected}")
    if remaining:
        raise ValueError(f"CTranslate2 variables left unused by the conversion: {sorted(remaining)}")
    return sd, dims
