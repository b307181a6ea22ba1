"""Diagrams of cells: `draw_cell(topology, ax)` draws any point of the topology space.

The picture follows `evolstm.cells.equations` term by term: boxes for the units (gates σ,
the candidate with its activation), circles for the products (×) and sums (+), the memory
cell c on the top line of an LSTM-family cell (the state h on the top line of a GRU-family
one), the input x_t and the previous state h_{t-1} as two lines along the bottom with a tap
into every unit that reads them (marked when the tap has no weight or squashes first),
peepholes dashed, gate recurrence as a loop on each gate it joins, a coupled forget gate as
the circle 1 − i, absent gates left out.

Cell graphs are drawn by `evolstm.graph_diagram`; `save_diagram` writes either kind's
diagram alone to an image file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evolstm.cells.graph import Graph
from evolstm.cells.topology import Topology, Unit
from evolstm.cells.variants import variant_of

GATE_COLOR = "#cfe3f7"
CANDIDATE_COLOR = "#fde3c0"
CELL_COLOR = "#d5f0d5"
READOUT_COLOR = "#e6e6e6"
PEEPHOLE_COLOR = "#2e7d32"
RECURRENCE_COLOR = "#8e24aa"
LINE_COLOR = "#333333"
MARK_COLOR = "#b71c1c"

ROW_Y = 3.0  # centre of the unit boxes
TOP_Y = 6.0  # the memory cell's line (LSTM) or the state's line (GRU)
X_BUS_Y, H_BUS_Y = 0.45, 1.05
BOX = 0.9  # unit box side
NODE_R = 0.22  # radius of a × or + circle
XLIM, YLIM = (-0.3, 11.3), (-1.3, 6.8)
FIGURE_SIZE = (9.0, 6.4)  # inches, of a topology's diagram alone
TITLE_ROOM = 0.4  # inches above a diagram alone, for its title


def draw_cell(topo: Topology, ax: Any, title: str | None = None) -> None:
    """Draw `topo` on the matplotlib axes `ax` (its limits, aspect and title are set).

    `title` defaults to the variant's name, or "searched cell" for an unnamed topology.
    """
    drawing = _Drawing(ax)
    if topo.family == "lstm":
        _draw_lstm(topo, drawing)
    else:
        _draw_gru(topo, drawing)
    ax.set_xlim(*XLIM)
    ax.set_ylim(*YLIM)
    ax.set_aspect("equal")
    ax.axis("off")
    name = title if title is not None else (variant_of(topo) or "searched cell")
    ax.set_title(name, fontsize="medium")


def draw(cell: Topology | Graph, ax: Any, title: str | None = None) -> None:
    """Draw either kind of cell on `ax`: `draw_cell` for a topology, `draw_graph` of
    `evolstm.graph_diagram` for a graph."""
    if isinstance(cell, Graph):
        from evolstm.graph_diagram import draw_graph

        draw_graph(cell, ax, title)
    else:
        draw_cell(cell, ax, title)


def save_diagram(cell: Topology | Graph, out: Path, title: str | None = None) -> Path:
    """Write `cell`'s diagram alone to `out` (`draw`, sized so that its text is full size);
    the format follows the suffix. Returns `out`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if isinstance(cell, Graph):
        from evolstm.graph_diagram import figure_size

        width, height = figure_size(cell)
    else:
        width, height = FIGURE_SIZE
    figure = plt.figure(figsize=(width, height + TITLE_ROOM))
    ax = figure.add_axes((0.0, 0.0, 1.0, height / (height + TITLE_ROOM)))
    draw(cell, ax, title)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


class _Drawing:
    """Patches by name, so that arrows can be clipped to the shapes they join."""

    def __init__(self, ax: Any) -> None:
        self.ax = ax
        self.patches: dict[str, Any] = {}
        self.centres: dict[str, tuple[float, float]] = {}

    def box(self, name: str, x: float, y: float, label: str, sub: str, color: str,
            width: float = BOX, height: float = BOX) -> None:
        from matplotlib.patches import FancyBboxPatch

        patch = FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                               boxstyle="round,pad=0,rounding_size=0.12", facecolor=color,
                               edgecolor=LINE_COLOR, linewidth=1.2, zorder=3)
        self.ax.add_patch(patch)
        self.ax.text(x, y + 0.14 if sub else y, label, ha="center", va="center",
                     fontsize=11, fontweight="bold", zorder=4)
        if sub:
            self.ax.text(x, y - 0.2, sub, ha="center", va="center", fontsize=8, zorder=4)
        self.patches[name], self.centres[name] = patch, (x, y)

    def node(self, name: str, x: float, y: float, label: str, radius: float = NODE_R,
             fontsize: float = 11, color: str = "white") -> None:
        from matplotlib.patches import Circle

        patch = Circle((x, y), radius, facecolor=color, edgecolor=LINE_COLOR, linewidth=1.2,
                       zorder=3)
        self.ax.add_patch(patch)
        self.ax.text(x, y, label, ha="center", va="center", fontsize=fontsize, zorder=4)
        self.patches[name], self.centres[name] = patch, (x, y)

    def point(self, name: str, x: float, y: float, dot: bool = False) -> None:
        """A named place without a shape (a junction: a dot when `dot`)."""
        if dot:
            self.ax.plot([x], [y], "o", color=LINE_COLOR, markersize=3.5, zorder=4)
        self.patches[name], self.centres[name] = None, (x, y)

    def arrow(self, start: str, end: str, *, head: bool = True, dashed: bool = False,
              color: str = LINE_COLOR, rad: float = 0.0, label: str = "",
              label_offset: tuple[float, float] = (0.0, 0.0)) -> None:
        from matplotlib.patches import FancyArrowPatch

        (x0, y0), (x1, y1) = self.centres[start], self.centres[end]
        patch = FancyArrowPatch((x0, y0), (x1, y1), patchA=self.patches[start],
                                patchB=self.patches[end], shrinkA=0, shrinkB=0,
                                arrowstyle="-|>" if head else "-", mutation_scale=11,
                                connectionstyle=f"arc3,rad={rad}", color=color,
                                linestyle=(0, (4, 3)) if dashed else "-", linewidth=1.3,
                                zorder=2)
        self.ax.add_patch(patch)
        if label:  # at the middle of the arc (half-way to arc3's control point)
            x_mid = (x0 + x1) / 2 + rad * (y1 - y0) / 2 + label_offset[0]
            y_mid = (y0 + y1) / 2 - rad * (x1 - x0) / 2 + label_offset[1]
            self.text(x_mid, y_mid, label, color=color, fontsize=10,
                      bbox=dict(facecolor="white", edgecolor="none", pad=0.5))

    def tag(self, x: float, y: float, text: str) -> None:
        """A small label sitting on a line (a tap's mode)."""
        self.text(x, y, text, fontsize=8, color=MARK_COLOR,
                  bbox=dict(boxstyle="round,pad=0.15", facecolor="white",
                            edgecolor=MARK_COLOR, linewidth=0.8))

    def text(self, x: float, y: float, text: str, **kwargs: Any) -> None:
        options = dict(ha="center", va="center", fontsize=10, zorder=5)
        options.update(kwargs)
        self.ax.text(x, y, text, **options)

    def recurrence_loop(self, name: str) -> None:
        """A loop on a gate box's upper right corner: it reads the gates' last values."""
        from matplotlib.patches import FancyArrowPatch

        x, y = self.centres[name]
        half = BOX / 2
        loop = FancyArrowPatch((x + half, y + 0.12), (x + 0.12, y + half), arrowstyle="-|>",
                               mutation_scale=9, connectionstyle="arc3,rad=1.6",
                               color=RECURRENCE_COLOR, linewidth=1.3, zorder=4)
        self.ax.add_patch(loop)


# -- the input lines ----------------------------------------------------------------------


def _draw_inputs(d: _Drawing, units: tuple[Unit, ...], x_of: dict[str, float],
                 right: float, reset_node: str | None = None) -> list[str]:
    """The x_t and h_{t-1} lines and each unit's taps; `reset_node` sits on n's h tap.

    Returns the caption's lines for the tags on the taps (a plain tap is weighted).
    """
    d.ax.plot([0.4, right], [X_BUS_Y, X_BUS_Y], color=LINE_COLOR, linewidth=1.3, zorder=1)
    d.ax.plot([0.4, right], [H_BUS_Y, H_BUS_Y], color=LINE_COLOR, linewidth=1.3, zorder=1)
    d.text(0.3, X_BUS_Y, "$x_t$", ha="right")
    d.text(0.3, H_BUS_Y, "$h_{t-1}$", ha="right")
    for unit in units:
        x = x_of[unit.name]
        if unit.x_mode != "none":
            d.point(f"x>{unit.name}", x - 0.2, X_BUS_Y, dot=True)
            d.point(f"x>{unit.name}>", x - 0.2, ROW_Y - BOX / 2)
            d.arrow(f"x>{unit.name}", f"x>{unit.name}>")
            if unit.x_mode != "linear":
                d.tag(x - 0.2, 1.75, "id" if unit.x_mode == "identity" else "tanh")
        if unit.h_mode != "none":
            d.point(f"h>{unit.name}", x + 0.2, H_BUS_Y, dot=True)
            d.point(f"h>{unit.name}>", x + 0.2, ROW_Y - BOX / 2)
            if unit.name == "n" and reset_node is not None:
                d.arrow(f"h>{unit.name}", reset_node)
                d.arrow(reset_node, f"h>{unit.name}>")
            else:
                d.arrow(f"h>{unit.name}", f"h>{unit.name}>")
            if unit.h_mode == "tanh":
                d.tag(x + 0.2, 1.4, "tanh")
    modes = {(unit.x_mode, unit.h_mode) for unit in units}
    notes = []
    if any(x_mode == "identity" for x_mode, _ in modes):
        notes.append("tap id: $x_t$ without a weight")
    if any(x_mode == "tanh" for x_mode, _ in modes):
        notes.append("tap tanh on $x_t$: tanh$(x_t)$ without a weight")
    if any(h_mode == "tanh" for _, h_mode in modes):
        notes.append("tap tanh on $h_{t-1}$: $W$ tanh$(h_{t-1})$")
    return notes


def _draw_readout(d: _Drawing, source: str, x: float, box_y: float) -> None:
    """h_t -> the linear readout box at (x, box_y) -> y_t under it."""
    d.box("readout", x, box_y, "$W_{out}$", r"$+\ b_{out}$", READOUT_COLOR, width=1.0)
    d.point("y", x, box_y - 1.2)
    d.text(x + 0.12, box_y - 1.2, "$y_t$", ha="left")
    d.arrow(source, "readout")
    d.arrow("readout", "y")


def _caption(d: _Drawing, topo: Topology, extra: list[str]) -> None:
    lines = [*extra, "biases $b_u$" if topo.bias else "no biases"]
    d.text(0.4, -0.05, "\n".join(lines), fontsize=8, ha="left", va="top", color="#555555",
           linespacing=1.4)


# -- LSTM family --------------------------------------------------------------------------


def _draw_lstm(topo: Topology, d: _Drawing) -> None:
    units = topo.units()
    present = {unit.name for unit in units}
    x_of = {"f": 2.0, "i": 3.6, "g": 5.0, "o": 7.2}
    for unit in units:
        if unit.name == "g":
            act = "tanh" if topo.cell_activation == "tanh" else "identity"
            d.box("g", x_of["g"], ROW_Y, "g", act, CANDIDATE_COLOR)
        else:
            d.box(unit.name, x_of[unit.name], ROW_Y, unit.name, "σ", GATE_COLOR)
    if topo.coupled:
        d.node("f", x_of["f"], ROW_Y, "1 − i", radius=0.42, fontsize=9, color=GATE_COLOR)
        d.arrow("i", "f")
    extra = _draw_inputs(d, units, x_of, right=7.9)

    # the memory cell's line: c_{t-1} -> (× f) -> + -> c_t
    d.point("c_prev", 0.4, TOP_Y)
    d.text(0.3, TOP_Y, "$c_{t-1}$", ha="right")
    along = ["c_prev"]
    if topo.peepholes and present & {"i", "f"}:
        d.point("peep_prev", 1.1, TOP_Y, dot=True)
        along.append("peep_prev")
    if "f" in present or topo.coupled:
        d.node("times_f", x_of["f"], TOP_Y, "×")
        along.append("times_f")
        d.arrow("f", "times_f")
    d.node("plus", 4.3, TOP_Y, "+")
    d.box("c", 6.1, TOP_Y, "c", "memory", CELL_COLOR, width=1.0)
    along += ["plus", "c"]
    if "o" in present and topo.peepholes:
        d.point("peep_now", 7.0, TOP_Y, dot=True)
        along.append("peep_now")
    d.point("c_out", 8.4, TOP_Y, dot=True)
    d.point("c_next", 10.6, TOP_Y)
    d.text(10.6, TOP_Y + 0.25, "$c_t$", ha="right", va="bottom")
    along += ["c_out", "c_next"]
    for start, end in zip(along, along[1:], strict=False):
        d.arrow(start, end, head=end in ("times_f", "plus", "c", "c_next"))

    # what the cell writes: i ⊙ g, or g alone without an input gate
    if "i" in present:
        d.node("times_i", 4.3, 4.7, "×")
        d.arrow("i", "times_i")
        d.arrow("g", "times_i")
        d.arrow("times_i", "plus")
    else:
        d.arrow("g", "plus")

    # what it shows: o ⊙ act(c_t)
    act = "tanh" if topo.output_activation == "tanh" else "id"
    d.node("act", 8.4, 4.75, act, radius=0.34, fontsize=9, color=CANDIDATE_COLOR)
    d.arrow("c_out", "act")
    d.point("h", 9.6, ROW_Y)
    d.text(9.6, ROW_Y + 0.2, "$h_t$", va="bottom")
    if "o" in present:
        d.node("times_o", 8.4, ROW_Y, "×")
        d.arrow("act", "times_o")
        d.arrow("o", "times_o")
        d.arrow("times_o", "h", head=False)
    else:
        d.point("o_absent", 8.4, ROW_Y)
        d.arrow("act", "o_absent", head=False)
        d.arrow("o_absent", "h", head=False)
    _draw_readout(d, "h", 9.6, box_y=1.75)

    # peepholes, dashed: c_{t-1} into i and f, c_t into o
    for gate in topo.peephole_gates():
        if gate == "o":
            d.arrow("peep_now", "o", dashed=True, color=PEEPHOLE_COLOR, rad=-0.15,
                    label="$p_o$")
        else:
            d.arrow("peep_prev", gate, dashed=True, color=PEEPHOLE_COLOR,
                    rad=0.25 if gate == "f" else 0.2, label=f"$p_{gate}$")
    rec = topo.recurrent_gates()
    for gate in rec:
        d.recurrence_loop(gate)
    if rec:
        gates = ", ".join(rec)
        extra.append(f"gate recurrence (loops): {gates} read $[{gates}]_{{t-1}}$")
    for gate, word in (("i", "input"), ("f", "forget"), ("o", "output")):
        if gate not in present and not (gate == "f" and topo.coupled):
            extra.append(f"no {word} gate: ${gate} = 1$")
    if topo.coupled:
        extra.append("coupled input and forget gates: $f = 1 - i$")
    if topo.peepholes:
        extra.append("peepholes dashed")
    _caption(d, topo, extra)


# -- GRU family ---------------------------------------------------------------------------


def _draw_gru(topo: Topology, d: _Drawing) -> None:
    units = topo.units()
    present = {unit.name for unit in units}
    candidate = next(unit for unit in units if unit.name == "n")
    x_of = {"z": 2.0, "r": 4.6, "n": 7.0}
    for unit in units:
        if unit.name == "n":
            d.box("n", x_of["n"], ROW_Y, "n", "tanh", CANDIDATE_COLOR)
        else:
            d.box(unit.name, x_of[unit.name], ROW_Y, unit.name, "σ", GATE_COLOR)
    reset_node = None
    extra: list[str] = []
    if "r" in present and candidate.h_mode != "none":
        reset_node = "times_r"
        d.node("times_r", x_of["n"] + 0.2, 1.85, "×")
        d.arrow("r", "times_r")
        where = (r"$r \odot (W_{hn} h + b_{hn})$" if topo.reset_after
                 else r"$W_{hn} (r \odot h)$")
        d.text(x_of["n"] + 0.5, 1.85, where, fontsize=8, ha="left")
        extra.append("reset after the product" if topo.reset_after
                     else "reset before the product")
    elif "r" in present:
        extra.append("r unused: n reads no state")
    else:
        extra.append("no reset gate: $r = 1$")
    extra += _draw_inputs(d, units, x_of, right=7.9, reset_node=reset_node)

    d.point("h_next", 9.6, TOP_Y)
    d.text(9.6, TOP_Y + 0.25, "$h_t$", va="bottom")
    if "z" in present:
        # the state's line: h_{t-1} -> × (z or 1 − z) -> + -> h_t
        d.point("h_prev", 0.4, TOP_Y)
        d.text(0.3, TOP_Y, "$h_{t-1}$", ha="right")
        d.node("times_h", x_of["z"], TOP_Y, "×")
        d.node("plus", 8.6, TOP_Y, "+")
        d.arrow("h_prev", "times_h")
        d.arrow("times_h", "plus")
        d.arrow("plus", "h_next", head=False)
        d.point("z_split", x_of["z"], 4.3, dot=True)
        d.arrow("z", "z_split", head=False)
        d.node("times_n", 8.6, 4.3, "×")
        d.arrow("n", "times_n")
        d.arrow("times_n", "plus")
        if topo.update_keeps_state:  # h_t = (1 − z) n + z h_{t-1}
            d.arrow("z_split", "times_h")
            d.node("one_minus", 5.8, 4.3, "1 − z", radius=0.36, fontsize=8, color=GATE_COLOR)
            d.arrow("z_split", "one_minus")
            d.arrow("one_minus", "times_n")
            extra.append("update keeps the state: $h_t = (1 - z) n + z h_{t-1}$")
        else:  # h_t = z n + (1 − z) h_{t-1}
            d.node("one_minus", x_of["z"], 5.1, "1 − z", radius=0.36, fontsize=8,
                   color=GATE_COLOR)
            d.arrow("z_split", "one_minus")
            d.arrow("one_minus", "times_h")
            d.arrow("z_split", "times_n")
            extra.append("update writes: $h_t = z n + (1 - z) h_{t-1}$")
    else:
        d.point("n_up", x_of["n"], TOP_Y)
        d.arrow("n", "n_up", head=False)
        d.arrow("n_up", "h_next", head=topo.readout == "units")
        extra.append("no update gate: $h_t = n$")
    if topo.readout == "units":
        d.point("y_units", 8.85, ROW_Y)
        d.arrow("n", "y_units", dashed=True)
        d.text(8.95, ROW_Y, "$y_t$ = $a_t$ of\nthe last O\nunits (pre-\nactivation)",
               fontsize=8, ha="left")
        extra.append("output units, no readout weights")
    else:
        _draw_readout(d, "h_next", 9.6, box_y=4.4)
    _caption(d, topo, extra)
