"""The files that make a model folder: one list, read by checkpoints, the push, the Space and the scorers.

Imports nothing, so that serving code can read it without loading torch or scikit-learn.
"""

from __future__ import annotations

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FEATURE_EXTRACTOR_FILE = "preprocessor_config.json"
#: Saved beside the weights so that the folder loads with ``trust_remote_code`` without this package.
#: (``rate_check.py``: the pipeline's check of a declared sampling rate, which it imports.)
REMOTE_CODE_FILES = (
    "configuration_emotion.py",
    "modeling_emotion.py",
    "pipeline_emotion.py",
    "rate_check.py",
)
#: The speaker-adaptive head (``hf-emotion adapt``, ``--speaker_adaptive_head``), when the model has one.
SPEAKER_ADAPTIVE_HEAD_FILE = "speaker_adaptive_head.npz"
#: The file of an exported model; its presence marks a folder as an ONNX export.
ONNX_FILE = "model.onnx"
#: How an ONNX folder was exported (opset, quantisation), beside ``ONNX_FILE``.
ONNX_EXPORT_INFO_FILE = "onnx_export.json"

#: Everything a trained torch model folder needs to load and serve, in one list.
MODEL_FILES = (
    CONFIG_FILE,
    WEIGHTS_FILE,
    FEATURE_EXTRACTOR_FILE,
    *REMOTE_CODE_FILES,
    SPEAKER_ADAPTIVE_HEAD_FILE,
)
#: The same as glob patterns for a push (sharded weights and their index included).
MODEL_FILE_PATTERNS = (
    CONFIG_FILE,
    "*.safetensors",
    "model.safetensors.index.json",
    FEATURE_EXTRACTOR_FILE,
    SPEAKER_ADAPTIVE_HEAD_FILE,
)
