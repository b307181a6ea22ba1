"""Config files: every error names the key's path; the resolved config round-trips."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from evolstm.errors import ConfigError
from evolstm.runs import config as cfg

BASE = {
    "seed": 1,
    "task": {"name": "mso", "level": 2},
    "cell": {"variant": "lstm", "hidden": 4},
    "algorithm": {"name": "cmaes", "generations": 3, "population": 6},
    "parallel": {"backend": "sequential"},
}


def changed(section: str, key: str, value) -> dict:
    table = {k: dict(v) if isinstance(v, dict) else v for k, v in BASE.items()}
    if section:
        table[section][key] = value
    else:
        table[key] = value
    return table


@pytest.mark.parametrize(
    ("section", "key", "value", "path"),
    [
        ("algorithm", "populaton", 10, "algorithm.populaton"),
        ("task", "levle", 2, "task.levle"),
        ("cell", "hiden", 4, "cell.hiden"),
        ("parallel", "backnd", "loky", "parallel.backnd"),
        ("", "sed", 1, "sed"),
        ("cell", "hidden", "ten", "cell.hidden"),
        ("task", "level", 99, "task.level"),
        ("algorithm", "sigma0", -1.0, "algorithm.sigma0"),
        ("algorithm", "generations", 2.5, "algorithm.generations"),
        ("parallel", "backend", "mpi", "parallel.backend"),
        ("parallel", "jobs", 0, "parallel.jobs"),
        ("cell", "dtype", "float16", "cell.dtype"),
        ("task", "name", "nosuchtask", "task.name"),
        ("algorithm", "name", "nosuchalgo", "algorithm.name"),
        ("cell", "variant", "lsmt", "cell"),
        ("", "seed", -4, "seed"),
    ],
)
def test_config_errors_name_the_key_path(section, key, value, path):
    with pytest.raises(ConfigError) as error:
        cfg.parse(changed(section, key, value))
    message = str(error.value)
    assert message.startswith(path) and "\n" not in message


def test_missing_sections_are_errors():
    with pytest.raises(ConfigError, match="^task: missing"):
        cfg.parse({"algorithm": {"name": "cmaes"}})
    with pytest.raises(ConfigError, match="^algorithm: missing"):
        cfg.parse({"task": {"name": "mso"}})


def test_topology_table_is_checked():
    table = changed("cell", "topology", {"family": "lstm", "peepholes": "yes"})
    with pytest.raises(ConfigError, match="peepholes"):
        cfg.parse(table)


def test_resolved_config_round_trips_with_defaults_filled(tmp_path):
    table = changed("cell", "topology", {"family": "gru", "h_modes": {"z": "tanh"}})
    config = cfg.parse(table)
    text = cfg.dumps(config)
    again = cfg.parse(tomllib.loads(text))
    assert again == config
    resolved = tomllib.loads(text)
    assert resolved["algorithm"]["sigma0"] == 0.5  # a default, written out
    assert resolved["task"]["washout"] == 100


def test_bad_files_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        cfg.load(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("seed = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        cfg.load(broken)


def test_init_scales_set_the_initial_spread_per_block():
    from evolstm.runs.search import build

    table = changed("cell", "init_scales", {"weight_ih": 3.0, "bias_hh_l0": 0.0})
    config = cfg.parse(table)
    assert cfg.parse(tomllib.loads(cfg.dumps(config))) == config
    _, population, algorithm = build(config)
    start = algorithm.ask()  # CMA-ES: x0 ~ N(0, scales²) plus sigma0 steps
    blocks = population.layout.by_name
    spread = {name: start[:, b.offset : b.offset + b.size].std() for name, b in blocks.items()}
    assert spread["weight_ih_l0"] > 2.0 > 0.9 > spread["weight_hh_l0"] > 0.3
    scales = config.cell.initial_scales(population.layout)
    hh = blocks["bias_hh_l0"]
    assert np.all(scales[hh.offset : hh.offset + hh.size] == 0.0)
    assert np.all(scales[blocks["weight_hh_l0"].offset] == 0.5)  # the cell's init_scale


def test_least_squares_readout_without_a_readout_is_a_config_error():
    from evolstm.runs.search import build

    table = changed("cell", "variant", "fully_recurrent")
    table["algorithm"] = {"name": "evolino"}
    with pytest.raises(ConfigError, match="this cell has none"):
        build(cfg.parse(table))


@pytest.mark.parametrize(
    ("scales", "message"),
    [({"weight_xx": 1.0}, "unknown block 'weight_xx'"), ({"bias_ih": -1.0}, "init_scales")],
)
def test_bad_init_scales_are_config_errors(scales, message):
    from evolstm.runs.search import build

    with pytest.raises(ConfigError, match=message):
        build(cfg.parse(changed("cell", "init_scales", scales)))
