"""Multi-GPU (or multi-process CPU) training through torchrun and DistributedDataParallel.

Under ``torchrun --nproc_per_node N`` every process trains on its own 1/N of each epoch's order;
only rank 0 logs, checkpoints and saves. Without torchrun this is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist
from torch import nn


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    initialised: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: torch.device) -> Dist:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        backend = "nccl" if device.type == "cuda" else "gloo"
        if not torch_dist.is_initialized():
            torch_dist.init_process_group(backend=backend)
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        return cls(rank=torch_dist.get_rank(), world=torch_dist.get_world_size(), initialised=True)

    def wrap(self, model: nn.Module) -> nn.Module:
        if self.world <= 1:
            return model
        return nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)

    def close(self) -> None:
        if self.initialised and torch_dist.is_initialized():
            torch_dist.barrier()
            torch_dist.destroy_process_group()
