"""Cell graphs: any recurrent cell as a DAG over x and 1-5 state vectors, one interpreter.

`graph.Graph` (validity, JSON form, canonical key), `nodes.OPS` (the ops), `convert` (every
topology as a graph), `named` (the NAS cell; `cell_graph`), `layout.GraphLayout` (the
genome), `reference.evaluate` (a NumPy evaluator), `program` and `kernel` (the Numba
interpreter that runs every graph without compiling per graph).
"""

from evolstm.cells.graph.graph import Graph, Node
from evolstm.cells.graph.named import cell_graph, names

__all__ = ["Graph", "Node", "cell_graph", "names"]
