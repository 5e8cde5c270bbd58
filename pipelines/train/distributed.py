"""Process-group helpers for DDP (``torchrun`` on GPUs or nodes; gloo on CPU for tests).

``torchrun --nproc_per_node=N -m bno.pipelines.cli.train stage2 …`` sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and ``MASTER_ADDR/PORT``; :func:`from_env` joins the
group (NCCL on CUDA, gloo on CPU). The global batch is split evenly over the ranks (see
:class:`bno.pipelines.train.data.KeySampler`) so N processes train on exactly the samples
one process would, and DDP's gradient averaging makes their update the same.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistContext", "from_env", "init_process_group", "shutdown"]


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job."""

    rank: int = 0  # global rank
    world: int = 1  # number of processes
    local_rank: int = 0  # rank on this node (selects the GPU)

    @property
    def main(self) -> bool:
        """True on rank 0 (the one that writes the run directory)."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1 and dist.is_available() and dist.is_initialized()

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def any_true(self, flag: bool) -> bool:
        """True when ``flag`` is true on any rank (all ranks must call it)."""
        if not self.active:
            return flag
        value = torch.tensor([1.0 if flag else 0.0])
        if dist.get_backend() == "nccl":
            value = value.cuda()
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item() > 0)

    def mean(self, number: float) -> float:
        """The mean of ``number`` over ranks."""
        if not self.active:
            return number
        value = torch.tensor([float(number)], dtype=torch.float64)
        if dist.get_backend() == "nccl":
            value = value.cuda()
        dist.all_reduce(value)
        return float(value.item()) / self.world


def init_process_group(rank: int, world: int, backend: str | None = None) -> DistContext:
    """Join a process group of ``world`` processes (needs ``MASTER_ADDR``/``MASTER_PORT``)."""
    if world > 1 and not dist.is_initialized():
        backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        dist.init_process_group(backend, rank=rank, world_size=world)
    local = int(os.environ.get("LOCAL_RANK", rank))
    return DistContext(rank, world, local)


def from_env() -> DistContext:
    """The context ``torchrun`` describes in the environment (single process when absent)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    return init_process_group(int(os.environ["RANK"]), world)


def shutdown(ctx: DistContext) -> None:
    """Leave the process group (no-op for one process)."""
    if ctx.active:
        dist.destroy_process_group()
