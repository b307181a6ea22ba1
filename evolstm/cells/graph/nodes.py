"""The operations a cell-graph node can perform: one registry entry per op.

Every value in a cell graph is a vector of H items (the hidden size), except the source
``x``, which is I items wide (n_in, or H above the first layer). Only ``linear`` and ``tile``
read ``x``; every other op reads H-vectors and works item by item.

==============  =======  =====================================================  ==============
op              inputs   value                                                  weights
==============  =======  =====================================================  ==============
``linear``      1-3      ``W [a; b; c] + bias`` (W: H x sum of input widths)    weight, bias?
``diag``        1        ``w * a`` (elementwise weight: a peephole)             weight (H,)
``add``         2        ``a + b``
``mul``         2        ``a * b``
``blend``       3        ``z * a + (1 - z) * b`` for inputs (z, a, b)
``one_minus``   1        ``1 - a``
``sigmoid``     1        ``1 / (1 + exp(-a))``
``tanh``        1        ``tanh(a)``
``relu``        1        ``max(a, 0)``
``identity``    1        ``a``
``tile``        1 (x)    unit k reads ``x[k mod I]`` (evolstm's rule for adding x to an
                         H-vector without a weight; exactly x when I == H)
==============  =======  =====================================================  ==============
"""

from __future__ import annotations

import dataclasses

import numpy as np


def _sigmoid(a: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(-a) = inf for a << 0: the value is 0, as it should
        return 1.0 / (1.0 + np.exp(-a))


@dataclasses.dataclass(frozen=True)
class Op:
    """One operation: its arity, whether it owns weights, whether its operands commute, its
    opcode in the interpreter's instruction table, and its NumPy value (None for ops that
    need weights or sizes: `linear`, `diag`, `tile`)."""

    name: str
    min_inputs: int
    max_inputs: int
    code: int
    weighted: bool = False
    commutative: bool = False
    reads_x: bool = False  # may read the I-wide source x (every other op reads H-vectors)
    numpy: object = None


OPS: dict[str, Op] = {
    op.name: op
    for op in (
        Op("linear", 1, 3, 0, weighted=True, commutative=True, reads_x=True),
        Op("diag", 1, 1, 1, weighted=True),
        Op("add", 2, 2, 2, commutative=True, numpy=lambda a, b: a + b),
        Op("mul", 2, 2, 3, commutative=True, numpy=lambda a, b: a * b),
        Op("blend", 3, 3, 4, numpy=lambda z, a, b: z * a + (1.0 - z) * b),
        Op("one_minus", 1, 1, 5, numpy=lambda a: 1.0 - a),
        Op("sigmoid", 1, 1, 6, numpy=_sigmoid),
        Op("tanh", 1, 1, 7, numpy=np.tanh),
        Op("relu", 1, 1, 8, numpy=lambda a: np.maximum(a, 0.0)),
        Op("identity", 1, 1, 9, numpy=lambda a: a),
        Op("tile", 1, 1, 10, reads_x=True),
    )
}
ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity")
