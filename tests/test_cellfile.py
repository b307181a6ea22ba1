"""Cell files (DESIGN.md, "The cell file"): round trips, and one clear error per bad file."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

import evolstm
from evolstm.errors import CellFileError, EvolstmError

CUSTOM = {"peepholes": True, "coupled": True, "x_modes": {"o": "none"}, "h_modes": {"g": "tanh"}}
ROUND_TRIPS = [
    ("lstm", "float64", 1),
    ("peephole", "float32", 2),
    ("fgr", "float64", 2),
    ("gru", "float32", 1),
    ("mut1", "float64", 2),
    (CUSTOM, "float64", 2),
    (CUSTOM, "float32", 1),
]


def random_cell(spec, dtype: str = "float64", layers: int = 1, info=None) -> evolstm.Cell:
    pop = evolstm.Population(spec, n_in=2, n_hidden=3, n_out=2, layers=layers, dtype=dtype)
    genome = np.random.default_rng(7).normal(0.0, 0.3, pop.n_params)
    return evolstm.Cell(pop, genome, info)


@pytest.mark.parametrize(("spec", "dtype", "layers"), ROUND_TRIPS)
def test_save_load_round_trip(spec, dtype, layers, tmp_path):
    info = {"task": "mso", "fitness": 0.25, "run": {"seed": 3}}
    cell = random_cell(spec, dtype, layers, info)
    x = np.random.default_rng(0).normal(size=(2, 12, 2))

    loaded = evolstm.load(evolstm.save(cell, tmp_path / "cell.npz"))

    assert loaded.population.topology == cell.population.topology
    assert (loaded.n_in, loaded.n_hidden, loaded.n_out) == (2, 3, 2)
    assert loaded.population.layers == layers
    assert loaded.genome.dtype == np.dtype(dtype)
    assert np.array_equal(loaded.genome, cell.genome)
    assert loaded.info == info
    assert np.array_equal(loaded.predict(x), cell.predict(x))
    assert [p.name for p in tmp_path.iterdir()] == ["cell.npz"]  # no temporary file left


def test_sizes_given_as_numpy_integers_are_saved(tmp_path):
    pop = evolstm.Population("gru", n_in=np.int64(2), n_hidden=np.int64(3), n_out=np.int64(1))
    cell = evolstm.Cell(pop, np.zeros(pop.n_params))

    loaded = evolstm.load(evolstm.save(cell, tmp_path / "cell.npz"))

    assert (loaded.n_in, loaded.n_hidden, loaded.n_out) == (2, 3, 1)


def test_file_holds_design_layout(tmp_path):
    path = evolstm.save(random_cell("peephole", layers=2), tmp_path / "cell.npz")

    with np.load(path, allow_pickle=False) as archive:
        meta_shape = archive["meta"].shape
        meta = json.loads(str(archive["meta"]))
        shapes = {name: archive[name].shape for name in archive.files if name != "meta"}

    assert meta_shape == ()
    assert meta == {
        "format": "evolstm.cell", "version": 1, "variant": "peephole",
        "n_in": 2, "n_hidden": 3, "n_out": 2, "layers": 2, "dtype": "float64",
    }
    assert shapes["weight_ih_l0"] == (12, 2)
    assert shapes["weight_hh_l1"] == (12, 3)
    assert shapes["bias_ih_l1"] == shapes["bias_hh_l1"] == (12,)
    assert shapes["peephole_i_l0"] == shapes["peephole_f_l1"] == shapes["peephole_o_l1"] == (3,)
    assert shapes["readout_weight"] == (2, 3)
    assert shapes["readout_bias"] == (2,)
    assert len(shapes) == 2 * 7 + 2


def test_custom_topology_is_saved_as_topology(tmp_path):
    path = evolstm.save(random_cell(CUSTOM), tmp_path / "cell.npz")

    with np.load(path, allow_pickle=False) as archive:
        meta = json.loads(str(archive["meta"]))

    assert "variant" not in meta
    assert evolstm.cells.Topology.from_dict(meta["topology"]) == evolstm.cells.resolve(CUSTOM)


# -- bad files: each writes one broken file into `folder` and returns its path -------------------
def valid_parts() -> tuple[dict, dict]:
    cell = random_cell("lstm")
    meta = {
        "format": "evolstm.cell", "version": 1, "variant": "lstm",
        "n_in": 2, "n_hidden": 3, "n_out": 2, "layers": 1, "dtype": "float64",
    }
    return meta, cell.arrays()


def write(folder: Path, meta, arrays: dict, raw_meta=None) -> Path:
    path = folder / "bad.npz"
    meta_entry = raw_meta if raw_meta is not None else np.array(json.dumps(meta))
    np.savez(path, meta=meta_entry, **arrays)
    return path


def with_meta(**changes):
    def build(folder: Path) -> Path:
        meta, arrays = valid_parts()
        return write(folder, {**meta, **changes}, arrays)

    return build


def with_arrays(change):
    def build(folder: Path) -> Path:
        meta, arrays = valid_parts()
        change(arrays)
        return write(folder, meta, arrays)

    return build


def missing_file(folder: Path) -> Path:
    return folder / "absent.npz"


def empty_file(folder: Path) -> Path:
    path = folder / "empty.npz"
    path.write_bytes(b"")
    return path


def truncated_file(folder: Path) -> Path:
    meta, arrays = valid_parts()
    path = write(folder, meta, arrays)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def text_file(folder: Path) -> Path:
    path = folder / "cell.npz"
    path.write_text("weight_ih_l0 = 1, 2, 3\n")
    return path


def pickle_file(folder: Path) -> Path:
    meta, arrays = valid_parts()
    path = folder / "cell.npz"
    path.write_bytes(pickle.dumps({"meta": meta, **arrays}))
    return path


def npy_file(folder: Path) -> Path:
    path = folder / "cell.npz"
    with path.open("wb") as stream:
        np.save(stream, np.zeros(3))
    return path


def object_array(folder: Path) -> Path:
    meta, arrays = valid_parts()
    arrays["readout_bias"] = np.array([{"x": 1}, None], dtype=object)
    return write(folder, meta, arrays)


def no_meta(folder: Path) -> Path:
    path = folder / "bad.npz"
    np.savez(path, **valid_parts()[1])
    return path


def meta_not_json(folder: Path) -> Path:
    meta, arrays = valid_parts()
    return write(folder, meta, arrays, raw_meta=np.array("{format: evolstm.cell"))


def meta_not_a_string(folder: Path) -> Path:
    meta, arrays = valid_parts()
    return write(folder, meta, arrays, raw_meta=np.arange(3))


def string_weights(folder: Path) -> Path:
    meta, arrays = valid_parts()
    arrays["readout_bias"] = np.array(["a", "b"])
    return write(folder, meta, arrays)


def bad_topology(folder: Path) -> Path:
    meta, arrays = valid_parts()
    del meta["variant"]
    return write(folder, {**meta, "topology": {"family": "rnn"}}, arrays)


BAD_FILES = {
    "missing file": (missing_file, "no such"),
    "empty file": (empty_file, ""),
    "truncated file": (truncated_file, ""),
    "text file": (text_file, ""),
    "pickle file": (pickle_file, "pickle"),
    "npy file": (npy_file, ".npy"),
    "object array": (object_array, "object"),
    "no meta": (no_meta, "meta"),
    "meta not JSON": (meta_not_json, "JSON"),
    "meta not a string": (meta_not_a_string, "meta"),
    "wrong format": (with_meta(format="evolstm.cells"), "format"),
    "unknown version": (with_meta(version=2), "version"),
    "unknown variant": (with_meta(variant="lstm2"), "lstm2"),
    "variant not a string": (with_meta(variant=["lstm"]), "variant"),
    "info not a table": (with_meta(info=[1, 2]), "info"),
    "bad topology": (bad_topology, "family"),
    "variant and topology": (with_meta(topology={}), "exactly one"),
    "size not an integer": (with_meta(n_hidden=3.0), "n_hidden"),
    "unknown dtype": (with_meta(dtype="float16"), "dtype"),
    "sizes disagree": (with_meta(n_hidden=4), "shape"),
    "wrong shape": (
        with_arrays(lambda a: a.update(weight_hh_l0=a["weight_hh_l0"].T)), "weight_hh_l0"
    ),
    "missing array": (with_arrays(lambda a: a.pop("bias_hh_l0")), "bias_hh_l0"),
    "extra array": (with_arrays(lambda a: a.update(peephole_i_l0=np.zeros(3))), "peephole_i_l0"),
    "string weights": (string_weights, "readout_bias"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_file_raises_one_line_naming_the_file(case, tmp_path):
    build, problem = BAD_FILES[case]
    path = build(tmp_path)

    with pytest.raises(CellFileError) as caught:
        evolstm.load(path)

    message = str(caught.value)
    assert isinstance(caught.value, EvolstmError)
    assert str(path) in message
    assert "\n" not in message
    assert problem.lower() in message.lower()
