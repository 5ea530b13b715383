#!/usr/bin/env python
"""Fine-tune a pretrained speech encoder for emotion (8 classes) and valence/arousal, speaker-independently.

    accelerate launch --quiet finetune.py configs/whisper-tiny.en-ravdess-speech.json
    accelerate launch --quiet --multi_gpu --num_processes 2 finetune.py configs/whisper-tiny.en-ravdess-speech.json
    python finetune.py --model_name_or_path DIR --dataset ravdess --data_dir DATA --output_dir OUT

The same as ``hf-emotion train``. ``main`` (``hf_emotion/training/finetune.py``) reads: parse the arguments,
load the corpora, run the recipe on each speaker fold (``hf_emotion/training/recipe.py``, its steps in order),
summarise the cross-validation.
"""

import sys

from hf_emotion.errors import exit_status
from hf_emotion.training.finetune import main, parse_args  # noqa: F401  (parse_args: for tools reading run files)

if __name__ == "__main__":
    sys.exit(exit_status(main))
