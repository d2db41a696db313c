"""Evaluation: classification, calibration, prior shift, robustness, OOD/bias, embeddings."""
