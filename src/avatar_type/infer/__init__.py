"""Prediction on image files: inputs, preparation in worker processes, output, ONNX export."""
