"""`GraphLayout`: where every weight of a stacked cell graph stands in the flat genome.

For every layer k, the graph's parameter arrays in its genome order (`Graph.params`), each
named ``{array}_l{k}`` (``i_x_weight_l0``: node ``i_x``'s weight in layer 0) and laid out in
C order; then ``readout_weight`` (O, H) and ``readout_bias`` (O,) (none where the graph's
outputs are units: `Graph.readout_units`). Layer 0's x is n_in wide,
the others' x is the layer below's h (H wide). The graph of a topology lists its arrays so
that this is exactly the topology's `Layout` (`evolstm.cells.graph.convert`).
"""

from __future__ import annotations

import dataclasses
from functools import cached_property

from evolstm.cells.graph.graph import Graph
from evolstm.cells.layout import Block, BlockLayout


@dataclasses.dataclass(frozen=True)
class GraphLayout(BlockLayout):
    """Sizes and block positions of a stacked cell graph with a linear readout."""

    graph: Graph
    n_in: int
    n_hidden: int
    n_out: int
    layers: int = 1

    def __post_init__(self) -> None:
        self.check_sizes(bool(self.graph.readout_units))

    @cached_property
    def blocks(self) -> tuple[Block, ...]:
        """Every array of the genome, in genome order."""
        blocks: list[Block] = []
        offset = 0
        for k in range(self.layers):
            width = self.n_in if k == 0 else self.n_hidden
            for name in self.graph.params():
                shape = self.graph.param_shape(name, width, self.n_hidden)
                blocks.append(Block(f"{name}_l{k}", shape, offset))
                offset += blocks[-1].size
        readout = () if self.graph.readout_units else (
            ("readout_weight", (self.n_out, self.n_hidden)), ("readout_bias", (self.n_out,)))
        for name, shape in readout:
            blocks.append(Block(name, shape, offset))
            offset += blocks[-1].size
        return tuple(blocks)

    @cached_property
    def program(self):  # -> evolstm.cells.graph.program.Program
        """The instruction tables the interpreter kernel reads."""
        from evolstm.cells.graph.program import compile_program

        return compile_program(self)

    @property
    def state_width(self) -> int:
        """W: per-layer state length, one H-vector per state (h first)."""
        return len(self.graph.states) * self.n_hidden
