"""Fast Numba kernels for the common topologies: LSTM and GRU families, every unit linear.

They compute what `evolstm.cells.kernels.simulate` computes (same state, outputs, closed-loop
generation and hidden states), faster, for topologies whose units all read x and h through
``linear`` connections and have no full gate recurrence: ``lstm``, ``np``, ``lstm1997``,
``peephole``, ``nig``, ``nfg``, ``nog``, ``niaf``, ``noaf``, ``cifg``, ``gru`` and the
points of the topology space alike (`supports`). Differences from the reference kernel:

* exp, sigmoid and tanh are `evolstm.cells.fastmath`'s vectorisable ones (a few ulp);
* the layout depends on H, the dtype, P and B (`lanes_for`): for small H, ``LANES``
  genomes (``WIDE_LANES`` for populations that fill four such blocks) share a block, every
  weight stored as ``(param, lane)`` so the genome index is the SIMD lane; for larger H,
  small populations and some batches, one genome per block (``lanes == 1``) and the
  matrix-vector products run along the gate rows. Every genome's operations run in the
  same order in both layouts and whatever the block's width, and the last block is padded
  with zero genomes, which do not touch the other lanes: genome p's results depend on
  genome p alone, whatever P, B, the layout, the chunking or the thread count, bit for
  bit;
* the B sequences of a block advance together, step by step, so the block's weights stay in
  cache across the sequences of a batch;
* blocks of the standard LSTM run a step loop of their own (`_lstm_plain_steps`), the same
  helpers without the general loop's branches over variants.

Work arrays for one block of V lanes: h and c (L, B, H·V); gate pre-activations (B, G·H·V)
with G the number of units that carry weights, in genome row order.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np

from evolstm.cells import fastmath
from evolstm.cells.kernels import JIT
from evolstm.cells.layout import (
    F_CELL_ACT,
    F_COUPLED,
    F_FAMILY,
    F_N_XROWS,
    F_OUT_ACT,
    F_RESET_AFTER,
    F_UPDATE_KEEPS,
    L_BHH,
    L_BIH,
    L_IN,
    L_PEEP,
    L_WHH,
    L_WIH,
    U_PEEP,
    U_PRESENT,
    U_XROW,
    Layout,
)
from evolstm.cells.topology import Topology

LANES = 32  # genomes per SIMD block in the lane layout
WIDE_LANES = 64  # genomes per block when the population fills four such blocks
LANE_MAX_HIDDEN = {"float64": 15, "float32": 16}  # largest H that uses the lane layout
SIMD_ITEMS = {"float64": 8, "float32": 16}  # items of one dtype in a 64-byte vector
STEPS_BUFFERED = 32  # steps of outputs (and hidden states) gathered before they are written
WRITE_GROUP = 8  # genomes of a lane block whose buffered steps are written out together


def supports(topology: Topology) -> bool:
    """Whether the fast kernels run this topology (else use `kernels.simulate`)."""
    return topology.readout == "linear" and not topology.recurrent_gates() and all(
        unit.x_mode == "linear" and unit.h_mode == "linear" for unit in topology.units()
    )


def lanes_for(n_hidden: int, dtype: np.dtype | str, n_pop: int, n_batch: int) -> int:
    """Genomes per block, chosen for speed alone: both layouts give the same bits.

    1 (per-genome rows) for populations smaller than half a lane block, above
    `LANE_MAX_HIDDEN`, and for batches (B > 2) when H is a multiple of `SIMD_ITEMS`: a
    genome's rows then fill whole vectors and the batch's sequences give them independent
    work. Else `WIDE_LANES` when P fills four such blocks, `LANES` otherwise: wider blocks
    spread each step's fixed costs over more genomes, smaller populations keep padding small
    and blocks the threads can share out. Measured on one thread, P = 256
    (benchmarks/README.md, session 9): lanes against rows x1.8 (float64) and x3.3 (float32)
    at H = 10, B = 1; rows against lanes x1.3 at H = 8 float64, B = 32, and x1.7 at H = 16
    float32, B = 32.
    """
    dtype = str(np.dtype(dtype))
    if n_pop < LANES // 2 or n_hidden > LANE_MAX_HIDDEN[dtype]:
        return 1
    if n_batch > 2 and n_hidden % SIMD_ITEMS[dtype] == 0:
        return 1
    return WIDE_LANES if n_pop >= 4 * WIDE_LANES else LANES


def lane_weights(weights: np.ndarray, lanes: int) -> np.ndarray:
    """(P, n_params) kernel genomes -> (ceil(P / lanes), n_params · lanes), (param, lane).

    Missing lanes of the last block are zero genomes.
    """
    n_pop, n_params = weights.shape
    n_blocks = -(-n_pop // lanes)
    padded = np.zeros((n_blocks * lanes, n_params), weights.dtype)
    padded[:n_pop] = weights
    blocks = padded.reshape(n_blocks, lanes, n_params).transpose(0, 2, 1)
    return np.ascontiguousarray(blocks).reshape(n_blocks, n_params * lanes)


@dataclasses.dataclass(frozen=True)
class FastPlan:
    """The fast kernel chosen for one layout and dtype (`plan`)."""

    layout: Layout
    dtype: np.dtype
    lanes: int

    def simulate(
        self,
        weights: np.ndarray,
        x: np.ndarray,
        n_generate: int,
        state: np.ndarray,
        outputs: np.ndarray,
        hidden: np.ndarray,
    ) -> None:
        """Same contract as `kernels.simulate` (weights are kernel genomes (P, n_params))."""
        spec = self.layout.kernel_spec
        simulate(
            lane_weights(weights, self.lanes), self.lanes, spec.flags, spec.units,
            spec.layers, spec.readout, x, n_generate, state, outputs, hidden,
            self.dtype.type(1.0),
        )


def plan(layout: Layout, dtype: np.dtype | str, n_pop: int, n_batch: int) -> FastPlan | None:
    """The fast kernel for this layout, dtype, population size and batch size, or None where
    only the reference runs."""
    if not supports(layout.topology):
        return None
    return FastPlan(layout, np.dtype(dtype), lanes_for(layout.n_hidden, dtype, n_pop, n_batch))


@numba.njit(inline="always", **JIT)
def _matvec(weights, layer, src, src_layer, n_src, out, lanes):
    """out[b, r·V + v] += Σ_{j < n_src} weights[layer, j, r·V + v] · src[src_layer, b, j·V + v].

    weights: (L, ≥ n_src, width) input-major tables; src: (·, B, ≥ n_src·V); out: (B, width);
    V = lanes. Products at least 4 rows wide (per genome) take four source items at a time
    (`_add_four` in one-genome blocks), so that out is loaded and stored once per four of
    them: item by item, the chain of stores and loads through out set the one-genome
    product's speed (benchmarks/README.md, session 8). Lane blocks sum in the same order, so
    that both layouts give the same bits; narrower products (readouts) go item by item in
    both. The hot loops index whole arrays by range variables (views cost a reference count
    each) and have a run-time trip count, which LLVM vectorises (a constant 32 would be
    unrolled first, and the unrolled code is not vectorised for lack of alias information).
    Each weight is loaded once for the B sequences of the batch.
    """
    n_batch, width = out.shape[0], out.shape[1]
    if lanes == 1 and width < 4:  # a readout: too narrow to vectorise, sum in registers
        for b in range(n_batch):
            for q in range(width):
                total = out[b, q]
                for j in range(n_src):
                    total += weights[layer, j, q] * src[src_layer, b, j]
                out[b, q] = total
        return
    if lanes == 1:
        n_fours = n_src - n_src % 4
        for j in range(0, n_fours, 4):
            _add_four(weights, layer, src, src_layer, j, out)
        for j in range(n_fours, n_src):
            for b in range(n_batch):
                s = src[src_layer, b, j]
                for q in range(width):
                    out[b, q] += weights[layer, j, q] * s
        return
    n_rows = width // lanes
    n_fours = n_src - n_src % 4 if n_rows >= 4 else 0
    for j in range(0, n_fours, 4):
        for r in range(n_rows):
            for b in range(n_batch):
                for v in range(lanes):
                    q = r * lanes + v
                    out[b, q] += ((weights[layer, j, q] * src[src_layer, b, j * lanes + v]
                                   + weights[layer, j + 1, q]
                                   * src[src_layer, b, (j + 1) * lanes + v])
                                  + (weights[layer, j + 2, q]
                                     * src[src_layer, b, (j + 2) * lanes + v]
                                     + weights[layer, j + 3, q]
                                     * src[src_layer, b, (j + 3) * lanes + v]))
    for j in range(n_fours, n_src):
        for r in range(n_rows):
            for b in range(n_batch):
                for v in range(lanes):
                    out[b, r * lanes + v] += (weights[layer, j, r * lanes + v]
                                              * src[src_layer, b, j * lanes + v])


@numba.njit(inline="always", **JIT)
def _add_four(weights, layer, src, src_layer, j, out):
    """`_matvec`'s terms of the source items j … j + 3 (lanes == 1), summed in pairs."""
    for b in range(out.shape[0]):
        s0, s1 = src[src_layer, b, j], src[src_layer, b, j + 1]
        s2, s3 = src[src_layer, b, j + 2], src[src_layer, b, j + 3]
        for q in range(out.shape[1]):
            out[b, q] += ((weights[layer, j, q] * s0 + weights[layer, j + 1, q] * s1)
                          + (weights[layer, j + 2, q] * s2 + weights[layer, j + 3, q] * s3))


@numba.njit(inline="always", **JIT)
def _start(out, bias, layer):
    """out[b, :] = bias[layer, :] for every sequence b."""
    for b in range(out.shape[0]):
        for q in range(out.shape[1]):
            out[b, q] = bias[layer, q]


@numba.njit(inline="always", **JIT)
def _lstm_plain(pre, h, c, layer, hv):
    """The standard LSTM cell, fused: pre (B, 4·hv) in i f g o order -> h, c[layer] (B, hv)."""
    for b in range(pre.shape[0]):
        for q in range(hv):
            c_new = fastmath.fma(fastmath.sigmoid(pre[b, hv + q]), c[layer, b, q],
                                 fastmath.sigmoid(pre[b, q]) * fastmath.tanh(pre[b, 2 * hv + q]))
            c[layer, b, q] = c_new
            h[layer, b, q] = fastmath.sigmoid(pre[b, 3 * hv + q]) * fastmath.tanh(c_new)


@numba.njit(inline="always", **JIT)
def _lstm_gate(gates, slot, pre, units, peep, c, layer, hv, one):
    """gates[:, slot·hv + q] = σ(pre of unit `slot` [+ peephole · c]), or 1 if absent."""
    g0, a0, u = slot * hv, units[slot, U_XROW] * hv, units[slot, U_PEEP]
    for b in range(pre.shape[0]):
        if not units[slot, U_PRESENT]:
            for q in range(hv):
                gates[b, g0 + q] = one
        elif u >= 0:
            for q in range(hv):
                gates[b, g0 + q] = fastmath.sigmoid(pre[b, a0 + q]
                                                    + peep[layer, u * hv + q] * c[layer, b, q])
        else:
            for q in range(hv):
                gates[b, g0 + q] = fastmath.sigmoid(pre[b, a0 + q])


@numba.njit(inline="always", **JIT)
def _is_plain_lstm(flags, n_peep):
    """Whether the cell is the standard LSTM: all four units present, in i f g o order, no
    peepholes (n_peep == 0), tanh activations."""
    return (flags[F_FAMILY] == 0 and flags[F_N_XROWS] == 4 and n_peep == 0
            and not (flags[F_CELL_ACT] or flags[F_OUT_ACT]))


@numba.njit(inline="always", **JIT)
def _lstm_cell(units, flags, pre, peep, h, c, gates, layer, hv, one):
    """Any LSTM-family update from pre (B, rows·hv/H): gates (B, 4·hv) as work space."""
    if _is_plain_lstm(flags, peep.shape[1]):
        _lstm_plain(pre, h, c, layer, hv)
        return
    _lstm_gate(gates, 0, pre, units, peep, c, layer, hv, one)
    if not units[1, U_PRESENT] and flags[F_COUPLED]:
        for b in range(pre.shape[0]):
            for q in range(hv):
                gates[b, hv + q] = one - gates[b, q]
    else:
        _lstm_gate(gates, 1, pre, units, peep, c, layer, hv, one)
    a0 = units[2, U_XROW] * hv
    for b in range(pre.shape[0]):
        for q in range(hv):
            g = pre[b, a0 + q] if flags[F_CELL_ACT] else fastmath.tanh(pre[b, a0 + q])
            c[layer, b, q] = fastmath.fma(gates[b, hv + q], c[layer, b, q], gates[b, q] * g)
    _lstm_gate(gates, 3, pre, units, peep, c, layer, hv, one)
    for b in range(pre.shape[0]):
        for q in range(hv):
            cell = c[layer, b, q] if flags[F_OUT_ACT] else fastmath.tanh(c[layer, b, q])
            h[layer, b, q] = gates[b, 3 * hv + q] * cell


@numba.njit(inline="always", **JIT)
def _gru_cell(units, flags, px, ph, ph_n, h, gates, r_h, w_n, layer, hv, lanes, one):
    """GRU-family update from px (B, rows·V) and the gate part of the recurrent products ph.

    ph_n: (B, hv) b_hh + W_hh of the candidate n (reset after), or b_hh alone (reset before:
    W_hh_n · (r ⊙ h) is added here, with r_h as work space). gates: (B, 4·hv).
    """
    zero = one - one
    keeps = flags[F_UPDATE_KEEPS]
    for slot in range(2):  # r, z
        g0, a0 = slot * hv, units[slot, U_XROW] * hv
        absent = one if slot == 0 or not keeps else zero
        for b in range(px.shape[0]):
            if units[slot, U_PRESENT]:
                for q in range(hv):
                    gates[b, g0 + q] = fastmath.sigmoid(px[b, a0 + q] + ph[b, a0 + q])
            else:
                for q in range(hv):
                    gates[b, g0 + q] = absent
    n0 = units[2, U_XROW] * hv
    if flags[F_RESET_AFTER]:
        for b in range(px.shape[0]):
            for q in range(hv):
                gates[b, 2 * hv + q] = fastmath.tanh(px[b, n0 + q] + gates[b, q] * ph_n[b, q])
    else:
        for b in range(px.shape[0]):
            for q in range(hv):
                r_h[0, b, q] = gates[b, q] * h[layer, b, q]
        _matvec(w_n, layer, r_h, 0, hv // lanes, ph_n, lanes)
        for b in range(px.shape[0]):
            for q in range(hv):
                gates[b, 2 * hv + q] = fastmath.tanh(px[b, n0 + q] + ph_n[b, q])
    for b in range(px.shape[0]):
        for q in range(hv):
            z, n = gates[b, hv + q], gates[b, 2 * hv + q]
            if keeps:
                h[layer, b, q] = fastmath.fma(one - z, n, z * h[layer, b, q])
            else:
                h[layer, b, q] = fastmath.fma(z, n, (one - z) * h[layer, b, q])


@numba.njit(**JIT)
def _table(wb, offset, lanes, table):
    """table (C-contiguous) = the block's weights from parameter `offset` on, in order."""
    flat = table.reshape(table.size)
    for q in range(flat.size):
        flat[q] = wb[offset * lanes + q]


@numba.njit(**JIT)
def _write_out(y_buf, h_buf, n_buffered, t0, p0, n_real, lanes, y, hidden):
    """Copy the buffered steps t0 … t0 + n_buffered - 1 of a lane block to y and hidden.

    y_buf: (steps, B, O·V); h_buf: (steps, B·H·V + pad), sequence b's lanes at b·H·V.
    `WRITE_GROUP` genomes at a time: each read of the buffer takes one cache line of lanes,
    and their rows are written as that many contiguous runs, step after step.
    """
    n_batch = y_buf.shape[1]
    n_hidden = hidden.shape[3] if hidden.shape[0] > 0 else 0
    hv = n_hidden * lanes
    for v0 in range(0, n_real, WRITE_GROUP):
        v1 = min(v0 + WRITE_GROUP, n_real)
        for b in range(n_batch):
            for u in range(n_buffered):
                for o in range(y.shape[3]):
                    for v in range(v0, v1):
                        y[p0 + v, b, t0 + u, o] = y_buf[u, b, o * lanes + v]
                for k in range(n_hidden):
                    for v in range(v0, v1):
                        hidden[p0 + v, b, t0 + u, k] = h_buf[u, b * hv + k * lanes + v]


@numba.njit(inline="always", **JIT)
def _step_input(x, t, out, inp, lanes):
    """inp[0, b] = step t's input, x[b, t] (t < T) or the previous output out[b] (closed
    loop), each input repeated over the V = lanes lanes: inp (1, B, I·V), out (B, O·V)."""
    n_steps = x.shape[1]
    for b in range(inp.shape[1]):
        for q in range(inp.shape[2]):
            inp[0, b, q] = x[b, t, q // lanes] if t < n_steps else out[b, q]


@numba.njit(inline="always", **JIT)
def _write_row(out, h, layer, p0, t, y, hidden):
    """Step t of the one-genome block p0: y[p0, :, t] = out, and hidden[p0, :, t] = h[layer]
    unless hidden is empty; out (B, O), h (L, B, H)."""
    for b in range(out.shape[0]):
        for o in range(out.shape[1]):
            y[p0, b, t, o] = out[b, o]
        if hidden.shape[0] > 0:
            for k in range(h.shape[2]):
                hidden[p0, b, t, k] = h[layer, b, k]


@numba.njit(inline="always", **JIT)
def _record_step(out, h, layer, p0, n_real, t, n_total, lanes, y_buf, h_buf, y, hidden):
    """Step t (of n_total) of block p0: its outputs out (B, O·V) to y and, unless hidden is
    empty, its hidden states h[layer] (B, H·V) to hidden. One-genome blocks write in place
    (their rows run along t); lane blocks gather `STEPS_BUFFERED` steps in y_buf and h_buf
    first (`_write_out`)."""
    if lanes == 1:
        _write_row(out, h, layer, p0, t, y, hidden)
        return
    hv = h.shape[2]
    u = t % STEPS_BUFFERED
    for b in range(out.shape[0]):
        for q in range(out.shape[1]):
            y_buf[u, b, q] = out[b, q]
        if hidden.shape[0] > 0:
            for q in range(hv):
                h_buf[u, b * hv + q] = h[layer, b, q]
    if u == STEPS_BUFFERED - 1 or t == n_total - 1:
        _write_out(y_buf, h_buf, u + 1, t - u, p0, n_real, lanes, y, hidden)


@numba.njit(**JIT)
def _lstm_plain_steps(w_ih, w_hh, b_ih, w_out, b_out, layers, x, n_generate, p0, n_real,
                      lanes, h, c, pre, inp, out, y_buf, h_buf, y, hidden):
    """Every step of `simulate` for a block of the standard LSTM cell (all four gates, no
    peepholes, tanh activations): the tables and work arrays as there.

    The same operations in the same order as the general step loop, without its branches
    over variants: its own small function, 1.4-1.6x faster for one-genome blocks at B = 1
    (benchmarks/README.md, session 7). Lane blocks take it too, for one step loop fewer to
    keep in step; for them no change was measurable on a host whose noise was ±25%.
    """
    n_layers, n_hidden = h.shape[0], h.shape[2] // lanes
    n_total = x.shape[1] + n_generate
    for t in range(n_total):
        _step_input(x, t, out, inp, lanes)
        for layer in range(n_layers):
            _start(pre, b_ih, layer)
            if layer == 0:
                _matvec(w_ih, 0, inp, 0, layers[0, L_IN], pre, lanes)
            else:
                _matvec(w_ih, layer, h, layer - 1, layers[layer, L_IN], pre, lanes)
            _matvec(w_hh, layer, h, layer, n_hidden, pre, lanes)
            _lstm_plain(pre, h, c, layer, h.shape[2])
        _start(out, b_out, 0)
        _matvec(w_out, 0, h, n_layers - 1, n_hidden, out, lanes)
        _record_step(out, h, n_layers - 1, p0, n_real, t, n_total, lanes, y_buf, h_buf, y,
                     hidden)


@numba.njit(**JIT)
def simulate(w, lanes, flags, units, layers, readout, x, n_generate, state, y, hidden, one):
    """Run genomes over sequences, teacher-forced then (optionally) closed-loop.

    w: (n_blocks, n_params · lanes) lane weights (`lane_weights`); x: (B, T, I); state:
    (P, B, L, W) initial states, overwritten with the final ones; y: (P, B, T + n_generate,
    O), written; hidden: (P, B, T + n_generate, H) or (0, 0, 0, 0) to skip. P <= n_blocks ·
    lanes. As `kernels.simulate`.

    Each block's weights are first copied into per-layer tables, input-major with the lane
    innermost: w_ih (L, max(I, H), rows·V), w_hh (L, H, rows·V) (GRU: the gate rows, and the
    candidate's rows apart in w_n), biases (L, rows·V); the readout (1, H, O·V).

    A fresh hidden array's pages are first written when the steps write them, B sequences
    at once; zeroing a block's rows in order first, in its thread, then writing them is
    faster (at P, H, T, B = 256, 16, 200, 32 the array is 210 MiB: +h ×1.3, session 8).
    """
    n_pop, n_batch, n_layers = state.shape[0], state.shape[1], state.shape[2]
    n_steps, n_in, n_out = x.shape[1], x.shape[2], y.shape[3]
    H = state.shape[3] // 2
    hv = H * lanes
    is_lstm = flags[F_FAMILY] == 0
    keep = hidden.shape[0] > 0
    n_rows = flags[F_N_XROWS] * H
    gate_rows = n_rows if is_lstm else units[2, U_XROW] * H  # GRU: rows before n's
    n_peep = 3 if layers[0, L_PEEP] >= 0 else 0
    dtype = w.dtype
    w_ih = np.zeros((n_layers, max(n_in, H), n_rows * lanes), dtype)
    w_hh = np.zeros((n_layers, H, gate_rows * lanes), dtype)
    w_n = np.zeros((n_layers, H, (n_rows - gate_rows) * lanes), dtype)
    b_ih = np.zeros((n_layers, n_rows * lanes), dtype)
    b_hh = np.zeros((n_layers, gate_rows * lanes), dtype)
    b_n = np.zeros((n_layers, (n_rows - gate_rows) * lanes), dtype)
    peep = np.zeros((n_layers, n_peep * hv), dtype)
    w_out = np.zeros((1, H, n_out * lanes), dtype)
    b_out = np.zeros((1, n_out * lanes), dtype)
    h = np.zeros((n_layers, n_batch, hv), dtype)
    c = np.zeros((n_layers, n_batch, hv), dtype)
    pre = np.zeros((n_batch, n_rows * lanes), dtype)
    ph = np.zeros((n_batch, gate_rows * lanes), dtype)
    ph_n = np.zeros((n_batch, (n_rows - gate_rows) * lanes), dtype)
    gates = np.zeros((n_batch, 4 * hv), dtype)
    r_h = np.zeros((1, n_batch, hv), dtype)
    inp = np.zeros((1, n_batch, n_in * lanes), dtype)
    out = np.zeros((n_batch, n_out * lanes), dtype)
    # The step buffers of lane blocks (one-genome blocks write in place and leave them empty).
    # h_buf has one cache line more than a step's hidden states, so that consecutive steps
    # fall into different cache sets (at B·H·V·itemsize a multiple of 4 KiB they would not).
    n_buffered = STEPS_BUFFERED if lanes > 1 else 0
    y_buf = np.zeros((n_buffered, n_batch, n_out * lanes), dtype)
    h_buf = np.zeros((n_buffered, n_batch * hv + 64 // w.itemsize if keep else 0), dtype)
    for block in range(w.shape[0]):
        wb = w[block]
        p0 = block * lanes
        n_real = min(lanes, n_pop - p0)
        for layer in range(n_layers):
            lay = layers[layer]
            _table(wb, lay[L_WIH], lanes, w_ih[layer, : lay[L_IN]])
            for j in range(H):
                for q in range(gate_rows * lanes):
                    w_hh[layer, j, q] = wb[(lay[L_WHH] + j * n_rows) * lanes + q]
                for q in range((n_rows - gate_rows) * lanes):
                    w_n[layer, j, q] = wb[(lay[L_WHH] + j * n_rows + gate_rows) * lanes + q]
            if lay[L_BIH] >= 0:  # else no biases: the tables stay zero
                for q in range(n_rows * lanes):
                    b_ih[layer, q] = wb[lay[L_BIH] * lanes + q]
                for q in range(gate_rows * lanes):
                    b_hh[layer, q] = wb[lay[L_BHH] * lanes + q]
                    if is_lstm:
                        b_ih[layer, q] += b_hh[layer, q]  # the LSTM adds both up front
                for q in range((n_rows - gate_rows) * lanes):
                    b_n[layer, q] = wb[(lay[L_BHH] + gate_rows) * lanes + q]
            if n_peep:
                _table(wb, lay[L_PEEP], lanes, peep[layer])
        _table(wb, readout[0], lanes, w_out[0])
        _table(wb, readout[1], lanes, b_out[0])
        h[:] = 0
        c[:] = 0
        if keep:  # touch the block's rows of hidden in order first (see the docstring)
            hidden[p0 : p0 + n_real] = 0
        for layer in range(n_layers):
            for b in range(n_batch):
                for v in range(n_real):
                    for k in range(H):
                        h[layer, b, k * lanes + v] = state[p0 + v, b, layer, k]
                        c[layer, b, k * lanes + v] = state[p0 + v, b, layer, H + k]
        plain = _is_plain_lstm(flags, n_peep)
        if plain:  # its own loop; the general one below then runs no step
            _lstm_plain_steps(w_ih, w_hh, b_ih, w_out, b_out, layers, x, n_generate, p0,
                              n_real, lanes, h, c, pre, inp, out, y_buf, h_buf, y, hidden)
        for t in range(0 if plain else n_steps + n_generate):
            _step_input(x, t, out, inp, lanes)
            for layer in range(n_layers):
                src, src_layer = (inp, 0) if layer == 0 else (h, layer - 1)
                n_src = layers[layer, L_IN]
                _start(pre, b_ih, layer)
                _matvec(w_ih, layer, src, src_layer, n_src, pre, lanes)
                if is_lstm:
                    _matvec(w_hh, layer, h, layer, H, pre, lanes)
                    _lstm_cell(units, flags, pre, peep, h, c, gates, layer, hv, one)
                else:
                    _start(ph, b_hh, layer)
                    _matvec(w_hh, layer, h, layer, H, ph, lanes)
                    _start(ph_n, b_n, layer)
                    if flags[F_RESET_AFTER]:
                        _matvec(w_n, layer, h, layer, H, ph_n, lanes)
                    _gru_cell(units, flags, pre, ph, ph_n, h, gates, r_h, w_n, layer, hv,
                              lanes, one)
            _start(out, b_out, 0)
            _matvec(w_out, 0, h, n_layers - 1, H, out, lanes)
            _record_step(out, h, n_layers - 1, p0, n_real, t, n_steps + n_generate, lanes,
                         y_buf, h_buf, y, hidden)
        for layer in range(n_layers):
            for b in range(n_batch):
                for v in range(n_real):
                    for k in range(H):
                        state[p0 + v, b, layer, k] = h[layer, b, k * lanes + v]
                        if is_lstm:
                            state[p0 + v, b, layer, H + k] = c[layer, b, k * lanes + v]
