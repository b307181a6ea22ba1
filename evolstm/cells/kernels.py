"""Numba kernels that simulate populations of cells of any topology.

One compiled kernel runs every topology: the topology arrives as the small integer tables of
`KernelSpec`, and every branch on it sits outside the innermost loops, which are plain
``out[k] += w[k] * x`` runs that LLVM vectorises. Weights are read from a *kernel genome*:
the genome with every matrix block transposed (input-major), so that a matrix-vector product
is a sequence of contiguous axpy runs along the gate rows (`kernel_genomes`).

Each genome is simulated by the same code whatever the population size, the chunking or the
thread count: genome p's outputs depend on genome p's row alone, and the summation order
within a genome is fixed. The kernels release the GIL, so threads give parallelism.

State layout, per genome, sequence and layer: ``[h (H) | c (H) | previous gates (Ug·H)]``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from evolstm.cells.layout import (
    F_CELL_ACT,
    F_COUPLED,
    F_FAMILY,
    F_N_GATES_REC,
    F_N_HROWS,
    F_N_XROWS,
    F_OUT_ACT,
    F_READOUT_UNITS,
    F_RESET_AFTER,
    F_UPDATE_KEEPS,
    L_BHH,
    L_BIH,
    L_IN,
    L_PEEP,
    L_WGG,
    L_WHH,
    L_WIH,
    U_GATE,
    U_HMODE,
    U_HROW,
    U_PEEP,
    U_PRESENT,
    U_XMODE,
    U_XROW,
    Layout,
)

# Every kernel: cached on disk, GIL released, NumPy's error model (no division checks).
JIT = dict(cache=True, nogil=True, error_model="numpy", fastmath={"nsz", "contract"})

# Mode codes: indices into topology.X_MODES / H_MODES.
X_LINEAR, X_IDENTITY, X_TANH, X_NONE = 0, 1, 2, 3
H_LINEAR, H_TANH, H_NONE = 0, 1, 2


def kernel_genomes(genomes: np.ndarray, layout: Layout) -> np.ndarray:
    """(P, n_params) genomes -> (P, n_params) C-contiguous copy with matrices transposed."""
    out = np.array(genomes, order="C", copy=True)
    for block in layout.blocks:
        if len(block.shape) == 2:
            rows, cols = block.shape
            end = block.offset + block.size
            matrix = genomes[:, block.offset : end].reshape(-1, rows, cols)
            out[:, block.offset : end] = matrix.transpose(0, 2, 1).reshape(-1, block.size)
    return out


@numba.njit(**JIT)
def _sigmoid(z, one):
    return one / (one + math.exp(-z))


@numba.njit(**JIT)
def _affine(w, off_w, off_b, n_rows, row0, src, n_src, squash, out, base, n_hidden):
    """out[base:base+H] = b[row0:row0+H] + sum_j W^T[j, row0:row0+H] * f(src[j]).

    W^T is (n_src, n_rows) at off_w; b at off_b, or no bias when off_b < 0; f is tanh when
    `squash`, identity otherwise.
    """
    if off_b >= 0:
        for k in range(n_hidden):
            out[base + k] = w[off_b + row0 + k]
    else:
        for k in range(n_hidden):
            out[base + k] = 0.0
    for j in range(n_src):
        v = math.tanh(src[j]) if squash else src[j]
        start = off_w + j * n_rows + row0
        for k in range(n_hidden):
            out[base + k] += w[start + k] * v


@numba.njit(**JIT)
def _input_part(w, lay, units, s, n_xrows, inp, pre, base, n_hidden):
    """pre[base:base+H] = the input contribution of unit slot s."""
    mode = units[s, U_XMODE]
    n_in = lay[L_IN]
    if mode == X_LINEAR:
        _affine(w, lay[L_WIH], lay[L_BIH], n_xrows * n_hidden, units[s, U_XROW] * n_hidden,
                inp, n_in, False, pre, base, n_hidden)
    elif mode == X_IDENTITY:
        for k in range(n_hidden):
            pre[base + k] = inp[k % n_in]
    elif mode == X_TANH:
        for k in range(n_hidden):
            pre[base + k] = math.tanh(inp[k % n_in])
    else:
        for k in range(n_hidden):
            pre[base + k] = 0.0


@numba.njit(**JIT)
def _recurrent_part(w, lay, units, s, n_hrows, src, out, base, n_hidden):
    """out[base:base+H] = the recurrent contribution of unit slot s reading `src` (H,)."""
    mode = units[s, U_HMODE]
    if mode == H_NONE:
        for k in range(n_hidden):
            out[base + k] = 0.0
    else:
        _affine(w, lay[L_WHH], lay[L_BHH], n_hrows * n_hidden, units[s, U_HROW] * n_hidden,
                src, n_hidden, mode == H_TANH, out, base, n_hidden)


@numba.njit(**JIT)
def _lstm_layer(w, lay, units, flags, inp, st, pre, rec, n_hidden, one):
    """One step of an LSTM-family layer. st = [h | c | gates] is updated in place."""
    H = n_hidden
    n_xrows, n_hrows, n_gates = flags[F_N_XROWS], flags[F_N_HROWS], flags[F_N_GATES_REC]
    for s in range(4):
        if units[s, U_PRESENT]:
            _input_part(w, lay, units, s, n_xrows, inp, pre, s * H, H)
            _recurrent_part(w, lay, units, s, n_hrows, st[:H], rec, s * H, H)
            for k in range(H):
                pre[s * H + k] += rec[s * H + k]
    if n_gates > 0:  # full gate recurrence: gates read every free gate's last activation
        rows = n_gates * H
        for s in range(4):
            gate = units[s, U_GATE]
            if gate >= 0:
                for j in range(rows):
                    v = st[2 * H + j]
                    start = lay[L_WGG] + j * rows + gate * H
                    for k in range(H):
                        pre[s * H + k] += w[start + k] * v
    peep = lay[L_PEEP]
    for s in range(2):  # peepholes from c_{t-1} into i and f
        if units[s, U_PEEP] >= 0:
            off = peep + units[s, U_PEEP] * H
            for k in range(H):
                pre[s * H + k] += w[off + k] * st[H + k]
    has_i, has_f, has_o = units[0, U_PRESENT], units[1, U_PRESENT], units[3, U_PRESENT]
    coupled = flags[F_COUPLED]
    cell_identity, out_identity = flags[F_CELL_ACT], flags[F_OUT_ACT]
    for k in range(H):
        i = _sigmoid(pre[k], one) if has_i else one
        if has_f:
            f = _sigmoid(pre[H + k], one)
        elif coupled:
            f = one - i
        else:
            f = one
        g = pre[2 * H + k] if cell_identity else math.tanh(pre[2 * H + k])
        c = f * st[H + k] + i * g
        st[H + k] = c
        if has_o:
            a = pre[3 * H + k]
            if units[3, U_PEEP] >= 0:
                a += w[peep + units[3, U_PEEP] * H + k] * c
            o = _sigmoid(a, one)
        else:
            o = one
        pre[k], pre[H + k], pre[2 * H + k], pre[3 * H + k] = i, f, g, o
        st[k] = o * (c if out_identity else math.tanh(c))
        if n_gates > 0:
            for s in (0, 1, 3):
                gate = units[s, U_GATE]
                if gate >= 0:
                    if s == 0:
                        st[2 * H + gate * H + k] = i
                    elif s == 1:
                        st[2 * H + gate * H + k] = f
                    else:
                        st[2 * H + gate * H + k] = o


@numba.njit(**JIT)
def _gru_layer(w, lay, units, flags, inp, st, pre, rec, n_hidden, one):
    """One step of a GRU-family layer. st = [h | ...] is updated in place."""
    H = n_hidden
    n_xrows, n_hrows = flags[F_N_XROWS], flags[F_N_HROWS]
    zero = one - one
    for s in range(2):  # reset and update gates
        if units[s, U_PRESENT]:
            _input_part(w, lay, units, s, n_xrows, inp, pre, s * H, H)
            _recurrent_part(w, lay, units, s, n_hrows, st[:H], rec, s * H, H)
            for k in range(H):
                pre[s * H + k] = _sigmoid(pre[s * H + k] + rec[s * H + k], one)
        else:
            fill = one if s == 0 or not flags[F_UPDATE_KEEPS] else zero
            for k in range(H):
                pre[s * H + k] = fill
    _input_part(w, lay, units, 2, n_xrows, inp, pre, 2 * H, H)
    if flags[F_RESET_AFTER]:
        _recurrent_part(w, lay, units, 2, n_hrows, st[:H], rec, 2 * H, H)
        for k in range(H):
            pre[2 * H + k] += pre[k] * rec[2 * H + k]
    else:
        for k in range(H):  # r * h, kept in rec's first block (free after the gates)
            rec[k] = pre[k] * st[k]
        _recurrent_part(w, lay, units, 2, n_hrows, rec[:H], rec, 2 * H, H)
        for k in range(H):
            pre[2 * H + k] += rec[2 * H + k]
    keeps = flags[F_UPDATE_KEEPS]
    if flags[F_READOUT_UNITS]:  # output units: keep the pre-activations in the free c slot
        for k in range(H):
            st[H + k] = pre[2 * H + k]
    for k in range(H):
        n = math.tanh(pre[2 * H + k])
        pre[2 * H + k] = n
        z = pre[H + k]
        if keeps:
            st[k] = (one - z) * n + z * st[k]
        else:
            st[k] = z * n + (one - z) * st[k]


@numba.njit(**JIT)
def cell_step(w, flags, units, layers, readout, inp, state, pre, rec, n_hidden, y, one):
    """Advance every layer of one cell one step, then the readout.

    w: (n_params,) kernel genome; inp: (I,); state: (L, W) per-layer state, updated in
    place; pre, rec: (4·H,) scratch; y: (O,) output, written: the linear readout of the top
    layer's h, or (output units) the pre-activations of its last O units, which a GRU-family
    layer leaves in the state's (otherwise unused) c slot. On return, pre holds the last
    layer's unit activations by slot: [i | f | g | o] (LSTM family) or [r | z | n] (GRU).
    """
    n_layers = layers.shape[0]
    for layer in range(n_layers):
        lay = layers[layer]
        src = inp if layer == 0 else state[layer - 1, :n_hidden]
        if flags[F_FAMILY] == 0:
            _lstm_layer(w, lay, units, flags, src, state[layer], pre, rec, n_hidden, one)
        else:
            _gru_layer(w, lay, units, flags, src, state[layer], pre, rec, n_hidden, one)
    top = state[n_layers - 1]
    n_out = y.shape[0]
    if flags[F_READOUT_UNITS]:
        for o in range(n_out):
            y[o] = top[2 * n_hidden - n_out + o]
        return
    for o in range(n_out):
        y[o] = w[readout[1] + o]
    for j in range(n_hidden):
        v = top[j]
        start = readout[0] + j * n_out
        for o in range(n_out):
            y[o] += w[start + o] * v


@numba.njit(**JIT)
def simulate(w, flags, units, layers, readout, x, n_generate, state, y, hidden, one):
    """Run genomes over sequences, teacher-forced then (optionally) closed-loop.

    w: (P, n_params) kernel genomes; x: (B, T, I) inputs; state: (P, B, L, W) initial
    states, overwritten with the final ones; y: (P, B, T + n_generate, O) outputs, written;
    hidden: (P, B, T + n_generate, H) last layer's h at every step, or a (0, 0, 0, 0) array
    to skip. Steps t >= T take the previous step's output as input (needs I == O).
    """
    n_pop, n_batch, n_steps = w.shape[0], x.shape[0], x.shape[1]
    n_hidden = state.shape[3] // (2 + flags[F_N_GATES_REC])
    keep = hidden.shape[0] > 0
    pre = np.empty(4 * n_hidden, dtype=w.dtype)
    rec = np.empty(4 * n_hidden, dtype=w.dtype)
    for p in range(n_pop):
        for b in range(n_batch):
            st = state[p, b]
            for t in range(n_steps + n_generate):
                inp = x[b, t] if t < n_steps else y[p, b, t - 1]
                cell_step(w[p], flags, units, layers, readout, inp, st, pre, rec, n_hidden,
                          y[p, b, t], one)
                if keep:
                    hidden[p, b, t, :] = st[-1, :n_hidden]
