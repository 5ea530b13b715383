"""transformers.pipeline() on a saved emotion model, against EmotionRecognizer and the stock pipeline.

Real RAVDESS speech clips (every 15th file of actors 1-4) through the real whisper-tiny.en encoder (built from
its PyPI wheel, as `hf-emotion backbone build whisper-tiny.en` does) with random heads, spread x50 so that labels
differ: what the pipeline saved with the model returns, and what transformers' stock AudioClassificationPipeline
(Whisper input padded to 30 s, pooled without a mask) would return for the same model.

    python -m benchmarks.pipeline_check [RAVDESS_SPEECH_DIR]
"""

import glob
import sys
import tempfile
import time

import numpy as np
import soundfile as sf
import torch
from transformers import AutoFeatureExtractor, pipeline
from transformers.pipelines.audio_classification import AudioClassificationPipeline

from hf_emotion import EMOTIONS, EmotionModel, EmotionRecognizer, build_backbone


def saved_model(folder: str) -> str:
    torch.manual_seed(0)
    backbone = build_backbone("whisper-tiny.en")
    model = EmotionModel.from_encoder_pretrained(backbone, id2label=dict(enumerate(EMOTIONS)))
    with torch.no_grad():
        model.classifier.weight.mul_(50.0)
    model.save_pretrained(folder)
    AutoFeatureExtractor.from_pretrained(backbone).save_pretrained(folder)
    return folder


def main(data: str) -> None:
    folder = saved_model(tempfile.mkdtemp())
    recognizer = EmotionRecognizer.from_pretrained(folder)
    ours = pipeline(model=folder, trust_remote_code=True)
    stock = pipeline(
        "audio-classification",
        model=folder,
        trust_remote_code=True,
        pipeline_class=AudioClassificationPipeline,
        top_k=None,
    )
    runs = {
        "emotion pipeline": lambda audio, rate: ours(audio, sampling_rate=rate, details=True)[
            "probabilities"
        ],
        "stock pipeline": lambda audio, rate: {
            e["label"]: e["score"] for e in stock({"array": audio, "sampling_rate": rate})
        },
    }
    clips = sorted(glob.glob(f"{data}/Actor_0[1-4]/*.*"))[::15]
    gaps = {"emotion pipeline": [], "stock pipeline": []}
    seconds = {"emotion pipeline": 0.0, "stock pipeline": 0.0}
    differing_labels = 0
    for path in clips:
        audio, rate = sf.read(path, dtype="float32")
        want = recognizer(audio, sampling_rate=rate).probabilities
        answers = {}
        for name, run in runs.items():
            began = time.perf_counter()
            answers[name] = run(audio, rate)
            seconds[name] += time.perf_counter() - began
            gaps[name].append(max(abs(answers[name][label] - p) for label, p in want.items()))
        stock_answer = answers["stock pipeline"]
        differing_labels += max(stock_answer, key=stock_answer.get) != max(want, key=want.get)
    print(f"{len(clips)} clips of {data}")
    print("| path | max abs. probability difference to EmotionRecognizer | median | s/clip |")
    print("|---|---|---|---|")
    for name, values in gaps.items():
        print(f"| {name} | {max(values):.2e} | {np.median(values):.2e} | {seconds[name] / len(clips):.3f} |")
    print(
        f"top label of the stock pipeline differs from EmotionRecognizer's on {differing_labels} of {len(clips)}"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/ravdess-speech")
