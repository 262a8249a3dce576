"""Data: datasets, transforms, backgrounds, test videos, the teacher labeller (label/) and the renderer (synth/)."""
