"""A cell graph compiled to the small integer tables the interpreter kernel reads.

Compiling rewrites the graph into fewer, wider instructions without changing what it
computes (up to rounding: sums are regrouped):

* an ``add`` of two ``linear`` nodes that nothing else reads, over different inputs, is one
  linear over both inputs with the sum of their biases (``W_x x + b_x + W_h h + b_h``: the
  way PyTorch's LSTM is usually computed), repeatedly, as long as at most two biases meet;
* linears over the same set of inputs are one instruction writing consecutive slots (the
  four gates of an LSTM: one product over [x; h] with 4·H rows).

Values live in numbered *slots* of H items: ``0 … S-1`` the states' previous values (h
first), then every instruction's results. The x of a layer is apart (``X``), n_in wide in
the first layer and H above. ``code`` (n_instr, C_NFIELDS) holds per instruction its opcode
(`nodes.Op.code`), first destination slot, operand count, rows (in H-blocks: > 1 for a group
of linears) and operands (slots, `X` or -1; up to `MAX_OPERANDS` for a folded linear).
``offsets`` (L, n_instr, 2) gives per layer the positions in the *weight table* of its
weights (W^T, input-major: column c of a group of k linears at ``woff + c·k·H``, the members'
H rows side by side) and bias (-1: none); every block before the readout is whole rows of H,
which the kernel reads as a (rows, H·V) array. ``gather`` (n_table, 2) says
which genome entries make each table entry (their sum: a folded bias is two; -1: none), and
``readout`` where the readout's W^T (H, O) and bias stand in the table, or (-1, slot): the
outputs are the last O items of that slot (output units). The kernel fills the
table from each genome (block) once, then runs the steps. A graph changes these tables
only, never the kernel.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from evolstm.cells import fast_kernels
from evolstm.cells.graph import kernel
from evolstm.cells.graph.graph import SOURCE_X
from evolstm.cells.graph.layout import GraphLayout
from evolstm.cells.graph.nodes import OPS

C_OP, C_DST, C_N, C_ROWS, C_A, C_B, C_C = range(7)
MAX_OPERANDS = 6  # x and five states: a folded linear may read them all
C_NFIELDS = C_A + MAX_OPERANDS
X = -2  # operand code of the layer's input x


@dataclasses.dataclass(frozen=True)
class Program:
    """The tables of one graph and layout (`compile_program`)."""

    code: np.ndarray  # (n_instr, C_NFIELDS) int64
    offsets: np.ndarray  # (L, n_instr, 2) int64: weight, bias offsets in the table per layer
    gather: np.ndarray  # (n_table, 2) int64: genome entries summed into each table entry
    outputs: np.ndarray  # (S,) int64: slot of every state's new value
    in_width: np.ndarray  # (L,) int64: width of x in each layer
    readout: np.ndarray  # (2,) int64: table offsets of the readout's W^T and bias
    n_slots: int


@dataclasses.dataclass
class _Linear:
    """A linear after folding: per input (operand, weight array, that array's inputs), and
    its bias arrays (0-2)."""

    columns: list[tuple[str, str, tuple[str, ...]]]
    biases: list[str]


def compile_program(layout: GraphLayout) -> Program:
    """The instruction tables of `layout`'s graph (see the module docstring)."""
    graph = layout.graph
    uses: dict[str, int] = {}
    for node in graph.nodes:
        for name in node.inputs:
            uses[name] = uses.get(name, 0) + 1
    for name in (*graph.outputs, *([graph.readout_units] if graph.readout_units else [])):
        uses[name] = uses.get(name, 0) + 1
    # 1. Fold adds of single-use linears into linears.
    linear: dict[str, _Linear] = {}
    folded: set[str] = set()
    for node in graph.nodes:
        if node.op == "linear":
            linear[node.name] = _Linear(
                [(name, f"{node.name}_weight", node.inputs) for name in node.inputs],
                [f"{node.name}_bias"] if node.bias else [])
        elif node.op == "add":
            a, b = node.inputs
            if (a in linear and b in linear and a != b and uses[a] == 1 and uses[b] == 1
                    and not {c[0] for c in linear[a].columns} & {c[0] for c in linear[b].columns}
                    and len(linear[a].biases) + len(linear[b].biases) <= 2):  # gather: pairs
                linear[node.name] = _Linear(linear[a].columns + linear[b].columns,
                                            linear[a].biases + linear[b].biases)
                folded.update((a, b))
    # 2. Instructions in topological order; linears over one set of inputs form one group.
    groups: dict[frozenset[str], list[str]] = {}
    for name, lin in linear.items():
        if name not in folded:
            groups.setdefault(frozenset(c[0] for c in lin.columns), []).append(name)
    slot = {name: s for s, name in enumerate(graph.states)}
    slot[SOURCE_X] = X
    n_slots = len(graph.states)
    instructions: list[tuple[str, list[str]]] = []  # (op, member nodes)
    for node in graph.nodes:
        if node.name in folded or node.name in slot:
            continue
        if node.name in linear:
            members = groups[frozenset(c[0] for c in linear[node.name].columns)]
            instructions.append(("linear", members))
        else:
            instructions.append((node.op, [node.name]))
        for member in instructions[-1][1]:
            slot[member] = n_slots
            n_slots += 1
    # 3. The tables.
    by_name, by_node = layout.by_name, graph.by_name
    n_hidden = layout.n_hidden
    code = np.full((len(instructions), C_NFIELDS), -1, dtype=np.int64)
    offsets = np.full((layout.layers, len(instructions), 2), -1, dtype=np.int64)
    gather: list[tuple[int, int]] = []
    for layer in range(layout.layers):
        width = {SOURCE_X: layout.n_in if layer == 0 else n_hidden}
        for k, (op, members) in enumerate(instructions):
            code[k, C_OP], code[k, C_DST] = OPS[op].code, slot[members[0]]
            code[k, C_ROWS] = len(members)
            if op == "linear":
                operands = [c[0] for c in linear[members[0]].columns]
                offsets[layer, k, 0] = len(gather)
                gather.extend(_linear_weights(linear, members, operands, layer, width,
                                              n_hidden, by_name))
                if any(linear[m].biases for m in members):
                    offsets[layer, k, 1] = len(gather)
                    for m in members:
                        blocks = [by_name[f"{b}_l{layer}"].offset for b in linear[m].biases]
                        for r in range(n_hidden):
                            pair = [o + r for o in blocks] + [-1, -1]
                            gather.append((pair[0], pair[1]))
            else:
                operands = list(by_node[members[0]].inputs)
                if op == "diag":
                    offsets[layer, k, 0] = len(gather)
                    start = by_name[f"{members[0]}_weight_l{layer}"].offset
                    gather.extend((start + r, -1) for r in range(n_hidden))
            code[k, C_N] = len(operands)
            for field, name in enumerate(operands, start=C_A):
                code[k, field] = slot[name]
    n_out = layout.n_out
    if graph.readout_units:  # outputs: the last O items of a node's slot in the top layer
        readout = np.array([-1, slot[graph.readout_units]], dtype=np.int64)
    else:
        readout_weight, readout_bias = by_name["readout_weight"], by_name["readout_bias"]
        readout = np.array([len(gather), len(gather) + n_hidden * n_out], dtype=np.int64)
        gather.extend((readout_weight.offset + o * n_hidden + j, -1)
                      for j in range(n_hidden) for o in range(n_out))
        gather.extend((readout_bias.offset + o, -1) for o in range(n_out))
    outputs = np.array([slot[name] for name in graph.outputs], dtype=np.int64)
    in_width = np.array([layout.n_in] + [n_hidden] * (layout.layers - 1), np.int64)
    return Program(code, offsets, np.array(gather, dtype=np.int64).reshape(-1, 2), outputs,
                   in_width, readout, n_slots)


def _linear_weights(linear, members, operands, layer, width, n_hidden, by_name):
    """Gather entries of a group's W^T: column by column (operands in order, each as wide
    as its source), the members' H rows side by side in each."""
    entries = []
    for operand in operands:
        for j in range(width.get(operand, n_hidden)):
            for m in members:
                _, array, inputs = next(c for c in linear[m].columns if c[0] == operand)
                block = by_name[f"{array}_l{layer}"]
                first = sum(width.get(i, n_hidden) for i in inputs[: inputs.index(operand)])
                for r in range(n_hidden):
                    entries.append((block.offset + r * block.shape[1] + first + j, -1))
    return entries


@dataclasses.dataclass(frozen=True)
class GraphPlan:
    """The interpreter set up for one layout, dtype, population and batch size (`plan`):
    the contract of `fast_kernels.FastPlan`, but on genomes as they are (not transposed)."""

    program: Program
    dtype: np.dtype
    lanes: int

    def simulate(
        self,
        genomes: np.ndarray,
        x: np.ndarray,
        n_generate: int,
        state: np.ndarray,
        outputs: np.ndarray,
        hidden: np.ndarray,
    ) -> None:
        """genomes (P, n_params) C-contiguous; the rest as `kernels.simulate`: state
        (P, B, L, S·H) is overwritten with the final states."""
        blocks = genomes if self.lanes == 1 else fast_kernels.lane_weights(genomes, self.lanes)
        p = self.program
        kernel.simulate(blocks, self.lanes, p.code, p.offsets, p.gather, p.outputs, p.n_slots,
                        p.in_width, p.readout, x, n_generate, state, outputs, hidden,
                        self.dtype.type(1.0))


LANES = 32  # genomes per lane block
LANE_MAX_HIDDEN = {"float64": 32, "float32": 64}  # largest H run in lanes


def lanes_for(n_hidden: int, dtype: np.dtype | str, n_pop: int) -> int:
    """Genomes per block for the interpreter, chosen for speed alone: both layouts give the
    same bits. Lanes (`LANES`) unless the population is smaller than half a block or H is
    above `LANE_MAX_HIDDEN`. The interpreter pays a fixed cost per instruction and sequence,
    which a block of V genomes shares; so lanes pay off to larger H than for the fast kernels
    (`fast_kernels.lanes_for`). Measured (P = 128-256, T = 50-100, B = 1 and 32, one
    thread, paired with the fast kernel; see benchmarks/bench_graph.py): at H = 16 lanes
    took 0.3-0.8x the time of rows, at H = 32 0.35-0.8x, at H = 64 float64 1.07-1.35x, float32
    0.7-0.9x.
    """
    dtype = str(np.dtype(dtype))
    if n_pop < LANES // 2 or n_hidden > LANE_MAX_HIDDEN[dtype]:
        return 1
    return LANES


def plan(layout: GraphLayout, dtype: np.dtype | str, n_pop: int, n_batch: int) -> GraphPlan:
    """The interpreter for this layout, dtype and population size (`lanes_for`; the batch
    size does not change the choice)."""
    return GraphPlan(layout.program, np.dtype(dtype), lanes_for(layout.n_hidden, dtype, n_pop))
