"""Config files: every error names the key's path; the resolved config round-trips."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from evolstm.algorithms import ALGORITHMS
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


# The config example of the design contract (DESIGN.md, "Config (TOML)"), verbatim.
DESIGN_EXAMPLE = """
seed = 1
[task]        # name + the task's own options
name = "mso"
level = 2
[cell]        # variant or [cell.topology], sizes
variant = "lstm"
hidden = 10
[algorithm]   # name + its options
name = "evolino"
population = 40
generations = 300
[parallel]
backend = "loky"
jobs = -1
"""


def test_the_design_contracts_example_config_parses():
    config = cfg.parse(tomllib.loads(DESIGN_EXAMPLE))
    assert config.algorithm == "evolino" and config.algorithm_options.population == 40
    assert config.loop.generations == 300 and config.cell.hidden == 10
    assert cfg.parse(tomllib.loads(cfg.dumps(config))) == config


# Genomes a generation for population = 40, where that is not 40: CoSyNE's population is the
# paper's m, the networks kept; it evaluates them and offspring_fraction · m new ones.
EVALUATED = {"cosyne": 60}
POPULATION_SETUPS = [(name, {}) for name in ALGORITHMS.names()]
POPULATION_SETUPS.append(("evolino", {"evolver": "cmaes"}))


@pytest.mark.parametrize(
    ("name", "extra"), POPULATION_SETUPS,
    ids=[f"{name}-{'-'.join(extra.values()) or 'defaults'}" for name, extra in POPULATION_SETUPS],
)
def test_population_sets_the_genomes_a_generation_of_every_algorithm(name, extra):
    from evolstm.runs.search import build

    table = {**BASE, "algorithm": {"name": name, "population": 40, **extra}}  # the rest: defaults
    config = cfg.parse(table)
    assert config.algorithm_options.population == 40
    assert cfg.parse(tomllib.loads(cfg.dumps(config))) == config
    _, _, algorithm = build(config)
    assert len(algorithm.ask()) == EVALUATED.get(name, 40)


@pytest.mark.parametrize("name", ["esp", "evolino"])
@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ({"population": 45}, "45 is not a multiple of trials"),
        ({"population": 45, "subpopulation_size": 40}, "not a multiple of subpopulation_size"),
        ({"population": 400, "trials": 5, "subpopulation_size": 40}, "40 × 5"),
    ],
)
def test_an_esp_population_that_is_not_size_times_trials_says_so(name, sizes, message):
    table = {**BASE, "algorithm": {"name": name, **sizes}}
    with pytest.raises(ConfigError, match=f"^algorithm.population: .*{message}"):
        cfg.parse(table)


@pytest.mark.parametrize(
    ("name", "old", "new", "value"),
    [
        ("evolino", "cma_population", "population", 12),
        ("evolino", "cma_restarts", "restarts", 2),
        ("evolino", "cma_sep", "sep", True),
        ("ga", "elitism", "elite_count", 3),
        ("ga", "mutation_prob", "child_mutation_prob", 0.5),
        ("ga", "gene_prob", "mutation_rate", 0.2),
        ("ga", "sigma", "mutation_scale", 0.7),
    ],
)
def test_old_option_names_are_aliases_and_the_resolved_config_writes_the_new(name, old, new,
                                                                              value):
    table = {**BASE, "algorithm": {"name": name, old: value}}
    if name == "evolino":
        table["algorithm"]["evolver"] = "cmaes"
    config = cfg.parse(table)
    assert getattr(config.algorithm_options, new) == value
    resolved = tomllib.loads(cfg.dumps(config))["algorithm"]
    assert resolved[new] == value and old not in resolved
    table["algorithm"][new] = value  # both names, agreeing: fine
    assert cfg.parse(table) == config
    if isinstance(value, bool):
        return  # a new name at its default (False) gives way to the old one
    table["algorithm"][new] = value * 2  # disagreeing: an error
    with pytest.raises(ConfigError, match=f"^algorithm.{old}: the old name of {new}"):
        cfg.parse(table)


def test_cma_es_options_of_evolino_with_its_esp_evolver_say_what_to_set():
    table = {**BASE, "algorithm": {"name": "evolino", "restarts": 2}}
    with pytest.raises(ConfigError, match='^algorithm.restarts: .*evolver = "cmaes"'):
        cfg.parse(table)
