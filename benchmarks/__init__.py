"""The benchmarks of hf-emotion: modules run from the repository root as ``python -m benchmarks.<name>``.

Measuring (each writes Markdown, and most also JSON, into ``benchmarks/results/``):

- ``run_finetune``: the fine-tuning protocol from a run file (``run``, ``collect``, ``ensemble``, ``spkprobe``);
- ``run_baselines``, ``baseline_features``: the classical baselines and their feature extraction speed;
- ``cross_corpus_matrix``: the recipe trained on each set of corpora, scored on speakers never heard;
- ``cross_corpus_ua``, ``robustness``: trained models on other corpora, and under recording conditions;
- ``speaker_adaptive_ua``, ``speaker_adaptive_clips``, ``voice_calibration``: the speaker-adaptive head;
- ``inference_speed``, ``serve_speed``, ``onnx_parity``, ``pipeline_check``: serving speed and agreement.

Reporting: ``make_report`` renders ``BENCHMARKS.md`` (current results) and ``benchmarks/HISTORY.md`` (superseded
runs and measurements, provenance, notes) from ``benchmarks/results/`` with ``finetune_tables`` and
``matrix_tables``; ``numbers_diff`` checks that a rewrite of the reports kept every number.

What several benchmarks share (argument heads, test sets, run folders, report writing, scoring) is in
``benchmarks.common``.
"""
