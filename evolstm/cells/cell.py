"""`Cell`: one evolved network (a genome and its population description), ready to use."""

from __future__ import annotations

from typing import Any

import numpy as np

from evolstm.cells import kernels
from evolstm.cells.graph import reference
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

    def trace(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Everything inside the last layer along one sequence x (T, I), step by step.

        -> {"h": (T, H), "c": (T, H) (LSTM family), and each unit's activation (T, H) by
        name: "i", "f", "g", "o" (LSTM family: a gate fixed to 1 reads 1, coupled f = 1 - i)
        or "r", "z", "n" (GRU family)}. Runs the reference kernel one step at a time; meant
        for plots and inspection, not for speed.

        A graph cell (`population.graph` set) gives every value of its last layer's graph,
        by name: each state's new value under the state's name (``"h"``, ``"c"``, ...) and
        every node's value under the node's name (``"b1"``, ``"o1"``, ..., ``"h_t"`` for
        ``nas``; ``"i"``, ``"f"``, ``"g"``, ``"o"``, ``"c_t"``, ``"h_t"``, ... for the graph
        of ``lstm``), each (T, H), computed in float64 by the NumPy reference evaluator
        (`evolstm.cells.graph.reference.trace`).
        """
        x = np.asarray(x, dtype=self.population.dtype)
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise EvolstmError(f"x: expected shape (T, {self.n_in}), got {x.shape}")
        if self.population.graph is not None:
            return reference.trace(self.population.layout, self.genome, x)
        population, n_hidden = self.population, self.n_hidden
        spec = population.layout.kernel_spec
        weights = kernels.kernel_genomes(self.genome[None], population.layout)[0]
        state = population.initial_state(1, 1)[0, 0]
        pre = np.empty(4 * n_hidden, dtype=population.dtype)
        rec = np.empty_like(pre)
        y = np.empty(self.n_out, dtype=population.dtype)
        one = population.dtype.type(1.0)
        lstm = population.topology.family == "lstm"
        names = ("i", "f", "g", "o") if lstm else ("r", "z", "n")
        trace = {name: np.empty((len(x), n_hidden)) for name in ("h", "c", *names)}
        if not lstm:
            del trace["c"]
        for t, x_t in enumerate(x):
            kernels.cell_step(weights, spec.flags, spec.units, spec.layers, spec.readout, x_t,
                              state, pre, rec, n_hidden, y, one)
            top = state[-1]
            trace["h"][t] = top[:n_hidden]
            if lstm:
                trace["c"][t] = top[n_hidden:2 * n_hidden]
            for slot, name in enumerate(names):
                trace[name][t] = pre[slot * n_hidden:(slot + 1) * n_hidden]
        return trace
