"""Checkpoints: the fitness of every generation so far, plus the best genome.

No algorithm state is serialised: resuming rebuilds the algorithm from the config and
replays ask/tell with the recorded fitnesses (`evolstm.runs.search`). Each generation's
asked genomes are fingerprinted so that a replay that does not reproduce them (another
NumPy or pycma version, an edited config) is refused instead of silently diverging.
The file is one ``.npz`` written to a temporary name and renamed over the old one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from evolstm.errors import RunDirError

FILE = "state.npz"
EXTRA = "extra_"
VERSION = 1


@dataclasses.dataclass
class Checkpoint:
    """Everything a resume needs beyond the config.

    fitness: flat float64 log of every evaluated fitness, generation after generation;
    counts: (G,) population size of each generation; fingerprints: (G,) uint64 of each
    generation's asked genomes; best_genome: (n_params,) as scored (readout included);
    best_fitness, evaluations, elapsed_s (wall time so far), solved; extra: arrays a
    search keeps beyond these (the cell search's cache), stored as ``extra_<name>``.
    """

    fitness: np.ndarray
    counts: np.ndarray
    fingerprints: np.ndarray
    best_genome: np.ndarray
    best_fitness: float
    evaluations: int
    elapsed_s: float
    solved: bool
    extra: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    @property
    def generations(self) -> int:
        return len(self.counts)


def fingerprint(genomes: np.ndarray) -> int:
    """A 64-bit digest of a (P, n) float64 population."""
    digest = hashlib.blake2b(np.ascontiguousarray(genomes, np.float64).tobytes(), digest_size=8)
    return int.from_bytes(digest.digest(), "little")


def exists(directory: Path) -> bool:
    """Whether a checkpoint was written (a run killed before its first has none)."""
    return (directory / FILE).is_file()


def save(directory: Path, checkpoint: Checkpoint) -> None:
    """Write atomically to ``directory/state.npz``."""
    directory.mkdir(parents=True, exist_ok=True)
    meta = {
        "version": VERSION,
        "best_fitness": checkpoint.best_fitness,
        "evaluations": checkpoint.evaluations,
        "elapsed_s": checkpoint.elapsed_s,
        "solved": checkpoint.solved,
    }
    tmp = directory / (FILE + ".tmp.npz")
    with open(tmp, "wb") as handle:
        np.savez(
            handle,
            meta=np.array(json.dumps(meta)),
            fitness=checkpoint.fitness,
            counts=checkpoint.counts,
            fingerprints=checkpoint.fingerprints,
            best_genome=checkpoint.best_genome,
            **{EXTRA + name: value for name, value in checkpoint.extra.items()},
        )
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, directory / FILE)


def load(directory: Path) -> Checkpoint:
    """Read ``directory/state.npz`` (without pickle); errors name the file."""
    path = directory / FILE
    if not path.is_file():
        raise RunDirError(f"{path}: no checkpoint (was the run started?)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            data = {name: archive[name] for name in archive.files}
        meta = json.loads(str(data["meta"]))
        if meta.get("version") != VERSION:
            raise RunDirError(f"{path}: checkpoint version {meta.get('version')!r} unsupported")
        checkpoint = Checkpoint(
            fitness=data["fitness"].astype(np.float64),
            counts=data["counts"].astype(np.int64),
            fingerprints=data["fingerprints"].astype(np.uint64),
            best_genome=data["best_genome"],
            best_fitness=float(meta["best_fitness"]),
            evaluations=int(meta["evaluations"]),
            elapsed_s=float(meta["elapsed_s"]),
            solved=bool(meta["solved"]),
            extra={
                name[len(EXTRA) :]: value for name, value in data.items()
                if name.startswith(EXTRA)
            },
        )
    except RunDirError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise RunDirError(f"{path}: unreadable checkpoint ({error})") from None
    if checkpoint.counts.sum() != len(checkpoint.fitness) or len(checkpoint.fingerprints) != len(
        checkpoint.counts
    ):
        raise RunDirError(f"{path}: inconsistent checkpoint (log lengths disagree)")
    return checkpoint
