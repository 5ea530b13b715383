"""hf-emotion: speech and song emotion recognition with pretrained speech encoders."""

__version__ = "0.1.0"
