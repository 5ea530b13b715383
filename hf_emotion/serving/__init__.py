"""Inference: EmotionRecognizer over scorers (torch, ONNX, mean), windows, VAD segments, speaker-adaptive scoring, ONNX export."""
