"""ONNX export of a cell, through torch's exporter (``torch.onnx.export(dynamo=True)``).

Two forms, both with a dynamic batch size B:

* sequence: inputs ``x`` (B, T, I) and ``state`` (B, L, W) -> outputs ``y`` (B, T, O) and
  ``state_out`` (B, L, W); T is dynamic too (an ONNX Scan over the steps);
* step: inputs ``x`` (B, I) and ``state`` (B, L, W) -> ``y`` (B, O) and ``state_out``: one
  step, what a controller runs, feeding ``state_out`` back as the next ``state``.

Topology cells and cell graphs export alike. The state is `Cell.step`'s: per layer
``[h (H) | c (H) | previous gates (Ug·H)]`` for a topology, the graph's state vectors side by
side (h first) for a graph; zeros start a sequence. The model's metadata
(``metadata_props``) carries the cell's meta (its variant, topology or graph, sizes, dtype)
and the state's shape and parts as ``evolstm.*`` entries.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import warnings
from pathlib import Path

import torch
from torch import nn

from evolstm.cells.cell import Cell
from evolstm.errors import EvolstmError
from evolstm.torch.module import CellModule, to_torch

FORMS = ("sequence", "step")


class _Sequence(nn.Module):
    """The cell over a whole sequence as one scan over its steps (exportable with dynamic T)."""

    def __init__(self, cell: CellModule) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from torch._higher_order_ops.scan import scan

        def one_step(carry: torch.Tensor, x_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            y_t, new_state = self.cell._step(x_t, carry)
            return new_state, y_t.clone()  # scan's outputs must not alias its carry

        final, outputs = scan(one_step, state, x.transpose(0, 1))
        return outputs.transpose(0, 1), final


class _Step(nn.Module):
    def __init__(self, cell: CellModule) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cell._step(x, state)


def export_onnx(
    cell: Cell | CellModule | str | os.PathLike[str],
    path: str | os.PathLike[str],
    form: str = "sequence",
) -> Path:
    """Write `cell` (a Cell, a CellModule or a cell file) as an ONNX model in `form`
    (``"sequence"`` or ``"step"``) to `path`; returns the path."""
    if form not in FORMS:
        raise EvolstmError(f"form: {form!r} is not one of {', '.join(FORMS)}")
    _require_onnx()
    module = cell if isinstance(cell, CellModule) else to_torch(cell)
    module = module.eval()
    n_batch, n_steps = 2, 3  # examples only: both axes are dynamic
    state = module.initial_state(n_batch)
    batch = torch.export.Dim("batch")
    if form == "sequence":
        wrapper: nn.Module = _Sequence(module)
        x = torch.zeros(n_batch, n_steps, module.n_in, dtype=module.dtype)
        dynamic = ({0: batch, 1: torch.export.Dim("steps")}, {0: batch})
    else:
        wrapper = _Step(module)
        x = torch.zeros(n_batch, module.n_in, dtype=module.dtype)
        dynamic = ({0: batch}, {0: batch})
    path = Path(path)
    quiet = io.StringIO()
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    module.exporting = True
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(quiet):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                wrapper, (x, state), dynamo=True, dynamic_shapes=dynamic,
                input_names=["x", "state"], output_names=["y", "state_out"], verbose=False,
            )
    except Exception as error:  # noqa: BLE001 - one line naming the cell, not a traceback
        first_line = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).split("\n", 1)[0]  # no colours
        raise EvolstmError(
            f"export: torch's ONNX exporter failed on this cell ({type(error).__name__}: "
            f"{first_line})"
        ) from error
    finally:
        module.exporting = False
        exporter_log.setLevel(level)
    model = program.model_proto
    _describe(model, module, form)
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def export_both(
    cell: Cell | CellModule | str | os.PathLike[str], path: str | os.PathLike[str]
) -> tuple[Path, Path]:
    """The sequence form to `path` (FILE.onnx) and the step form beside it (FILE.step.onnx)."""
    path = Path(path)
    module = cell if isinstance(cell, CellModule) else to_torch(cell)
    return export_onnx(module, path, "sequence"), export_onnx(module, step_path(path), "step")


def step_path(path: str | os.PathLike[str]) -> Path:
    """FILE.onnx -> FILE.step.onnx (where `export_both` writes the step form)."""
    path = Path(path)
    stem = path.name[: -len(".onnx")] if path.name.endswith(".onnx") else path.name
    return path.with_name(f"{stem}.step.onnx")


def _describe(model: object, module: CellModule, form: str) -> None:
    """Record the cell's meta and the state's shape in the model's metadata_props."""
    entries = {
        "evolstm.form": form,
        "evolstm.cell": module.cell_json(),
        "evolstm.sizes": json.dumps({"n_in": module.n_in, "n_hidden": module.n_hidden,
                                     "n_out": module.n_out, "layers": module.layers}),
        "evolstm.dtype": str(module.dtype).removeprefix("torch."),
        "evolstm.state": (f"(B, {module.layers}, {module.state_width}): per layer "
                          f"{module.state_layout}, zeros to start"),
    }
    del model.metadata_props[:]  # type: ignore[attr-defined]
    for key, value in entries.items():
        entry = model.metadata_props.add()  # type: ignore[attr-defined]
        entry.key, entry.value = key, value


def _require_onnx() -> None:
    missing = []
    for name in ("onnx", "onnxscript"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise EvolstmError(
            f"ONNX export needs {' and '.join(missing)}, not installed: "
            "pip install 'evolstm[onnx]'"
        )
