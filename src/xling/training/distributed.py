"""Process-group set-up for runs started by `torchrun` (DDP); a plain `python`/`xling` run is world size 1."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: its rank, the world size and the device it trains on."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched_world_size() -> int:
    """Return the number of processes torchrun started (its WORLD_SIZE; 1 without torchrun), also before
    the process group is joined."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Return whether this is the process that writes files: rank 0 under torchrun (its RANK, also before the
    process group is joined), or the only one."""
    return int(os.environ.get("RANK", "0")) == 0


def init_distributed(device: str = "auto") -> DistInfo:
    """Return this process's DistInfo, joining the process group that torchrun's env variables describe.

    NCCL on GPUs, gloo on CPUs. `device` is "auto", "cpu", "cuda" or "cuda:N": one process takes GPU N
    (cuda: its LOCAL_RANK, 0), while under torchrun each process takes the GPU of its LOCAL_RANK.
    """
    world = launched_world_size()
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    if use_cuda:
        # cuda:1 alone trained on GPU 0 without a word; under torchrun the ranks share out the GPUs
        index = int(device.split(":", 1)[1]) if ":" in device and world == 1 else local_rank
        torch.cuda.set_device(index)
        dev = torch.device("cuda", index)
    else:
        dev = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(rank, world, local_rank, dev)


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """Return the elementwise sum of `values` over all processes (the input itself when not distributed)."""
    if dist.is_initialized():
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def all_reduce_max(values: torch.Tensor) -> torch.Tensor:
    """Return the elementwise maximum of `values` over all processes (the input itself when not distributed)."""
    if dist.is_initialized():
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return values


def barrier() -> None:
    """Wait for every process (no-op when not distributed)."""
    if dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_initialized():
        dist.destroy_process_group()
