"""torchrun data parallelism: process-group setup and small collectives (gloo on CPU, nccl on GPU).

    torchrun --nproc_per_node 2 -m aptk.train.cli ...   # every rank runs the same run()

Each rank reads its own slice (rows rank*B/W .. (rank+1)*B/W) of the same global micro-batch of
the sequential token stream, so the global batch and the data order equal a 1-process run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    initialized_here: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available")
    return torch.device(name)


def setup(device: str = "auto") -> DistEnv:
    """Join the torchrun process group if WORLD_SIZE > 1 (else a 1-process env)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local)
    if world <= 1:
        return DistEnv(device=dev)
    here = False
    if not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend=backend)
        here = True
    return DistEnv(rank=rank, world_size=world, local_rank=local, device=dev, initialized_here=here)


def mean(x: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """Average a tensor over ranks (identity in a 1-process run)."""
    if env.enabled:
        x = x.clone()
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
        x /= env.world_size
    return x


def barrier(env: DistEnv) -> None:
    if env.enabled:
        dist.barrier()


def teardown(env: DistEnv) -> None:
    if env.enabled and env.initialized_here and dist.is_initialized():
        dist.destroy_process_group()
