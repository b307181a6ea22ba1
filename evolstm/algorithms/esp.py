"""ESP: Enforced SubPopulations, one subpopulation of "neurons" per hidden unit.

Gomez & Miikkulainen 1999 ("Solving non-Markovian control tasks with neuroevolution", IJCAI)
and Gomez's thesis (2003); the form Evolino uses is in Schmidhuber, Wierstra, Gagliolo & Gomez
2007 ("Training recurrent networks by Evolino", Neural Computation 19(3): 757-779).

A neuron is the slice of the genome that belongs to one hidden unit (`neuron_groups`). Each
generation:

1. *Evaluation*: ``trials`` rounds; in each round every subpopulation is shuffled and network j
   takes the j-th neuron of every subpopulation, so P = trials · subpopulation_size networks
   and every neuron takes part in exactly ``trials`` of them. A neuron's fitness is the mean
   fitness of its networks.
2. *Recombination*, within each subpopulation ranked by fitness; q = size // 4 parents (the top
   quarter) make 2q children that replace the lowest-ranking 2q (about half):

   * ``crossover`` (ESP, 1999): each parent is mated with a higher-ranking neuron (the best
     with another parent) by one-point crossover, two children per mating;
   * ``mutation`` (Evolino, 2007): each parent is copied twice.

   Every child weight is then perturbed, with probability ``mutation_rate``, by Cauchy noise
   of scale ``mutation_scale`` (density α / (π (α² + x²)), α = scale) or normal noise.
3. *Burst mutation*: when the best network has not improved for ``stagnation`` generations,
   every subpopulation is rebuilt around the best network's neuron: that neuron plus Cauchy
   noise of scale ``burst_scale`` (the neuron itself is kept once), as ESP's delta-coding.

Option ``population`` is the number of networks evaluated a generation, P = trials ·
subpopulation_size: given alone, it sets the subpopulation size (trials stay 10).

Defaults are ESP's: 40 neurons per subpopulation, 10 trials per neuron, Cauchy noise of scale
0.3, burst after 20 generations without improvement (the figure Evolino reports). Values not
confirmed against the paper text: see the module docstring of `evolstm.algorithms.evolino`.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from evolstm.algorithms.base import Algorithm, Progress, normal_genomes
from evolstm.cells.layout import Block, Layout

Noise = Literal["cauchy", "normal"]


def neuron_groups(layout: Layout, with_readout: bool = True) -> list[np.ndarray]:
    """Genome indices of every hidden unit: a partition of the genome, one int64 array per unit.

    Unit u of layer k (group k·H + u) owns row r of every gate block of that layer whose
    r mod H == u (weight_ih, weight_hh, bias_ih, bias_hh, weight_gg rows) and its peepholes;
    with `with_readout`, also column u of readout_weight and readout_bias[o] for o mod H == u
    (units of the last layer). Without it (Evolino: the readout is fitted) the groups cover
    exactly the recurrent part, ``range(layout.n_recurrent)``.
    """
    owners = _unit_owners(layout, with_readout)
    return [np.flatnonzero(owners == unit) for unit in range(layout.layers * layout.n_hidden)]


def _unit_owners(layout: Layout, with_readout: bool) -> np.ndarray:
    """(n,) the unit (k·H + u) that owns each genome entry, n = the genome or its recurrent part."""
    size = layout.n_params if with_readout else layout.n_recurrent
    owners = np.full(size, -1, dtype=np.int64)
    for block in layout.blocks:
        if block.offset < size:
            owners[block.offset : block.offset + block.size] = _block_owners(
                block, layout.n_hidden, layout.layers
            ).reshape(-1)
    return owners


def _block_owners(block: Block, hidden: int, layers: int) -> np.ndarray:
    """Owner unit of every entry of one block, in the block's shape."""
    if block.name == "readout_weight":  # (O, H): column u
        return np.broadcast_to((layers - 1) * hidden + np.arange(hidden), block.shape)
    if block.name == "readout_bias":  # (O,)
        return (layers - 1) * hidden + np.arange(block.shape[0]) % hidden
    layer = int(block.name.rsplit("_l", 1)[1])
    rows = layer * hidden + np.arange(block.shape[0]) % hidden
    return np.broadcast_to(rows.reshape((-1,) + (1,) * (len(block.shape) - 1)), block.shape)


def esp_sizes(population: int, size: int, trials: int) -> tuple[int, int, int]:
    """(population, subpopulation_size, trials) with those not given (0) filled in.

    population = size × trials; trials defaults to 10 and size to 40 when the others do not
    imply them. A size or trials that cannot be implied (not a divisor) stays 0, for
    ``validate`` to report.
    """
    if not population:
        size, trials = size or 40, trials or 10
        return size * trials, size, trials
    if size and trials:
        return population, size, trials
    if size:
        return population, size, population // size if population % size == 0 else 0
    trials = trials or 10
    return population, population // trials if population % trials == 0 else 0, trials


def perturb(
    rng: np.random.Generator, genes: np.ndarray, rate: float, scale: float, noise: Noise
) -> np.ndarray:
    """genes (..., L) plus Cauchy or normal noise · scale on each entry with probability `rate`."""
    draw = rng.standard_cauchy if noise == "cauchy" else rng.standard_normal
    step = draw(genes.shape) * scale
    return genes + np.where(rng.random(genes.shape) < rate, step, 0.0)


def one_point_crossover(
    rng: np.random.Generator, first: np.ndarray, second: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Two children of (L,) parents, swapping the tails after a cut point in 1..L-1."""
    cut = int(rng.integers(1, first.size)) if first.size > 1 else 1
    return (
        np.concatenate([first[:cut], second[cut:]]),
        np.concatenate([second[:cut], first[cut:]]),
    )


class ESP(Algorithm):
    """Enforced SubPopulations; `bind(layout)` (or `set_partition`) before the first ask.

    Without a partition the genome is split into ``subpopulations`` contiguous groups.
    """

    name = "esp"

    @dataclasses.dataclass(frozen=True)
    class Options:
        """population: networks evaluated a generation, subpopulation_size × trials. Give any
        one or two of the three (0: not given): the others follow, trials being 10 and
        subpopulation_size 40 unless given or implied (population 40: 4 neurons × 10 trials)."""

        population: int = 0  # networks a generation = subpopulation_size × trials
        subpopulations: int = 10  # contiguous groups when no partition is set
        subpopulation_size: int = 0  # neurons per subpopulation (40 unless implied)
        trials: int = 0  # networks each neuron takes part in per generation (10 unless implied)
        recombination: Literal["crossover", "mutation"] = "crossover"
        mutation_rate: float = 0.4  # probability that a child's weight gets noise
        noise: Noise = "cauchy"
        mutation_scale: float = 0.3  # Cauchy α (or normal σ)
        stagnation: int = 20  # generations without improvement before a burst; 0: never
        burst_scale: float = 0.3

        def __post_init__(self) -> None:
            if self._counts_networks():
                sizes = esp_sizes(self.population, self.subpopulation_size, self.trials)
            else:  # Evolino's CMA-ES evolver: population is its lambda
                sizes = (self.population, self.subpopulation_size or 40, self.trials or 10)
            for name, value in zip(("population", "subpopulation_size", "trials"), sizes,
                                   strict=True):
                object.__setattr__(self, name, value)

        def _counts_networks(self) -> bool:
            """Whether `population` counts ESP's networks (not so for Evolino's CMA-ES)."""
            return True

        def validate(self) -> None:
            if self.subpopulations < 1:
                raise ValueError("subpopulations: must be >= 1")
            if self.subpopulation_size < 0:
                raise ValueError("subpopulation_size: must be >= 4 (a top quarter to breed)")
            if self.trials < 0:
                raise ValueError("trials: must be >= 1")
            if self.population < 0:
                raise ValueError("population: must be >= 0 (0: the default)")
            size, trials = self.subpopulation_size, self.trials
            if self._counts_networks() and size * trials != self.population:
                given = (f"is not a multiple of trials ({trials})" if not size
                         else f"is not a multiple of subpopulation_size ({size})" if not trials
                         else f"is not subpopulation_size × trials = {size} × {trials}")
                raise ValueError(
                    f"population: ESP evaluates subpopulation_size × trials networks a "
                    f"generation, and {self.population} {given}"
                )
            if size < 4:
                raise ValueError("subpopulation_size: must be >= 4 (a top quarter to breed)")
            if trials < 1:
                raise ValueError("trials: must be >= 1")
            if not 0.0 <= self.mutation_rate <= 1.0:
                raise ValueError("mutation_rate: must be in [0, 1]")
            if self.mutation_scale < 0 or self.burst_scale < 0:
                raise ValueError("mutation_scale: scales must be >= 0")
            if self.stagnation < 0:
                raise ValueError("stagnation: must be >= 0")

    def __init__(self, options: Options, n_params: int, seed: int,
                 init_scale: float | np.ndarray) -> None:
        super().__init__(options, n_params, seed, init_scale)
        self._rng = np.random.default_rng(seed)
        self._groups: list[np.ndarray] | None = None
        self._neurons: list[np.ndarray] = []  # per group: (subpopulation_size, len(group))
        self._choice = np.empty((0, 0), dtype=np.int64)  # (P, groups) neuron of each network
        self._genomes = np.empty((0, n_params))
        self._progress = Progress(options.stagnation)
        self._bursts = 0

    def bind(self, layout: Layout) -> None:
        """One subpopulation per hidden unit of `layout` (the run loop calls this)."""
        self.set_partition(neuron_groups(layout, with_readout=not self.fits_readout))

    def set_partition(self, groups: list[np.ndarray]) -> None:
        """Genome indices of each neuron (one array per hidden unit); each index exactly once."""
        if self._neurons:
            raise RuntimeError("set_partition must be called before the first ask")
        groups = [np.asarray(group, dtype=np.int64) for group in groups]
        covered = np.sort(np.concatenate(groups)) if groups else np.empty(0, np.int64)
        if not np.array_equal(covered, np.arange(self.n_params)):
            raise ValueError(f"groups must partition range({self.n_params}), each index once")
        self._groups = groups

    def ask(self) -> np.ndarray:
        if not self._neurons:
            self._start()
        return self._genomes.copy()

    def tell(self, genomes: np.ndarray, fitness: np.ndarray) -> dict[str, float]:
        fitness = np.nan_to_num(np.asarray(fitness, dtype=np.float64), nan=np.inf)
        if fitness.shape != (len(self._genomes),):
            raise ValueError(
                f"fitness: expected shape ({len(self._genomes)},), got {fitness.shape}"
            )
        self._progress.update(self._genomes, fitness)
        size = self.options.subpopulation_size
        neuron_fitness = [
            np.bincount(choice, weights=fitness, minlength=size)
            / np.bincount(choice, minlength=size)
            for choice in self._choice.T
        ]
        if self._progress.stagnating and self._progress.genome is not None:
            self._burst()
        else:
            self._neurons = [
                self._recombine(neurons, scores)
                for neurons, scores in zip(self._neurons, neuron_fitness, strict=True)
            ]
        self._assemble()
        return {
            "best_so_far": self._progress.fitness,
            "generations_without_improvement": float(self._progress.stale),
            "bursts": float(self._bursts),
        }

    def describe(self) -> dict[str, float]:
        return {"subpopulations": float(len(self._neurons)), "bursts": float(self._bursts)}

    # -- steps ------------------------------------------------------------------------------
    def _start(self) -> None:
        if self._groups is None:
            parts = min(self.options.subpopulations, self.n_params)
            self._groups = np.array_split(np.arange(self.n_params), parts)
        size = self.options.subpopulation_size
        scales = np.broadcast_to(self.init_scale, (self.n_params,))
        self._neurons = [
            normal_genomes(self._rng, size, len(group), scales[group]) for group in self._groups
        ]
        self._assemble()

    def _assemble(self) -> None:
        """Draw the networks of the next generation: trials rounds of shuffled subpopulations."""
        size, trials = self.options.subpopulation_size, self.options.trials
        assert self._groups is not None
        self._choice = np.stack(
            [
                np.concatenate([self._rng.permutation(size) for _ in range(trials)])
                for _ in self._groups
            ],
            axis=1,
        )
        self._genomes = np.empty((size * trials, self.n_params))
        for k, group in enumerate(self._groups):
            self._genomes[:, group] = self._neurons[k][self._choice[:, k]]

    def _recombine(self, neurons: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """One subpopulation's next generation: parents kept, children over the lower half."""
        opts, rng = self.options, self._rng
        ranked = neurons[np.argsort(scores, kind="stable")]
        parents = max(1, len(ranked) // 4)
        if opts.recombination == "mutation":
            children = np.repeat(ranked[:parents], 2, axis=0)
        else:
            pairs = []
            for rank in range(parents):
                if rank:
                    mate = int(rng.integers(0, rank))
                else:
                    mate = int(rng.integers(1, parents)) if parents > 1 else 0
                pairs.extend(one_point_crossover(rng, ranked[rank], ranked[mate]))
            children = np.stack(pairs)
        ranked[len(ranked) - len(children) :] = perturb(
            rng, children, opts.mutation_rate, opts.mutation_scale, opts.noise
        )
        return ranked

    def _burst(self) -> None:
        """Rebuild every subpopulation as noisy copies of the best network's neuron."""
        best = self._progress.genome
        assert self._groups is not None and best is not None
        size = self.options.subpopulation_size
        neurons = []
        for group in self._groups:
            centre = np.broadcast_to(best[group], (size, len(group)))
            noisy = perturb(self._rng, centre, 1.0, self.options.burst_scale, self.options.noise)
            noisy[0] = best[group]
            neurons.append(noisy)
        self._neurons = neurons
        self._progress.stale = 0
        self._bursts += 1
