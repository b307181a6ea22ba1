"""`Graph`: a recurrent cell as a DAG evaluated once per time step.

Sources are ``x`` (the step's input) and the previous values of the state vectors (``h``
first: the readout and the next layer read it; then ``c`` and any others). Nodes compute
H-vectors from sources and earlier nodes with the ops of `evolstm.cells.graph.nodes`; each
state's new value is a node (``outputs``, one per state, in the states' order).

A graph is valid when (`Graph.__post_init__` checks it, each rule one `EvolstmError`):
names are identifiers and unique, no node is named like a source (nor ``readout``); every op
is known and has its number of inputs; inputs name sources or nodes; the graph is acyclic;
every state is read by some node and written by one output; every node leads to an output
or the readout (no dead nodes); sizes are consistent (only ``linear`` and ``tile`` read the
I-wide ``x``; ``tile`` reads x only); a graph whose outputs are units (no readout
weights) has a ``linear`` or ``diag`` node, or its genome would be empty. At most
`MAX_STATES` states: h, c and the three gate states of an LSTM with full gate recurrence.

The parameters are one weight array per ``linear`` node (``{node}_weight``, (H, sum of its
inputs' widths), columns in the order of its inputs) and its bias (``{node}_bias``, (H,),
unless ``bias`` is false), and one per ``diag`` node (``{node}_weight``, (H,)). ``order``
lists them as they stand in the genome (each layer's arrays, then the readout: see
`evolstm.cells.graph.layout`); empty means node order, each weight before its bias.

The outputs y_t are a linear readout of the top layer's h_t, or, with ``readout_units`` set
to a node, that node's last O items in the top layer (the output units of a fully recurrent
network: y is their pre-activation; no readout weights).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import re
from typing import Any

from evolstm.cells.graph.nodes import OPS
from evolstm.errors import EvolstmError

FORMAT, VERSION = "evolstm.graph", 1
SOURCE_X = "x"
MAX_STATES = 5  # h, c and the three gates of an LSTM with full gate recurrence
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # whole names only: `fullmatch`


@dataclasses.dataclass(frozen=True)
class Node:
    """One node: ``Node("i", "sigmoid", ("i_pre",))``; ``bias`` concerns ``linear`` only."""

    name: str
    op: str
    inputs: tuple[str, ...]
    bias: bool = True

    def params(self) -> tuple[str, ...]:
        """Names of this node's parameter arrays (without the layer suffix)."""
        if self.op == "linear":
            return (f"{self.name}_weight", f"{self.name}_bias") if self.bias else (
                f"{self.name}_weight",)
        if self.op == "diag":
            return (f"{self.name}_weight",)
        return ()


@dataclasses.dataclass(frozen=True)
class Graph:
    """A valid cell graph (see the module docstring); JSON form through `to_dict`."""

    states: tuple[str, ...]
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]
    order: tuple[str, ...] = ()
    readout_units: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "states", tuple(self.states))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(self, "order", tuple(self.order))
        nodes = tuple(
            n if isinstance(n, Node) else Node(n[0], n[1], tuple(n[2])) for n in self.nodes
        )
        object.__setattr__(self, "nodes", nodes)
        self._validate()
        # Keep the nodes in a topological order (stable: the given order where it is one).
        object.__setattr__(self, "nodes", _topological(self.nodes, set(self.sources)))

    # -- structure ----------------------------------------------------------------------
    @property
    def sources(self) -> tuple[str, ...]:
        """``x`` then the states (their previous values)."""
        return (SOURCE_X, *self.states)

    @property
    def by_name(self) -> dict[str, Node]:
        return {node.name: node for node in self.nodes}

    def params(self) -> tuple[str, ...]:
        """Parameter array names (no layer suffix) in genome order."""
        return self.order or tuple(p for node in self.nodes for p in node.params())

    def param_shape(self, name: str, n_in: int, n_hidden: int) -> tuple[int, ...]:
        """Shape of parameter array `name` in a layer whose x is `n_in` wide."""
        node_name, kind = name.rsplit("_", 1)
        node = self.by_name[node_name]
        if node.op == "linear" and kind == "weight":
            return (n_hidden, sum(n_in if s == SOURCE_X else n_hidden for s in node.inputs))
        return (n_hidden,)

    # -- JSON form ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form: ``{"format", "version", "states", "nodes", "outputs"[, "order"]
        [, "readout": {"units": node}]}``; a node is ``{"name", "op", "inputs"}`` (+ ``"bias":
        false`` for a bias-free linear)."""
        nodes = []
        for node in self.nodes:
            entry: dict[str, Any] = {"name": node.name, "op": node.op,
                                     "inputs": list(node.inputs)}
            if node.op == "linear" and not node.bias:
                entry["bias"] = False
            nodes.append(entry)
        data: dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "states": list(self.states), "nodes": nodes,
            "outputs": dict(zip(self.states, self.outputs, strict=True)),
        }
        if self.order:
            data["order"] = list(self.order)
        if self.readout_units:
            data["readout"] = {"units": self.readout_units}
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str = "graph") -> Graph:
        """Build from `to_dict`'s form; anything malformed raises one `EvolstmError`."""
        if not isinstance(data, dict):
            raise EvolstmError(f"{where}: expected a table with states, nodes and outputs")
        unknown = [key for key in data if key not in {"format", "version", "states", "nodes",
                                                      "outputs", "order", "readout"}]
        if unknown:
            raise EvolstmError(f"{_path(where, unknown[0])}: unknown graph field")
        if data.get("format", FORMAT) != FORMAT or data.get("version", VERSION) != VERSION:
            raise EvolstmError(
                f"{where}: format {data.get('format')!r} version {data.get('version')!r} is not "
                f"{FORMAT!r} version {VERSION}"
            )
        states = data.get("states")
        if not isinstance(states, list) or not all(isinstance(s, str) for s in states):
            raise EvolstmError(f"{where}.states: expected a list of state names")
        twice = [s for k, s in enumerate(states) if s in states[:k]]
        if twice:
            raise EvolstmError(f"{where}.states: {twice[0]!r} is listed twice")
        outputs = data.get("outputs")
        if not isinstance(outputs, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in outputs.items()
        ):
            raise EvolstmError(f"{where}.outputs: expected a table of state = node")
        if sorted(outputs) != sorted(states):
            missing = sorted(set(states) - set(outputs)) or sorted(set(outputs) - set(states))
            raise EvolstmError(f"{where}.outputs: states and outputs differ at {missing[0]!r}")
        raw_nodes = data.get("nodes")
        if not isinstance(raw_nodes, list):
            raise EvolstmError(f"{where}.nodes: expected a list of nodes")
        nodes = []
        for k, entry in enumerate(raw_nodes):
            at = f"{where}.nodes[{k}]"
            if not isinstance(entry, dict):
                raise EvolstmError(f"{at}: expected a table with name, op and inputs")
            extra = [key for key in entry if key not in {"name", "op", "inputs", "bias"}]
            if extra:
                raise EvolstmError(f"{_path(at, extra[0])}: unknown node field")
            name, op, inputs = entry.get("name"), entry.get("op"), entry.get("inputs")
            if not isinstance(name, str) or not isinstance(op, str):
                raise EvolstmError(f"{at}: name and op must be strings")
            if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
                raise EvolstmError(f"{at}.inputs: expected a list of names")
            bias = entry.get("bias", True)
            if not isinstance(bias, bool) or ("bias" in entry and op != "linear"):
                raise EvolstmError(f"{at}.bias: a boolean, for linear nodes only")
            nodes.append(Node(name, op, tuple(inputs), bias))
        readout = data.get("readout", "linear")
        if readout != "linear" and not (
            isinstance(readout, dict) and list(readout) == ["units"]
            and isinstance(readout["units"], str)
        ):
            raise EvolstmError(f'{where}.readout: "linear" or {{"units": node}}')
        units = "" if readout == "linear" else readout["units"]
        order = data.get("order", [])
        if not isinstance(order, list) or not all(isinstance(p, str) for p in order):
            raise EvolstmError(f"{where}.order: expected a list of parameter names")
        try:
            return cls(tuple(states), tuple(nodes), tuple(outputs[s] for s in states),
                       tuple(order), units)
        except EvolstmError as error:
            raise EvolstmError(f"{where}: {error}") from None

    # -- identity -------------------------------------------------------------------------
    def key(self) -> str:
        """A canonical string: equal for graphs that compute the same thing the same way.

        Node names, the order of the nodes, the names of the states after h and the order
        of their listing, and the order of the operands of ``add``, ``mul`` and of the
        inputs of ``linear`` (whose weights are free) do not change it; the op of every
        node, its wiring, which nodes are shared and the genome order of its arrays aside,
        everything does. Nodes are ranked by a hash of what they compute refined by how
        they are used (Weisfeiler-Lehman rounds), then the graph is written out from the
        outputs in that rank order; the key is the least such writing over the orders of
        the states after h.
        """
        best = None
        for rest in itertools.permutations(range(1, len(self.states))):
            text = self._writing((0, *rest))
            best = text if best is None or text < best else best
        return hashlib.sha256(best.encode()).hexdigest()[:32]

    def _writing(self, state_order: tuple[int, ...]) -> str:
        labels = {SOURCE_X: "x"}
        for rank, index in enumerate(state_order):
            labels[self.states[index]] = f"s{rank}"
        by_name = self.by_name
        # Rank nodes: bottom-up hashes of what they compute, then rounds adding their uses.
        digest: dict[str, str] = dict(labels)
        for node in self.nodes:
            parts = [digest[i] for i in node.inputs]
            if OPS[node.op].commutative:
                parts.sort()
            digest[node.name] = _hash(node.op, str(node.bias), *parts)
        outputs_of: dict[str, list[str]] = {}
        for rank, index in enumerate(state_order):
            outputs_of.setdefault(self.outputs[index], []).append(f"out{rank}")
        if self.readout_units:
            outputs_of.setdefault(self.readout_units, []).append("readout")
        for _ in range(3):
            uses: dict[str, list[str]] = {name: list(outputs_of.get(name, []))
                                          for name in by_name}
            for node in self.nodes:
                commutative = OPS[node.op].commutative
                for position, i in enumerate(node.inputs):
                    if i in uses:
                        slot = "*" if commutative else str(position)
                        uses[i].append(digest[node.name] + slot)
            refined = dict(labels)
            for name in by_name:
                refined[name] = _hash(digest[name], *sorted(uses[name]))
            digest = refined
        # Write the graph out depth first from the outputs, numbering nodes when first met.
        number: dict[str, int] = {}
        lines: list[str] = []

        def visit(name: str) -> str:
            if name in labels:
                return labels[name]
            if name not in number:
                node = by_name[name]
                inputs = list(node.inputs)
                if OPS[node.op].commutative:
                    inputs.sort(key=lambda i: digest[i])
                refs = [visit(i) for i in inputs]
                number[name] = len(number)
                bias = "" if node.op != "linear" or node.bias else "/nobias"
                lines.append(f"n{number[name]}={node.op}{bias}({','.join(refs)})")
            return f"n{number[name]}"

        outs = [visit(self.outputs[index]) for index in state_order]
        units = visit(self.readout_units) if self.readout_units else "linear"
        return ";".join(lines) + "|" + ",".join(outs) + "|" + units

    # -- validation -----------------------------------------------------------------------
    def _validate(self) -> None:
        if not 1 <= len(self.states) <= MAX_STATES:
            raise EvolstmError(f"states: 1 to {MAX_STATES} state vectors, got {len(self.states)}")
        if len(self.outputs) != len(self.states):
            raise EvolstmError(
                f"outputs: one per state ({len(self.states)}), got {len(self.outputs)}"
            )
        seen: set[str] = set()
        for name in (*self.sources, *(node.name for node in self.nodes)):
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise EvolstmError(f"{name!r} is not a name (letters, digits, underscores)")
            if name in seen:
                raise EvolstmError(f"name {name!r} is used twice (sources: x and the states)")
            if name == "readout":  # its arrays would be named like the readout's
                raise EvolstmError("'readout' is reserved (readout_weight, readout_bias)")
            seen.add(name)
        known = set(seen)
        for node in self.nodes:
            op = OPS.get(node.op)
            if op is None:
                raise EvolstmError(
                    f"node {node.name}: unknown op {node.op!r}; known: {', '.join(OPS)}"
                )
            if not op.min_inputs <= len(node.inputs) <= op.max_inputs:
                count = (str(op.min_inputs) if op.min_inputs == op.max_inputs
                         else f"{op.min_inputs}-{op.max_inputs}")
                plural = "" if count == "1" else "s"
                raise EvolstmError(f"node {node.name}: {node.op} takes {count} input{plural}, "
                                   f"got {len(node.inputs)}")
            for i in node.inputs:
                if i not in known:
                    raise EvolstmError(f"node {node.name}: input {i!r} is no source or node")
            if node.op == "linear" and len(set(node.inputs)) != len(node.inputs):
                raise EvolstmError(f"node {node.name}: linear reads each input once")
            if node.op == "tile" and node.inputs != (SOURCE_X,):
                raise EvolstmError(f"node {node.name}: tile reads x only")
            if SOURCE_X in node.inputs and not op.reads_x:
                raise EvolstmError(
                    f"node {node.name}: {node.op} reads H-vectors; x is n_in wide "
                    "(read it through linear or tile)"
                )
        node_names = {node.name for node in self.nodes}
        for state, output in zip(self.states, self.outputs, strict=True):
            if output not in node_names:
                raise EvolstmError(f"outputs.{state}: {output!r} is not a node")
        _topological(self.nodes, set(self.sources))  # raises on a cycle
        read = {i for node in self.nodes for i in node.inputs}
        for state in self.states:
            if state not in read:
                raise EvolstmError(f"state {state}: never read (every state is read)")
        live: set[str] = set()
        if self.readout_units and self.readout_units not in node_names:
            raise EvolstmError(f"readout: units {self.readout_units!r} is not a node")
        stack = [*self.outputs, *([self.readout_units] if self.readout_units else [])]
        by_name = self.by_name
        while stack:
            name = stack.pop()
            if name in live or name not in by_name:
                continue
            live.add(name)
            stack.extend(by_name[name].inputs)
        dead = [node.name for node in self.nodes if node.name not in live]
        if dead:
            raise EvolstmError(f"node {dead[0]}: dead (leads to no output or readout)")
        if self.readout_units and not any(OPS[node.op].weighted for node in self.nodes):
            raise EvolstmError(
                "readout: output units need a linear or diag node (without one, and without "
                "readout weights, the genome is empty)"
            )
        natural = tuple(p for node in self.nodes for p in node.params())
        if self.order and sorted(self.order) != sorted(natural):
            wrong = sorted(set(self.order) ^ set(natural)) or ["(a name twice)"]
            raise EvolstmError(
                f"order: must list every parameter array once; differs at {wrong[0]!r}"
            )


def _path(where: str, key: Any) -> str:
    """`where`'s field `key`, as a config path where the key is a name (``graph.nodez``),
    else by its repr (``graph[0]``, ``graph['a\\n']``: one line, whatever the key)."""
    return f"{where}.{key}" if isinstance(key, str) and _NAME.fullmatch(key) else (
        f"{where}[{key!r}]")


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _topological(nodes: tuple[Node, ...], sources: set[str]) -> tuple[Node, ...]:
    """`nodes` in an order where every input comes first, the given order wherever it is
    one; a cycle is an error naming a node on it."""
    done = set(sources)
    left = list(nodes)
    ordered: list[Node] = []
    while left:
        ready = next((k for k, node in enumerate(left) if all(i in done for i in node.inputs)),
                     None)
        if ready is None:
            by_name = {node.name: node for node in left}
            path: list[str] = [left[0].name]
            while True:  # follow unfinished inputs until a node comes back
                step = next(i for i in by_name[path[-1]].inputs if i in by_name)
                if step in path:
                    cycle = path[path.index(step):] + [step]
                    raise EvolstmError(f"cycle: {' -> '.join(reversed(cycle))}")
                path.append(step)
        node = left.pop(ready)
        ordered.append(node)
        done.add(node.name)
    return tuple(ordered)
