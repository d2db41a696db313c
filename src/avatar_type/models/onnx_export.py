"""ONNX export with a dynamic batch axis, and an ONNX Runtime CPU session to run it.

torch.onnx's dynamo exporter is used: it handles every model here, timm's ViTs included, where
the TorchScript one cannot export the adaptive average pooling of simple_cnn and mid_cnn (an
output size that does not divide the input size).
"""

from __future__ import annotations

from pathlib import Path

import onnxruntime
import torch
from torch import nn

INPUT, OUTPUT = "input", "logits"


def export_onnx(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    """Write ``model`` (in eval mode) to ``path`` as one file, traced on ``example``, whose
    axis 0 (the batch) stays dynamic."""
    torch.onnx.export(
        model.eval(),
        (example,),
        str(path),
        dynamo=True,
        input_names=[INPUT],
        output_names=[OUTPUT],
        dynamic_shapes=({0: torch.export.Dim("batch")},),
        external_data=False,
        verbose=False,
    )


def cpu_session(path: Path, threads: int | None = None) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session on the CPU, with ``threads`` intra-op threads (None: its default)."""
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
