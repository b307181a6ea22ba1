"""The search over cells: an outer algorithm asks topologies, each is scored by nested
weight searches (`evolstm.archsearch.nested`), on the shared `SearchLoop` (progress,
checkpoints, exact resume, every backend).

Each inner search is one job for the pool, so N workers run N inner searches at once; a
cell seen before in the run is not searched again (the cache, kept in the checkpoint). The
run folder adds ``candidates.csv`` (one row per candidate), and at the end ``front.json``
(the Pareto front of score and parameter count, with test metrics) and ``tested.csv`` (the
test metrics of every reported cell and inner seed, long format). The task's test data
chooses nothing: it is only read for that report, after the search.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
from deap import tools

from evolstm.archsearch import outer
from evolstm.archsearch.config import named_inside, start_names, start_topologies
from evolstm.archsearch.kinds import KINDS
from evolstm.archsearch.nested import InnerResult, InnerSearch, inner_seed, run_inner, score
from evolstm.archsearch.outer.nsga2 import Member
from evolstm.cells import Population
from evolstm.cells.cell import Cell
from evolstm.cells.cellfile import save as save_cell
from evolstm.cells.topology import Topology
from evolstm.runs import checkpoint as ckpt
from evolstm.runs import config as cfg
from evolstm.runs import rundir
from evolstm.runs.evaluator import Evaluator
from evolstm.runs.loop import Scored, SearchLoop
from evolstm.runs.search import build_task, seeds

CANDIDATES = "candidates.csv"
FRONT = "front.json"
TESTED = "tested.csv"
CANDIDATE_COLUMNS = ("candidate", "generation", "key", "variant", "score", "n_params",
                     "inner_evaluations", "seconds", "cache_hit")


@dataclasses.dataclass
class Entry:
    """A scored cell: its first candidate number, the cell (a Topology or a Graph), inner
    searches' best fitnesses (k,) and genomes (k, n_params), inner evaluations and seconds
    (all inner searches)."""

    candidate: int
    cell: Topology
    fitness: np.ndarray
    genomes: np.ndarray
    evaluations: int
    seconds: float

    @property
    def score(self) -> float:
        return score(self.fitness)


class CellSearch(SearchLoop):
    """Cells (topologies or graphs) searched on `config.task`; `config.algorithm` is the
    inner search."""

    unit = "cand"

    def __init__(self, config: cfg.Config, run_dir: Path, quiet: bool = False) -> None:
        super().__init__(config, run_dir, quiet)
        self.task = build_task(config)
        cell, loop, architecture = config.cell, config.loop, config.architecture
        self.inner = InnerSearch(
            config.algorithm, config.algorithm_options, loop.max_evaluations,
            loop.generations, loop.target_fitness, cell.hidden, cell.layers, cell.dtype,
            cell.init_scale, cell.forget_bias,
        )
        self.kind = KINDS[architecture.kind]
        if self.kind.name == "graph" and not self.task.supports_graphs:
            raise cfg.ConfigError(f"architecture.kind: task {config.task} simulates topology "
                                  "cells only")
        self.start_names = start_names(architecture, config.space)
        self.algorithm = outer.get(architecture.algorithm)(
            config.architecture_options, config.space, self.count,
            start_topologies(architecture, config.space), seeds(config.seed)[1], self.kind,
        )
        self.inner_seeds = [
            inner_seed(config.seed, architecture.inner_seed_base + j)
            for j in range(architecture.inner_seeds)
        ]
        self.cache: dict[str, Entry] = {}
        self.best_key = ""
        self.candidates_done = 0
        self.candidates = rundir.History(run_dir / CANDIDATES, CANDIDATE_COLUMNS)
        named = named_inside(self.kind, config.space)
        self.names = {self.kind.key(cell): name for name, cell in reversed(named.items())}
        self.counts: dict[str, int] = {}

    def count(self, cell: Topology) -> int:
        """The parameter count of `cell` at the run's sizes."""
        k = self.kind.key(cell)
        if k not in self.counts:
            self.counts[k] = Population(cell, self.task.n_in, self.inner.hidden,
                                        self.task.n_out, self.inner.layers).n_params
        return self.counts[k]

    # -- scoring --------------------------------------------------------------------------
    def open_evaluator(self) -> AbstractContextManager[Any]:
        parallel = self.config.parallel
        return Evaluator(self.task, None, parallel.backend, parallel.jobs, parallel.scheduler)

    def score(self, evaluate: Any, asked: list[Topology]) -> Scored:
        keys = [self.kind.key(cell) for cell in asked]
        first = {k: keys.index(k) for k in dict.fromkeys(keys)}  # first position of each
        fresh = [k for k in first if k not in self.cache]
        cells = {k: self.kind.canonical(asked[first[k]]) for k in fresh}
        jobs = [(self.task, cells[k], self.inner, seed)
                for k in fresh for seed in self.inner_seeds]
        results: list[InnerResult] = evaluate.map(run_inner, jobs)
        n_seeds = len(self.inner_seeds)
        offset, self.candidates_done = self.candidates_done, self.candidates_done + len(keys)
        for index, k in enumerate(fresh):
            mine = results[index * n_seeds : (index + 1) * n_seeds]
            self.cache[k] = Entry(
                candidate=offset + first[k],
                cell=cells[k],
                fitness=np.array([r.fitness for r in mine]),
                genomes=np.stack([r.genome for r in mine]),
                evaluations=sum(r.evaluations for r in mine),
                seconds=sum(r.seconds for r in mine),
            )
        hits = [k not in fresh or first[k] != position for position, k in enumerate(keys)]
        fitness = np.array([self.cache[k].score for k in keys])
        return Scored(fitness, len(asked), (keys, hits))

    def fingerprint(self, asked: list[Topology]) -> int:
        text = "\n".join(self.kind.key(cell) for cell in asked).encode()
        return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")

    def keep_best(self, state: ckpt.Checkpoint, asked: list[Topology], scored: Scored) -> bool:
        keys, _ = scored.payload
        changed = False
        for k in keys:
            entry = self.cache[k]
            if self._better(entry, state.best_fitness):
                self.best_key, state.best_fitness = k, entry.score
                state.best_genome = entry.genomes[int(np.argmin(entry.fitness))]
                changed = True
        return changed

    def _better(self, entry: Entry, best_score: float) -> bool:
        """Lower score; on a tie, fewer parameters."""
        if entry.score != best_score:
            return entry.score < best_score
        return bool(self.best_key) and (
            self.count(entry.cell) < self.count(self.cache[self.best_key].cell)
        )

    def stop_reason(self, state: ckpt.Checkpoint) -> str | None:
        if state.evaluations >= self.config.architecture.candidates:
            return "candidates"
        return super().stop_reason(state)

    # -- records --------------------------------------------------------------------------
    def recorded(self, state: ckpt.Checkpoint, asked: list[Topology], scored: Scored) -> None:
        keys, hits = scored.payload
        first = state.evaluations - len(keys)
        for position, (k, hit) in enumerate(zip(keys, hits, strict=True)):
            entry = self.cache[k]
            self.candidates.append({
                "candidate": first + position,
                "generation": state.generations,
                "key": k,
                "variant": self._label(first + position, k),
                "score": entry.score,
                "n_params": self.count(entry.cell),
                "inner_evaluations": 0 if hit else entry.evaluations,
                "seconds": 0.0 if hit else round(entry.seconds, 3),
                "cache_hit": int(hit),
            })

    def restart_records(self, state: ckpt.Checkpoint) -> None:
        self.candidates_done = int(state.counts.sum())
        self.candidates.start(self.candidates_done)

    def _label(self, candidate: int, k: str) -> str:
        """The candidate's variant name: its start name, else a named variant's, else ''."""
        if candidate < len(self.start_names):
            return self.start_names[candidate]
        return self.names.get(k, "")

    # -- checkpoint -----------------------------------------------------------------------
    def extra_arrays(self) -> dict[str, np.ndarray]:
        entries = list(self.cache.values())
        return {
            "cache_keys": np.array(list(self.cache), dtype=str),
            "cache_cells": np.array([json.dumps(self.kind.to_json(e.cell)) for e in entries],
                                    dtype=str),
            "cache_candidates": np.array([e.candidate for e in entries], np.int64),
            "cache_fitness": np.array([e.fitness for e in entries]).reshape(
                len(entries), len(self.inner_seeds)),
            "cache_sizes": np.array([e.genomes.shape[1] for e in entries], np.int64),
            "cache_genomes": np.concatenate([e.genomes.ravel() for e in entries] or [[]]),
            "cache_evaluations": np.array([e.evaluations for e in entries], np.int64),
            "cache_seconds": np.array([e.seconds for e in entries]),
            "best_key": np.array(self.best_key),
        }

    def restore(self, extra: dict[str, np.ndarray]) -> None:
        if not extra:
            return
        n_seeds, start = len(self.inner_seeds), 0
        for index, k in enumerate(extra["cache_keys"].tolist()):
            size = int(extra["cache_sizes"][index])
            genomes = extra["cache_genomes"][start : start + n_seeds * size]
            start += n_seeds * size
            self.cache[k] = Entry(
                candidate=int(extra["cache_candidates"][index]),
                cell=self.kind.canonical(self.kind.from_json(json.loads(
                    # checkpoints written before cache_cells: a topology's key is its JSON
                    str(extra["cache_cells"][index]) if "cache_cells" in extra else k))),
                fitness=extra["cache_fitness"][index].copy(),
                genomes=genomes.reshape(n_seeds, size).copy(),
                evaluations=int(extra["cache_evaluations"][index]),
                seconds=float(extra["cache_seconds"][index]),
            )
        self.best_key = str(extra["best_key"])

    # -- the end --------------------------------------------------------------------------
    def save_best(self, state: ckpt.Checkpoint) -> None:
        entry = self.cache[self.best_key]
        save_cell(self._cell(entry, int(np.argmin(entry.fitness))), self.run_dir / rundir.BEST)

    def _cell(self, entry: Entry, seed_index: int) -> Cell:
        """The cell of `entry`'s inner search `seed_index`, with the facts of the run."""
        info: dict[str, Any] = {
            "task": self.config.task,
            "task_options": cfg.to_table(self.config)["task"],
            "task_seed": seeds(self.config.seed)[0],
            self.kind.name: self.kind.to_json(entry.cell),
            "key": self.kind.key(entry.cell),
            "score": entry.score,
            "fitness": float(entry.fitness[seed_index]),
            "inner_seed": self.config.architecture.inner_seed_base + seed_index,
        }
        return Cell(self.inner.population(entry.cell, self.task), entry.genomes[seed_index],
                    info)

    def summary(self, state: ckpt.Checkpoint, stopped: str | None) -> dict[str, Any]:
        front = self._front()
        reported = self._reported(front)
        tests = {k: self._test(self.cache[k]) for k in dict.fromkeys(reported.values())}
        self._write_tested(reported, tests)
        self._write_front(front, tests)
        best = self.cache.get(self.best_key)
        # test: best.npz's metrics (what `evolstm eval` recomputes); test_median: the best
        # cell's median over its inner seeds
        test, median = {}, {}
        if best is not None:
            test = tests[self.best_key][int(np.argmin(best.fitness))]
            median = _median_metrics(tests[self.best_key])
        return {
            "task": self.config.task,
            "metric": self.task.metric,
            "test": test,
            "test_median": median,
            "evaluations": state.evaluations,
            "generations": state.generations,
            "wall_s": round(state.elapsed_s, 3),
            "solved": None,
            "best_fitness": state.best_fitness,
            "stopped": stopped,
            "algorithm": self.config.architecture.algorithm,
            "inner_algorithm": self.config.algorithm,
            "seed": self.config.seed,
            "candidates": state.evaluations,
            "unique_candidates": len(self.cache),
            "cache_hits": state.evaluations - len(self.cache),
            "inner_evaluations": sum(entry.evaluations for entry in self.cache.values()),
            "inner_seconds": round(sum(entry.seconds for entry in self.cache.values()), 3),
            "best_key": self.best_key,
            "best_variant": self.names.get(self.best_key),
            "best_n_params": self.count(best.cell) if best is not None else None,
            "front_size": len(front),
        }

    def _front(self) -> list[str]:
        """Keys of the non-dominated cells (score, parameter count), by score."""
        if not self.cache:
            return []
        members = [Member(entry.cell, entry.score, self.count(entry.cell))
                   for entry in self.cache.values()]
        keys = {id(member): k for member, k in zip(members, self.cache, strict=True)}
        first = tools.sortNondominated(members, len(members), first_front_only=True)[0]
        return sorted((keys[id(m)] for m in first), key=lambda k: (self.cache[k].score,
                                                                   self.cache[k].candidate))

    def _reported(self, front: list[str]) -> dict[int, str]:
        """Candidate number -> key of the cells that get test metrics (`architecture.test`)."""
        mode = self.config.architecture.test
        if mode == "all":
            rows = _read_rows(self.run_dir / CANDIDATES)
            return {int(row["candidate"]): row["key"] for row in rows}
        chosen = front if mode == "front" else [self.best_key] if self.best_key else []
        return {self.cache[k].candidate: k for k in chosen}

    def _test(self, entry: Entry) -> list[dict[str, float]]:
        """The task's test metrics of each of `entry`'s inner-search cells."""
        return [self.task.test(self._cell(entry, j)) for j in range(len(entry.fitness))]

    def _write_tested(self, reported: dict[int, str], tests: dict[str, list]) -> None:
        rows = [["candidate", "key", "variant", "inner_seed", "metric", "value"]]
        base = self.config.architecture.inner_seed_base
        for candidate, k in sorted(reported.items()):
            for j, metrics in enumerate(tests[k]):
                # the inner search's best fitness (search data) beside the test metrics
                search = {"search_fitness": float(self.cache[k].fitness[j])}
                for metric, value in {**search, **metrics}.items():
                    rows.append([str(candidate), k, self._label(candidate, k), str(base + j),
                                 metric, repr(float(value))])
        rundir.write_csv_atomic(self.run_dir / TESTED, rows)

    def _write_front(self, front: list[str], tests: dict[str, list]) -> None:
        members = []
        for k in front:
            entry = self.cache[k]
            members.append({
                "candidate": entry.candidate,
                "key": k,
                self.kind.name: self.kind.to_json(entry.cell),
                "variant": self.names.get(k),
                "score": entry.score,
                "n_params": self.count(entry.cell),
                "inner_fitness": entry.fitness.tolist(),
                "test": {"median": _median_metrics(tests[k]), "seeds": tests[k]},
            })
        document = {"objectives": ["score", "n_params"], "metric": self.task.metric,
                    "members": members}
        rundir.write_atomic(self.run_dir / FRONT, json.dumps(document, indent=2) + "\n")

    def progress_total(self) -> int:
        return self.config.architecture.candidates

    def progress_position(self, state: ckpt.Checkpoint) -> int:
        return state.evaluations  # candidates done

    def progress_step(self, asked: list[Topology]) -> int:
        return len(asked)

    def progress_postfix(self, state: ckpt.Checkpoint) -> dict[str, str]:
        return {"best": f"{state.best_fitness:.4g}",
                "hits": str(state.evaluations - len(self.cache))}


def _median_metrics(per_seed: list[dict[str, float]]) -> dict[str, float]:
    """{metric: median over the inner seeds}."""
    return {metric: float(np.median([m[metric] for m in per_seed])) for metric in per_seed[0]}


def _read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
