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
    /work/venv/bin/python benchmarks/esn_baseline.py --tasks mackey_glass --units 1000 \
        --activations tanh                                       # one reservoir size
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

# Mackey-Glass options of searches/mackey_glass.toml (the ESN sees the same data as the cell):
# the protocol of Jaeger (2001) and Jaeger & Haas (2004), validation on 6 windows.
MACKEY_GLASS_OPTIONS = MackeyGlassOptions(validation_windows=6)


@dataclasses.dataclass(frozen=True)
class Grid:
    """Reservoir settings tried for one task (the ridge penalty is chosen per reservoir)."""

    units: tuple[int, ...]
    spectral_radii: tuple[float, ...]
    leak_rates: tuple[float, ...]
    input_scalings: tuple[float, ...]
    input_connectivity: float
    bias: float
    ridges: tuple[float, ...]
    seeds: tuple[int, ...] = (1, 2)


# MSO: sparse input (reservoirpy's default connectivity 0.1), no bias.
MSO_GRID = Grid(units=(50, 100, 300), spectral_radii=(0.5, 0.9, 1.1), leak_rates=(0.3, 1.0),
                input_scalings=(0.1, 1.0), input_connectivity=0.1, bias=0.0,
                ridges=(1e-10, 1e-7, 1e-4))
# Mackey-Glass: every unit reads the series and a constant bias, as Jaeger's output feedback
# (dense, uniform in ±0.56) and bias input (0.2) do; up to Jaeger & Haas's 1000 units.
MACKEY_GLASS_GRID = Grid(units=(100, 300, 1000), spectral_radii=(0.8, 0.95, 1.1),
                         leak_rates=(0.3, 1.0), input_scalings=(0.5, 1.0),
                         input_connectivity=1.0, bias=0.2, ridges=(1e-12, 1e-10, 1e-8, 1e-6))
ACTIVATIONS = ("tanh", "identity")


@dataclasses.dataclass(frozen=True)
class Setting:
    """One reservoir of a grid."""

    units: int
    spectral_radius: float
    leak_rate: float
    input_scaling: float
    activation: str
    seed: int
    input_connectivity: float = 0.1
    bias: float = 0.0


@dataclasses.dataclass
class Result:
    """The chosen setting, its validation and test scores, and the tuning time."""

    task: str
    setting: Setting
    ridge: float
    validation: float
    test: dict[str, float]
    seconds: float


def settings(grid: Grid, activation: str, quick: bool) -> Iterator[Setting]:
    """Every reservoir of the grid with one activation (`quick`: one seed, the 2 smallest sizes)."""
    units = grid.units[:2] if quick else grid.units
    seeds = grid.seeds[:1] if quick else grid.seeds
    for values in itertools.product(units, grid.spectral_radii, grid.leak_rates,
                                    grid.input_scalings):
        for seed in seeds:
            yield Setting(*values, activation, seed, grid.input_connectivity, grid.bias)


class ESN:
    """A reservoirpy reservoir and ridge readout, primed and run free as a generator."""

    def __init__(self, setting: Setting) -> None:
        self.reservoir = Reservoir(
            setting.units,
            lr=setting.leak_rate,
            sr=setting.spectral_radius,
            input_scaling=setting.input_scaling,
            input_connectivity=setting.input_connectivity,
            bias=setting.bias,
            activation=setting.activation,
            seed=setting.seed,
        )
        self.readout: Ridge | None = None

    def states(self, inputs: np.ndarray) -> np.ndarray:
        """(T, units) states from the zero state while reading inputs (T, 1)."""
        if self.reservoir.initialized:
            self.reservoir.reset()
        return self.reservoir.run(inputs)

    def fit(self, states: np.ndarray, targets: np.ndarray, start: int, stop: int,
            ridge: float) -> None:
        """Ridge readout from states[start:stop] to targets[start:stop] (both (T, ·))."""
        self.readout = Ridge(ridge=ridge)
        self.readout.fit(states[start:stop], targets[start:stop])

    def generate(self, state: np.ndarray, last_input: np.ndarray, n_free: int) -> np.ndarray:
        """(n_free, 1) outputs from reservoir state `state`: read the true `last_input` (1,),
        whose output predicts the next value, then n_free steps reading the own outputs."""
        assert self.readout is not None
        self.reservoir.state = {"out": np.array(state, dtype=np.float64)}
        previous = self.readout.step(self.reservoir.step(last_input))
        outputs = np.empty((n_free, 1))
        for step in range(n_free):
            previous = np.clip(self.readout.step(self.reservoir.step(previous)), -1e6, 1e6)
            outputs[step] = previous
        return outputs

    def free_run(self, window: np.ndarray, n_prime: int) -> np.ndarray:
        """(n_free, 1) outputs: read window[:n_prime] teacher-forced, then feed back outputs.

        window (n_prime + 1 + n_free, 1), as the task's windows. As in
        `evolstm.tasks.generator.teacher_forced_then_free`, the output after the last true
        input predicts window[n_prime]; from there on the network reads its own outputs, and
        the n_free outputs returned are compared with window[n_prime + 1:].
        """
        primed = self.states(window[: n_prime - 1])[-1]
        return self.generate(primed, window[n_prime - 1], len(window) - n_prime - 1)


def validation_starts(task: MSO | MackeyGlass) -> tuple[np.ndarray, int]:
    """The free runs the task's fitness scores: (c_k (K,), horizon), as in the task.

    Free run k reads the true series up to step c_k - 1 and is compared with steps
    c_k + 1 … c_k + horizon of the fit window; the readout may be fitted on steps < c_0.
    """
    n_free = task.fit_window.shape[1] - task.fit_prime - 1
    n_windows = getattr(task, "validation_windows", 1)
    horizon = getattr(task, "horizon", n_free)
    first = task.fit_prime - (n_windows - 1) * horizon
    return first + horizon * np.arange(n_windows), horizon


def tune(task_name: str, task: MSO | MackeyGlass, grid: Grid, activation: str,
         quick: bool) -> Result:
    """Best grid setting (reservoirs of one activation) on the validation runs; its test."""
    started = time.perf_counter()
    window = task.fit_window[0]
    primes, horizon = validation_starts(task)
    truth = np.stack([window[c + 1 : c + 1 + horizon] for c in primes])  # (K, horizon, 1)
    best: tuple[float, Setting, float] | None = None
    for setting in settings(grid, activation, quick):
        esn = ESN(setting)
        states = esn.states(window[: task.fit_prime])  # states[t]: after reading window[t]
        for ridge in grid.ridges:
            esn.fit(states, window[1 : task.fit_prime + 1], task.washout, primes[0], ridge)
            with np.errstate(all="ignore"):
                free = np.stack([esn.generate(states[c - 2], window[c - 1], horizon)
                                 for c in primes])
                score = float(nrmse(truth, free))
            if math.isfinite(score) and (best is None or score < best[0]):
                best = (score, setting, ridge)
    assert best is not None, "every grid setting diverged"
    validation, setting, ridge = best
    esn = ESN(setting)
    states = esn.states(window[: task.fit_prime])
    esn.fit(states, window[1 : task.fit_prime + 1], task.washout, primes[0], ridge)
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
    """`MackeyGlass.test`'s metrics (NRMSE84 in the original coordinates) of the ESN."""
    free = np.stack([esn.free_run(w, task.test_prime) for w in task.test_windows])
    return task.test_metrics(free)


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
    parser.add_argument("--units", nargs="+", type=int, help="reservoir sizes (default: grid's)")
    parser.add_argument("--activations", nargs="+", default=list(ACTIVATIONS),
                        choices=ACTIVATIONS)
    args = parser.parse_args()
    warnings.simplefilter("ignore", LinAlgWarning)  # tiny ridges on near-collinear states
    print("| task | ESN test NRMSE | nrmse_later | validation | units | sr | lr | "
          "input scaling | activation | ridge | tuning time |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, activation in itertools.product(args.tasks, args.activations):
        grid = MACKEY_GLASS_GRID if name == "mackey_glass" else MSO_GRID
        if args.units:
            grid = dataclasses.replace(grid, units=tuple(args.units))
        result = tune(name, build_task(name), grid, activation, args.quick)
        s = result.setting
        is_mackey_glass = "nrmse84" in result.test
        test = result.test["nrmse84" if is_mackey_glass else "nrmse"]
        metric = f" (NRMSE84, log10 {math.log10(test):.2f})" if is_mackey_glass else ""
        later = result.test.get("nrmse_later")
        print(f"| {name} | {test:.3g}{metric} | {'-' if later is None else f'{later:.3g}'} | "
              f"{result.validation:.3g} | {s.units} | {s.spectral_radius} | {s.leak_rate} | "
              f"{s.input_scaling} | {s.activation} | {result.ridge:g} | "
              f"{result.seconds:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
