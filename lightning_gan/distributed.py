"""A DDP strategy for GANs: one flat gradient all-reduce per optimizer step, no DDP wrapper.

Lightning's ``DDPStrategy`` wraps the whole LightningModule (G and D together) in one
``DistributedDataParallel``. In the alternating step each phase leaves one network without
gradients, so plain DDP fails ("parameters that were not used in producing the loss") and
``find_unused_parameters=True`` pays a graph traversal every backward and an all-reduce of D's
gradients during G's step that nobody uses (Lightning-AI/pytorch-lightning #20328, #20866).
Gradient penalties (double backward) and unrolled discriminators (``torch.func``) fit DDP's
reducer poorly too.

This strategy keeps Lightning's process launch, samplers, collectives and checkpointing, but does
not wrap the module. Parameters and buffers are broadcast from rank 0 once; after each backward
the :class:`~lightning_gan.GAN` step averages the gradients of the network about to be stepped in
one flattened all-reduce, as NVlabs' stylegan2-ada-pytorch training loop does. Buffers (batch
norm statistics) are averaged at each step of their network so ranks evaluate the same network.
Each rank's torch seed is offset by its rank, so ranks sample different latents.
"""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist
from lightning.pytorch.overrides.distributed import _sync_module_states
from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry
from torch import nn

#: Transport errors of a collective whose peer is gone (gloo, NCCL, the TCP store).
_PEER_LOST = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "Timed out")


class GANDDPStrategy(DDPStrategy):
    """Data-parallel GAN training without a DDP wrapper (see module docstring for why)."""

    strategy_name = "gan_ddp"
    #: ``GAN.setup`` offsets the seed for other strategies; this one does it at process start.
    offsets_seed_by_rank = True

    def setup_distributed(self) -> None:
        super().setup_distributed()
        # Lightning seeds every rank alike; offset the torch seed by rank so that ranks draw
        # different latents (same latents everywhere would waste the extra fake samples).
        torch.manual_seed(torch.initial_seed() + self.global_rank)

    def configure_ddp(self) -> None:
        # Same initial weights on every rank; the step keeps them equal from then on.
        _sync_module_states(self.model)

    def all_reduce_gradients(self, network: nn.Module) -> None:
        """Average ``network``'s gradients (and float buffers) over ranks in one collective."""
        world_size = self.world_size
        if world_size == 1 or not dist.is_initialized():
            return
        grads = [p.grad for p in network.parameters() if p.grad is not None]
        buffers = [b for b in network.buffers() if b.is_floating_point()]
        tensors = grads + buffers
        if not tensors:
            return
        flat = torch.cat([t.reshape(-1) for t in tensors])
        dist.all_reduce(flat)
        flat.div_(world_size)
        offset = 0
        for t in tensors:
            t.copy_(flat[offset : offset + t.numel()].view_as(t))
            offset += t.numel()

    def on_exception(self, exception: BaseException) -> None:
        """Say which rank stopped when a collective fails because a peer died.

        A rank that dies or raises closes its gloo/NCCL connections, so the others fail at
        their next collective within seconds (measured on CPU gloo: 1-5 s after the death),
        with a transport error that names an address, not a rank. This names the rank(s).
        """
        super().on_exception(exception)
        text = str(exception)
        if not any(sign in text for sign in _PEER_LOST):
            return
        others = [r for r in range(self.world_size) if r != self.global_rank]
        who = f"rank {others[0]}" if len(others) == 1 else f"one of ranks {others}"
        message = (
            f"[rank {self.global_rank}] {who} of this {self.world_size}-process job stopped "
            "(it died, raised or timed out; its own error is in its output), so this rank "
            "stopped too instead of waiting. Complete checkpoints are untouched: resume with "
            "`--ckpt_path last`."
        )
        print(message, file=sys.stderr, flush=True)
        exception.args = (f"{message}\n{text}", *exception.args[1:])

    @classmethod
    def register_strategies(cls, strategy_registry: dict) -> None:
        for name, start_method in (("gan_ddp", "popen"), ("gan_ddp_spawn", "spawn")):
            if name not in strategy_registry:
                strategy_registry.register(
                    name,
                    cls,
                    description=f"GAN DDP (flat gradient all-reduce), start_method={start_method}",
                    start_method=start_method,
                )


GANDDPStrategy.register_strategies(StrategyRegistry)
