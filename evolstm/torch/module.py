"""`to_torch` and `from_torch`: any cell evolstm simulates as a ``torch.nn.Module``, and back.

A topology cell becomes a `TopologyModule` (`evolstm.torch.topology`: the topology's
equations), a cell graph a `GraphModule` (`evolstm.torch.graph`: an interpreter over its
nodes); both are `CellModule`s (`evolstm.torch.base`): the cell file's arrays as parameters,
``forward(x (B, T, I), state=None) -> (y (B, T, O), state (B, L, W))``, the state of
`Cell.step`.
"""

from __future__ import annotations

import os

from torch import nn

from evolstm.cells.cell import Cell
from evolstm.cells.graph.layout import GraphLayout
from evolstm.cells.layout import Layout
from evolstm.cells.population import Population
from evolstm.errors import EvolstmError
from evolstm.torch.base import DTYPES, CellModule
from evolstm.torch.graph import GraphModule
from evolstm.torch.topology import TopologyModule

__all__ = ["CellModule", "GraphModule", "TopologyModule", "from_torch", "to_torch"]


def to_torch(cell: Cell | str | os.PathLike[str]) -> CellModule:
    """A `Cell` (or the path of a cell file) -> its module, holding its weights: a
    `TopologyModule` for a topology cell, a `GraphModule` for a cell graph.

    The module's dtype is the cell's (float64 or float32); its state_dict is `cell.arrays()`.
    """
    if isinstance(cell, (str, os.PathLike)):
        from evolstm.cells.cellfile import load

        cell = load(cell)
    if not isinstance(cell, Cell):
        raise EvolstmError(f"to_torch: expected a Cell or a cell file, got {type(cell).__name__}")
    population = cell.population
    layout = getattr(population, "layout", None)
    if getattr(population, "graph", None) is not None and isinstance(layout, GraphLayout):
        return GraphModule(population, cell.arrays(), cell.info)
    if getattr(population, "topology", None) is not None and isinstance(layout, Layout):
        return TopologyModule(population, cell.arrays(), cell.info)
    raise EvolstmError(
        f"to_torch: {population!r} is neither a topology cell nor a cell graph; the torch "
        "bridge builds those two (missing: a torch form of this kind of cell)"
    )


def from_torch(module: nn.Module) -> Cell:
    """A `CellModule` (made by `to_torch`, trained or not) -> `Cell` with its current weights.

    The cell's dtype is the module's parameters' (float64 or float32).
    """
    if not isinstance(module, CellModule):
        raise EvolstmError(
            f"from_torch: expected a module made by evolstm.torch.to_torch (CellModule), "
            f"got {type(module).__name__}"
        )
    dtype = str(module.dtype).removeprefix("torch.")
    if dtype not in DTYPES:
        raise EvolstmError(
            f"from_torch: parameters of dtype {dtype}; cells are float64 or float32 "
            "(call module.double() or module.float() first)"
        )
    population = Population(module.spec, module.n_in, module.n_hidden, module.n_out,
                            layers=module.layers, dtype=dtype)
    arrays = {name: value.detach().cpu().numpy() for name, value in module.state_dict().items()}
    try:
        genome = population.flatten(arrays)
    except EvolstmError as error:
        raise EvolstmError(f"from_torch: {error}") from None
    return Cell(population, genome, module.info)
