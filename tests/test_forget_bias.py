"""The forget-gate bias centre (Jozefowicz et al. 2015): where it lands in the genome."""

from __future__ import annotations

import numpy as np
import pytest

import evolstm
from evolstm.algorithms.build import forget_bias_offset
from evolstm.runs import config as cfg


@pytest.mark.parametrize("layers", [1, 2])
def test_the_offset_is_the_forget_gate_input_bias_of_every_layer(layers):
    population = evolstm.Population("lstm", n_in=3, n_hidden=4, n_out=2, layers=layers)
    arrays = population.unflatten(forget_bias_offset(population.layout, 1.0))
    for k in range(layers):
        expected = np.zeros(16)
        expected[4:8] = 1.0  # PyTorch's gate order i, f, g, o
        assert np.array_equal(arrays[f"bias_ih_l{k}"], expected)
        assert not arrays[f"bias_hh_l{k}"].any()
    others = [name for name in arrays if not name.startswith("bias_ih")]
    assert not any(arrays[name].any() for name in others)


@pytest.mark.parametrize("variant", ["gru", "cifg", "nfg", "lstm1997", "fully_recurrent"])
def test_cells_without_a_free_forget_gate_get_no_offset(variant):
    population = evolstm.Population(variant, n_in=2, n_hidden=3, n_out=2)
    assert not forget_bias_offset(population.layout, 1.0).any()


def test_a_search_evaluates_its_genomes_around_the_forget_bias(tmp_path):
    """The best cell of a search with forget_bias = 1 carries the offset it was scored with."""
    table = {"seed": 1, "task": {"name": "anbn", "train_max": 3, "test_limit": 10},
             "cell": {"variant": "lstm", "hidden": 2, "init_scale": 0.05, "forget_bias": 1.0},
             "algorithm": {"name": "evolino", "evolver": "cmaes", "generations": 1},
             "parallel": {"backend": "sequential"}}
    config = cfg.parse(table)
    path = tmp_path / "fb.toml"
    path.write_text(cfg.dumps(config))
    run = evolstm.search(path, out=tmp_path / "run")
    bias = run.best.arrays()["bias_ih_l0"]
    assert np.all(np.abs(bias[2:4] - 1.0) < 0.5)  # small steps around the centre 1
    assert np.all(np.abs(bias[[0, 1, 4, 5, 6, 7]]) < 0.5)  # ... and around 0
