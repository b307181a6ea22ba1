"""Named cell variants: each is a configuration of `Topology`, one registry line each.

References for the equations:
* ``lstm1997``: Hochreiter & Schmidhuber 1997 (input and output gates, no forget gate; the
  squashing functions are tanh here, where the paper scales logistic sigmoids).
* ``lstm``: Gers, Schmidhuber & Cummins 1999 (forget gate), PyTorch ``nn.LSTM`` semantics.
* ``peephole``: Gers & Schmidhuber 2000, the "vanilla" LSTM of Greff et al. 2017.
* ``nig nfg nog niaf noaf np cifg fgr``: Greff et al., "LSTM: A Search Space Odyssey"
  (IEEE TNNLS 28(10), 2017), each one change to the vanilla peephole LSTM.
* ``gru``: Cho et al. 2014 as PyTorch ``nn.GRU`` computes it (reset after the product).
* ``mut1 mut2 mut3``: Jozefowicz, Zaremba & Sutskever 2015, table of the three best
  mutated architectures (reset before the product, z writes the candidate).
* ``elman``: Elman 1990, h_t = tanh(W x_t + b_ih + U h_{t-1} + b_hh), PyTorch ``nn.RNN``.
* ``fully_recurrent``: Williams & Zipser 1989's fully recurrent network, the controller of
  the pole-balancing papers (ESP, CoSyNE, Igel's CMA-ES): tanh units without biases, every
  unit reads the input and every unit's last activation, and the last O units are the
  outputs (y = their pre-activation). Three hidden units and one output unit on the double
  pole make Igel's 28 weights.
"""

from __future__ import annotations

from typing import Any

from evolstm.cells.topology import Topology
from evolstm.errors import EvolstmError

_PEEPHOLE: dict[str, Any] = {"peepholes": True}
_MUT: dict[str, Any] = {"family": "gru", "reset_after": False, "update_keeps_state": False}
_ELMAN: dict[str, Any] = {"family": "gru", "reset_gate": False, "update_gate": False}

VARIANTS: dict[str, dict[str, Any]] = {
    "lstm1997": {"forget_gate": False},
    "lstm": {},
    "peephole": _PEEPHOLE,
    "nig": {**_PEEPHOLE, "input_gate": False},
    "nfg": {**_PEEPHOLE, "forget_gate": False},
    "nog": {**_PEEPHOLE, "output_gate": False},
    "niaf": {**_PEEPHOLE, "cell_activation": "identity"},
    "noaf": {**_PEEPHOLE, "output_activation": "identity"},
    "np": {},
    "cifg": {**_PEEPHOLE, "coupled": True},
    "fgr": {**_PEEPHOLE, "gate_recurrence": True},
    "gru": {"family": "gru"},
    "mut1": {**_MUT, "h_modes": {"z": "none"}, "x_modes": {"n": "tanh"}},
    "mut2": {**_MUT, "x_modes": {"r": "identity"}},
    "mut3": {**_MUT, "h_modes": {"z": "tanh"}},
    "elman": _ELMAN,
    "fully_recurrent": {**_ELMAN, "bias": False, "readout": "units"},
}

# Variants whose cell files use PyTorch's layout and load into nn.LSTM / nn.GRU as they are.
TORCH_MODULES = {"lstm": "LSTM", "np": "LSTM", "gru": "GRU", "elman": "RNN"}


def names() -> list[str]:
    """Names of the registered cell variants."""
    return list(VARIANTS)


def topology(name: str) -> dict[str, Any]:
    """The named variant as a JSON-able topology dict (a point of the cell space)."""
    return resolve(name).to_dict()


def resolve(spec: str | dict[str, Any] | Topology) -> Topology:
    """A variant name, a topology dict or a `Topology` -> `Topology`."""
    if isinstance(spec, Topology):
        return spec
    if isinstance(spec, str):
        if spec not in VARIANTS:
            raise EvolstmError(
                f"unknown cell variant {spec!r}; known: {', '.join(VARIANTS)}"
            )
        return Topology.from_dict(VARIANTS[spec], where=f"variant {spec}")
    return Topology.from_dict(spec)


def variant_of(topo: Topology) -> str | None:
    """The first registered variant name equal to `topo`, or None."""
    for name in VARIANTS:
        if resolve(name) == topo:
            return name
    return None
