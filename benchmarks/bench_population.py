"""Population LSTM evaluation: evolstm's kernels against PyTorch, NumPy and JAX.

Workload (../shared/PERFORMANCE.md): P genomes, each an ``nn.LSTM`` cell (I=1, hidden H,
weights N(0, 0.5²)) with a linear readout H→1; the same B sequences of T steps (N(0, 1)) go
to every genome. Rate: M genome-steps/s = P·B·T / s / 1e6, median of --repeat interleaved
timings after a warm-up (compile time reported apart). "+h": hidden states are returned
too (Evolino mode); evolstm writes them into one array reused from call to call
(`Population.run`'s `hidden_out`, as a search can from one generation to the next), and
the targets also give its +h / y with a new array each call (the OS maps its pages anew).

JAX runs in two set-ups: on one device (one `jit(vmap(lax.scan))` over the population), and
sharded over THREADS host devices (XLA_FLAGS --xla_force_host_platform_device_count, set
below before jax is imported): `jax.shard_map` under `jit` splits the population over a
one-axis mesh and each shard runs the same `vmap(lax.scan)`. `shard_map` is what the
installed JAX (0.10) documents in place of `pmap`, which it implements in terms of `jit` and
`shard_map`. The targets read against whichever set-up is faster at each point and mode.

Ratios are paired: each repeat times a run of evolstm's fast kernel with the two JAX set-ups
(the issue's yardstick) on one side of it, alternating sides from repeat to repeat (the
sharded one next to it in repeats 1, 2 and 5 of 5, the one-device one in 3 and 4), and, for +h,
runs of the fast kernel's outputs only and of +h into a new array on its other side, and,
for float32 outputs only, a float64 run of the same genomes; the other peers follow. "fast /
impl" is the median over the repeats of each repeat's ratio to that repeat's fast run, with
the range. The host's speed drifts by tens of percent over seconds (benchmarks/README.md,
session 11): a ratio of two adjacent runs follows the drift, a ratio of medians taken
seconds apart does not.

Slow implementations (the torch loop, evolstm's reference kernel) run on a subset of the
genomes (rate per genome-step is what is compared). Every peer's outputs are checked against
evolstm's over the first 100 steps (the systems are chaotic).

The run ends with the issue's targets computed from the table: fast / JAX at every point,
float32 / float64, Evolino mode (+h) against outputs only, and the first call. Numba's own
start-up (LLVM and its runtime, paid once per process by any Numba code) is measured first,
on a trivial cached function, and reported apart: the "first call" column of evolstm's
kernels is then their cache load alone.

Usage: python benchmarks/bench_population.py [--quick] [--repeat N] [--dtype float64|float32]
"""

from __future__ import annotations

import os

THREADS = 2  # threads of every peer, and JAX's host devices in its sharded set-up
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "2")
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=2"
)
# The sharded JAX peer's devices; only read when jax is first imported (below). First in the
# list: XLA ignores the flags after a token that is not a flag (as "intra_op_..." above).
if "xla_force_host_platform_device_count" not in os.environ["XLA_FLAGS"]:
    os.environ["XLA_FLAGS"] = (f"--xla_force_host_platform_device_count={THREADS} "
                               + os.environ["XLA_FLAGS"])

import argparse  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as Spec  # noqa: E402

from evolstm.cells import kernels  # noqa: E402
from evolstm.cells.population import Population  # noqa: E402

jax.config.update("jax_enable_x64", True)
torch.set_num_threads(THREADS)
GRID = ((256, 4, 1000, 1), (256, 16, 1000, 1), (64, 64, 1000, 1), (256, 16, 200, 32))
CHECK_STEPS = 100


def gemm_peak(dtype: str, n: int = 1500, repeat: int = 3) -> float:
    """GFLOP/s of numpy's matmul (the BLAS) on n×n matrices."""
    a = np.random.default_rng(0).normal(size=(n, n)).astype(dtype)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeat))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def stacked_weights(pop: Population, genomes: np.ndarray) -> dict[str, np.ndarray]:
    """(P, n_params) -> {block name: (P, *shape)} in PyTorch's layout."""
    return {
        b.name: genomes[:, b.offset : b.offset + b.size].reshape(-1, *b.shape)
        for b in pop.layout.blocks
    }


# -- the implementations: each (genomes, x, keep_hidden) -> (outputs (P, B, T), hidden) ----
def evolstm_fast(pop, genomes, x, keep):
    """`Population.run`; for +h into one array per shape, reused from call to call
    (`hidden_out`), as a search's generations can reuse theirs."""
    hidden_out = None
    if keep:
        shape = (genomes.shape[0], x.shape[0], x.shape[1], pop.n_hidden)
        if (shape, pop.dtype) not in HIDDEN_BUFFERS:
            HIDDEN_BUFFERS[shape, pop.dtype] = np.empty(shape, pop.dtype)
        hidden_out = HIDDEN_BUFFERS[shape, pop.dtype]
    sim = pop.run(genomes, x, keep_hidden=keep, hidden_out=hidden_out, jobs=THREADS)
    return sim.outputs[..., 0], sim.hidden


def evolstm_fast_fresh(pop, genomes, x, keep):
    """`Population.run` with a new array for the hidden states at every call."""
    sim = pop.run(genomes, x, keep_hidden=keep, jobs=THREADS)
    return sim.outputs[..., 0], sim.hidden


def evolstm_reference(pop, genomes, x, keep):
    """`kernels.simulate` (the generic kernel), chunked over threads as Population does."""
    n_pop, (n_batch, n_steps, _) = genomes.shape[0], x.shape
    x = np.ascontiguousarray(x, pop.dtype)
    state = pop.initial_state(n_pop, n_batch)
    out = np.empty((n_pop, n_batch, n_steps, 1), pop.dtype)
    hidden = np.empty((n_pop, n_batch, n_steps, pop.n_hidden) if keep else (0, 0, 0, 0),
                      pop.dtype)
    weights = kernels.kernel_genomes(genomes, pop.layout)
    spec = pop.layout.kernel_spec

    def work(chunk):
        kernels.simulate(weights[chunk], spec.flags, spec.units, spec.layers, spec.readout,
                         x, 0, state[chunk], out[chunk], hidden[chunk] if keep else hidden,
                         pop.dtype.type(1.0))

    bounds = np.linspace(0, n_pop, THREADS + 1).astype(int)
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(work, [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]))
    return out[..., 0], hidden if keep else None


def torch_loop(pop, genomes, x, keep):
    """One nn.LSTM + nn.Linear, loaded with each genome in turn."""
    dtype = getattr(torch, str(pop.dtype))
    lstm = torch.nn.LSTM(1, pop.n_hidden, batch_first=True, dtype=dtype)
    readout = torch.nn.Linear(pop.n_hidden, 1, dtype=dtype)
    xt = torch.from_numpy(np.ascontiguousarray(x, pop.dtype))
    outs, hiddens = [], []
    with torch.no_grad():
        for genome in genomes:
            arrays = pop.unflatten(genome)
            for name, param in lstm.named_parameters():
                param.copy_(torch.from_numpy(arrays[name]))
            readout.weight.copy_(torch.from_numpy(arrays["readout_weight"]))
            readout.bias.copy_(torch.from_numpy(arrays["readout_bias"]))
            h, _ = lstm(xt)
            outs.append(readout(h)[..., 0].numpy())
            if keep:
                hiddens.append(h.numpy())
    return np.stack(outs), np.stack(hiddens) if keep else None


def _stacked_step(lib, w, x_t, h, c):
    """One step for all genomes: lib is torch or numpy; h, c (P, B, H); x_t (B, 1)."""
    gates = lib.matmul(h, w["whh_t"]) + x_t[None] * w["wih_t"] + w["bias"]
    n_hidden = h.shape[-1]
    sig = torch.sigmoid if lib is torch else (lambda z: 1 / (1 + np.exp(-z)))
    i, f = sig(gates[..., :n_hidden]), sig(gates[..., n_hidden : 2 * n_hidden])
    g, o = lib.tanh(gates[..., 2 * n_hidden : 3 * n_hidden]), sig(gates[..., 3 * n_hidden :])
    c = f * c + i * g
    h = o * lib.tanh(c)
    return h, c, (h * w["wr"]).sum(-1) + w["br"]


def _stacked(lib, pop, genomes, x, keep):
    s = stacked_weights(pop, genomes)
    w = {
        "whh_t": s["weight_hh_l0"].transpose(0, 2, 1),
        "wih_t": s["weight_ih_l0"].transpose(0, 2, 1),
        "bias": (s["bias_ih_l0"] + s["bias_hh_l0"])[:, None, :],
        "wr": s["readout_weight"],
        "br": s["readout_bias"],
    }
    conv = (lambda a: torch.from_numpy(np.ascontiguousarray(a))) if lib is torch else np.asarray
    w = {k: conv(v) for k, v in w.items()}
    n_pop, (n_batch, n_steps, _) = genomes.shape[0], x.shape
    h = conv(np.zeros((n_pop, n_batch, pop.n_hidden), pop.dtype))
    c = conv(np.zeros((n_pop, n_batch, pop.n_hidden), pop.dtype))
    xs = conv(np.ascontiguousarray(x.transpose(1, 0, 2), pop.dtype))
    outs, hiddens = [], []
    with torch.no_grad():
        for t in range(n_steps):
            h, c, y = _stacked_step(lib, w, xs[t], h, c)
            outs.append(y)
            if keep:
                hiddens.append(h)
    stack = (lambda a: torch.stack(a, 2).numpy()) if lib is torch else (lambda a: np.stack(a, 2))
    return stack(outs), stack(hiddens) if keep else None


def torch_bmm(pop, genomes, x, keep):
    return _stacked(torch, pop, genomes, x, keep)


def numpy_stacked(pop, genomes, x, keep):
    return _stacked(np, pop, genomes, x, keep)


def _jax_genome(params, xs, keep, sharded=False):
    """One genome over B sequences: xs (T, B, 1) -> outputs (T, B), hidden (T, B, H).
    sharded: inside `shard_map`, where the scan's carry must vary over the mesh axis as
    its outputs do (the zeros are cast to varying)."""
    whh, wih, bias, wr, br = params
    n_hidden = whh.shape[1]

    def step(carry, x_t):
        h, c = carry
        gates = h @ whh.T + x_t @ wih.T + bias
        i, f, g, o = (gates[:, k * n_hidden : (k + 1) * n_hidden] for k in range(4))
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        y = h @ wr[0] + br[0]
        return (h, c), ((y, h) if keep else y)

    zeros = jnp.zeros((xs.shape[1], n_hidden), xs.dtype)
    if sharded:
        zeros = jax.lax.pcast(zeros, MESH_AXIS, to="varying")
    return jax.lax.scan(step, (zeros, zeros), xs)[1]


_JAX = {keep: jax.jit(jax.vmap(lambda p, xs, k=keep: _jax_genome(p, xs, k), (0, None)))
        for keep in (False, True)}
MESH_AXIS = "population"
# One mesh axis over THREADS host devices; the genomes (axis 0 of every parameter and output)
# are split over it, the inputs replicated. None if jax was imported before XLA_FLAGS was set.
MESH = (jax.make_mesh((THREADS,), (MESH_AXIS,)) if jax.device_count() >= THREADS else None)
_JAX_SHARDED = {
    keep: jax.jit(jax.shard_map(
        jax.vmap(lambda p, xs, k=keep: _jax_genome(p, xs, k, sharded=True), (0, None)),
        mesh=MESH, in_specs=(Spec(MESH_AXIS), Spec()), out_specs=Spec(MESH_AXIS)))
    for keep in (False, True)} if MESH is not None else {}


def _jax_params(pop, genomes):
    s = stacked_weights(pop, genomes)
    return (s["weight_hh_l0"], s["weight_ih_l0"], s["bias_ih_l0"] + s["bias_hh_l0"],
            s["readout_weight"], s["readout_bias"])


def jax_vmap_scan(pop, genomes, x, keep):
    """jit(vmap(lax.scan)) on one device."""
    params = tuple(jnp.asarray(a) for a in _jax_params(pop, genomes))
    xs = jnp.asarray(np.ascontiguousarray(x.transpose(1, 0, 2), pop.dtype))
    return _jax_outputs(jax.block_until_ready(_JAX[keep](params, xs)), keep)


def jax_sharded(pop, genomes, x, keep):
    """jit(shard_map(vmap(lax.scan))): the genomes split over THREADS host devices."""
    split = NamedSharding(MESH, Spec(MESH_AXIS))
    params = tuple(jax.device_put(a, split) for a in _jax_params(pop, genomes))
    xs = jnp.asarray(np.ascontiguousarray(x.transpose(1, 0, 2), pop.dtype))
    return _jax_outputs(jax.block_until_ready(_JAX_SHARDED[keep](params, xs)), keep)


def _jax_outputs(result, keep):
    """(P, T, B) outputs [and (P, T, B, H) hidden] -> (P, B, T) [and (P, B, T, H)]."""
    if keep:
        y, h = result
        return np.asarray(y).transpose(0, 2, 1), np.asarray(h).transpose(0, 2, 1, 3)
    return np.asarray(result).transpose(0, 2, 1), None


IMPLS = {
    "evolstm fast": (evolstm_fast, 1),
    "evolstm reference": (evolstm_reference, 8),  # (function, genome subsampling factor)
    "torch loop": (torch_loop, 16),
    "torch bmm": (torch_bmm, 1),
    "numpy stacked": (numpy_stacked, 1),
    "jax vmap scan": (jax_vmap_scan, 1),
    "jax sharded vmap scan": (jax_sharded, 1),
}
if MESH is None:  # pragma: no cover - jax imported before this module set XLA_FLAGS
    del IMPLS["jax sharded vmap scan"]


# Idle time before each timed call: the peers' worker threads (torch's OpenMP, XLA's pool) spin
# for a while after their work and would take a core from the next implementation's run.
PAUSE_S = 0.1


FAST = "evolstm fast"
JAX = "jax vmap scan"  # one device
JAX_SHARDED = "jax sharded vmap scan"  # THREADS devices
JAXES = tuple(name for name in (JAX_SHARDED, JAX) if name in IMPLS)
OUTPUTS_ONLY = "evolstm fast, y"  # the pair partner of the fast kernel's +h runs
FRESH_HIDDEN = "evolstm fast, new h array"  # +h into a new array each call, also paired
AS_FLOAT64 = "evolstm fast, float64"  # float32's y runs are paired with float64's too
HIDDEN_BUFFERS: dict = {}  # evolstm_fast's reused +h arrays, emptied at each point


def bench_point(point, dtype, keep, repeat, rng):
    """(rows, own) of one point and mode. rows: (name, rate, first call s, max |Δy|,
    genomes, cores, paired ratios), the paired ratios being fast's speed over the impl's, one
    per repeat (the module docstring); own: the fast kernel's paired ratios to itself, one
    per repeat: for +h, "+h / y" (its +h speed, reused array, over its y speed) and
    "+h / y new" (+h into a new array each call); for float32 y, "f32 / f64". The ratios
    divide seconds per genome-step, since some peers run a subset of the genomes."""
    n_pop, n_hidden, n_steps, n_batch = point
    HIDDEN_BUFFERS.clear()
    pop = Population("lstm", 1, n_hidden, 1, dtype=dtype)
    genomes = rng.normal(0, 0.5, (n_pop, pop.n_params)).astype(dtype)
    x = rng.normal(size=(n_batch, n_steps, 1)).astype(dtype)
    subsets = {name: genomes[: max(2 * THREADS, n_pop // sub)] for name, (_, sub) in
               IMPLS.items()}
    first, results = {}, {}
    times, cpu = {name: [] for name in IMPLS}, {name: [] for name in IMPLS}  # wall, CPU s
    paired = {name: [] for name in (*IMPLS, OUTPUTS_ONLY, FRESH_HIDDEN, AS_FLOAT64)}
    around = []  # (key, impl, keep, function) timed next to the fast kernel
    if keep:
        around = [(FRESH_HIDDEN, FAST, True, evolstm_fast_fresh),
                  (OUTPUTS_ONLY, FAST, False, None)]
    elif dtype == "float32":  # the same genomes and inputs in float64, converted once
        wide = Population("lstm", 1, n_hidden, 1, dtype="float64")
        wide_genomes, wide_x = genomes.astype(np.float64), x.astype(np.float64)
        around = [(AS_FLOAT64, FAST, False,
                   lambda _pop, _genomes, _x, keep: evolstm_fast(wide, wide_genomes, wide_x,
                                                                 keep))]
    jaxes = [(name, name, keep, None) for name in JAXES]
    for name, (fn, _) in IMPLS.items():  # warm-up: compile (or load from the cache)
        start = time.perf_counter()  # the full input: JAX compiles again for a new length
        fn(pop, subsets[name], x, keep)
        first[name] = time.perf_counter() - start
    for _, name, mode_keep, fn in around:  # the partners that are not impls
        if fn is not None:
            fn(pop, subsets[name], x, mode_keep)

    def timed_run(name, mode_keep, fn=None):
        """Seconds per genome-step of one timed call of `fn` (default: the impl `name`'s),
        recorded under `name` in its mode."""
        fn = fn or IMPLS[name][0]
        time.sleep(PAUSE_S)
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn(pop, subsets[name], x, mode_keep)
        elapsed = time.perf_counter() - start
        if mode_keep == keep and fn is IMPLS[name][0]:
            results[name] = result
            times[name].append(elapsed)
            cpu[name].append(time.process_time() - start_cpu)
        return elapsed / subsets[name].shape[0]

    for r in range(repeat):  # interleaved
        # fast between its own partners and the JAX set-ups, the sides alternating with r;
        # which JAX set-up is next to it alternates every two repeats (sharded first)
        ordered = jaxes if r // 2 % 2 == 0 else jaxes[::-1]
        order = [*around, (FAST, FAST, keep, None), *ordered]
        seconds = {key: timed_run(name, mode_keep, fn)
                   for key, name, mode_keep, fn in (order if r % 2 == 0 else order[::-1])}
        for key, *_ in (*around, *jaxes):
            paired[key].append(seconds[key] / seconds[FAST])
        for name in IMPLS:
            if name not in (FAST, *JAXES):
                paired[name].append(timed_run(name, keep) / seconds[FAST])
    reference = results[FAST][0]
    rows = []
    for name in IMPLS:
        n_sub = subsets[name].shape[0]
        rate = n_sub * n_batch * n_steps / float(np.median(times[name])) / 1e6
        error = float(np.max(np.abs(results[name][0][:, :, :CHECK_STEPS]
                                    - reference[:n_sub, :, :CHECK_STEPS])))
        cores = float(np.median(np.array(cpu[name]) / np.array(times[name])))
        rows.append((name, rate, first[name], error, n_sub, cores, paired[name] or [1.0]))
    own = {}
    if keep:
        own["+h / y"] = paired[OUTPUTS_ONLY]
        own["+h / y new"] = [y / new for y, new in
                             zip(paired[OUTPUTS_ONLY], paired[FRESH_HIDDEN], strict=True)]
    elif dtype == "float32":
        own["f32 / f64"] = paired[AS_FLOAT64]
    return rows, own


def spread(ratios) -> str:
    """'median (min-max)' of paired ratios."""
    return f"{np.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"


@numba.njit(cache=True)
def _trivial(value):
    return value + 1.0


def numba_startup() -> float:
    """Seconds of the first call of a trivial cached Numba function in this process."""
    start = time.perf_counter()
    _trivial(1.0)
    return time.perf_counter() - start


def print_targets(table: dict, own: dict, first_fast: float, startup: float) -> None:
    """The issue's targets from `table` {(dtype, point, mode, impl): (rate, cores, paired
    ratios)}, cores being the CPU seconds per second of the timed runs, and `own`
    {(dtype, point): the fast kernel's paired ratios to itself (`bench_point`)}. fast / JAX
    is read against the faster JAX set-up at that point and mode (the smaller median paired
    ratio), the one-device set-up beside it."""
    print("\n## Targets (paired ratios of this run: median (range) over the repeats)")
    print("| dtype | P,H,T,B | best JAX (y; +h) | fast / best JAX (y) | fast / best JAX (+h) "
          "| fast / JAX 1 device (y) | fast / JAX 1 device (+h) | JAX cores (best, y) "
          "| +h / y (fast) | +h / y, new h array | f32 / f64 (y) "
          "| per core: fast / best JAX (y) |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    missing = (float("nan"), float("nan"), [float("nan")])
    label = {JAX: "1 device", JAX_SHARDED: f"{THREADS} devices"}
    for dtype, point in sorted({(d, p) for d, p, _, _ in table}):
        def entry(mode, impl, dtype=dtype, point=point):
            return table.get((dtype, point, mode, impl), missing)

        def best(mode):
            return min(JAXES, key=lambda name: np.median(entry(mode, name)[2]))
        best_y, best_h = best("y"), best("+h")
        fast, jaxy = entry("y", FAST), entry("y", best_y)
        ratios = own.get((dtype, point), {})
        per_core = np.median(jaxy[2]) * jaxy[1] / fast[1]  # speed-up over the cores' ratio
        print(f"| {dtype} | {','.join(map(str, point))} | {label[best_y]}; {label[best_h]} "
              f"| {spread(jaxy[2])} | {spread(entry('+h', best_h)[2])} "
              f"| {spread(entry('y', JAX)[2])} | {spread(entry('+h', JAX)[2])} "
              f"| {jaxy[1]:.2f} "
              + "".join(f"| {spread(ratios.get(key, [float('nan')]))} "
                        for key in ("+h / y", "+h / y new", "f32 / f64"))
              + f"| {per_core:.2f} |")
    print(f"targets: fast / JAX >= 3 (>= 5 at H=4), against the faster of JAX on one device "
          f"and JAX sharded over {THREADS} host devices (jit(shard_map(vmap(lax.scan)))); "
          f"+h / y >= 0.85 (+h into one array reused "
          f"from call to call, `hidden_out`; beside it into a new array each call); "
          f"f32 / f64 in 1.5-2 (paired: float64 runs beside float32's y runs). "
          f"First call of the fast kernels (cache load and one run of the first point): "
          f"{first_fast:.2f} s (target <= 0.5 s), after "
          f"Numba's process start-up of {startup:.2f} s (a trivial cached function). "
          f"Per core: the paired ratio times the best JAX's cores busy over evolstm's (CPU "
          f"time / wall of the timed runs).")


def flops_per_step(n_hidden: int) -> int:
    """Multiply-adds ×2 of one genome-step (gates matvec and readout; activations apart)."""
    return 2 * 4 * n_hidden * (1 + n_hidden) + 2 * n_hidden


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T/5, one repeat")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dtype", choices=("float64", "float32"), action="append",
                        help="run only this dtype (repeatable; default: both)")
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    rng = np.random.default_rng(0)
    startup = numba_startup()
    table, own, first_fast = {}, {}, None
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}  "
          f"numpy {np.__version__}  torch {torch.__version__}  jax {jax.__version__}  "
          f"threads {THREADS}  jax devices {jax.device_count()}  repeat {repeat}  "
          f"numba start-up {startup:.2f} s  load average {os.getloadavg()[0]:.2f}")
    for dtype in args.dtype or ("float64", "float32"):
        peak = gemm_peak(dtype)
        print(f"\n## {dtype}: numpy matmul peak {peak:.0f} GFLOP/s")
        print("| P,H,T,B | mode | impl | M steps/s | % peak | fast / impl (paired) "
              "| first call s "
              "| max |Δy| (100 steps) | genomes | cores |")
        print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for point in GRID:
            if args.quick:
                point = (point[0], point[1], max(point[2] // 5, CHECK_STEPS), point[3])
            for keep in (False, True):
                rows, own_ratios = bench_point(point, dtype, keep, repeat, rng)
                if first_fast is None:  # the process's first call: the cache load
                    first_fast = rows[0][2]
                mode = "+h" if keep else "y"
                own.setdefault((dtype, point), {}).update(own_ratios)
                for name, rate, first, error, n_sub, busy, ratios in rows:
                    table[dtype, point, mode, name] = (rate, busy, ratios)
                    share = 100 * rate * 1e6 * flops_per_step(point[1]) / (peak * 1e9)
                    print(f"| {','.join(map(str, point))} | {mode} | {name} "
                          f"| {rate:.3g} | {share:.1f} | {spread(ratios)} | {first:.2f} "
                          f"| {error:.1e} | {n_sub} | {busy:.2f} |", flush=True)
    print_targets(table, own, first_fast, startup)
    print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())} "
          f"(1, 5, 15 min; {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
