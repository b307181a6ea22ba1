"""Genome layout: where every weight of a cell stands in the flat genome vector.

The genome is the concatenation, in this order and each in C order, of the cell-file arrays
(`../DESIGN.md`, PyTorch's names and shapes), for every layer k:

====================  =========================  ==============================================
name                  shape                      rows
====================  =========================  ==============================================
``weight_ih_l{k}``    (Ux·H, I_k)                units whose input is ``linear``, gate order
``weight_hh_l{k}``    (Uh·H, H)                  units whose recurrence is not ``none``
``bias_ih_l{k}``      (Ux·H,)                    as ``weight_ih``
``bias_hh_l{k}``      (Uh·H,)                    as ``weight_hh``
``peephole_u_l{k}``   (H,)                       u in i, f, o when peepholes are on
``weight_gg_l{k}``    (Ug·H, Ug·H)               FGR: free gates' previous activations
====================  =========================  ==============================================

then ``readout_weight`` (O, H) and ``readout_bias`` (O,). I_0 = n_in, I_k = H above. A
topology with ``bias = false`` has no ``bias_*`` blocks; one with ``readout = "units"`` has
no readout blocks. For the ``lstm``, ``gru`` and ``elman`` variants this is exactly
``torch.nn.LSTM`` / ``nn.GRU`` / ``nn.RNN``'s state_dict.

`KernelSpec` turns the layout and topology into the small integer tables the Numba kernels
read (offsets and per-unit modes), so that one compiled kernel runs every topology.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from functools import cached_property

import numpy as np

from evolstm.cells.topology import GRU_UNITS, H_MODES, LSTM_UNITS, X_MODES, Topology
from evolstm.errors import EvolstmError

# Indices into the per-layer row of `KernelSpec.layers` (int64 table read by the kernels).
(
    L_IN,  # input width of the layer
    L_WIH,  # offset of weight_ih (or -1)
    L_WHH,
    L_BIH,
    L_BHH,
    L_PEEP,  # offset of the first peephole vector (i, f, o in order, present ones only)
    L_WGG,
    L_NFIELDS,
) = range(8)

# Indices into the per-slot rows of `KernelSpec.units`: slot s is the s-th unit of the
# family's canonical order (i f g o, or r z n), whether present or not.
U_PRESENT, U_XMODE, U_HMODE, U_XROW, U_HROW, U_PEEP, U_GATE, U_NFIELDS = range(8)

# Topology flags (int64 vector `KernelSpec.flags`).
(
    F_FAMILY,  # 0 lstm, 1 gru
    F_COUPLED,
    F_CELL_ACT,  # 0 tanh, 1 identity
    F_OUT_ACT,
    F_RESET_AFTER,
    F_UPDATE_KEEPS,
    F_N_GATES_REC,  # number of free gates joined by FGR (0: off)
    F_N_XROWS,  # row blocks of weight_ih (units with a linear input)
    F_N_HROWS,  # row blocks of weight_hh (units with a recurrent connection)
    F_READOUT_UNITS,  # 1: the outputs are the last O units' pre-activations (no readout)
    F_NFIELDS,
) = range(11)


@dataclasses.dataclass(frozen=True)
class Block:
    """One named array of the genome: ``genome[offset : offset + size].reshape(shape)``."""

    name: str
    shape: tuple[int, ...]
    offset: int

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class BlockLayout:
    """What every genome layout offers once its `blocks` are known (`Layout` for topologies,
    `evolstm.cells.graph.layout.GraphLayout` for cell graphs): names, sizes, conversion."""

    blocks: tuple[Block, ...]

    def check_sizes(self, output_units: bool) -> None:
        """Raise `EvolstmError` unless n_in, n_hidden, n_out and layers are positive
        integers, and output units (`output_units`) fit in the hidden layer."""
        for name in ("n_in", "n_hidden", "n_out", "layers"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise EvolstmError(f"{name}: must be a positive integer, got {value!r}")
        if output_units and self.n_out > self.n_hidden:  # type: ignore[attr-defined]
            raise EvolstmError(
                f"readout 'units': {self.n_out} outputs need at least as many hidden units, "
                f"got {self.n_hidden}"
            )

    @cached_property
    def by_name(self) -> dict[str, Block]:
        return {block.name: block for block in self.blocks}

    @property
    def n_params(self) -> int:
        """Genome length."""
        last = self.blocks[-1]
        return last.offset + last.size

    @property
    def n_recurrent(self) -> int:
        """Length of the genome's recurrent part (everything before the readout; the whole
        genome when the outputs are units)."""
        readout = self.by_name.get("readout_weight")
        return self.n_params if readout is None else readout.offset

    def unflatten(self, genome: np.ndarray) -> dict[str, np.ndarray]:
        """(n_params,) genome -> dict of arrays in the cell-file layout (copies)."""
        genome = np.asarray(genome)
        if genome.shape != (self.n_params,):
            raise EvolstmError(
                f"genome: expected shape ({self.n_params},), got {genome.shape}"
            )
        return {
            b.name: genome[b.offset : b.offset + b.size].reshape(b.shape).copy()
            for b in self.blocks
        }

    def flatten(self, arrays: dict[str, np.ndarray], dtype: np.dtype | str) -> np.ndarray:
        """Dict in the cell-file layout -> (n_params,) genome; extra keys are an error."""
        extra = sorted((name for name in arrays if name not in self.by_name), key=str)
        if extra:  # names from a file: any text (a newline would break the one-line message)
            listed = ", ".join(name if str(name).isidentifier() else repr(name) for name in extra)
            raise EvolstmError(f"unexpected arrays for this cell: {listed}")
        values = {}
        for block in self.blocks:  # every shape checked before the genome is allocated
            if block.name not in arrays:
                raise EvolstmError(f"missing array {block.name} {block.shape}")
            values[block.name] = np.asarray(arrays[block.name])
            if values[block.name].shape != block.shape:
                raise EvolstmError(
                    f"array {block.name}: expected shape {block.shape}, "
                    f"got {values[block.name].shape}"
                )
        genome = np.empty(self.n_params, dtype=dtype)
        for block in self.blocks:
            genome[block.offset : block.offset + block.size] = values[block.name].reshape(-1)
        return genome

    def block_scales(self, default: float, by_block: Mapping[str, float]) -> np.ndarray:
        """(n_params,) per-weight scales: each block's entry of `by_block`, else `default`.

        A key names a block exactly (``weight_ih_l1``) or for every layer (``weight_ih``,
        ``bias_hh``, ``peephole_i``; the ``_l{k}`` suffix left out); the exact name wins.
        An unknown key raises `EvolstmError` listing the blocks.
        """
        generic = {block.name: re.sub(r"_l\d+$", "", block.name) for block in self.blocks}
        known = set(generic) | set(generic.values())
        unknown = sorted(set(by_block) - known)
        if unknown:
            names = ", ".join(sorted(known))
            raise EvolstmError(f"init_scales: unknown block {unknown[0]!r} (blocks: {names})")
        scales = np.full(self.n_params, float(default))
        for block in self.blocks:
            key = block.name if block.name in by_block else generic[block.name]
            if key in by_block:
                scales[block.offset : block.offset + block.size] = float(by_block[key])
        return scales


@dataclasses.dataclass(frozen=True)
class Layout(BlockLayout):
    """Sizes and block positions of a stacked cell with a linear readout."""

    topology: Topology
    n_in: int
    n_hidden: int
    n_out: int
    layers: int = 1

    def __post_init__(self) -> None:
        self.check_sizes(self.topology.readout == "units")

    @cached_property
    def blocks(self) -> tuple[Block, ...]:
        """Every array of the genome, in genome order."""
        topo, hidden = self.topology, self.n_hidden
        units = topo.units()
        n_x = sum(unit.x_mode == "linear" for unit in units)
        n_h = sum(unit.h_mode != "none" for unit in units)
        n_g = len(topo.recurrent_gates())
        blocks: list[Block] = []
        offset = 0

        def add(name: str, shape: tuple[int, ...]) -> None:
            nonlocal offset
            block = Block(name, shape, offset)
            if block.size:
                blocks.append(block)
                offset += block.size

        for k in range(self.layers):
            width = self.n_in if k == 0 else hidden
            add(f"weight_ih_l{k}", (n_x * hidden, width))
            add(f"weight_hh_l{k}", (n_h * hidden, hidden))
            if topo.bias:
                add(f"bias_ih_l{k}", (n_x * hidden,))
                add(f"bias_hh_l{k}", (n_h * hidden,))
            for gate in topo.peephole_gates():
                add(f"peephole_{gate}_l{k}", (hidden,))
            add(f"weight_gg_l{k}", (n_g * hidden, n_g * hidden))
        if topo.readout == "linear":
            add("readout_weight", (self.n_out, hidden))
            add("readout_bias", (self.n_out,))
        return tuple(blocks)

    @cached_property
    def kernel_spec(self) -> KernelSpec:
        return KernelSpec.build(self)


@dataclasses.dataclass(frozen=True)
class KernelSpec:
    """Integer tables that tell the Numba kernels how to read a genome.

    ``flags``: (F_NFIELDS,) topology switches. ``units``: (slots, U_NFIELDS) per unit slot:
    presence, x and h modes (indices into X_MODES / H_MODES), row-block index into
    ``weight_ih`` and ``weight_hh``, peephole index, index among FGR gates (-1 where absent).
    ``layers``: (L, L_NFIELDS) offsets per layer (-1: absent). ``readout``: (offset of
    readout_weight, offset of readout_bias), -1 for output units. ``n_slots`` is 4 (i f g o)
    or 3 (r z n).
    """

    flags: np.ndarray
    units: np.ndarray
    layers: np.ndarray
    readout: np.ndarray

    @classmethod
    def build(cls, layout: Layout) -> KernelSpec:
        topo = layout.topology
        slots = LSTM_UNITS if topo.family == "lstm" else GRU_UNITS
        present = {unit.name: unit for unit in topo.units()}
        peep, rec = topo.peephole_gates(), topo.recurrent_gates()
        units = np.full((len(slots), U_NFIELDS), -1, dtype=np.int64)
        x_row = h_row = 0
        for s, name in enumerate(slots):
            unit = present.get(name)
            units[s, U_PRESENT] = unit is not None
            if unit is None:
                continue
            units[s, U_XMODE] = X_MODES.index(unit.x_mode)
            units[s, U_HMODE] = H_MODES.index(unit.h_mode)
            if unit.x_mode == "linear":
                units[s, U_XROW] = x_row
                x_row += 1
            if unit.h_mode != "none":
                units[s, U_HROW] = h_row
                h_row += 1
            if name in peep:
                units[s, U_PEEP] = peep.index(name)
            if name in rec:
                units[s, U_GATE] = rec.index(name)
        flags = np.zeros(F_NFIELDS, dtype=np.int64)
        flags[F_FAMILY] = 0 if topo.family == "lstm" else 1
        flags[F_COUPLED] = topo.coupled
        flags[F_CELL_ACT] = topo.cell_activation == "identity"
        flags[F_OUT_ACT] = topo.output_activation == "identity"
        flags[F_RESET_AFTER] = topo.reset_after
        flags[F_UPDATE_KEEPS] = topo.update_keeps_state
        flags[F_N_GATES_REC] = len(rec)
        flags[F_N_XROWS] = x_row
        flags[F_N_HROWS] = h_row
        flags[F_READOUT_UNITS] = topo.readout == "units"
        table = np.full((layout.layers, L_NFIELDS), -1, dtype=np.int64)
        by_name = layout.by_name
        for k in range(layout.layers):
            table[k, L_IN] = layout.n_in if k == 0 else layout.n_hidden
            for field, name in (
                (L_WIH, f"weight_ih_l{k}"),
                (L_WHH, f"weight_hh_l{k}"),
                (L_BIH, f"bias_ih_l{k}"),
                (L_BHH, f"bias_hh_l{k}"),
                (L_WGG, f"weight_gg_l{k}"),
            ):
                if name in by_name:
                    table[k, field] = by_name[name].offset
            if peep:
                table[k, L_PEEP] = by_name[f"peephole_{peep[0]}_l{k}"].offset
        readout = np.array(
            [by_name[name].offset if name in by_name else -1
             for name in ("readout_weight", "readout_bias")],
            dtype=np.int64,
        )
        return cls(flags, units, table, readout)
