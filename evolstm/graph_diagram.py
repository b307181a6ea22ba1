"""Diagrams of cell graphs: `draw_graph(graph, ax)` draws any `evolstm.cells.graph.Graph`.

A layered drawing, left to right: the sources (x_t and each state at t-1) in the first
column, every node in the column of its longest path from the sources, the new states
(h_t, c_t, ...) in the next column and the readout y_t in the last. Boxes say the op and
what it holds (``linear`` with W and b, ``diag`` with w, σ, tanh, ⊙ for ``mul``, + for
``add``, 1 − · for ``one_minus``), each with its node's name (the names of
`evolstm.cells.equations.graph_equations`) at its corner; blend's operands are marked z, a
and b where they enter. Recurrence shows by name and colour: the state s read at t-1 on
the left is the s_t written on the right.

The layout is Sugiyama's scheme, kept small: an edge that spans columns passes through a
point in every column it crosses; the columns are ordered by barycentre sweeps (the order
with the fewest crossings is kept); then every point's height is pulled towards its
neighbours' in the next and previous columns, each column kept in its order and spacing
(a least-squares projection: pool adjacent violators), so that chains run straight.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from matplotlib.text import Text

from evolstm.cells.graph import Graph
from evolstm.cells.graph.graph import SOURCE_X
from evolstm.diagram import (
    CANDIDATE_COLOR,
    CELL_COLOR,
    GATE_COLOR,
    LINE_COLOR,
    MARK_COLOR,
    READOUT_COLOR,
)

COLUMN = 2.0  # data units between column centres
BOX_H = 0.7  # height of a box
BLEND_H = 1.1  # height of a blend's box: room for its three operands' marks
WIDE, NARROW = 1.3, 0.86  # widths of a box: linear, blend, sources, ...; σ, +, ⊙, ...
GAP = 0.34  # least vertical room between two boxes in a column
TRACK = 0.16  # least room between an edge passing through a column and its neighbours
NAME_ROOM = 0.2  # more room above a node's box, for its name
NOTE_LINE = 0.3  # height of a line of the caption
INCHES_PER_UNIT = 0.55  # the scale at which the fonts below have their full size
FONT = {"label": 10.5, "sub": 8.0, "name": 7.5, "tag": 9.0, "caption": 8.0}  # points
MIN_FONT = 3.5  # points: the least a text shrinks to
ARROW = 8.0  # size of the arrowheads
SOURCE_COLOR = "#f4f4f4"
NAME_COLOR = "#777777"

# op -> (label, what it holds, wide box, colour); linear's holding depends on its bias
OP_LOOK: dict[str, tuple[str, str, bool, str]] = {
    "linear": ("linear", "W, b", True, GATE_COLOR),
    "diag": ("diag", "w ⊙ ·", True, GATE_COLOR),
    "add": ("+", "", False, "white"),
    "mul": ("⊙", "", False, "white"),
    "blend": ("blend", "", True, "white"),
    "one_minus": ("1 − ·", "", False, "white"),
    "sigmoid": ("σ", "", False, CANDIDATE_COLOR),
    "tanh": ("tanh", "", False, CANDIDATE_COLOR),
    "relu": ("relu", "", False, CANDIDATE_COLOR),
    "identity": ("id", "", False, CANDIDATE_COLOR),
    "tile": ("tile", "x[k mod I]", True, SOURCE_COLOR),
}
BLEND_OPERANDS = ("z", "a", "b")


@dataclasses.dataclass
class Vertex:
    """A box (source, node, new state, readout) or a point an edge passes (``dummy``)."""

    key: str
    kind: str  # "source", "node", "state", "readout" or "dummy"
    layer: int
    label: str = ""
    sub: str = ""
    name: str = ""  # the node's name, written at the box's corner
    color: str = "white"
    width: float = 0.0
    height: float = 0.0
    y: float = 0.0
    tagged: bool = False  # its inputs are marked (blend's z, a, b): the label moves right


@dataclasses.dataclass
class Edge:
    """One input of a box, through the points of the columns it crosses."""

    chain: list[int]  # vertex indices, source first
    tag: str = ""  # blend's operand: z, a or b


@dataclasses.dataclass
class Placement:
    """Where everything goes: vertices with their columns and heights, edges as chains."""

    vertices: list[Vertex]
    edges: list[Edge]
    layers: list[list[int]]  # vertex indices per column, top to bottom
    notes: list[str]  # the caption's lines

    @property
    def top(self) -> float:
        """The drawing's upper edge (a margin above the highest box and its name)."""
        return max(v.y + v.height / 2 for v in self.vertices) + 0.55

    @property
    def size(self) -> tuple[float, float]:
        """(width, height) of the drawing in data units, margins and caption included."""
        bottom = min(v.y - v.height / 2 for v in self.vertices)
        return (COLUMN * (len(self.layers) - 1) + WIDE + 1.9,
                self.top - bottom + 0.35 + NOTE_LINE * len(self.notes))


def place(graph: Graph) -> Placement:
    """Lay `graph` out: columns by longest path, orders by barycentre, heights by
    straightening (see the module docstring)."""
    vertices: list[Vertex] = []
    index: dict[str, int] = {}

    def add(vertex: Vertex) -> int:
        index[vertex.key] = len(vertices)
        vertices.append(vertex)
        return index[vertex.key]

    add(Vertex("src:" + SOURCE_X, "source", 0, "$x_t$", color=SOURCE_COLOR, width=WIDE,
                height=BOX_H))
    for state in graph.states:
        add(Vertex("src:" + state, "source", 0, f"${_math(state)}_{{t-1}}$",
                    color=CELL_COLOR, width=WIDE, height=BOX_H))
    column = {SOURCE_X: 0, **{state: 0 for state in graph.states}}
    for node in graph.nodes:  # topological order: longest path from the sources
        column[node.name] = 1 + max(column[i] for i in node.inputs)
        label, sub, wide, color = OP_LOOK[node.op]
        if node.op == "linear" and not node.bias:
            sub = "W"
        blend = node.op == "blend"
        add(Vertex(node.name, "node", column[node.name], label, sub, node.name, color,
                    WIDE if wide else NARROW, BLEND_H if blend else BOX_H, tagged=blend))
    last = max(column.values())
    for state in graph.states:
        add(Vertex("out:" + state, "state", last + 1, f"${_math(state)}_t$", color=CELL_COLOR,
                    width=WIDE, height=BOX_H))
    units = graph.readout_units
    add(Vertex("readout", "readout", last + 2, "units" if units else "readout",
                "last O items" if units else "$W_{out}$, $b_{out}$",
                color=READOUT_COLOR, width=WIDE, height=BOX_H))

    def source_of(name: str) -> str:
        return name if name in graph.by_name else "src:" + name

    wires: list[tuple[str, str, str]] = []  # (from, to, tag)
    for node in graph.nodes:
        tags = BLEND_OPERANDS if node.op == "blend" else ("",) * len(node.inputs)
        wires += [(source_of(i), node.name, tag) for i, tag in zip(node.inputs, tags,
                                                                   strict=True)]
    wires += [(output, "out:" + state, "") for state, output in zip(graph.states,
                                                                    graph.outputs, strict=True)]
    wires.append((units or "out:" + graph.states[0], "readout", ""))
    edges = []
    for start, end, tag in wires:
        chain = [index[start]]
        for layer in range(vertices[index[start]].layer + 1, vertices[index[end]].layer):
            chain.append(add(Vertex(f"dummy:{len(vertices)}", "dummy", layer)))
        chain.append(index[end])
        edges.append(Edge(chain, tag))
    layers: list[list[int]] = [[] for _ in range(last + 3)]
    for k, vertex in enumerate(vertices):
        layers[vertex.layer].append(k)
    links = [(a, b) for edge in edges for a, b in zip(edge.chain, edge.chain[1:],
                                                       strict=False)]
    layers = _order(layers, links)
    _heights(vertices, layers, links)
    notes = [note for op, note in (
        ("blend", "blend(z, a, b) = z ⊙ a + (1 − z) ⊙ b"),
        ("tile", "tile: unit k reads $x_t$[k mod I] (no weight)"),
        ("diag", "diag: w ⊙ input (a peephole's weight)"),
    ) if any(node.op == op for node in graph.nodes)]
    notes.append("linear: W [inputs] + b; ⊙, +: item by item")
    return Placement(vertices, edges, layers, notes)


def draw_graph(graph: Graph, ax: Any, title: str | None = None) -> None:
    """Draw `graph` on the matplotlib axes `ax` (its limits, aspect and title are set).

    `title` defaults to the name of the named cell with the same canonical key, or "cell
    graph". The text is full size on axes of `figure_size`, smaller on smaller axes.
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    placement = place(graph)
    vertices = placement.vertices
    width, height = placement.size
    top = placement.top
    ax.set_xlim(-WIDE / 2 - 0.5, -WIDE / 2 - 0.5 + width)
    ax.set_ylim(top - height, top)
    ax.set_aspect("equal")
    ax.axis("off")

    def text(x: float, y: float, words: str, role: str, **kwargs: Any) -> None:
        ax.add_artist(_ScaledText(x, y, words, FONT[role], zorder=5, **kwargs))

    for vertex in vertices:
        if vertex.kind == "dummy":
            continue
        x = vertex.layer * COLUMN
        ax.add_patch(FancyBboxPatch((x - vertex.width / 2, vertex.y - vertex.height / 2),
                                    vertex.width, vertex.height,
                                    boxstyle="round,pad=0,rounding_size=0.12",
                                    facecolor=vertex.color, edgecolor=LINE_COLOR,
                                    linewidth=1.0, zorder=3,
                                    gid=f"{vertex.kind}:{vertex.name or vertex.key}"))
        text(x + (0.12 if vertex.tagged else 0.0), vertex.y + (0.13 if vertex.sub else 0.0),
             vertex.label, "label", ha="center", va="center", fontweight="bold")
        if vertex.sub:
            text(x, vertex.y - 0.19, vertex.sub, "sub", ha="center", va="center")
        if vertex.name:
            text(x - vertex.width / 2 + 0.04, vertex.y + vertex.height / 2 + 0.03, vertex.name,
                 "name", ha="left", va="bottom", color=NAME_COLOR)
    readout = next(v for v in vertices if v.kind == "readout")
    x_out = readout.layer * COLUMN + WIDE / 2
    ax.add_patch(FancyArrowPatch((x_out, readout.y), (x_out + 0.5, readout.y),
                                 arrowstyle="-|>", mutation_scale=ARROW, color=LINE_COLOR,
                                 linewidth=1.0, shrinkA=0, shrinkB=0))
    text(x_out + 0.55, readout.y, "$y_t$", "label", ha="left", va="center")
    for edge, path in zip(placement.edges, _paths(placement), strict=True):
        ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=ARROW,
                                     color=LINE_COLOR, linewidth=1.0, shrinkA=0, shrinkB=0,
                                     zorder=2))
        if edge.tag:  # inside the box, at the port
            x_end, y_end = path.vertices[-1]
            text(x_end + 0.07, y_end, edge.tag, "tag", ha="left", va="center",
                 color=MARK_COLOR, fontstyle="italic")
    text(-WIDE / 2, top - height + 0.1, "\n".join(placement.notes), "caption", ha="left",
         va="bottom", color="#555555")
    ax.set_title(title if title is not None else _name_of(graph), fontsize="medium")


def figure_size(graph: Graph) -> tuple[float, float]:
    """(width, height) in inches of axes that show `graph` with its text at full size."""
    width, height = place(graph).size
    return width * INCHES_PER_UNIT, height * INCHES_PER_UNIT


class _ScaledText(Text):
    """A text of the drawing: full size where a data unit is `INCHES_PER_UNIT` inches,
    smaller in proportion on smaller axes (set when drawn, after any layout: the layout
    leaves it out)."""

    def __init__(self, x: float, y: float, text: str, full_size: float, **kwargs: Any) -> None:
        super().__init__(x, y, text, fontsize=full_size, **kwargs)
        self.full_size = full_size
        self.set_in_layout(False)

    def draw(self, renderer: Any) -> None:
        (x0, _), (x1, _) = self.axes.transData.transform([(0.0, 0.0), (1.0, 0.0)])
        inches = abs(x1 - x0) / renderer.points_to_pixels(72.0)
        size = max(MIN_FONT, self.full_size * min(1.0, inches / INCHES_PER_UNIT))
        if size != self.get_fontsize():  # unchanged: not stale, no redraw
            self.set_fontsize(size)
        super().draw(renderer)


# -- layout -------------------------------------------------------------------------------


def _order(layers: list[list[int]], links: list[tuple[int, int]],
           sweeps: int = 12) -> list[list[int]]:
    """Columns reordered by barycentre sweeps (down, then up, ...); the order with the
    fewest crossings met is returned."""
    before, after = _neighbours(links)
    layers = [list(layer) for layer in layers]
    best, fewest = [list(layer) for layer in layers], _crossings(layers, links)
    for sweep in range(sweeps):
        down = sweep % 2 == 0
        neighbours = before if down else after
        position = {v: k for layer in layers for k, v in enumerate(layer)}
        columns = range(1, len(layers)) if down else range(len(layers) - 2, -1, -1)
        for column in columns:
            barycentre = {
                v: sum(position[u] for u in neighbours[v]) / len(neighbours[v])
                if v in neighbours else position[v]
                for v in layers[column]
            }
            layers[column].sort(key=barycentre.__getitem__)
            position.update({v: k for k, v in enumerate(layers[column])})
        crossings = _crossings(layers, links)
        if crossings < fewest:
            best, fewest = [list(layer) for layer in layers], crossings
    return best


def _neighbours(links: list[tuple[int, int]]) -> tuple[dict[int, list[int]],
                                                      dict[int, list[int]]]:
    """Each vertex's neighbours in the previous column, and in the next."""
    before: dict[int, list[int]] = {}
    after: dict[int, list[int]] = {}
    for a, b in links:
        after.setdefault(a, []).append(b)
        before.setdefault(b, []).append(a)
    return before, after


def _crossings(layers: list[list[int]], links: list[tuple[int, int]]) -> int:
    position = {v: k for layer in layers for k, v in enumerate(layer)}
    count = 0
    for k, (a, b) in enumerate(links):
        for c, d in links[k + 1:]:
            if (position[a] - position[c]) * (position[b] - position[d]) < 0:
                count += 1
    return count


def _heights(vertices: list[Vertex], layers: list[list[int]],
             links: list[tuple[int, int]], rounds: int = 16) -> None:
    """Set every vertex's ``y``: each column keeps its order (top first) and spacing, and
    every point moves towards the mean height of its neighbours."""
    before, after = _neighbours(links)
    spacing = [[_room(vertices[a], vertices[b]) for a, b in zip(layer, layer[1:],
                                                                 strict=False)]
               for layer in layers]
    depth: dict[int, float] = {}  # downwards: y = -depth
    for layer, gaps in zip(layers, spacing, strict=True):
        offsets = [0.0]
        for gap in gaps:
            offsets.append(offsets[-1] + gap)
        middle = offsets[-1] / 2
        depth.update({v: offset - middle for v, offset in zip(layer, offsets, strict=True)})
    for round_ in range(rounds):
        sides = (before,) if round_ % 3 == 0 else (after,) if round_ % 3 == 1 else (
            before, after)
        for layer, gaps in zip(layers, spacing, strict=True):
            wanted = []
            for v in layer:
                near = [u for side in sides for u in side.get(v, [])]
                wanted.append(sum(depth[u] for u in near) / len(near) if near else depth[v])
            for v, value in zip(layer, _project(wanted, gaps), strict=True):
                depth[v] = value
    for k, vertex in enumerate(vertices):
        vertex.y = -depth[k]


def _room(upper: Vertex, lower: Vertex) -> float:
    """Least distance between the centres of two neighbours in a column."""
    room = upper.height / 2 + lower.height / 2
    room += TRACK if upper.kind == "dummy" or lower.kind == "dummy" else GAP
    return room + (NAME_ROOM if lower.kind == "node" and upper.kind == "dummy" else 0.0)


def _project(wanted: list[float], gaps: list[float]) -> list[float]:
    """The values nearest `wanted` (least squares) whose successive differences are at
    least `gaps`: pool adjacent violators on ``wanted - offsets``."""
    offsets = [0.0]
    for gap in gaps:
        offsets.append(offsets[-1] + gap)
    blocks: list[list[float]] = []  # [mean, count]
    for value, offset in zip(wanted, offsets, strict=True):
        blocks.append([value - offset, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, count = blocks.pop()
            blocks[-1] = [(blocks[-1][0] * blocks[-1][1] + mean * count)
                          / (blocks[-1][1] + count), blocks[-1][1] + count]
    shifted = [mean for mean, count in blocks for _ in range(int(count))]
    return [value + offset for value, offset in zip(shifted, offsets, strict=True)]


def _paths(placement: Placement) -> list[Any]:
    """Each edge as a matplotlib `Path`: from a port on its source's right side to one on
    its target's left side (ports spread in the order of the other ends, so that they do
    not cross), straight through the columns it crosses, S-curves between columns."""
    from matplotlib.path import Path

    vertices = placement.vertices
    outs: dict[int, list[int]] = {}
    ins: dict[int, list[int]] = {}
    for k, edge in enumerate(placement.edges):
        outs.setdefault(edge.chain[0], []).append(k)
        ins.setdefault(edge.chain[-1], []).append(k)
    port: dict[tuple[int, str], float] = {}
    for ends, side, near in ((outs, "out", 1), (ins, "in", -2)):
        for v, edge_ids in ends.items():
            ordered = sorted(edge_ids,
                             key=lambda k: -vertices[placement.edges[k].chain[near]].y)
            spread = vertices[v].height * (0.75 if len(ordered) > 2 else 0.6)
            for rank, k in enumerate(ordered):
                port[(k, side)] = vertices[v].y + spread * (
                    0.5 - (rank + 1) / (len(ordered) + 1))
    paths = []
    for k, edge in enumerate(placement.edges):
        points: list[tuple[float, float]] = []
        first, final = vertices[edge.chain[0]], vertices[edge.chain[-1]]
        points.append((first.layer * COLUMN + first.width / 2, port[(k, "out")]))
        for v in edge.chain[1:-1]:
            x, y = vertices[v].layer * COLUMN, vertices[v].y
            points += [(x - WIDE / 2, y), (x + WIDE / 2, y)]
        points.append((final.layer * COLUMN - final.width / 2, port[(k, "in")]))
        verts = [points[0]]
        codes = [Path.MOVETO]
        for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
            if y0 == y1:
                verts.append((x1, y1))
                codes.append(Path.LINETO)
            else:
                bend = (x1 - x0) / 2
                verts += [(x0 + bend, y0), (x1 - bend, y1), (x1, y1)]
                codes += [Path.CURVE4] * 3
        paths.append(Path(verts, codes))
    return paths


# -- names --------------------------------------------------------------------------------


def _math(name: str) -> str:
    """A state's name inside mathtext: underscores written, not subscripts."""
    return name.replace("_", r"\_")


def _name_of(graph: Graph) -> str:
    """The named cell (topology variant or graph-only cell) with `graph`'s canonical key."""
    from evolstm.cells.graph.named import name_of

    return name_of(graph) or "cell graph"
