"""`Cell`: one evolved network (a genome and its population description), ready to use."""

from __future__ import annotations

from typing import Any

import numpy as np

from evolstm.cells.population import Population
from evolstm.errors import EvolstmError


class Cell:
    """A single network: `population` describes it, `genome` (n_params,) holds its weights.

    `info` carries JSON-able facts saved with it (task, fitness, run) and is not interpreted.
    """

    def __init__(
        self, population: Population, genome: np.ndarray, info: dict[str, Any] | None = None
    ) -> None:
        genome = np.asarray(genome, dtype=population.dtype)
        if genome.shape != (population.n_params,):
            raise EvolstmError(
                f"genome: expected shape ({population.n_params},), got {genome.shape}"
            )
        self.population = population
        self.genome = genome
        self.info = dict(info or {})

    def __repr__(self) -> str:
        return f"Cell({self.population!r})"

    @property
    def n_in(self) -> int:
        return self.population.n_in

    @property
    def n_out(self) -> int:
        return self.population.n_out

    @property
    def n_hidden(self) -> int:
        return self.population.n_hidden

    def arrays(self) -> dict[str, np.ndarray]:
        """The weights in the cell-file layout (PyTorch names and shapes)."""
        return self.population.unflatten(self.genome)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """x (T, I) or (B, T, I) -> outputs (B, T, O)."""
        return self.population.predict(self.genome[None], x)[0]

    def states(self, x: np.ndarray) -> np.ndarray:
        """x (T, I) or (B, T, I) -> last layer's hidden states (B, T, H)."""
        return self.population.states(self.genome[None], x)[0]

    def generate(self, x: np.ndarray, n_steps: int) -> np.ndarray:
        """Prime on x (T, I), then `n_steps` closed-loop steps -> (n_steps, O).

        Each generated step reads the previous step's output; the first reads the output
        of the last primed step. With x (B, T, I) the result is (B, n_steps, O).
        """
        generated = self.population.generate(self.genome[None], x, n_steps)[0]
        return generated[0] if np.asarray(x).ndim == 2 else generated

    def step(
        self, x_t: np.ndarray, state: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One online step: x_t (I,) or (B, I) -> (y (B, O), new state).

        `state` is what the previous call returned, or None to start from zeros.
        """
        x_t = np.asarray(x_t, dtype=self.population.dtype)
        if x_t.ndim == 1:
            x_t = x_t[None]
        if x_t.ndim != 2:
            raise EvolstmError(f"x_t: expected shape (I,) or (B, I), got {x_t.shape}")
        if state is not None:
            state = np.asarray(state)[None]
        run = self.population.run(self.genome[None], x_t[:, None, :], state=state)
        return run.outputs[0, :, 0, :], run.state[0]
