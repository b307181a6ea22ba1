"""Operators on topologies: the space, canonical keys, sampling, mutation, crossover."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from evolstm.archsearch.canonical import build, canonical, key, repair
from evolstm.archsearch.crossover import crossover
from evolstm.archsearch.mutations import OPERATORS, mutate, neighbours
from evolstm.archsearch.sampling import sample
from evolstm.archsearch.space import WIDEST, Space
from evolstm.cells import kernels, names, resolve
from evolstm.cells.layout import Layout
from evolstm.cells.topology import (
    ACTIVATIONS,
    FAMILIES,
    GRU_UNITS,
    H_MODES,
    LSTM_UNITS,
    READOUTS,
    X_MODES,
    Topology,
)
from evolstm.errors import ConfigError, EvolstmError
from evolstm.options import build as build_options

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Mutation distance of every named variant from lstm1997 in the widest space (recorded: a
# change of the operators that moves a variant shows here).
DISTANCES = {
    "lstm1997": 0, "lstm": 1, "np": 1, "nfg": 1, "gru": 1, "peephole": 2, "cifg": 2,
    "nig": 3, "nog": 3, "niaf": 3, "noaf": 3, "fgr": 3, "elman": 3,
    "mut2": 4, "mut3": 4, "fully_recurrent": 4, "mut1": 5,
}


def subsets(values: tuple[Any, ...]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=len(values), unique=True).map(
        tuple
    )


def _valid(space: Space) -> bool:
    try:
        space.validate()
    except ValueError:
        return False
    return True


spaces = st.one_of(
    st.sampled_from([Space(), WIDEST, Space(families=("gru",), readouts=("units",),
                                            bias=(False,))]),
    st.builds(
        Space,
        families=subsets(FAMILIES),
        readouts=subsets(READOUTS),
        bias=subsets((True, False)),
        activations=subsets(ACTIVATIONS),
        x_modes=subsets(X_MODES),
        h_modes=subsets(H_MODES),
    ).filter(_valid),
)
seeds = st.integers(0, 2**32 - 1)


@st.composite
def raw_topologies(draw: st.DrawFn) -> Topology:
    """Valid topologies with every field drawn, the irrelevant ones too (not canonical)."""
    family = draw(st.sampled_from(FAMILIES))
    units = LSTM_UNITS if family == "lstm" else GRU_UNITS
    modes = {
        name: draw(st.dictionaries(st.sampled_from(units), st.sampled_from(allowed)))
        for name, allowed in (("x_modes", X_MODES), ("h_modes", H_MODES))
    }
    flags = {
        name: draw(st.booleans())
        for name in ("input_gate", "forget_gate", "output_gate", "coupled", "peepholes",
                     "gate_recurrence", "reset_gate", "update_gate", "reset_after",
                     "update_keeps_state", "bias")
    }
    fields = {
        "family": family,
        "cell_activation": draw(st.sampled_from(ACTIVATIONS)),
        "output_activation": draw(st.sampled_from(ACTIVATIONS)),
        "readout": draw(st.sampled_from(READOUTS)),
        **flags,
        **modes,
    }
    try:
        return build(fields)
    except EvolstmError:
        reject()


def check_member(topo: Topology, space: Space) -> None:
    """`topo` is a valid canonical topology of `space`."""
    assert isinstance(topo, Topology)
    assert canonical(topo) == topo
    assert space.contains(topo)
    assert Topology.from_dict(topo.to_dict()) == topo  # valid, round-trips


# -- Space --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("table", "field"),
    [
        ({"families": []}, "families"),
        ({"families": ["rnn"]}, "families"),
        ({"readouts": ["units"], "families": ["lstm"]}, "readouts"),
        ({"bias": [True, True]}, "bias"),
        ({"activations": ["relu"]}, "activations"),
        ({"x_modes": ["identity"], "h_modes": ["none"]}, "h_modes"),
    ],
)
def test_space_errors_name_the_field(table: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=rf"^architecture\.space\.{field}: "):
        build_options(Space, table, "architecture.space")


def test_space_from_a_config_table() -> None:
    space = build_options(
        Space, {"families": ["gru"], "readouts": ["linear", "units"], "bias": [True, False]},
        "architecture.space",
    )
    assert space == Space(families=("gru",), readouts=("linear", "units"), bias=(True, False))
    assert space.contains(resolve("fully_recurrent")) and not space.contains(resolve("lstm"))
    assert not Space().contains(resolve("fully_recurrent"))  # output units, no biases
    assert all(WIDEST.contains(resolve(name)) for name in names())


def test_space_checks_only_the_fields_a_cell_uses() -> None:
    space = Space(activations=("identity",), x_modes=("linear", "tanh"))
    assert space.contains(resolve("gru"))  # no activation field: GRU-family
    assert not space.contains(resolve("lstm"))  # tanh activations
    assert space.contains(resolve("mut1"))  # x tanh, h none: allowed
    assert not space.contains(resolve("mut2"))  # x identity


# -- canonical ----------------------------------------------------------------------------
def test_named_variants_are_canonical_and_distinct() -> None:
    by_key: dict[str, list[str]] = {}
    for name in names():
        topo = resolve(name)
        assert canonical(topo) == topo, name
        by_key.setdefault(key(topo), []).append(name)
    assert sorted(group for group in by_key.values() if len(group) > 1) == [["lstm", "np"]]


EQUIVALENT = [
    ({"reset_after": False, "update_gate": False}, {}),  # GRU fields on an LSTM cell
    ({"family": "gru", "peepholes": True, "cell_activation": "identity"}, {"family": "gru"}),
    ({"x_modes": {"g": "linear"}, "h_modes": {"i": "linear"}}, {}),  # default modes
    ({"forget_gate": False, "x_modes": {"f": "tanh"}}, {"forget_gate": False}),  # absent f
    ({"coupled": True, "h_modes": {"f": "none"}}, {"coupled": True}),  # coupled f: no weights
    ({"input_gate": False, "forget_gate": False, "output_gate": False, "peepholes": True,
      "gate_recurrence": True},
     {"input_gate": False, "forget_gate": False, "output_gate": False}),  # no gate to act on
    ({"family": "gru", "update_gate": False, "update_keeps_state": False},
     {"family": "gru", "update_gate": False}),  # fixed z: h = n either way
    ({"family": "gru", "reset_gate": False, "reset_after": False},
     {"family": "gru", "reset_gate": False}),  # r = 1: before = after
    ({"family": "gru", "reset_after": False, "h_modes": {"n": "none"}},
     {"family": "gru", "h_modes": {"n": "none"}}),  # no h_n for r to act on
]
DIFFERENT = [
    ({"family": "gru"}, {"family": "gru", "update_keeps_state": False}),  # z reads x linearly
    ({"family": "gru"}, {"family": "gru", "reset_after": False}),
    ({"family": "gru", "reset_gate": False, "h_modes": {"n": "none"}},
     {"family": "gru", "h_modes": {"n": "none"}}),  # a dead reset gate keeps its weights
    ({"output_gate": False}, {"output_gate": False, "output_activation": "identity"}),
    ({"peepholes": True, "input_gate": False}, {"input_gate": False}),
]


@pytest.mark.parametrize(("a", "b"), EQUIVALENT)
def test_equivalent_cells_share_a_key(a: dict[str, Any], b: dict[str, Any]) -> None:
    first, second = Topology.from_dict(a), Topology.from_dict(b)
    assert key(first) == key(second)
    assert canonical(first) == canonical(second) == second


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_cells_differ_in_key(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert key(Topology.from_dict(a)) != key(Topology.from_dict(b))


@SETTINGS
@given(raw_topologies())
def test_canonical_is_idempotent(topo: Topology) -> None:
    once = canonical(topo)
    assert canonical(once) == once
    assert key(topo) == key(once) == once.key()


N_IN, N_HIDDEN, N_OUT, LAYERS = 2, 3, 2, 2


def reference_outputs(topo: Topology, genome: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Outputs (B, T, O) of the reference kernel (not the fast ones: no compilation per
    topology) for one genome."""
    layout = Layout(topo, N_IN, N_HIDDEN, N_OUT, LAYERS)
    spec = layout.kernel_spec
    width = (2 + len(topo.recurrent_gates())) * N_HIDDEN
    state = np.zeros((1, x.shape[0], LAYERS, width))
    y = np.empty((1, x.shape[0], x.shape[1], N_OUT))
    kernels.simulate(kernels.kernel_genomes(genome[None], layout), spec.flags, spec.units,
                     spec.layers, spec.readout, x, 0, state, y, np.empty((0, 0, 0, 0)),
                     np.float64(1.0))
    return y[0]


@settings(max_examples=40, deadline=None)
@given(raw_topologies(), seeds)
def test_canonical_form_computes_the_same_cell(topo: Topology, seed: int) -> None:
    """Same genome layout and, from the same genome, the same outputs (the simulator)."""
    rng = np.random.default_rng(seed)
    form = canonical(topo)
    layout = Layout(topo, N_IN, N_HIDDEN, N_OUT, LAYERS)
    assert layout.blocks == Layout(form, N_IN, N_HIDDEN, N_OUT, LAYERS).blocks
    genome = rng.normal(0.0, 1.0, layout.n_params)
    x = rng.normal(0.0, 1.0, (2, 6, N_IN))
    np.testing.assert_allclose(
        reference_outputs(form, genome, x), reference_outputs(topo, genome, x),
        rtol=1e-12, atol=1e-12,
    )


# -- repair, sampling, mutation, crossover ------------------------------------------------
field_values = st.fixed_dictionaries(
    {},
    optional={
        "family": st.sampled_from((*FAMILIES, "rnn")),
        "readout": st.sampled_from((*READOUTS, "softmax")),
        "cell_activation": st.sampled_from((*ACTIVATIONS, "relu")),
        "output_activation": st.sampled_from((*ACTIVATIONS, "relu")),
        **{name: st.booleans() for name in ("input_gate", "forget_gate", "output_gate",
                                            "coupled", "peepholes", "gate_recurrence",
                                            "reset_gate", "update_gate", "reset_after",
                                            "update_keeps_state", "bias")},
        **{name: st.dictionaries(st.sampled_from(LSTM_UNITS + GRU_UNITS + ("q",)),
                                 st.sampled_from(X_MODES + H_MODES + ("relu",)))
           for name in ("x_modes", "h_modes")},
    },
)


@SETTINGS
@given(field_values, spaces)
def test_repair_makes_any_fields_a_member(fields: dict[str, Any], space: Space) -> None:
    check_member(repair(fields, space), space)


@SETTINGS
@given(seeds, spaces)
def test_sample_mutate_crossover_give_members(seed: int, space: Space) -> None:
    rng = np.random.default_rng(seed)
    a, b = sample(rng, space), sample(rng, space)
    check_member(a, space)
    child = mutate(a, rng, space)
    check_member(child, space)
    assert key(child) != key(a)
    check_member(crossover(a, b, rng, space), space)


@SETTINGS
@given(raw_topologies(), seeds, spaces)
def test_operators_repair_parents_from_outside_the_space(
    topo: Topology, seed: int, space: Space
) -> None:
    rng = np.random.default_rng(seed)
    check_member(mutate(topo, rng, space), space)
    check_member(crossover(topo, resolve("mut1"), rng, space), space)
    for child in neighbours(topo, space):
        check_member(child, space)


def test_sampling_reaches_both_families_and_is_seeded() -> None:
    draws = [sample(np.random.default_rng(seed), WIDEST) for seed in range(200)]
    assert {topo.family for topo in draws} == {"lstm", "gru"}
    assert {topo.readout for topo in draws} == {"linear", "units"}
    assert len({topo.key() for topo in draws}) > 150
    again = [sample(np.random.default_rng(seed), WIDEST) for seed in range(200)]
    assert draws == again


def test_crossover_of_a_cell_with_itself_is_the_cell(rng: np.random.Generator) -> None:
    for name in names():
        topo = resolve(name)
        assert crossover(topo, topo, rng, WIDEST) == canonical(topo)


def test_crossover_mixes_fields(rng: np.random.Generator) -> None:
    a, b = resolve("peephole"), resolve("niaf")  # differ in one field
    children = {crossover(a, b, rng, WIDEST) for _ in range(50)}
    assert children == {a, b}
    parents = [resolve("nig"), resolve("nog")]  # i absent, o absent: 4 combinations
    children = {crossover(*parents, rng, WIDEST) for _ in range(100)}
    assert set(parents) < children and len(children) == 4


def operator_chain(seed: int) -> list[str]:
    """Keys of a chain of samples, mutations and crossovers from one seed."""
    rng = np.random.default_rng(seed)
    topo = sample(rng, WIDEST)
    chain = [key(topo)]
    for _ in range(20):
        topo = crossover(mutate(topo, rng, WIDEST), sample(rng, WIDEST), rng, WIDEST)
        chain.append(key(topo))
    return chain


def test_operators_do_not_depend_on_the_process() -> None:
    """Same seed, same cells in another process with another string hash seed (an exact
    resume replays the outer search in a new process)."""
    code = (
        "import json, sys; sys.path.insert(0, 'tests'); "
        "from test_archsearch_space import operator_chain; "
        "print(json.dumps(operator_chain(7)))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert json.loads(out.stdout) == operator_chain(7)


# -- every operator -----------------------------------------------------------------------
def applicable_parent(name: str) -> Topology:
    """A cell of the widest space on which operator `name` has an outcome."""
    candidates = [resolve(variant) for variant in names()]
    candidates += [sample(np.random.default_rng(seed), WIDEST) for seed in range(50)]
    for topo in candidates:
        if OPERATORS[name].outcomes(topo, WIDEST):
            return topo
    raise AssertionError(f"operator {name} has no outcome on any variant or sample")


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_every_operator_makes_neighbours(name: str, rng: np.random.Generator) -> None:
    operator = OPERATORS[name]
    assert operator.propose.__doc__, f"operator {name} needs a docstring"
    parent = applicable_parent(name)
    outcomes = operator.outcomes(parent, WIDEST)
    for child in outcomes:
        check_member(child, WIDEST)
        assert key(child) != key(parent)
    assert len({child.key() for child in outcomes}) == len(outcomes)
    assert operator(parent, rng, WIDEST) in outcomes
    all_neighbours = neighbours(parent, WIDEST)
    assert set(outcomes) <= set(all_neighbours)
    assert all_neighbours == neighbours(parent, WIDEST)  # deterministic


_MUT = {"family": "gru", "reset_after": False, "update_keeps_state": False}
STEPS = [  # operator, parent, outcomes (variant names or topology dicts)
    ("input_gate", "peephole", ["nig"]),
    ("input_gate", "cifg", [{"peepholes": True, "input_gate": False}]),  # f freed: nig
    ("forget_gate", "lstm1997", ["lstm"]),
    ("forget_gate", "peephole", ["nfg"]),
    ("forget_gate", "cifg", ["nfg"]),  # the coupled f = 1 - i removed: f = 1
    ("output_gate", "peephole", ["nog"]),
    ("coupling", "peephole", ["cifg"]),
    ("coupling", "nfg", ["cifg"]),
    ("coupling", "cifg", ["peephole"]),
    ("peepholes", "lstm", ["peephole"]),
    ("gate_recurrence", "peephole", ["fgr"]),
    ("cell_activation", "peephole", ["niaf"]),
    ("output_activation", "peephole", ["noaf"]),
    ("family", "lstm1997", ["gru"]),
    ("family", "mut1", [{"x_modes": {"g": "tanh"}}]),  # the candidate keeps its modes
    ("reset_gate", "gru", [{"family": "gru", "reset_gate": False}]),
    ("update_gate", "fully_recurrent", [{"family": "gru", "reset_gate": False, "bias": False}]),
    ("reset_after", "gru", [{"family": "gru", "reset_after": False}]),
    ("update_keeps_state", _MUT, [{"family": "gru", "reset_after": False}]),
    ("bias", "elman", [{"family": "gru", "reset_gate": False, "update_gate": False,
                        "bias": False}]),
    ("readout", "fully_recurrent", [{"family": "gru", "reset_gate": False,
                                     "update_gate": False, "bias": False}]),
]


@pytest.mark.parametrize(("name", "parent", "expected"), STEPS)
def test_operator_steps_between_variants(name: str, parent: Any, expected: list[Any]) -> None:
    assert OPERATORS[name].outcomes(resolve(parent), WIDEST) == [resolve(e) for e in expected]


@pytest.mark.parametrize(
    ("name", "parent", "variant"),
    [("x_mode", _MUT, "mut2"), ("h_mode", _MUT, "mut3")],
)
def test_mode_changes_reach_the_mut_variants(name: str, parent: Any, variant: str) -> None:
    assert resolve(variant) in OPERATORS[name].outcomes(resolve(parent), WIDEST)


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_an_operator_with_no_outcome_returns_the_parent(
    name: str, rng: np.random.Generator
) -> None:
    lstm_only = Space(families=("lstm",), activations=("tanh",), x_modes=("linear",),
                      h_modes=("linear",))
    gru_only = Space(families=("gru",), x_modes=("linear",), h_modes=("linear",))
    for topo, space in itertools.product(
        [resolve("lstm"), resolve("gru"), resolve("peephole")], [lstm_only, gru_only]
    ):
        if not OPERATORS[name].outcomes(topo, space):
            child = OPERATORS[name](topo, rng, space)
            check_member(child, space)
            if space.contains(topo):
                assert child == topo


def with_default(values: tuple[Any, ...], default: Any) -> st.SearchStrategy[tuple[Any, ...]]:
    return subsets(values).map(lambda chosen: (default, *(v for v in chosen if v != default)))


spaces_with_defaults = st.builds(
    Space,
    families=subsets(FAMILIES),
    readouts=with_default(READOUTS, "linear"),
    bias=subsets((True, False)),
    activations=with_default(ACTIVATIONS, "tanh"),
    x_modes=with_default(X_MODES, "linear"),
    h_modes=with_default(H_MODES, "linear"),
)


@SETTINGS
@given(seeds, spaces_with_defaults)
def test_a_narrower_space_only_removes_outcomes(seed: int, space: Space) -> None:
    """In a space that allows every field's default (so that a gate or family a mutation
    adds starts as in the widest space), restricting the space never turns a mutation into
    another change (say, a family switch into a reset to the default cell)."""
    parent = sample(np.random.default_rng(seed), space)
    for operator in OPERATORS.values():
        assert set(operator.outcomes(parent, space)) <= set(operator.outcomes(parent, WIDEST))


def test_operators_stay_out_of_what_the_space_excludes() -> None:
    lstm_only, linear_only = Space(families=("lstm",)), Space()
    assert not OPERATORS["family"].outcomes(resolve("peephole"), lstm_only)
    assert not OPERATORS["readout"].outcomes(resolve("gru"), linear_only)
    assert not OPERATORS["bias"].outcomes(resolve("gru"), linear_only)
    assert OPERATORS["update_gate"].outcomes(resolve("gru"), linear_only) == [
        Topology.from_dict({"family": "gru", "update_gate": False})
    ]


def breadth_first(
    start: Topology, space: Space, targets: frozenset[Topology] = frozenset()
) -> dict[Topology, int]:
    """Mutation distance from `start` of every cell reachable over `neighbours` in
    `space`; given `targets`, the walk stops once it has found them all. (The order within
    a level changes no distance: GRU-family cells go first, to reach the GRU-family
    variants without expanding every LSTM-family cell of the level.)"""
    distance, frontier = {start: 0}, [start]
    while frontier and not (targets and targets <= distance.keys()):
        found: list[Topology] = []
        for node in frontier:
            for child in neighbours(node, space):
                if child not in distance:
                    distance[child] = distance[node] + 1
                    found.append(child)
            if targets and targets <= distance.keys():
                break
        frontier = sorted(found, key=lambda topo: topo.family != "gru")
    return distance


LINEAR = {"x_modes": ("linear",), "h_modes": ("linear",)}


@pytest.mark.parametrize(
    ("space", "count"),
    [
        # Gates (i; f absent, free or coupled; o): 10 settings. Peepholes and FGR double
        # each of the 9 with a free gate: 37 cells (tanh activations, linear connections).
        (Space(families=("lstm",), activations=("tanh",), **LINEAR), 37),
        (Space(families=("lstm",), **LINEAR), 37 * 4),  # x two activations each
        # r, z present: reset_after x update_keeps_state, 4; r only: 2; z only: 2; none: 1.
        (Space(families=("gru",), **LINEAR), 9),
        # h_n linear or none (x linear throughout): r, z: 8 mode settings, reset_after
        # only where h_n is linear, keeps x2: 24; r only: 4 settings, 6; z only: 8; none: 2.
        (Space(families=("gru",), x_modes=("linear",), h_modes=("linear", "none")), 40),
        (Space(activations=("tanh",), **LINEAR), 37 + 9),
    ],
)
def test_small_spaces_have_their_closed_form_size(space: Space, count: int) -> None:
    """The canonical cells of a small space, counted by hand, are all reachable from
    one of them, and sampling finds every one."""
    cells = set(breadth_first(sample(np.random.default_rng(0), space), space))
    assert len(cells) == count
    rng = np.random.default_rng(1)
    assert {sample(rng, space) for _ in range(30 * count)} == cells


# -- reachability -------------------------------------------------------------------------
def test_every_named_variant_is_reachable_from_lstm1997() -> None:
    """Breadth-first over `neighbours` in the widest space: exact mutation distances."""
    distance = breadth_first(
        resolve("lstm1997"), WIDEST, frozenset(resolve(name) for name in names())
    )
    measured = {name: distance.get(resolve(name)) for name in names()}
    print("mutation distance from lstm1997:", measured)
    assert measured == DISTANCES
