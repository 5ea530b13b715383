"""What several benchmarks share, one idea a module.

- ``paths``: the repository root and the results folder;
- ``arguments``: argument heads (``--model name=folder``, ``--test``, scoring options, ``--output``) and the
  ``--`` convention that passes the rest of a command line to finetune.py;
- ``test_sets``: a corpus named on the command line (``name=dataset:folder[:splits.json]``) and its clips;
- ``runs``: reading run folders: finished folds, their numbers, the speakers a model heard, saved predictions;
- ``scoring``: scoring trained models on clips of speakers they never heard;
- ``encoding``: a model's pooled hidden states and its own classifier on them;
- ``reports``: the date, command line and machine a result records, and writing Markdown with JSON beside it;
- ``signals``: synthetic speech-like audio and best-of timing for the speed benchmarks.
"""
