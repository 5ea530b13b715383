"""The Trainer's speed and memory flags pass through finetune.py and work with every backbone.

Tiny encoders on the CPU: ``--bf16`` is autocast there as on a GPU, ``--gradient_checkpointing``
recomputes the encoder layers in the backward pass, ``--torch_compile`` traces the model with
TorchDynamo (with the ``eager`` backend: inductor's C++ compile of every clip length took 9 min for
one tiny fold on this 2-core machine, so the suite checks the tracing, not the code generation).
"""

from __future__ import annotations

import re

import pytest
import torch
from safetensors.torch import load_file

from hf_emotion.training.finetune import main as finetune_main


def _args(model_dir, data_dir, out, *extra) -> list[str]:
    return [
        "--model_name_or_path",
        str(model_dir),
        "--dataset",
        "ravdess",
        "--data_dir",
        str(data_dir),
        "--num_folds",
        "4",
        "--output_dir",
        str(out),
        "--max_steps",
        "2",
        "--learning_rate",
        "1e-2",
        "--linear_probe_epochs",
        "1",
        "--refit_heads_epochs",
        "1",
        "--max_eval_seconds",
        "1",
        "--eval_strategy",
        "no",
        "--save_strategy",
        "no",
        "--load_best_model_at_end",
        "false",
        "--use_cpu",
        *extra,
    ]


def _untrained_layers(pretrained_dir, trained_dir) -> list[str]:
    """The encoder's transformer-layer weights (what gradient checkpointing recomputes) that training left
    as they were. The pretrained folder names them ``encoder.layers.N...``; the hf-emotion model keeps a
    whole wav2vec2 model under ``encoder`` (``encoder.encoder.layers...``), Whisper's encoder alone."""
    pretrained = load_file(pretrained_dir / "model.safetensors")
    trained = load_file(trained_dir / "model.safetensors")
    layers = [k for k in pretrained if re.match(r"encoder\.layers\.\d+\.", k)]
    assert layers, sorted(pretrained)[:5]
    saved = {k: trained["encoder." + k] if "encoder." + k in trained else trained[k] for k in layers}
    return [k for k in layers if torch.equal(saved[k].to(pretrained[k].dtype), pretrained[k])]


@pytest.mark.parametrize("backbone", ["tiny_wav2vec2_dir", "tiny_whisper_dir"])
def test_gradient_checkpointing_in_bf16_trains_every_encoder_layer(
    backbone, request, tmp_path, ravdess_dir, capsys
):
    model_dir = request.getfixturevalue(backbone)
    out = tmp_path / "run"
    results = finetune_main(_args(model_dir, ravdess_dir, out, "--gradient_checkpointing", "--bf16"))
    # every encoder pass says where it ran: all on the training device, in the training dtype
    phases = [
        line for line in capsys.readouterr().out.splitlines() if "hf_emotion.training.placement:" in line
    ]
    for phase in ("probe", "fine-tuning", "refit", "class mixing", "evaluation"):
        assert any(f"placement: {phase}" in line for line in phases), (phase, phases)
    assert all("device cpu" in line and "dtype bfloat16" in line for line in phases), phases
    assert not _untrained_layers(model_dir, out)
    assert 0.0 <= results["eval_ua"] <= 1.0


@pytest.mark.parametrize("backbone", ["tiny_wav2vec2_dir", "tiny_whisper_dir"])
def test_torch_compile_traces_the_model_of_every_backbone(backbone, request, tmp_path, ravdess_dir):
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    model_dir = request.getfixturevalue(backbone)
    args = _args(
        model_dir, ravdess_dir, tmp_path / "run", "--torch_compile", "--torch_compile_backend", "eager"
    )
    results = finetune_main(args)
    assert counters["stats"]["unique_graphs"] >= 1  # TorchDynamo captured the model: the flag reached it
    assert 0.0 <= results["eval_ua"] <= 1.0
    torch._dynamo.reset()
