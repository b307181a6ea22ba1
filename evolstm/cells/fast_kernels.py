"""Fast Numba kernels for the common topologies: LSTM and GRU families, every unit linear.

They compute what `evolstm.cells.kernels.simulate` computes (same state, outputs, closed-loop
generation and hidden states), faster, for topologies whose units all read x and h through
``linear`` connections and have no full gate recurrence: ``lstm``, ``np``, ``lstm1997``,
``peephole``, ``nig``, ``nfg``, ``nog``, ``niaf``, ``noaf``, ``cifg``, ``gru`` and the
points of the topology space alike (`supports`). Differences from the reference kernel:

* exp, sigmoid and tanh are `evolstm.cells.fastmath`'s vectorisable ones (a few ulp);
* the layout depends on H and the dtype only (`lanes_for`): for small H, ``LANES`` genomes
  share a block, every weight stored as ``(param, lane)`` so the genome index is the SIMD
  lane; for larger H, one genome per block (``lanes == 1``) and the matrix-vector products
  run along the gate rows. The last block is padded with zero genomes, which do not touch
  the other lanes: genome p's results depend on genome p alone, whatever P, the chunking or
  the thread count, bit for bit;
* the B sequences of a block advance together, step by step, so the block's weights stay in
  cache across the sequences of a batch.

Work arrays, flat, for one block of V lanes: h and c (L, B, H, V); gate pre-activations
(B, G, H, V) with G the number of units that carry weights, in genome row order.
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
LANE_MAX_HIDDEN = {"float64": 8, "float32": 16}  # largest H that uses the lane layout


def supports(topology: Topology) -> bool:
    """Whether the fast kernels run this topology (else use `kernels.simulate`)."""
    return not topology.recurrent_gates() and all(
        unit.x_mode == "linear" and unit.h_mode == "linear" for unit in topology.units()
    )


def lanes_for(n_hidden: int, dtype: np.dtype | str) -> int:
    """Genomes per block: `LANES` for small H, 1 (per-genome rows) for larger H."""
    return LANES if n_hidden <= LANE_MAX_HIDDEN[str(np.dtype(dtype))] else 1


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


def plan(layout: Layout, dtype: np.dtype | str) -> FastPlan | None:
    """The fast kernel for this layout and dtype, or None where only the reference runs."""
    if not supports(layout.topology):
        return None
    return FastPlan(layout, np.dtype(dtype), lanes_for(layout.n_hidden, dtype))


@numba.njit(**JIT)
def _fill_bias(w, off, n, out, out_off):
    """out[out_off : out_off + n] = w[off : off + n] (n counts params × lanes)."""
    for q in range(n):
        out[out_off + q] = w[off + q]


@numba.njit(**JIT)
def _matvec(w, off, n_rows_all, row0, n_rows, src, src_off, n_src, out, out_off, lanes):
    """out[r, v] += sum_j W^T[j, row0 + r, v] · src[j, v] for r < n_rows, every lane v.

    W^T: (n_src, n_rows_all, lanes) at w[off·lanes...]; src: (n_src, lanes) at src_off;
    out: (n_rows, lanes) at out_off.
    """
    if lanes == 1:
        for j in range(n_src):
            s = src[src_off + j]
            start = off + j * n_rows_all + row0
            for r in range(n_rows):
                out[out_off + r] += w[start + r] * s
    else:
        for j in range(n_src):
            s0 = src_off + j * LANES
            start = (off + j * n_rows_all + row0) * LANES
            for r in range(n_rows):
                w0 = start + r * LANES
                o0 = out_off + r * LANES
                for v in range(LANES):
                    out[o0 + v] += w[w0 + v] * src[s0 + v]


@numba.njit(**JIT)
def _sigmoid_into(dst, d0, a, a0, n):
    for q in range(n):
        dst[d0 + q] = fastmath.sigmoid(a[a0 + q])


@numba.njit(**JIT)
def _sigmoid_peep_into(dst, d0, a, a0, w, p0, c, c0, n):
    for q in range(n):
        dst[d0 + q] = fastmath.sigmoid(a[a0 + q] + w[p0 + q] * c[c0 + q])


@numba.njit(**JIT)
def _fill(dst, d0, n, value):
    for q in range(n):
        dst[d0 + q] = value


@numba.njit(**JIT)
def _lstm_layer(w, lay, units, flags, src, src_off, n_src, h, c, hc_off, pre, gates, n_hidden,
                lanes, one):
    """One step of one LSTM-family layer for one sequence: h, c at hc_off updated."""
    H, hv = n_hidden, n_hidden * lanes
    rows = flags[F_N_XROWS] * H
    _fill_bias(w, lay[L_BIH] * lanes, rows * lanes, pre, 0)
    for q in range(rows * lanes):
        pre[q] += w[lay[L_BHH] * lanes + q]
    _matvec(w, lay[L_WIH], rows, 0, rows, src, src_off, n_src, pre, 0, lanes)
    _matvec(w, lay[L_WHH], rows, 0, rows, h, hc_off, H, pre, 0, lanes)
    peep = lay[L_PEEP] * lanes
    for s in range(2):  # i, f (coupled f = 1 - i)
        g0 = s * hv
        a0 = units[s, U_XROW] * hv
        if units[s, U_PRESENT]:
            if units[s, U_PEEP] >= 0:
                _sigmoid_peep_into(gates, g0, pre, a0, w, peep + units[s, U_PEEP] * hv, c,
                                   hc_off, hv)
            else:
                _sigmoid_into(gates, g0, pre, a0, hv)
        elif s == 1 and flags[F_COUPLED]:
            for q in range(hv):
                gates[hv + q] = one - gates[q]
        else:
            _fill(gates, g0, hv, one)
    a0 = units[2, U_XROW] * hv
    if flags[F_CELL_ACT]:
        for q in range(hv):
            c[hc_off + q] = gates[hv + q] * c[hc_off + q] + gates[q] * pre[a0 + q]
    else:
        for q in range(hv):
            c[hc_off + q] = gates[hv + q] * c[hc_off + q] + gates[q] * fastmath.tanh(pre[a0 + q])
    o0 = 3 * hv
    if not units[3, U_PRESENT]:
        _fill(gates, o0, hv, one)
    elif units[3, U_PEEP] >= 0:
        _sigmoid_peep_into(gates, o0, pre, units[3, U_XROW] * hv, w,
                           peep + units[3, U_PEEP] * hv, c, hc_off, hv)
    else:
        _sigmoid_into(gates, o0, pre, units[3, U_XROW] * hv, hv)
    if flags[F_OUT_ACT]:
        for q in range(hv):
            h[hc_off + q] = gates[o0 + q] * c[hc_off + q]
    else:
        for q in range(hv):
            h[hc_off + q] = gates[o0 + q] * fastmath.tanh(c[hc_off + q])


@numba.njit(**JIT)
def _gru_gate(gates, g0, px, ph, a0, hv, present, fill):
    if present:
        for q in range(hv):
            gates[g0 + q] = fastmath.sigmoid(px[a0 + q] + ph[a0 + q])
    else:
        _fill(gates, g0, hv, fill)


@numba.njit(**JIT)
def _gru_layer(w, lay, units, flags, src, src_off, n_src, h, h_off, px, ph, gates, n_hidden,
               lanes, one):
    """One step of one GRU-family layer for one sequence: h at h_off updated."""
    H, hv = n_hidden, n_hidden * lanes
    n_blocks = flags[F_N_XROWS]
    rows = n_blocks * H
    _fill_bias(w, lay[L_BIH] * lanes, rows * lanes, px, 0)
    _matvec(w, lay[L_WIH], rows, 0, rows, src, src_off, n_src, px, 0, lanes)
    keeps = flags[F_UPDATE_KEEPS]
    zero = one - one
    n0 = units[2, U_XROW] * hv
    gate_rows = rows if flags[F_RESET_AFTER] else rows - H  # n is the last row block
    _fill_bias(w, lay[L_BHH] * lanes, gate_rows * lanes, ph, 0)
    _matvec(w, lay[L_WHH], rows, 0, gate_rows, h, h_off, H, ph, 0, lanes)
    _gru_gate(gates, 0, px, ph, units[0, U_XROW] * hv, hv, units[0, U_PRESENT], one)
    _gru_gate(gates, hv, px, ph, units[1, U_XROW] * hv, hv, units[1, U_PRESENT],
              zero if keeps else one)
    if flags[F_RESET_AFTER]:
        for q in range(hv):
            gates[2 * hv + q] = fastmath.tanh(px[n0 + q] + gates[q] * ph[n0 + q])
    else:
        for q in range(hv):  # r * h, in the fourth gate block
            gates[3 * hv + q] = gates[q] * h[h_off + q]
        _fill_bias(w, (lay[L_BHH] + rows - H) * lanes, hv, ph, n0)
        _matvec(w, lay[L_WHH], rows, rows - H, H, gates, 3 * hv, H, ph, n0, lanes)
        for q in range(hv):
            gates[2 * hv + q] = fastmath.tanh(px[n0 + q] + ph[n0 + q])
    if keeps:
        for q in range(hv):
            z = gates[hv + q]
            h[h_off + q] = (one - z) * gates[2 * hv + q] + z * h[h_off + q]
    else:
        for q in range(hv):
            z = gates[hv + q]
            h[h_off + q] = z * gates[2 * hv + q] + (one - z) * h[h_off + q]


@numba.njit(**JIT)
def simulate(w, lanes, flags, units, layers, readout, x, n_generate, state, y, hidden, one):
    """Run genomes over sequences, teacher-forced then (optionally) closed-loop.

    w: (n_blocks, n_params · lanes) lane weights (`lane_weights`); x: (B, T, I); state:
    (P, B, L, W) initial states, overwritten with the final ones; y: (P, B, T + n_generate,
    O), written; hidden: (P, B, T + n_generate, H) or (0, 0, 0, 0) to skip. P <= n_blocks ·
    lanes. As `kernels.simulate`.
    """
    n_pop, n_batch, n_layers = state.shape[0], state.shape[1], state.shape[2]
    n_steps, n_in, n_out = x.shape[1], x.shape[2], y.shape[3]
    H = state.shape[3] // 2
    hv = H * lanes
    is_lstm = flags[F_FAMILY] == 0
    keep = hidden.shape[0] > 0
    n_rows = flags[F_N_XROWS] * H
    dtype = w.dtype
    h = np.zeros(n_layers * n_batch * hv, dtype)
    c = np.zeros(n_layers * n_batch * hv, dtype)
    pre = np.zeros(n_rows * lanes, dtype)
    rec = np.zeros(n_rows * lanes, dtype)
    gates = np.zeros(4 * hv, dtype)
    inp = np.zeros(n_batch * n_in * lanes, dtype)
    out = np.zeros(n_batch * n_out * lanes, dtype)
    for block in range(w.shape[0]):
        wb = w[block]
        p0 = block * lanes
        n_real = min(lanes, n_pop - p0)
        h[:] = 0
        c[:] = 0
        for layer in range(n_layers):
            for b in range(n_batch):
                base = (layer * n_batch + b) * hv
                for v in range(n_real):
                    for k in range(H):
                        h[base + k * lanes + v] = state[p0 + v, b, layer, k]
                        c[base + k * lanes + v] = state[p0 + v, b, layer, H + k]
        top = (n_layers - 1) * n_batch * hv
        for t in range(n_steps + n_generate):
            for b in range(n_batch):
                for i in range(n_in):
                    i0 = (b * n_in + i) * lanes
                    if t < n_steps:
                        _fill(inp, i0, lanes, x[b, t, i])
                    else:
                        for v in range(lanes):
                            inp[i0 + v] = out[(b * n_out + i) * lanes + v]
            for b in range(n_batch):
                for layer in range(n_layers):
                    lay = layers[layer]
                    hc = (layer * n_batch + b) * hv
                    if layer == 0:
                        src, src_off, n_src = inp, b * n_in * lanes, lay[L_IN]
                    else:
                        src, src_off, n_src = h, hc - n_batch * hv, H
                    if is_lstm:
                        _lstm_layer(wb, lay, units, flags, src, src_off, n_src, h, c, hc, pre,
                                    gates, H, lanes, one)
                    else:
                        _gru_layer(wb, lay, units, flags, src, src_off, n_src, h, hc, pre, rec,
                                   gates, H, lanes, one)
                o0 = b * n_out * lanes
                _fill_bias(wb, readout[1] * lanes, n_out * lanes, out, o0)
                _matvec(wb, readout[0], n_out, 0, n_out, h, top + b * hv, H, out, o0, lanes)
                for v in range(n_real):
                    for o in range(n_out):
                        y[p0 + v, b, t, o] = out[o0 + o * lanes + v]
                    if keep:
                        for k in range(H):
                            hidden[p0 + v, b, t, k] = h[top + b * hv + k * lanes + v]
        for layer in range(n_layers):
            for b in range(n_batch):
                base = (layer * n_batch + b) * hv
                for v in range(n_real):
                    for k in range(H):
                        state[p0 + v, b, layer, k] = h[base + k * lanes + v]
                        if is_lstm:
                            state[p0 + v, b, layer, H + k] = c[base + k * lanes + v]
