"""Training and evaluation shared by the pose model and the detector: recipes, loops, metrics, plots."""
