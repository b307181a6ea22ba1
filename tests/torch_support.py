"""Shared by the torch bridge tests: seeded cells and inputs, a module's outputs, and a
fixture that keeps torch on one thread (these modules are tiny: its pool only adds
contention). Import torch-dependent names only after ``pytest.importorskip("torch")``."""

from __future__ import annotations

import numpy as np
import pytest

import evolstm

N_IN, N_OUT, N_BATCH, N_STEPS = 3, 2, 3, 40


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_cell(spec, n_hidden=4, layers=1, dtype="float64", seed=0, n_in=N_IN,
                n_out=N_OUT) -> evolstm.Cell:
    """A cell of `spec` with weights uniform ±1/sqrt(H), PyTorch's own initialisation."""
    population = evolstm.Population(spec, n_in, n_hidden, n_out, layers=layers, dtype=dtype)
    bound = 1 / np.sqrt(n_hidden)
    genome = np.random.default_rng(seed).uniform(-bound, bound, population.n_params)
    return evolstm.Cell(population, genome)


def inputs(dtype="float64", seed=1, n_in=N_IN, n_steps=N_STEPS) -> np.ndarray:
    """(N_BATCH, n_steps, n_in) standard normal inputs."""
    return np.random.default_rng(seed).normal(size=(N_BATCH, n_steps, n_in)).astype(dtype)


def module_outputs(cell: evolstm.Cell, x: np.ndarray) -> np.ndarray:
    """The outputs (B, T, O) of `cell`'s torch module on x."""
    import torch

    from evolstm.torch import to_torch

    with torch.no_grad():
        y, _ = to_torch(cell)(torch.from_numpy(x))
    return y.numpy()


def assert_state_is_cell_steps(cell: evolstm.Cell) -> None:
    """The module's final state (forward) and step's are what Cell.step returns (state
    (B, L, W)), and a state carries a sequence on."""
    import torch

    from evolstm.torch import to_torch

    module = to_torch(cell)
    x = inputs(seed=4)
    with torch.no_grad():
        whole, final = module(torch.from_numpy(x))
        first, state = module(torch.from_numpy(x[:, :15]))
        rest, carried = module(torch.from_numpy(x[:, 15:]), state)
        y_t, stepped = module.step(torch.from_numpy(x[:, 0]))
    cell_state = None
    for t in range(N_STEPS):
        _, cell_state = cell.step(x[:, t], cell_state)
    assert final.shape == (N_BATCH, cell.population.layers, cell.population.state_width)
    assert np.max(np.abs(final.numpy() - cell_state)) < 1e-9
    assert np.max(np.abs(torch.cat([first, rest], 1).numpy() - whole.numpy())) < 1e-12
    assert np.max(np.abs(carried.numpy() - final.numpy())) < 1e-12
    assert np.max(np.abs(stepped.numpy() - cell.step(x[:, 0])[1])) < 1e-12
    assert np.max(np.abs(y_t.numpy() - cell.step(x[:, 0])[0])) < 1e-12
