"""The algorithm contract: ask/tell with all state inside the object, seeded once.

Checkpoints never serialise an algorithm: a run keeps the fitness of every generation, and
resuming rebuilds the algorithm from its options and seed and replays ask/tell with the
recorded fitnesses. So an algorithm must be a deterministic function of (options, n_params,
seed, the sequence of tells): draw every random number from the generators it was given
(never from global state without restoring it), and never read the clock.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from evolstm.cells.layout import Layout


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """For algorithms without options."""


class Algorithm(ABC):
    """Base of every algorithm. Subclasses set `name`, `Options`, and write ask/tell.

    n_params: genome length it evolves (the recurrent part only when `fits_readout`);
    seed: its only source of randomness; init_scale: standard deviation of the initial
    genomes around 0, one number or (n_params,) per-weight scales (the cell's
    ``init_scales``).
    """

    name: ClassVar[str]
    Options: ClassVar[type] = NoOptions
    fits_readout: ClassVar[bool] = False  # Evolino: the task fits the readout

    def __init__(
        self, options: Any, n_params: int, seed: int, init_scale: float | np.ndarray
    ) -> None:
        self.options = options
        self.n_params = n_params
        self.seed = seed
        self.init_scale = init_scale

    def bind(self, layout: Layout) -> None:  # noqa: B027 - an optional hook
        """Learn the genome's structure before the first ask (ESP groups weights by neuron).

        The default ignores it. With `fits_readout`, the genome evolved is the recurrent
        part, ``layout.n_recurrent`` long.
        """

    @abstractmethod
    def ask(self) -> np.ndarray:
        """The next population to evaluate: (P, n_params) float64."""

    @abstractmethod
    def tell(self, genomes: np.ndarray, fitness: np.ndarray) -> dict[str, float]:
        """Take the fitnesses (P,) of the genomes `ask` returned (fitness is minimised).

        Returns algorithm-specific history columns (the same keys every generation).
        """

    def stop(self) -> str | None:
        """A reason to stop early (the algorithm's own termination), or None."""
        return None

    def ridge(self) -> float | None:
        """Readout penalty for Evolino-style algorithms (None: the readout is evolved)."""
        return None

    def describe(self) -> dict[str, Any]:
        """Facts worth recording in the summary (e.g. the final step size)."""
        return {}


def take_old_names(options: Any, renamed: dict[str, str]) -> None:
    """Move values given under old option names to their new names (in ``__post_init__``).

    renamed: {old name: new name}; each old name is a field defaulting to None, so the
    resolved config (which leaves None out) writes the new name only. A value given under
    both names is left in place for `check_old_names` to refuse, unless the two agree or
    the new name holds its default.
    """
    defaults = {f.name: f.default for f in dataclasses.fields(options)}
    for old, new in renamed.items():
        value = getattr(options, old)
        if value is None:
            continue
        if getattr(options, new) in (value, defaults[new]):
            object.__setattr__(options, new, value)
            object.__setattr__(options, old, None)


def check_old_names(options: Any, renamed: dict[str, str]) -> None:
    """Refuse an option given under both its old and its new name (in ``validate``)."""
    for old, new in renamed.items():
        if getattr(options, old) is not None:
            raise ValueError(f"{old}: the old name of {new}; give {new} only")


def normal_genomes(
    rng: np.random.Generator, n: int, n_params: int, scale: float | np.ndarray
) -> np.ndarray:
    """(n, n_params) genomes drawn from N(0, scale²); `scale` a number or (n_params,)."""
    return rng.normal(0.0, scale, size=(n, n_params))


def typical_scale(init_scale: float | np.ndarray) -> float:
    """One step size for an initial spread given per weight: the median weight's scale."""
    return float(np.median(init_scale))


class Progress:
    """The best fitness seen, the genome that scored it, and the generations since it last
    improved; `stagnating` once that count reaches `patience` (0: never)."""

    def __init__(self, patience: int, genome: np.ndarray | None = None) -> None:
        self.patience = patience
        self.fitness = np.inf
        self.genome = genome
        self.stale = 0

    def update(self, genomes: np.ndarray, fitness: np.ndarray) -> None:
        """Record a generation: genomes (P, n), fitness (P,) minimised."""
        best = int(np.argmin(fitness))
        if fitness[best] < self.fitness:
            self.fitness, self.genome, self.stale = float(fitness[best]), genomes[best].copy(), 0
        else:
            self.stale += 1

    @property
    def stagnating(self) -> bool:
        return bool(self.patience) and self.stale >= self.patience
