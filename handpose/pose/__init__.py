"""The pose stage: encoders + Simple Baselines head, the heatmap codec, the estimator, export and ONNX Runtime."""
