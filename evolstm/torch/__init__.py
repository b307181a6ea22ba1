"""Cells outside evolstm: every cell (topology or graph) as a PyTorch module, and back.

    module = evolstm.torch.to_torch(cell)        # nn.Module, state_dict = cell.arrays()
    y, state = module(x)                         # x (B, T, I) -> y (B, T, O), state (B, L, W)
    cell = evolstm.torch.from_torch(module)      # the Cell again, same genome
    trained = evolstm.torch.train(cell, task, epochs=100, lr=0.01, out="results/run")

PyTorch is an optional extra (``pip install 'evolstm[torch]'``); ``import evolstm`` never
imports it. Without it, importing this package raises `TorchMissing`, one line saying so.
"""

from __future__ import annotations

from evolstm.errors import EvolstmError


class TorchMissing(EvolstmError, ImportError):
    """PyTorch is not installed: the bridge needs the ``torch`` extra."""


try:
    import torch as _torch  # noqa: F401 - the check that PyTorch is there
except ImportError:
    raise TorchMissing(
        "evolstm.torch needs PyTorch, which is not installed: pip install 'evolstm[torch]'"
    ) from None

from evolstm.torch.module import (  # noqa: E402
    CellModule,
    GraphModule,
    TopologyModule,
    from_torch,
    to_torch,
)
from evolstm.torch.train import train  # noqa: E402

__all__ = ["CellModule", "GraphModule", "TopologyModule", "TorchMissing", "from_torch",
           "to_torch", "train"]
