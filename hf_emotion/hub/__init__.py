"""The model card, the single push to the Hub, and the Space folder."""
