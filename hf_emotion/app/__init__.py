"""The Gradio demo and its calibrate-with-your-voice section."""
