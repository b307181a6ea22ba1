"""`Population`: many cells of one topology and size, simulated together.

Genomes are rows of a (P, n_params) array laid out as `evolstm.cells.layout` describes.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from evolstm.cells import fast_kernels, kernels
from evolstm.cells.graph import Graph, program
from evolstm.cells.graph.convert import from_topology
from evolstm.cells.graph.layout import GraphLayout
from evolstm.cells.graph.named import GRAPHS, cell_graph
from evolstm.cells.layout import Layout
from evolstm.cells.topology import Topology
from evolstm.cells.variants import resolve, variant_of
from evolstm.errors import EvolstmError

DTYPES = ("float64", "float32")


@dataclasses.dataclass
class Simulation:
    """What `Population.run` returns.

    outputs: (P, B, T + n_generate, O); hidden: (P, B, T + n_generate, H) or None;
    state: (P, B, L, W) final state of every layer (``[h | c | previous gates]``).
    """

    outputs: np.ndarray
    hidden: np.ndarray | None
    state: np.ndarray


class Population:
    """P cells of one topology: ``Population("lstm", n_in=1, n_hidden=16, n_out=1)``.

    `cell` is a variant name (`evolstm.cells.names()`), a topology dict or a `Topology`; or a
    cell graph: a `Graph`, its dict (`Graph.to_dict`) or the name of a graph-only cell
    (`evolstm.cells.graph.names()`, e.g. ``"nas"``). A graph population runs the graph
    interpreter (`evolstm.cells.graph.kernel`); `topology` is then None and `graph` is set.
    """

    def __init__(
        self,
        cell: str | dict[str, Any] | Topology | Graph,
        n_in: int,
        n_hidden: int,
        n_out: int,
        layers: int = 1,
        dtype: str = "float64",
    ) -> None:
        if str(np.dtype(dtype)) not in DTYPES:
            raise EvolstmError(f"dtype: {dtype!r} is not one of {', '.join(DTYPES)}")
        self.graph: Graph | None = None
        self.topology: Topology | None = None
        self.layout: Layout | GraphLayout
        if isinstance(cell, Graph) or (isinstance(cell, dict) and "nodes" in cell) or (
            isinstance(cell, str) and cell in GRAPHS
        ):
            self.graph = cell_graph(cell)
            self.variant = cell if isinstance(cell, str) else None
            self.layout = GraphLayout(self.graph, n_in, n_hidden, n_out, layers)
        else:
            self.topology = resolve(cell)
            self.variant = cell if isinstance(cell, str) else variant_of(self.topology)
            self.layout = Layout(self.topology, n_in, n_hidden, n_out, layers)
        self.dtype = np.dtype(dtype)
        self.n_in, self.n_hidden, self.n_out, self.layers = n_in, n_hidden, n_out, layers
        self._one = self.dtype.type(1.0)

    def __repr__(self) -> str:
        name = self.variant or ("graph" if self.graph is not None else "topology")
        return (
            f"Population({name!r}, n_in={self.n_in}, n_hidden={self.n_hidden}, "
            f"n_out={self.n_out}, layers={self.layers}, dtype={str(self.dtype)!r})"
        )

    @property
    def n_params(self) -> int:
        """Genome length."""
        return self.layout.n_params

    @property
    def n_recurrent(self) -> int:
        """Length of the recurrent part of the genome (before the readout)."""
        return self.layout.n_recurrent

    @property
    def state_width(self) -> int:
        """W: per-layer state length, (2 + number of FGR gates)·H; a graph's: (states)·H."""
        if self.topology is None:
            return len(self.graph.states) * self.n_hidden
        return (2 + len(self.topology.recurrent_gates())) * self.n_hidden

    def unflatten(self, genome: np.ndarray) -> dict[str, np.ndarray]:
        """(n_params,) genome -> dict of arrays in the cell-file layout."""
        return self.layout.unflatten(genome)

    def flatten(self, arrays: dict[str, Any]) -> np.ndarray:
        """Dict in the cell-file layout (numpy arrays or torch tensors) -> (n_params,) genome."""
        return self.layout.flatten(
            {name: np.asarray(_to_numpy(value)) for name, value in arrays.items()}, self.dtype
        )

    def initial_state(self, n_genomes: int, n_batch: int) -> np.ndarray:
        """Zero state (P, B, L, W)."""
        return np.zeros((n_genomes, n_batch, self.layers, self.state_width), self.dtype)

    def predict(self, genomes: np.ndarray, x: np.ndarray, jobs: int = 1) -> np.ndarray:
        """genomes (P, n_params), x (B, T, I) or (T, I) -> outputs (P, B, T, O)."""
        return self.run(genomes, x, jobs=jobs).outputs

    def states(
        self, genomes: np.ndarray, x: np.ndarray, jobs: int = 1, out: np.ndarray | None = None
    ) -> np.ndarray:
        """genomes (P, n_params), x (B, T, I) or (T, I) -> last layer's h (P, B, T, H), written
        into `out` when given (see `run`'s `hidden_out`)."""
        hidden = self.run(genomes, x, keep_hidden=True, jobs=jobs, hidden_out=out).hidden
        assert hidden is not None
        return hidden

    def generate(
        self, genomes: np.ndarray, x: np.ndarray, n_steps: int, jobs: int = 1
    ) -> np.ndarray:
        """Prime on x (B, T, I), then run n_steps closed-loop -> (P, B, n_steps, O)."""
        t_prime = self._inputs(x).shape[1]
        return self.run(genomes, x, n_generate=n_steps, jobs=jobs).outputs[:, :, t_prime:]

    def run(
        self,
        genomes: np.ndarray,
        x: np.ndarray,
        n_generate: int = 0,
        keep_hidden: bool = False,
        state: np.ndarray | None = None,
        jobs: int = 1,
        hidden_out: np.ndarray | None = None,
    ) -> Simulation:
        """Simulate genomes (P, n_params) on inputs x (B, T, I).

        The first T steps read x; then `n_generate` closed-loop steps read the previous
        output (the first reads the output of step T). `state` (P, B, L, W) starts the run
        (zeros when None). `jobs` threads share the population (-1: all cores); the result
        does not depend on it. `hidden_out`, a C-contiguous (P, B, T + n_generate, H) array of
        the population's dtype, receives the hidden states (implies `keep_hidden`) and is
        returned as `Simulation.hidden`: reusing one array from call to call (one Evolino
        generation to the next) spares the OS mapping fresh pages for every call, about 10%
        of a call that keeps 210 MiB of states (benchmarks/README.md, session 12).
        """
        genomes = self._genomes(genomes)
        x = self._inputs(x)
        if n_generate < 0:
            raise EvolstmError(f"n_generate: must be >= 0, got {n_generate}")
        if n_generate and self.n_in != self.n_out:
            raise EvolstmError(
                f"closed-loop generation needs n_in == n_out, got {self.n_in} and {self.n_out}"
            )
        n_pop, (n_batch, n_steps, _) = genomes.shape[0], x.shape
        if state is None:
            state = self.initial_state(n_pop, n_batch)
        else:
            expected = (n_pop, n_batch, self.layers, self.state_width)
            if state.shape != expected:
                raise EvolstmError(f"state: expected shape {expected}, got {state.shape}")
            state = np.array(state, dtype=self.dtype, order="C", copy=True)
        total = n_steps + n_generate
        outputs = np.empty((n_pop, n_batch, total, self.n_out), self.dtype)
        keep_hidden = keep_hidden or hidden_out is not None
        if hidden_out is not None:
            hidden = self._hidden_out(hidden_out, (n_pop, n_batch, total, self.n_hidden))
        elif keep_hidden:
            hidden = np.empty((n_pop, n_batch, total, self.n_hidden), self.dtype)
        else:
            hidden = np.empty((0, 0, 0, 0), self.dtype)
        run_state = state
        if isinstance(self.layout, GraphLayout):  # the interpreter: genomes as they are
            weights = genomes
            fast = program.plan(self.layout, self.dtype, n_pop, n_batch)
        else:
            fast = fast_kernels.plan(self.layout, self.dtype, n_pop, n_batch)  # by speed alone
            if fast is None and self._interpreted is not None:
                weights = genomes
                fast = program.plan(self._interpreted, self.dtype, n_pop, n_batch)
                # the graph's states are the topology's first ones ([h | c | gates]; a GRU
                # has h alone, and its c slot, unused, stays as it came in)
                run_state = np.ascontiguousarray(state[..., : self._interpreted.state_width])
            else:
                weights = kernels.kernel_genomes(genomes, self.layout)
                spec = self.layout.kernel_spec

        def work(chunk: slice) -> None:
            if fast is not None:
                fast.simulate(weights[chunk], x, n_generate, run_state[chunk], outputs[chunk],
                              hidden[chunk] if keep_hidden else hidden)
                return
            kernels.simulate(
                weights[chunk], spec.flags, spec.units, spec.layers, spec.readout, x,
                n_generate, state[chunk], outputs[chunk],
                hidden[chunk] if keep_hidden else hidden, self._one,
            )

        n_threads = min(_thread_count(jobs), n_pop)
        if n_threads <= 1:
            work(slice(0, n_pop))
        else:
            block = fast.lanes if fast is not None else 1
            list(_pool(n_threads).map(work, block_chunks(n_pop, block, n_threads)))
        if run_state is not state:
            state[..., : run_state.shape[-1]] = run_state
        return Simulation(outputs, hidden if keep_hidden else None, state)

    @property
    def engine(self) -> str:
        """What simulates this population: ``"fast"`` (the fast kernels), ``"interpreter"``
        (the graph interpreter: every graph, and the topologies the fast kernels do not run)
        or ``"reference"`` (the reference kernel: output units, and topologies that are no
        valid graph)."""
        if self.graph is not None or self._interpreted is not None:
            return "interpreter"
        return "fast" if fast_kernels.supports(self.topology) else "reference"

    @functools.cached_property
    def _interpreted(self) -> GraphLayout | None:
        """The graph interpreter's layout of a topology the fast kernels do not run (per-unit
        connection modes, full gate recurrence), or None: a graph population, a topology the
        fast kernels run, and the reference kernel's own cases, output units (their state's
        c slot holds the units' pre-activations, which the graph's state has not) and
        topologies that are no valid graph. Same genome, same numbers to rounding, and about
        6.6x the reference kernel's speed on a search's fallback candidates
        (benchmarks/README.md, session 14).
        """
        if (self.topology is None or fast_kernels.supports(self.topology)
                or self.topology.readout == "units"):
            return None
        try:
            graph = from_topology(self.topology)
        except EvolstmError:
            return None
        return GraphLayout(graph, self.n_in, self.n_hidden, self.n_out, self.layers)

    def _genomes(self, genomes: np.ndarray) -> np.ndarray:
        genomes = np.asarray(genomes)
        if genomes.ndim == 1:
            genomes = genomes[None]
        if genomes.ndim != 2 or genomes.shape[1] != self.n_params:
            raise EvolstmError(
                f"genomes: expected shape (P, {self.n_params}), got {genomes.shape}"
            )
        return np.ascontiguousarray(genomes, dtype=self.dtype)

    def _hidden_out(self, out: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != self.dtype:
            found = (f"{out.shape} {out.dtype}" if isinstance(out, np.ndarray)
                     else type(out).__name__)
            raise EvolstmError(f"hidden_out: expected a {shape} {self.dtype} array, got {found}")
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise EvolstmError("hidden_out: must be C-contiguous and writeable")
        return out

    def _inputs(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3 or x.shape[2] != self.n_in:
            raise EvolstmError(f"x: expected shape (B, T, {self.n_in}), got {x.shape}")
        return np.ascontiguousarray(x, dtype=self.dtype)


def chunk_slices(n_items: int, n_chunks: int) -> list[slice]:
    """Split range(n_items) into at most `n_chunks` contiguous, nearly equal, non-empty slices."""
    bounds = np.linspace(0, n_items, min(n_chunks, n_items) + 1).astype(int)
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


CHUNKS_PER_THREAD = 4  # threads take chunks as they finish: a slower core does fewer


def block_chunks(n_items: int, block: int, n_threads: int) -> list[slice]:
    """Contiguous slices of range(n_items) for `n_threads` threads to share.

    Up to CHUNKS_PER_THREAD per thread, so that threads running at unequal speeds (a shared
    host) finish together; every boundary but the last is a multiple of `block` (a lane
    block of the fast kernels), so no block is split. Results do not depend on the slices.
    """
    n_blocks = -(-n_items // block)
    return [
        slice(part.start * block, min(part.stop * block, n_items))
        for part in chunk_slices(n_blocks, CHUNKS_PER_THREAD * n_threads)
    ]


_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}


def _pool(n_threads: int) -> ThreadPoolExecutor:
    """A pool of `n_threads` threads kept for the process (starting threads costs ~0.3 ms a
    call). Keyed by process id too: a forked child has none of its parent's threads.

    Where the OS allows it and the pool has no more threads than the process has CPUs, each
    thread is pinned to a CPU of its own (`_pin`): on a 2-vCPU guest, unpinned threads were
    often run on one vCPU together for milliseconds (1.0-1.5 cores busy); pinned, 1.9
    (x1.3 at P, H = 256, 4: benchmarks/README.md, session 9).
    """
    key = (os.getpid(), n_threads)
    pool = _POOLS.get(key)
    if pool is None:
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_setaffinity") else []
        order = iter(cpus if n_threads <= len(cpus) else [])
        pool = _POOLS[key] = ThreadPoolExecutor(
            n_threads, thread_name_prefix="evolstm-sim", initializer=_pin, initargs=(order,)
        )
    return pool


def _pin(cpus: Iterator[int]) -> None:
    """Pin the calling thread to the next CPU of `cpus`, if any is left (a pool initializer:
    next() on a list iterator holds the GIL, so each thread takes a CPU of its own)."""
    cpu = next(cpus, None)
    if cpu is not None:
        try:
            os.sched_setaffinity(0, {cpu})  # 0: the calling thread
        except OSError:  # a CPU taken away since: leave the thread unpinned
            pass


def _thread_count(jobs: int) -> int:
    if jobs == 0:
        raise EvolstmError("jobs: must be a positive count or -1 (all cores)")
    return (os.cpu_count() or 1) if jobs < 0 else jobs


def _to_numpy(value: Any) -> Any:
    """Torch tensors (detached, on the CPU) and array-likes -> numpy."""
    detach = getattr(value, "detach", None)
    return detach().cpu().numpy() if detach is not None else value
