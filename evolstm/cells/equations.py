"""A cell's equations as one block of plain text, exactly as `topology.py` defines them.

``equations(evolstm.cells.resolve("lstm"))`` gives::

    i_t = σ(W_xi x_t + W_hi h_{t-1} + b_i)
    f_t = σ(W_xf x_t + W_hf h_{t-1} + b_f)
    g_t = tanh(W_xg x_t + W_hg h_{t-1} + b_g)
    o_t = σ(W_xo x_t + W_ho h_{t-1} + b_o)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)
    y_t = W_out h_t + b_out

Naming: unit u reads the input through ``W_xu`` and the state through ``W_hu`` (the rows
of the cell file's ``weight_ih`` / ``weight_hh``); ``b_u`` is the sum of its two bias
vectors (``bias_ih + bias_hh``) wherever the kernel adds them, and only the GRU candidate
with the reset after the product keeps them apart (``b_xn``, ``b_hn``), as PyTorch does.
A gate that is absent is written as fixed (``i_t = 1``) and left out of the products.
The equations are those of one layer; a layer above reads the one below's h_t as its x_t.

A cell graph (`evolstm.cells.graph.Graph`) is written node by node instead
(`graph_equations`): one line ``name = op(inputs)`` per node in evaluation order, where
``x`` is x_t and a state's name its previous value, then each state's new value and y_t.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evolstm.cells.topology import Topology, Unit

if TYPE_CHECKING:
    from evolstm.cells.graph import Graph

SIGMA = "σ"
PRODUCT = "⊙"
MINUS = "−"


def equations(topo: Topology) -> str:
    """The equations of `topo`, one per line (Unicode: σ, ⊙, subscripts as W_xi, h_{t-1})."""
    lines = _lstm(topo) if topo.family == "lstm" else _gru(topo)
    lines.append(_readout(topo))
    return "\n".join(lines + _notes(topo))


def _affine(unit: Unit, topo: Topology, *, h_source: str = "h_{t-1}",
            split_bias: bool = False) -> list[str]:
    """The terms of unit `unit`'s input and recurrent parts (without peepholes or FGR)."""
    name, terms = unit.name, []
    if unit.x_mode == "linear":
        terms.append(f"W_x{name} x_t")
    elif unit.x_mode == "identity":
        terms.append("x_t")
    elif unit.x_mode == "tanh":
        terms.append("tanh(x_t)")
    if split_bias and topo.bias and unit.x_mode == "linear":
        terms.append(f"b_x{name}")
    if unit.h_mode == "linear":
        terms.append(f"W_h{name} {h_source if h_source == 'h_{t-1}' else f'({h_source})'}")
    elif unit.h_mode == "tanh":
        terms.append(f"W_h{name} tanh({h_source})")
    if split_bias and topo.bias and unit.h_mode != "none":
        terms.append(f"b_h{name}")
    has_bias = unit.x_mode == "linear" or unit.h_mode != "none"
    if not split_bias and topo.bias and has_bias:
        terms.append(f"b_{name}")
    return terms


def _lstm(topo: Topology) -> list[str]:
    units = {unit.name: unit for unit in topo.units()}
    peep, rec = topo.peephole_gates(), topo.recurrent_gates()
    previous = "[" + "; ".join(f"{gate}_{{t-1}}" for gate in rec) + "]"
    cell_act = "tanh" if topo.cell_activation == "tanh" else ""
    lines: list[str] = []
    for name in ("i", "f", "g", "o"):
        if name not in units:
            if name == "f" and topo.coupled:
                lines.append(f"f_t = 1 {MINUS} i_t   (coupled input and forget gates)")
            elif name != "g":
                gate = {"i": "input", "f": "forget", "o": "output"}[name]
                lines.append(f"{name}_t = 1   (no {gate} gate)")
            continue
        terms = _affine(units[name], topo)
        if name in peep:
            cell = "c_t" if name == "o" else "c_{t-1}"
            terms.append(f"p_{name} {PRODUCT} {cell}")
        if name in rec:
            terms.append(f"R_{name} {previous}")
        body = " + ".join(terms)
        if name == "g":
            lines.append(f"g_t = {cell_act}({body})" if cell_act else f"g_t = {body}")
        else:
            lines.append(f"{name}_t = {SIGMA}({body})")
    keep = f"f_t {PRODUCT} c_{{t-1}}" if "f" in units or topo.coupled else "c_{t-1}"
    write = f"i_t {PRODUCT} g_t" if "i" in units else "g_t"
    lines.append(f"c_t = {keep} + {write}")
    squashed = "tanh(c_t)" if topo.output_activation == "tanh" else "c_t"
    lines.append(f"h_t = o_t {PRODUCT} {squashed}" if "o" in units else f"h_t = {squashed}")
    return lines


def _gru(topo: Topology) -> list[str]:
    units = {unit.name: unit for unit in topo.units()}
    lines: list[str] = []
    for name in ("r", "z"):
        if name in units:
            lines.append(f"{name}_t = {SIGMA}({' + '.join(_affine(units[name], topo))})")
    candidate = units["n"]
    has_reset = "r" in units
    if not has_reset:
        lines.append("r_t = 1   (no reset gate)")
    if not has_reset or candidate.h_mode == "none":
        terms = _affine(candidate, topo)
    elif topo.reset_after:
        x_terms = _affine(Unit("n", candidate.x_mode, "none"), topo, split_bias=True)
        h_terms = _affine(Unit("n", "none", candidate.h_mode), topo, split_bias=True)
        recurrent = " + ".join(h_terms)
        recurrent = f"({recurrent})" if len(h_terms) > 1 else recurrent
        terms = [*x_terms, f"r_t {PRODUCT} {recurrent}"]
    else:
        terms = _affine(candidate, topo, h_source=f"r_t {PRODUCT} h_{{t-1}}")
    body = " + ".join(terms)
    if topo.readout == "units":
        lines.append(f"a_t = {body}")
        lines.append("n_t = tanh(a_t)")
    else:
        lines.append(f"n_t = tanh({body})")
    if has_reset and candidate.h_mode == "none":
        lines[-1] += "   (r_t is unused: n reads no state)"
    if "z" not in units:
        lines.append("h_t = n_t   (no update gate)")
    elif topo.update_keeps_state:
        lines.append(f"h_t = (1 {MINUS} z_t) {PRODUCT} n_t + z_t {PRODUCT} h_{{t-1}}")
    else:
        lines.append(f"h_t = z_t {PRODUCT} n_t + (1 {MINUS} z_t) {PRODUCT} h_{{t-1}}")
    return lines


def _readout(topo: Topology) -> str:
    if topo.readout == "units":
        return "y_t = the last O entries of a_t   (output units: their pre-activation)"
    return "y_t = W_out h_t + b_out"


def _notes(topo: Topology) -> list[str]:
    notes = []
    if topo.recurrent_gates():
        gates = ", ".join(topo.recurrent_gates())
        notes.append(f"gate recurrence: {gates} read the free gates' previous activations, "
                     "zero at t = 0")
    if any(unit.x_mode in ("identity", "tanh") for unit in topo.units()):
        notes.append("x_t without a weight: unit k reads x_t[k mod n_in]")
    if not topo.bias:
        notes.append("no bias vectors")
    return [f"  ({note})" for note in notes]


def graph_equations(graph: Graph) -> str:
    """The nodes of a cell graph, one line ``name = op(inputs)`` each, in evaluation order;
    then the states' new values and the readout. Sources: ``x`` (x_t) and the states by
    name (their values at t-1); a ``linear`` node owns ``{name}_weight`` (and
    ``{name}_bias`` unless marked "no bias"), a ``diag`` node ``{name}_weight``."""
    states = ", ".join(graph.states)
    lines = [f"sources: x = x_t; {states} = the state{'s' if len(graph.states) > 1 else ''}"
             " at t-1"]
    for node in graph.nodes:
        line = f"{node.name} = {node.op}({', '.join(node.inputs)})"
        if node.op == "linear" and not node.bias:
            line += "   (no bias)"
        lines.append(line)
    lines.append("states at t: " + ", ".join(
        f"{state} ← {output}" for state, output in zip(graph.states, graph.outputs,
                                                       strict=True)))
    if graph.readout_units:
        lines.append(f"y_t = the last O entries of {graph.readout_units}   (output units)")
    else:
        lines.append(f"y_t = W_out (new {graph.states[0]}) + b_out")
    if any(node.op == "tile" for node in graph.nodes):
        lines.append("  (tile: unit k reads x_t[k mod n_in])")
    return "\n".join(lines)
