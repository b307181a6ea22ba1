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

``evolver = "cmaes"`` evolves the recurrent part with `evolstm.algorithms.cmaes.CMAES`
(pycma) instead, with CMA-ES's option names: `population` (lambda), `sigma0` (default: the
cell's init_scale, or the median weight's scale with per-block ``init_scales``), `restarts`
(IPOP), `sep` (sep-CMA). Whichever the evolver, `population` is the number of genomes
evaluated a generation (0: the evolver's default). The CMA-ES options' earlier names
`cma_population`, `cma_restarts`, `cma_sep` still work as aliases (configs of earlier runs).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np

from evolstm.algorithms.base import Algorithm, check_old_names, take_old_names, typical_scale
from evolstm.algorithms.cmaes import CMAES, CMAESOptions
from evolstm.algorithms.esp import ESP, neuron_groups
from evolstm.cells.layout import Layout

OLD_NAMES = {"cma_population": "population", "cma_restarts": "restarts", "cma_sep": "sep"}


class Evolino(Algorithm):
    """ESP (or CMA-ES) on the recurrent weights; the task fits the readout."""

    name = "evolino"
    fits_readout = True

    @dataclasses.dataclass(frozen=True)
    class Options(ESP.Options):
        """ESP's options (population: networks a generation, see `ESP.Options`), Evolino's
        defaults, and for ``evolver = "cmaes"``: population (CMA-ES lambda; 0: pycma's
        4 + 3 ln n), sigma0 (0: the cell's init_scale), restarts, sep, as `CMAES` names them.
        The old names cma_population, cma_restarts and cma_sep are aliases."""

        recombination: Literal["crossover", "mutation"] = "mutation"
        mutation_rate: float = 1.0
        ridge: float = 0.0  # readout penalty; 0 = pseudo-inverse
        evolver: Literal["esp", "cmaes"] = "esp"
        sigma0: float = 0.0  # CMA-ES initial step size; 0: the cell's (median) init_scale
        restarts: int = 0  # CMA-ES IPOP restarts, each doubling the population
        sep: bool = False  # diagonal covariance (sep-CMA) for many recurrent weights
        cma_population: int | None = None  # old name of population (evolver cmaes)
        cma_restarts: int | None = None  # old name of restarts
        cma_sep: bool | None = None  # old name of sep

        def __post_init__(self) -> None:
            take_old_names(self, OLD_NAMES)
            super().__post_init__()

        def _counts_networks(self) -> bool:
            return self.evolver == "esp"

        def validate(self) -> None:
            check_old_names(self, OLD_NAMES)
            super().validate()
            if self.ridge < 0:
                raise ValueError("ridge: must be >= 0")
            if self.evolver == "cmaes":
                if self.population == 1:
                    raise ValueError("population: must be 0 (pycma's default) or >= 2")
                if self.sigma0 < 0:
                    raise ValueError("sigma0: must be > 0, or 0 for the cell's init_scale")
                if self.restarts < 0:
                    raise ValueError("restarts: must be >= 0")
            else:
                for name in ("sigma0", "restarts", "sep"):
                    if getattr(self, name):
                        raise ValueError(f'{name}: a CMA-ES option; set evolver = "cmaes"')

    def __init__(
        self, options: Options, n_params: int, seed: int, init_scale: float | np.ndarray
    ) -> None:
        super().__init__(options, n_params, seed, init_scale)
        self._evolver: Algorithm
        if options.evolver == "esp":
            esp_fields = {f.name: getattr(options, f.name) for f in dataclasses.fields(ESP.Options)}
            self._evolver = ESP(ESP.Options(**esp_fields), n_params, seed, init_scale)
        else:
            cma_options = CMAESOptions(population=options.population,
                                       sigma0=options.sigma0 or typical_scale(init_scale),
                                       restarts=options.restarts, sep=options.sep)
            self._evolver = CMAES(cma_options, n_params, seed, init_scale)

    def bind(self, layout: Layout) -> None:
        """ESP's subpopulations: one per hidden unit, over the recurrent part of `layout`."""
        self.set_partition(neuron_groups(layout, with_readout=False))

    def set_partition(self, groups: list[np.ndarray]) -> None:
        """ESP's neurons (see `ESP.set_partition`); CMA-ES does not need them."""
        if isinstance(self._evolver, ESP):
            self._evolver.set_partition(groups)

    def ask(self) -> np.ndarray:
        return self._evolver.ask()

    def tell(self, genomes: np.ndarray, fitness: np.ndarray) -> dict[str, float]:
        return self._evolver.tell(genomes, fitness)

    def ridge(self) -> float:
        return self.options.ridge

    def stop(self) -> str | None:
        return self._evolver.stop()

    def describe(self) -> dict[str, Any]:
        return self._evolver.describe()
