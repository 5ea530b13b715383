"""The model: its configuration, modeling and pipeline (saved beside every model as remote code), its inputs, and the files of a model folder."""
