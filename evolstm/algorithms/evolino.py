"""Evolino: evolve the recurrent weights, fit the linear readout by least squares.

Schmidhuber, Wierstra & Gomez 2005 (IJCAI, "Evolino: hybrid neuroevolution / optimal linear
search for sequence learning"); Wierstra, Gomez & Schmidhuber 2005 (GECCO); Schmidhuber,
Wierstra, Gagliolo & Gomez 2007 ("Training recurrent networks by Evolino", Neural Computation
19(3): 757-779). The algorithm only evolves the genome's recurrent part (`fits_readout`); the
task replaces each genome's readout by the least-squares fit from the hidden states to the
targets with penalty `ridge()` (0: the Moore-Penrose pseudo-inverse, as the papers use).

The recurrent part is evolved by ESP (`evolstm.algorithms.esp`), in the form the 2007
paper describes: one subpopulation per hidden unit (`bind(layout)`, which the run loop
calls, sets them from ``neuron_groups(layout, with_readout=False)``), each neuron evaluated
in several networks, the top quarter of each subpopulation duplicated and every weight of
the copies perturbed with Cauchy noise, the copies replacing the lowest-ranking half; burst
mutation around the best network when it has not improved for 20 generations. Hence the
defaults here: ``recombination = "mutation"``, ``mutation_rate = 1``. The subpopulation
size (40), trials (10) and Cauchy scale (0.3) are ESP's customary values; they are recalled,
not read from the paper text (the search tool returned only the papers' first pages), and
are options.

``evolver = "cmaes"`` evolves the recurrent part with pycma's CMA-ES instead (sigma0 =
init_scale), seeded from the run's seed and drawing from a private copy of NumPy's global
random state, so that other code using ``numpy.random`` cannot change it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any, Literal

import cma
import numpy as np

from evolstm.algorithms.base import Algorithm
from evolstm.algorithms.esp import ESP, neuron_groups
from evolstm.cells.layout import Layout


class Evolino(Algorithm):
    """ESP (or CMA-ES) on the recurrent weights; the task fits the readout."""

    name = "evolino"
    fits_readout = True

    @dataclasses.dataclass(frozen=True)
    class Options(ESP.Options):
        recombination: Literal["crossover", "mutation"] = "mutation"
        mutation_rate: float = 1.0
        ridge: float = 0.0  # readout penalty; 0 = pseudo-inverse
        evolver: Literal["esp", "cmaes"] = "esp"
        cma_population: int = 0  # CMA-ES lambda; 0 = pycma's default 4 + 3 ln n

        def validate(self) -> None:
            super().validate()
            if self.ridge < 0:
                raise ValueError("ridge: must be >= 0")
            if self.cma_population < 0 or self.cma_population == 1:
                raise ValueError("cma_population: must be 0 (default) or >= 2")

    def __init__(self, options: Options, n_params: int, seed: int, init_scale: float) -> None:
        super().__init__(options, n_params, seed, init_scale)
        self._esp: ESP | None = None
        self._cma: _IsolatedCMA | None = None
        if options.evolver == "esp":
            esp_fields = {f.name: getattr(options, f.name) for f in dataclasses.fields(ESP.Options)}
            self._esp = ESP(ESP.Options(**esp_fields), n_params, seed, init_scale)
        else:
            self._cma = _IsolatedCMA(n_params, init_scale, seed, options.cma_population)

    def bind(self, layout: Layout) -> None:
        """ESP's subpopulations: one per hidden unit, over the recurrent part of `layout`."""
        self.set_partition(neuron_groups(layout, with_readout=False))

    def set_partition(self, groups: list[np.ndarray]) -> None:
        """ESP's neurons (see `ESP.set_partition`); CMA-ES does not need them."""
        if self._esp is not None:
            self._esp.set_partition(groups)

    def ask(self) -> np.ndarray:
        if self._esp is not None:
            return self._esp.ask()
        assert self._cma is not None
        return self._cma.ask()

    def tell(self, genomes: np.ndarray, fitness: np.ndarray) -> dict[str, float]:
        if self._esp is not None:
            return self._esp.tell(genomes, fitness)
        assert self._cma is not None
        return self._cma.tell(fitness)

    def ridge(self) -> float:
        return self.options.ridge

    def stop(self) -> str | None:
        return self._cma.stop() if self._cma is not None else None

    def describe(self) -> dict[str, Any]:
        if self._esp is not None:
            return self._esp.describe()
        assert self._cma is not None
        return {"sigma": self._cma.sigma}


class _IsolatedCMA:
    """pycma's CMAEvolutionStrategy on a private copy of NumPy's global random state.

    pycma seeds and draws from ``numpy.random``'s global state; every call here swaps the
    private state in and out, so the search depends on its seed only.
    """

    def __init__(self, n_params: int, sigma: float, seed: int, population: int) -> None:
        # pycma reads seed 0 as "seed from the clock": map the run's seed to 1 .. 2**31 - 1.
        cma_seed = int(np.random.SeedSequence(seed).generate_state(1)[0]) % (2**31 - 1) + 1
        inopts: dict[str, Any] = {"seed": cma_seed, "verbose": -9, "verb_log": 0, "verb_disp": 0}
        if population:
            inopts["popsize"] = population
        self._state = np.random.RandomState(cma_seed).get_state()
        with self._private_state():
            self._es = cma.CMAEvolutionStrategy(np.zeros(n_params), sigma, inopts)
        self._pending: np.ndarray | None = None

    @contextlib.contextmanager
    def _private_state(self) -> Iterator[None]:
        saved = np.random.get_state()  # noqa: NPY002 - pycma's global state
        np.random.set_state(self._state)  # noqa: NPY002
        try:
            yield
        finally:
            self._state = np.random.get_state()  # noqa: NPY002
            np.random.set_state(saved)  # noqa: NPY002

    @property
    def sigma(self) -> float:
        return float(self._es.sigma)

    def ask(self) -> np.ndarray:
        if self._pending is None:
            with self._private_state():
                self._pending = np.array(self._es.ask(), dtype=np.float64)
        return self._pending.copy()

    def tell(self, fitness: np.ndarray) -> dict[str, float]:
        if self._pending is None:
            raise RuntimeError("tell before ask")
        fitness = np.nan_to_num(np.asarray(fitness, dtype=np.float64), nan=np.inf)
        with self._private_state():
            self._es.tell(list(self._pending), fitness.tolist())
        self._pending = None
        return {"sigma": self.sigma}

    def stop(self) -> str | None:
        reasons = self._es.stop()
        return ", ".join(f"{key}={value}" for key, value in reasons.items()) or None
