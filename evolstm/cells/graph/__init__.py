"""Cell graphs: any recurrent cell as a DAG over x and 1-5 state vectors, one interpreter.

`graph.Graph` (validity, JSON form, canonical key), `nodes.OPS` (the ops), `convert` (every
topology as a graph), `named` (the NAS cell; `cell_graph`), `layout.GraphLayout` (the
genome), `reference.evaluate` (a NumPy evaluator), `program` and `kernel` (the Numba
interpreter that runs every graph without compiling per graph).

The package is callable: ``evolstm.cells.graph("lstm")`` is ``cell_graph("lstm")``, and its
modules stay importable as ``evolstm.cells.graph.<module>`` (a function of that name would
hide them from ``import evolstm.cells.graph.<module> as m``).
"""

import sys
import types
from typing import Any

from evolstm.cells.graph.graph import Graph, Node
from evolstm.cells.graph.named import cell_graph, names

__all__ = ["Graph", "Node", "cell_graph", "names"]


class _CallablePackage(types.ModuleType):
    def __call__(self, spec: Any) -> Graph:
        """A named cell, a topology (dict or `Topology`), a graph dict or a `Graph` ->
        its `Graph` (`named.cell_graph`)."""
        return cell_graph(spec)


sys.modules[__name__].__class__ = _CallablePackage
