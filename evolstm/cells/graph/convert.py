"""Every point of the topology space as a cell graph (`from_topology`).

Each unit u of the topology (``evolstm.cells.topology``) becomes, per connection:

* input ``linear``: node ``u_x = linear(x)``; ``identity``: ``u_xt = tile(x)``; ``tanh``:
  ``u_xtanh = tanh(tile(x))``; ``none``: nothing;
* recurrence ``linear``: ``u_h = linear(h)``; ``tanh``: ``u_h = linear(tanh(h))``; ``none``:
  nothing (GRU reset-before: the candidate's recurrence reads ``reset_h = r * h`` instead of h);
* ``u_pre``, their sum, plus the peephole ``u_peep = diag(c)`` and the gate recurrence
  ``u_gg = linear(gate_i, gate_f, gate_o)`` (no bias) where the topology has them.

Biases follow the topology's ``bias``. The parameter arrays are listed in the order of the
topology's `Layout` (``weight_ih`` = the ``u_x`` weights in gate order, ``weight_hh`` = the
``u_h`` weights, then the biases, the peepholes, ``weight_gg``), so a genome means the same
cell in both. States: ``h``, then ``c`` (LSTM family), then ``gate_u`` for every gate under
full gate recurrence, as the reference kernel's state ``[h | c | gates]``; the GRU family
has ``h`` only.
"""

from __future__ import annotations

from evolstm.cells.graph.graph import Graph, Node
from evolstm.cells.topology import Topology, Unit
from evolstm.errors import EvolstmError


class _Builder:
    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.nodes: list[Node] = []
        self.shared: dict[tuple[str, tuple[str, ...]], str] = {}

    def add(self, name: str, op: str, *inputs: str, bias: bool = True) -> str:
        self.nodes.append(Node(name, op, tuple(inputs), bias))
        return name

    def once(self, name: str, op: str, *inputs: str) -> str:
        """A parameter-free node shared by every unit that needs it (tanh(h), tile(x))."""
        key = (op, inputs)
        if key not in self.shared:
            self.shared[key] = self.add(name, op, *inputs)
        return self.shared[key]

    def input_part(self, unit: Unit) -> str | None:
        if unit.x_mode == "linear":
            return self.add(f"{unit.name}_x", "linear", "x", bias=self.topology.bias)
        if unit.x_mode == "identity":
            return self.once("x_tile", "tile", "x")
        if unit.x_mode == "tanh":
            return self.once("x_tile_tanh", "tanh", self.once("x_tile", "tile", "x"))
        return None

    def recurrent_part(self, unit: Unit, source: str) -> str | None:
        if unit.h_mode == "none":
            return None
        if unit.h_mode == "tanh":
            source = self.once(f"{source}_tanh", "tanh", source)
        return self.add(f"{unit.name}_h", "linear", source, bias=self.topology.bias)

    def total(self, name: str, *parts: str | None) -> str:
        """The sum of the present parts, as one node (or the part itself if alone)."""
        present = [part for part in parts if part is not None]
        if len(present) == 1:
            return present[0]
        total = present[0]
        for k, part in enumerate(present[1:]):
            last = k == len(present) - 2
            total = self.add(name if last else f"{name}{k}", "add", total, part)
        return total


def from_topology(topology: Topology) -> Graph:
    """The graph of `topology`: same cell, same genome layout (see the module docstring).

    Output units (``readout = "units"``) read the candidate's pre-activation node
    (`Graph.readout_units`). A topology whose graph would break a graph rule (a reset gate
    the candidate does not read, a state no unit reads) raises `EvolstmError`.
    """
    build = _Builder(topology)
    units = {unit.name: unit for unit in topology.units()}
    units_node = ""
    if topology.family == "lstm":
        states, outputs = _lstm(build, topology, units)
    else:
        states, outputs, n_pre = _gru(build, topology, units)
        units_node = n_pre if topology.readout == "units" else ""
    order = _layout_order(topology)
    try:
        return Graph(tuple(states), tuple(build.nodes), tuple(outputs), tuple(order),
                     units_node)
    except EvolstmError as error:
        raise EvolstmError(f"this topology is no valid cell graph: {error}") from None


def _lstm(build: _Builder, topo: Topology, units: dict[str, Unit]) -> tuple[list, list]:
    peep, rec = topo.peephole_gates(), topo.recurrent_gates()
    gate_states = [f"gate_{g}" for g in rec]
    pre: dict[str, str] = {}
    for name, unit in units.items():
        parts = [build.input_part(unit), build.recurrent_part(unit, "h")]
        if name in peep and name != "o":
            parts.append(build.add(f"{name}_peep", "diag", "c"))
        if name in rec:
            parts.append(build.add(f"{name}_gg", "linear", *gate_states, bias=False))
        if name != "o":
            pre[name] = build.total(f"{name}_pre", *parts)
        else:
            o_parts = parts
    gate = {name: build.add(name, "sigmoid", pre[name]) for name in ("i", "f") if name in pre}
    if topo.coupled:
        gate["f"] = build.add("f", "one_minus", gate["i"])
    g = pre["g"] if topo.cell_activation == "identity" else build.add("g", "tanh", pre["g"])
    kept = build.add("f_c", "mul", gate["f"], "c") if "f" in gate else "c"
    written = build.add("i_g", "mul", gate["i"], g) if "i" in gate else g
    c_t = build.add("c_t", "add", kept, written)
    if "o" in units:
        if "o" in peep:
            o_parts.append(build.add("o_peep", "diag", c_t))
        gate["o"] = build.add("o", "sigmoid", build.total("o_pre", *o_parts))
    out = c_t if topo.output_activation == "identity" else build.add("c_tanh", "tanh", c_t)
    h_t = build.add("h_t", "mul", gate["o"], out) if "o" in gate else out
    return ["h", "c", *gate_states], [h_t, c_t, *(gate[g] for g in rec)]


def _gru(build: _Builder, topo: Topology, units: dict[str, Unit]) -> tuple[list, list, str]:
    gate: dict[str, str] = {}
    for name in ("r", "z"):
        if name in units:
            unit = units[name]
            parts = (build.input_part(unit), build.recurrent_part(unit, "h"))
            gate[name] = build.add(name, "sigmoid", build.total(f"{name}_pre", *parts))
    n_unit = units["n"]
    x_part = build.input_part(n_unit)
    if topo.reset_after:
        h_part = build.recurrent_part(n_unit, "h")
        if h_part is not None and "r" in gate:
            h_part = build.add("r_nh", "mul", gate["r"], h_part)
    else:
        source = build.add("reset_h", "mul", gate["r"], "h") if "r" in gate else "h"
        h_part = build.recurrent_part(n_unit, source)
    n_pre = build.total("n_pre", x_part, h_part)
    n = build.add("n", "tanh", n_pre)
    if "z" not in gate:
        h_t = n
    elif topo.update_keeps_state:  # h_t = (1 - z) n + z h
        h_t = build.add("h_t", "blend", gate["z"], "h", n)
    else:  # h_t = z n + (1 - z) h
        h_t = build.add("h_t", "blend", gate["z"], n, "h")
    return ["h"], [h_t], n_pre


def _layout_order(topo: Topology) -> list[str]:
    """The parameter arrays in the order of the topology's `Layout` blocks."""
    units = topo.units()
    with_x = [u.name for u in units if u.x_mode == "linear"]
    with_h = [u.name for u in units if u.h_mode != "none"]
    order = [f"{u}_x_weight" for u in with_x] + [f"{u}_h_weight" for u in with_h]
    if topo.bias:
        order += [f"{u}_x_bias" for u in with_x] + [f"{u}_h_bias" for u in with_h]
    order += [f"{g}_peep_weight" for g in topo.peephole_gates()]
    order += [f"{g}_gg_weight" for g in topo.recurrent_gates()]
    return order
