"""``hf-emotion export`` and ONNX inference: the exported graph scores as the torch model does."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from hf_emotion.cli import main  # noqa: E402
from hf_emotion.data.labels import EMOTIONS  # noqa: E402
from hf_emotion.serving.export import export_onnx  # noqa: E402
from hf_emotion.serving.mean_scorer import MeanScorer  # noqa: E402
from hf_emotion.serving.onnx_scorer import OnnxScorer  # noqa: E402
from hf_emotion.serving.recognizer import EmotionRecognizer  # noqa: E402
from hf_emotion.serving.scorers import TorchScorer  # noqa: E402
from tests.serving.test_inference import make_emotion_model_dir  # noqa: E402
from tests.synth import emotion_signal, write_audio  # noqa: E402

LABELS = list(EMOTIONS)
# float32 ONNX against float32 torch: the same arithmetic in a different order.
FP32_TOLERANCE = 1e-4
# Odd lengths (odd numbers of Whisper mel frames and of wav2vec2 samples), mixed in one batch.
CLIP_SECONDS = [0.37, 1.0313, 2.5101, 0.8, 1.77]


@pytest.fixture(scope="module")
def model_dirs(tiny_whisper_dir, tiny_wav2vec2_dir, tmp_path_factory):
    """Trained-looking models: Whisper, wav2vec2 with attention mask, and without one."""
    from transformers import Wav2Vec2FeatureExtractor

    tmp = tmp_path_factory.mktemp("onnx-models")
    no_mask = make_emotion_model_dir(tiny_wav2vec2_dir, tmp / "wav2vec2-no-mask", seed=3)
    Wav2Vec2FeatureExtractor(return_attention_mask=False).save_pretrained(no_mask)
    return {
        "whisper": make_emotion_model_dir(tiny_whisper_dir, tmp / "whisper", seed=1),
        "wav2vec2": make_emotion_model_dir(tiny_wav2vec2_dir, tmp / "wav2vec2", seed=2),
        "wav2vec2-no-mask": no_mask,
    }


@pytest.fixture(scope="module")
def exports(model_dirs, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("onnx-exports")
    return {name: export_onnx(folder, tmp / name) for name, folder in model_dirs.items()}


def _matrix(predictions) -> np.ndarray:
    return np.array([[p.probabilities[k] for k in LABELS] + [p.valence, p.arousal] for p in predictions])


@pytest.mark.parametrize("backbone", ["whisper", "wav2vec2", "wav2vec2-no-mask"])
def test_exported_model_scores_mixed_lengths_as_torch_does(backbone, model_dirs, exports):
    torch_recognizer = EmotionRecognizer.from_pretrained(model_dirs[backbone])
    onnx_recognizer = EmotionRecognizer.from_pretrained(exports[backbone])
    assert isinstance(onnx_recognizer.scorer, OnnxScorer)
    inputs = {n.name for n in onnx_recognizer.scorer.session.get_inputs()}
    assert ("attention_mask" in inputs) == (backbone != "wav2vec2-no-mask")
    clips = [
        emotion_signal(e, s, seed=i) for i, (e, s) in enumerate(zip(EMOTIONS, CLIP_SECONDS, strict=False))
    ]
    expected = _matrix(torch_recognizer(clips, sampling_rate=16_000, batch_size=5))
    got = _matrix(onnx_recognizer(clips, sampling_rate=16_000, batch_size=5))
    np.testing.assert_allclose(got, expected, atol=FP32_TOLERANCE)
    # One at a time (no padding) gives the same as in the mixed batch.
    alone = _matrix([onnx_recognizer(clip, sampling_rate=16_000, batch_size=1) for clip in clips])
    np.testing.assert_allclose(alone, got, atol=2e-3)
    # The clips' answers differ far more than the tolerance: the comparison is not vacuous.
    assert np.ptp(expected[:, : len(LABELS)], axis=0).max() > 0.05


def test_exported_model_windows_marks_silence_and_joins_ensembles(model_dirs, exports, tmp_path):
    path = write_audio(
        tmp_path / "long.wav",
        np.concatenate(
            [emotion_signal("happy", 3.3), np.zeros(16_000 * 3, np.float32), emotion_signal("sad", 2.9)]
        ),
    )
    torch_recognizer = EmotionRecognizer.from_pretrained(model_dirs["whisper"])
    onnx_recognizer = EmotionRecognizer.from_pretrained(exports["whisper"])
    expected, got = torch_recognizer(path, window=2.0, hop=1.0), onnx_recognizer(path, window=2.0, hop=1.0)
    assert [w.silent for w in got.timeline] == [w.silent for w in expected.timeline]
    assert any(w.silent for w in got.timeline) and not all(w.silent for w in got.timeline)
    audible = [i for i, w in enumerate(expected.timeline) if not w.silent]
    np.testing.assert_allclose(
        _matrix([got.timeline[i] for i in audible]),
        _matrix([expected.timeline[i] for i in audible]),
        atol=FP32_TOLERANCE,
    )
    # An ensemble may mix an ONNX export with a torch model.
    mixed = EmotionRecognizer.from_pretrained([exports["whisper"], model_dirs["wav2vec2"]])
    assert [type(m) for m in mixed.scorer.members] == [OnnxScorer, TorchScorer]
    assert isinstance(mixed.scorer, MeanScorer)
    clip = emotion_signal("angry", 1.3)
    members = [
        EmotionRecognizer.from_pretrained(d)(clip, sampling_rate=16_000)
        for d in (exports["whisper"], model_dirs["wav2vec2"])
    ]
    np.testing.assert_allclose(
        _matrix([mixed(clip, sampling_rate=16_000)]), _matrix(members).mean(axis=0, keepdims=True), atol=1e-5
    )


@pytest.mark.parametrize(
    "method, operators",
    [("int8", {"MatMulNBits"}), ("int8-dynamic", {"DynamicQuantizeLinear", "MatMulInteger"})],
)
def test_int8_export_is_smaller_and_close(method, operators, model_dirs, exports, tmp_path):
    import onnx

    int8 = export_onnx(model_dirs["whisper"], tmp_path / method, quantize=method)
    fp32_size = (exports["whisper"] / "model.onnx").stat().st_size
    assert (int8 / "model.onnx").stat().st_size < fp32_size  # the tiny model is mostly its position table
    graph = onnx.load(str(int8 / "model.onnx")).graph
    assert operators <= {node.op_type for node in graph.node}
    # Every matrix product with a weight is int8 now; float MatMuls left are attention's (no weights).
    weights = {tensor.name for tensor in graph.initializer}
    assert not [node.name for node in graph.node if node.op_type == "MatMul" and node.input[1] in weights]
    info = json.loads((int8 / "onnx_export.json").read_text())
    assert info["quantize"] == method
    assert f"--quantize {method}" in (int8 / "README.md").read_text()
    clips = [emotion_signal(e, 1.1, seed=i) for i, e in enumerate(EMOTIONS)]
    expected = _matrix(EmotionRecognizer.from_pretrained(exports["whisper"])(clips, sampling_rate=16_000))
    got = _matrix(EmotionRecognizer.from_pretrained(int8)(clips, sampling_rate=16_000))
    assert np.abs(got - expected).max() < 0.1


def test_export_and_predict_from_the_command_line(model_dirs, tmp_path, caplog):
    out = tmp_path / "exported"
    assert main(["export", "--model", str(model_dirs["wav2vec2"]), "--out", str(out)]) == 0
    assert {"model.onnx", "config.json", "preprocessor_config.json", "README.md", "onnx_export.json"} <= {
        p.name for p in out.iterdir()
    }
    clip = write_audio(tmp_path / "clip.wav", emotion_signal("fearful", 1.2))
    result = tmp_path / "p.jsonl"
    assert main(["predict", str(clip), "--model", str(out), "--output", str(result)]) == 0
    record = json.loads(result.read_text())
    expected = EmotionRecognizer.from_pretrained(model_dirs["wav2vec2"])(clip)
    assert record["probabilities"] == pytest.approx(expected.probabilities, abs=FP32_TOLERANCE)
    # An export is not exported again; a dtype does not apply to it.
    assert main(["export", "--model", str(out), "--out", str(tmp_path / "again")]) == 2
    with pytest.raises(ValueError, match="runs as exported"):
        EmotionRecognizer.from_pretrained(out, dtype="bfloat16")


def test_missing_onnxruntime_says_what_to_install(exports, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"pip install 'hf-emotion\[onnx\]'"):
        EmotionRecognizer.from_pretrained(exports["wav2vec2"])
