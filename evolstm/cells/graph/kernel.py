"""The interpreter: one Numba kernel that runs every cell graph from its instruction table.

`simulate` reads a graph as `program.Program`'s integer tables, so a new graph costs no
compilation: the kernel is compiled once per dtype (and cached on disk). Each step walks the
instructions in order; every instruction runs over the B sequences of the batch and the
H·V items of its value, with V genomes side by side (the lane layout of
`evolstm.cells.fast_kernels`: item k of lane v at k·V + v, genomes as ``(param, lane)``);
V = 1 is one genome per block. Each block first gathers its genomes' weights into a table in
the order the instructions read them (`program`: matrices input-major, folded biases summed),
so a ``linear`` is a run of axpys, its terms summed in one order in both layouts: genome p's
results depend on genome p alone, whatever P, the layout, the chunking or the threads.

All jitted code of the interpreter is in this file (with `evolstm.cells.fastmath`, whose
changes drop the on-disk cache through `evolstm.cells.jitcache`).
"""

from __future__ import annotations

import numba
import numpy as np

from evolstm.cells import fastmath
from evolstm.cells.graph.nodes import OPS
from evolstm.cells.kernels import JIT

# Opcodes, as `nodes.OPS` numbers them (checked here: a cached kernel keeps these values).
LINEAR, DIAG, ADD, MUL, BLEND, ONE_MINUS, SIGMOID, TANH, RELU, IDENTITY, TILE = range(11)
_NAMES = ("linear", "diag", "add", "mul", "blend", "one_minus", "sigmoid", "tanh", "relu",
          "identity", "tile")
if any(OPS[name].code != code for code, name in enumerate(_NAMES)):
    raise ImportError("evolstm.cells.graph: opcodes of nodes.OPS and kernel differ")
C_OP, C_DST, C_N, C_ROWS, C_A, C_B, C_C = range(7)  # as `program.C_*`
X = -2  # operand code of the layer's input x, as `program.X`


@numba.njit(**JIT)
def _fill_table(wb, lanes, gather, table):
    """table[e·V + v] = the sum of genome entries gather[e] (-1: none) of lane v."""
    for e in range(gather.shape[0]):
        g0, g1 = gather[e, 0], gather[e, 1]
        for v in range(lanes):
            if g0 < 0:
                table[e * lanes + v] = 0.0
            elif g1 < 0:
                table[e * lanes + v] = wb[g0 * lanes + v]
            else:
                table[e * lanes + v] = wb[g0 * lanes + v] + wb[g1 * lanes + v]


@numba.njit(**JIT)
def _linear(rows, lanes, vals, xs, layer, ins, code, woff, boff, in_width, n_hidden):
    """A group of k = C_ROWS linears: slots dst … dst + k - 1 = bias + W [a; b; ...].

    rows: the weight table as rows of H·V (column c of the group: rows woff/H + c·k …
    + k - 1, the members' side by side). Four columns at a time, summed in pairs
    ((w0 s0 + w1 s1) + (w2 s2 + w3 s3), each pair rounded as fma(w1, s1, w0·s0)), then the
    rest one by one: the same order, and so the same bits, in both layouts. One-genome
    blocks index the arrays item by item (views would cost more than these short loops);
    lane blocks see the group's k slots as one run (views, paid once per V genomes).
    """
    n_batch, hv = vals.shape[1], n_hidden * lanes
    k, dst = code[ins, C_ROWS], code[ins, C_DST]
    w0 = woff // n_hidden
    for b in range(n_batch):
        for m in range(k):
            if boff >= 0:
                for q in range(hv):
                    vals[layer, b, dst + m, q] = rows[boff // n_hidden + m, q]
            else:
                for q in range(hv):
                    vals[layer, b, dst + m, q] = 0.0
    column = 0
    for operand in range(code[ins, C_N]):
        src = code[ins, C_A + operand]
        if src == X:
            source, slot, n_items = xs[layer], 0, in_width
        else:
            source, slot, n_items = vals[layer], src, n_hidden
        if lanes == 1:
            _columns_rows(rows, vals, source, slot, n_items, layer, dst, k, w0 + column * k)
        else:
            _columns_lanes(rows, vals, source, slot, n_items, layer, dst, k,
                           w0 + column * k, lanes, n_hidden)
        column += n_items


@numba.njit(**JIT)
def _columns_rows(rows, vals, source, slot, n_items, layer, dst, k, r_first):
    """`_linear`'s terms of one operand (its n_items columns from table row r_first on) in a
    one-genome block."""
    n_batch, hv = vals.shape[1], vals.shape[3]
    n_fours = n_items - n_items % 4
    for j in range(0, n_fours, 4):
        r0 = r_first + j * k
        for b in range(n_batch):
            x0, x1 = source[b, slot, j], source[b, slot, j + 1]
            x2, x3 = source[b, slot, j + 2], source[b, slot, j + 3]
            for m in range(k):
                for q in range(hv):
                    vals[layer, b, dst + m, q] += (
                        fastmath.fma(rows[r0 + k + m, q], x1, rows[r0 + m, q] * x0)
                        + fastmath.fma(rows[r0 + 3 * k + m, q], x3, rows[r0 + 2 * k + m, q] * x2))
    for j in range(n_fours, n_items):
        r0 = r_first + j * k
        for b in range(n_batch):
            x0 = source[b, slot, j]
            for m in range(k):
                for q in range(hv):
                    vals[layer, b, dst + m, q] = fastmath.fma(rows[r0 + m, q], x0,
                                                             vals[layer, b, dst + m, q])


@numba.njit(**JIT)
def _columns_lanes(rows, vals, source, slot, n_items, layer, dst, k, r_first, lanes, n_hidden):
    """`_linear`'s terms of one operand in a lane block: the group's k·H·V items as one run."""
    n_batch = vals.shape[1]
    width, n_rows = k * n_hidden * lanes, k * n_hidden
    n_fours = n_items - n_items % 4
    for j in range(0, n_fours, 4):
        r0 = r_first + j * k
        t0 = rows[r0 : r0 + k].reshape(width)
        t1 = rows[r0 + k : r0 + 2 * k].reshape(width)
        t2 = rows[r0 + 2 * k : r0 + 3 * k].reshape(width)
        t3 = rows[r0 + 3 * k : r0 + 4 * k].reshape(width)
        for b in range(n_batch):
            out = vals[layer, b, dst : dst + k].reshape(width)
            s0 = source[b, slot, j * lanes : (j + 1) * lanes]
            s1 = source[b, slot, (j + 1) * lanes : (j + 2) * lanes]
            s2 = source[b, slot, (j + 2) * lanes : (j + 3) * lanes]
            s3 = source[b, slot, (j + 3) * lanes : (j + 4) * lanes]
            for r in range(n_rows):
                o0 = r * lanes
                for v in range(lanes):
                    out[o0 + v] += (
                        fastmath.fma(t1[o0 + v], s1[v], t0[o0 + v] * s0[v])
                        + fastmath.fma(t3[o0 + v], s3[v], t2[o0 + v] * s2[v]))
    for j in range(n_fours, n_items):
        r0 = r_first + j * k
        t0 = rows[r0 : r0 + k].reshape(width)
        for b in range(n_batch):
            out = vals[layer, b, dst : dst + k].reshape(width)
            s0 = source[b, slot, j * lanes : (j + 1) * lanes]
            for r in range(n_rows):
                o0 = r * lanes
                for v in range(lanes):
                    out[o0 + v] = fastmath.fma(t0[o0 + v], s0[v], out[o0 + v])


@numba.njit(**JIT)
def _elementwise(rows, lanes, vals, xs, layer, ins, code, woff, in_width, n_hidden, one):
    """Every op but linear: the value of slot dst from its operands, item by item."""
    op, hv = code[ins, C_OP], n_hidden * lanes
    d, a, b_, c = code[ins, C_DST], code[ins, C_A], code[ins, C_B], code[ins, C_C]
    zero = one - one
    for b in range(vals.shape[1]):
        if op == DIAG:
            weight = rows[woff // n_hidden]
            for q in range(hv):
                vals[layer, b, d, q] = weight[q] * vals[layer, b, a, q]
        elif op == ADD:
            for q in range(hv):
                vals[layer, b, d, q] = vals[layer, b, a, q] + vals[layer, b, b_, q]
        elif op == MUL:
            for q in range(hv):
                vals[layer, b, d, q] = vals[layer, b, a, q] * vals[layer, b, b_, q]
        elif op == BLEND:
            for q in range(hv):
                z = vals[layer, b, a, q]
                vals[layer, b, d, q] = (z * vals[layer, b, b_, q]
                                        + (one - z) * vals[layer, b, c, q])
        elif op == ONE_MINUS:
            for q in range(hv):
                vals[layer, b, d, q] = one - vals[layer, b, a, q]
        elif op == SIGMOID:
            for q in range(hv):
                vals[layer, b, d, q] = fastmath.sigmoid(vals[layer, b, a, q])
        elif op == TANH:
            for q in range(hv):
                vals[layer, b, d, q] = fastmath.tanh(vals[layer, b, a, q])
        elif op == RELU:
            for q in range(hv):
                value = vals[layer, b, a, q]
                vals[layer, b, d, q] = zero if value < zero else value
        elif op == IDENTITY:
            for q in range(hv):
                vals[layer, b, d, q] = vals[layer, b, a, q]
        elif op == TILE:  # unit k reads x[k mod I]
            for k in range(n_hidden):
                src = (k % in_width) * lanes
                for v in range(lanes):
                    vals[layer, b, d, k * lanes + v] = xs[layer, b, 0, src + v]


@numba.njit(**JIT)
def _record(out, vals, top, b, t, p0, n_real, lanes, n_hidden, keep, y, hidden):
    """Step t of sequence b: outputs out[b] (O·V) to y and, if kept, the top layer's h."""
    for v in range(n_real):
        for o in range(y.shape[3]):
            y[p0 + v, b, t, o] = out[b, o * lanes + v]
        if keep:
            for k in range(n_hidden):
                hidden[p0 + v, b, t, k] = vals[top, b, 0, k * lanes + v]


@numba.njit(**JIT)
def simulate(w, lanes, code, offsets, gather, outputs, n_slots, in_width, readout, x,
             n_generate, state, y, hidden, one):
    """Run genomes of one graph over sequences, teacher-forced then (optionally) closed-loop.

    w: (n_blocks, n_params · lanes) genomes in lanes (`fast_kernels.lane_weights`; lanes = 1:
    the genomes (P, n_params) as they are); code … readout: the graph's `program.Program`;
    x: (B, T, I); state: (P, B, L, S·H) initial states, overwritten with the final ones; y:
    (P, B, T + n_generate, O), written; hidden: (P, B, T + n_generate, H), the top layer's h,
    or (0, 0, 0, 0) to skip. Steps t >= T read the previous step's output (I == O).

    Work arrays: the weight table filled from each block's genomes (its part before the
    readout seen as rows of H·V: `rows`), the values (L, B, slots, H·V) (a sequence's slots
    side by side, so a group of linears writes one run) and the inputs (L, B, 1,
    max(I, H)·V). Every hot loop indexes by range variables from 0 (a view where needed):
    an index LLVM cannot prove non-negative keeps Numba's wraparound check in the loop,
    which stops vectorisation (x3-5 measured).
    """
    n_pop, n_batch, n_layers = state.shape[0], state.shape[1], state.shape[2]
    n_states = outputs.shape[0]
    n_hidden = state.shape[3] // n_states
    n_steps, n_in, n_out = x.shape[1], x.shape[2], y.shape[3]
    hv = n_hidden * lanes
    keep = hidden.shape[0] > 0
    table = np.zeros(gather.shape[0] * lanes, w.dtype)
    n_rows = readout[0] // n_hidden if readout[0] >= 0 else gather.shape[0] // n_hidden
    rows = table[: n_rows * hv].reshape(n_rows, hv)
    vals = np.zeros((n_layers, n_batch, n_slots, hv), w.dtype)
    xs = np.zeros((n_layers, n_batch, 1, max(n_in, n_hidden) * lanes), w.dtype)
    out = np.zeros((n_batch, n_out * lanes), w.dtype)
    top = n_layers - 1
    for block in range(w.shape[0]):
        p0 = block * lanes
        n_real = min(lanes, n_pop - p0)
        _fill_table(w[block], lanes, gather, table)
        vals[:] = 0
        for layer in range(n_layers):
            for b in range(n_batch):
                for s in range(n_states):
                    for v in range(n_real):
                        for k in range(n_hidden):
                            vals[layer, b, s, k * lanes + v] = state[p0 + v, b, layer,
                                                                     s * n_hidden + k]
        for t in range(n_steps + n_generate):
            for b in range(n_batch):
                for i in range(n_in):
                    for v in range(lanes):
                        xs[0, b, 0, i * lanes + v] = (
                            x[b, t, i] if t < n_steps else out[b, i * lanes + v])
            for layer in range(n_layers):
                if layer > 0:
                    for b in range(n_batch):
                        for q in range(hv):
                            xs[layer, b, 0, q] = vals[layer - 1, b, 0, q]
                for ins in range(code.shape[0]):
                    woff, boff = offsets[layer, ins, 0], offsets[layer, ins, 1]
                    if code[ins, C_OP] == LINEAR:
                        _linear(rows, lanes, vals, xs, layer, ins, code, woff, boff,
                                in_width[layer], n_hidden)
                    else:
                        _elementwise(rows, lanes, vals, xs, layer, ins, code, woff,
                                     in_width[layer], n_hidden, one)
                for s in range(n_states):
                    src = outputs[s]
                    for b in range(n_batch):
                        for q in range(hv):
                            vals[layer, b, s, q] = vals[layer, b, src, q]
            for b in range(n_batch):
                if readout[0] < 0:  # output units: the last O items of slot readout[1]
                    for o in range(n_out):
                        for v in range(lanes):
                            out[b, o * lanes + v] = vals[
                                top, b, readout[1], (n_hidden - n_out + o) * lanes + v]
                    _record(out, vals, top, b, t, p0, n_real, lanes, n_hidden, keep, y, hidden)
                    continue
                for q in range(n_out * lanes):
                    out[b, q] = table[readout[1] * lanes + q]
                for j in range(n_hidden):
                    base = (readout[0] + j * n_out) * lanes
                    for o in range(n_out):
                        for v in range(lanes):
                            q = o * lanes + v
                            out[b, q] = fastmath.fma(table[base + q],
                                                     vals[top, b, 0, j * lanes + v], out[b, q])
                _record(out, vals, top, b, t, p0, n_real, lanes, n_hidden, keep, y, hidden)
        for layer in range(n_layers):
            for b in range(n_batch):
                for s in range(n_states):
                    for v in range(n_real):
                        for k in range(n_hidden):
                            state[p0 + v, b, layer, s * n_hidden + k] = vals[
                                layer, b, s, k * lanes + v]
