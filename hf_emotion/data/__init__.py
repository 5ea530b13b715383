"""Audio decoding, the unified labels and valence/arousal targets, speaker splits, the decode cache, recording conditions and augmentation."""
