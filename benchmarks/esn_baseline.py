"""Echo state network baseline on evolstm's generator tasks (MSO levels 2-5, Mackey-Glass).

The cheap alternative a user would try first: a random reservoir (reservoirpy's `Reservoir`)
with a ridge-regression readout (reservoirpy's `Ridge`), run on exactly the protocol and data
of evolstm's tasks: the windows, washout, free-running steps and NRMSE come from the task
objects themselves (`evolstm.tasks.mso.MSO`, `evolstm.tasks.mackey_glass.MackeyGlass`), so the
figures sit beside `evolstm eval`'s.

Per task: the reservoir reads y(n-1) and its readout predicts y(n). The readout is fitted
teacher-forced on the task's fit window after the washout (MSO: n = 101..300; Mackey-Glass:
the training steps after the washout); the network then runs free over the validation steps
(MSO: n = 301..400; Mackey-Glass: the next `horizon` steps), and the hyperparameters (units,
spectral radius, leak rate, input scaling, ridge, reservoir seed) are chosen on the plain
NRMSE of that validation run alone, once for the usual tanh reservoir and once for a linear
(identity) one. The chosen network is then scored
with the task's test protocol, readout unchanged: MSO primes on n = 1..400 and runs free on
401..700, and on the later stretches n0 = 1000, 5000, 20000 (`nrmse_later` is the worst);
Mackey-Glass runs 50 test windows (prime, then `horizon` free steps) and reports NRMSE84.

    /work/venv/bin/python benchmarks/esn_baseline.py            # every task, full grid
    /work/venv/bin/python benchmarks/esn_baseline.py --tasks mso2 mackey_glass --quick
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import time
import warnings
from collections.abc import Iterator

import numpy as np
from reservoirpy.nodes import Reservoir, Ridge
from scipy.linalg import LinAlgWarning

from evolstm.tasks.generator import nrmse
from evolstm.tasks.mackey_glass import MackeyGlass, MackeyGlassOptions
from evolstm.tasks.mso import EVOLINO_FREQUENCIES, MSO, MSOOptions

# Mackey-Glass options of searches/mackey_glass.toml (the ESN sees the same data as the cell).
MACKEY_GLASS_OPTIONS = MackeyGlassOptions(train_steps=1000, washout=200)

UNITS = (50, 100, 300)
SPECTRAL_RADII = (0.5, 0.9, 1.1)
LEAK_RATES = (0.3, 1.0)
INPUT_SCALINGS = (0.1, 1.0)
ACTIVATIONS = ("tanh", "identity")
RIDGES = (1e-10, 1e-7, 1e-4)
SEEDS = (1, 2)


@dataclasses.dataclass(frozen=True)
class Setting:
    """One reservoir of the grid (the ridge penalty is chosen per reservoir)."""

    units: int
    spectral_radius: float
    leak_rate: float
    input_scaling: float
    activation: str
    seed: int


@dataclasses.dataclass
class Result:
    """The chosen setting, its validation and test scores, and the tuning time."""

    task: str
    setting: Setting
    ridge: float
    validation: float
    test: dict[str, float]
    seconds: float


def grid(activation: str, quick: bool) -> Iterator[Setting]:
    """Every reservoir setting of the grid with one activation (`quick`: one seed, <= 100 units)."""
    units = UNITS[:2] if quick else UNITS
    seeds = SEEDS[:1] if quick else SEEDS
    for values in itertools.product(units, SPECTRAL_RADII, LEAK_RATES, INPUT_SCALINGS):
        for seed in seeds:
            yield Setting(*values, activation, seed)


class ESN:
    """A reservoirpy reservoir and ridge readout, primed and run free as a generator."""

    def __init__(self, setting: Setting) -> None:
        self.reservoir = Reservoir(
            setting.units,
            lr=setting.leak_rate,
            sr=setting.spectral_radius,
            input_scaling=setting.input_scaling,
            activation=setting.activation,
            seed=setting.seed,
        )
        self.readout: Ridge | None = None

    def states(self, inputs: np.ndarray) -> np.ndarray:
        """(T, units) states from the zero state while reading inputs (T, 1)."""
        if self.reservoir.initialized:
            self.reservoir.reset()
        return self.reservoir.run(inputs)

    def fit(self, states: np.ndarray, targets: np.ndarray, washout: int, ridge: float) -> None:
        """Ridge readout from states[washout:] to targets[washout:] (both (T, ·))."""
        self.readout = Ridge(ridge=ridge)
        self.readout.fit(states[washout:], targets[washout:])

    def free_run(self, window: np.ndarray, n_prime: int) -> np.ndarray:
        """(n_free, 1) outputs: read window[:n_prime] teacher-forced, then feed back outputs.

        window (n_prime + 1 + n_free, 1), as the task's windows. As in
        `evolstm.tasks.generator.teacher_forced_then_free`, the output after the last true
        input predicts window[n_prime]; from there on the network reads its own outputs, and
        the n_free outputs returned are compared with window[n_prime + 1:].
        """
        assert self.readout is not None
        n_free = len(window) - n_prime - 1
        self.states(window[:n_prime])
        previous = self.readout.step(self.reservoir.state["out"])
        outputs = np.empty((n_free, 1))
        for step in range(n_free):
            previous = np.clip(self.readout.step(self.reservoir.step(previous)), -1e6, 1e6)
            outputs[step] = previous
        return outputs


def tune(task_name: str, task: MSO | MackeyGlass, activation: str, quick: bool) -> Result:
    """Best grid setting (reservoirs of one activation) on the validation run; its test."""
    started = time.perf_counter()
    window = task.fit_window[0]
    n_prime = task.fit_prime
    truth = window[None, n_prime + 1 :]
    best: tuple[float, Setting, float] | None = None
    for setting in grid(activation, quick):
        esn = ESN(setting)
        states = esn.states(window[:n_prime])
        for ridge in RIDGES:
            esn.fit(states, window[1 : n_prime + 1], task.washout, ridge)
            with np.errstate(all="ignore"):
                score = float(nrmse(truth, esn.free_run(window, n_prime)[None]))
            if math.isfinite(score) and (best is None or score < best[0]):
                best = (score, setting, ridge)
    assert best is not None, "every grid setting diverged"
    validation, setting, ridge = best
    esn = ESN(setting)
    esn.fit(esn.states(window[:n_prime]), window[1 : n_prime + 1], task.washout, ridge)
    test = (mso_test if isinstance(task, MSO) else mackey_glass_test)(esn, task)
    return Result(task_name, setting, ridge, validation, test, time.perf_counter() - started)


def mso_test(esn: ESN, task: MSO) -> dict[str, float]:
    """The MSO test protocol of `MSO.test`: n = 401..700, then the later stretches."""
    options = task.options
    with np.errstate(all="ignore"):
        free = esn.free_run(task.test_window[0], task.test_prime)
        metrics = {"nrmse": float(nrmse(task.test_window[:, task.test_prime + 1 :], free[None]))}
        later = []
        for start in options.later_starts:
            window = task.window(start - 1, options.train_steps, options.test_steps)
            free = esn.free_run(window[0], options.train_steps)
            later.append(float(nrmse(window[:, options.train_steps + 1 :], free[None])))
    metrics["nrmse_later"] = max(later)
    return metrics


def mackey_glass_test(esn: ESN, task: MackeyGlass) -> dict[str, float]:
    """NRMSE84 of `MackeyGlass.test`: the error at the last free step over the test windows."""
    free = np.stack([esn.free_run(w, task.test_prime) for w in task.test_windows])
    truth = task.test_windows[:, task.test_prime + 1 :]
    with np.errstate(all="ignore"):
        value = float(nrmse(truth[:, -1:], free[:, -1:], task.variance))
    return {"nrmse84": value, "log10_nrmse84": math.log10(value) if value > 0 else -math.inf}


def build_task(name: str) -> MSO | MackeyGlass:
    """mso2..mso5 (mso5: Evolino's frequencies) or mackey_glass, as the search configs set."""
    if name == "mackey_glass":
        return MackeyGlass(MACKEY_GLASS_OPTIONS, seed=0)
    level = int(name.removeprefix("mso"))
    frequencies = EVOLINO_FREQUENCIES if level == 5 else MSOOptions.frequencies
    return MSO(MSOOptions(level=level, frequencies=frequencies), seed=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["mso2", "mso3", "mso4", "mso5",
                                                       "mackey_glass"])
    parser.add_argument("--quick", action="store_true", help="a smaller grid (one seed)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", LinAlgWarning)  # tiny ridges on near-collinear states
    print("| task | ESN test NRMSE | nrmse_later | validation | units | sr | lr | "
          "input scaling | activation | ridge | tuning time |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, activation in itertools.product(args.tasks, ACTIVATIONS):
        result = tune(name, build_task(name), activation, args.quick)
        s = result.setting
        test = result.test.get("nrmse", result.test.get("nrmse84"))
        metric = "" if "nrmse" in result.test else " (NRMSE84)"
        later = result.test.get("nrmse_later")
        print(f"| {name} | {test:.3g}{metric} | {'-' if later is None else f'{later:.3g}'} | "
              f"{result.validation:.3g} | {s.units} | {s.spectral_radius} | {s.leak_rate} | "
              f"{s.input_scaling} | {s.activation} | {result.ridge:g} | "
              f"{result.seconds:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
