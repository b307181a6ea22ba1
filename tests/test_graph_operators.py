"""Operators on cell graphs: the graph space, minimal cell, sampling, mutations, paths."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evolstm
from evolstm.archsearch.graphs import OPERATORS, GraphSpace, minimal, mutate, neighbours, sample
from evolstm.archsearch.graphs.space import OTHER_OPS, WIDEST
from evolstm.cells.graph.graph import Graph
from evolstm.cells.graph.nodes import ACTIVATIONS
from evolstm.errors import ConfigError
from evolstm.options import build as build_options

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)


def _subsets(values: tuple, required: tuple = ()) -> st.SearchStrategy:
    return st.lists(st.sampled_from(values), min_size=1, max_size=len(values), unique=True).map(
        lambda chosen: tuple(dict.fromkeys((*required, *chosen))))


spaces = st.one_of(
    st.sampled_from([GraphSpace(), WIDEST, GraphSpace(max_states=1, max_nodes=6)]),
    st.builds(GraphSpace, ops=_subsets(OTHER_OPS, ("linear",)),
              activations=_subsets(ACTIVATIONS), max_nodes=st.integers(2, 30),
              max_states=st.integers(1, 5), bias=_subsets((True, False)),
              readouts=_subsets(("linear", "units"), ("linear",)),
              sample_steps=st.integers(0, 15)),
)


def check_member(graph: Graph, space: GraphSpace) -> None:
    assert isinstance(graph, Graph)
    assert space.contains(graph)
    assert Graph.from_dict(graph.to_dict()).key() == graph.key()  # valid, round-trips


def test_space_from_a_config_table_and_its_errors() -> None:
    space = build_options(GraphSpace, {"activations": ["sigmoid", "tanh"], "max_states": 2},
                          "architecture.space")
    assert space == GraphSpace(activations=("sigmoid", "tanh"), max_states=2)
    for table, field in (({"ops": ["add"]}, "ops"), ({"activations": ["softmax"]}, "activations"),
                         ({"max_states": 6}, "max_states"), ({"bias": [True, True]}, "bias"),
                         ({"readouts": ["units"]}, "readouts")):
        with pytest.raises(ConfigError, match=rf"^architecture\.space\.{field}: "):
            build_options(GraphSpace, table, "architecture.space")


def test_minimal_is_the_elman_cell() -> None:
    graph = minimal()
    assert [(n.op, n.inputs) for n in graph.nodes] == [("linear", ("x", "h")), ("tanh", ("pre",))]
    assert GraphSpace().contains(graph)
    assert minimal(GraphSpace(activations=("relu",), bias=(False,))).nodes[1].op == "relu"


def test_named_cells_lie_in_the_widest_space() -> None:
    for name in [*evolstm.cells.names(), "nas"]:
        assert WIDEST.contains(evolstm.cells.graph(name)), name


@SETTINGS
@given(seeds, spaces)
def test_sample_and_mutate_give_members(seed: int, space: GraphSpace) -> None:
    rng = np.random.default_rng(seed)
    graph = sample(rng, space)
    check_member(graph, space)
    for _ in range(5):
        child = mutate(graph, rng, space)
        check_member(child, space)
        assert child.key() != graph.key() or child.key() == minimal(space).key()
        graph = child


@SETTINGS
@given(seeds)
def test_mutating_named_cells_gives_members(seed: int) -> None:
    rng = np.random.default_rng(seed)
    names = [*evolstm.cells.names(), "nas"]
    parent = evolstm.cells.graph(names[rng.integers(len(names))])
    child = mutate(parent, rng, WIDEST)
    check_member(child, WIDEST)
    assert child.key() != parent.key()


@pytest.mark.parametrize("name", list(OPERATORS))
def test_every_operator_makes_valid_distinct_children(name: str) -> None:
    operator = OPERATORS[name]
    space = GraphSpace(max_states=3, readouts=("linear", "units"))
    parents = [minimal(space), evolstm.cells.graph("gru"), evolstm.cells.graph("lstm")]
    # a parent with two states (for remove_state) and output units (for readout)
    two = OPERATORS["add_state"].outcomes(minimal(space), space)[0]
    units = OPERATORS["readout"].outcomes(minimal(space), space)[0]
    found = 0
    for parent in [*parents, two, units]:
        outcomes = operator.outcomes(parent, space) if len(parent.nodes) < 10 else []
        for child in outcomes:
            check_member(child, space)
            assert child.key() != parent.key()
        assert len({c.key() for c in outcomes}) == len(outcomes)
        found += len(outcomes)
        rng = np.random.default_rng(7)
        child = operator(parent, rng, space)
        check_member(child, space)
        assert child.key() == operator(parent, np.random.default_rng(7), space).key()
    assert found > 0, f"{name} made nothing"


def test_neighbours_are_deterministic_and_distinct() -> None:
    space = GraphSpace()
    first = neighbours(minimal(space), space)
    again = neighbours(minimal(space), space)
    assert [g.key() for g in first] == [g.key() for g in again]
    keys = {g.key() for g in first}
    assert len(keys) == len(first) and minimal(space).key() not in keys


def test_results_are_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[str]:
        rng = np.random.default_rng(seed)
        graph = sample(rng, WIDEST)
        keys = [graph.key()]
        for _ in range(30):
            graph = mutate(graph, rng, WIDEST)
            keys.append(graph.key())
        return keys

    assert run(3) == run(3)
    assert run(3) != run(4)


# Length of the mutation path `paths.path_from_minimal` finds from the minimal (Elman) cell
# to every named cell in the widest space (recorded: an upper bound on the distance, not a
# shortest path; a change of the operators or of the reduction shows here).
PATH_LENGTHS = {
    "lstm1997": 13, "lstm": 16, "peephole": 22, "nig": 17, "nfg": 17, "nog": 17, "niaf": 21,
    "noaf": 21, "np": 16, "cifg": 19, "fgr": 36, "gru": 10, "mut1": 11, "mut2": 11,
    "mut3": 13, "elman": 4, "fully_recurrent": 7, "nas": 35,
}


@pytest.mark.parametrize("name", [*evolstm.cells.names(), "nas"])
def test_every_named_cell_is_reachable_from_the_minimal_cell(name: str) -> None:
    from evolstm.archsearch.graphs.paths import path_from_minimal

    target = evolstm.cells.graph(name)
    path = path_from_minimal(target, WIDEST)
    assert path is not None
    key = minimal(WIDEST).key()
    for operator, edit, parent, child in path:
        assert parent.key() == key
        assert edit in OPERATORS[operator].edits(parent, WIDEST)
        made = OPERATORS[operator].apply(parent, edit, WIDEST)
        assert made is not None and made.key() == child.key() != key
        assert WIDEST.contains(made)
        key = made.key()
    assert key == target.key()
    assert len(path) == PATH_LENGTHS[name]


@SETTINGS
@given(seeds, spaces)
def test_crossover_gives_members(seed: int, space: GraphSpace) -> None:
    from evolstm.archsearch.graphs.crossover import crossover

    rng = np.random.default_rng(seed)
    a, b = sample(rng, space), sample(rng, space)
    child = crossover(a, b, rng, space)
    check_member(child, space)
    again = np.random.default_rng(seed)
    a2, b2 = sample(again, space), sample(again, space)
    assert crossover(a2, b2, again, space).key() == child.key()


def test_crossover_grafts_a_subgraph() -> None:
    from evolstm.archsearch.graphs.crossover import crossover, graft

    lstm, gru = evolstm.cells.graph("lstm"), evolstm.cells.graph("gru")
    # the GRU's update gate z grafted onto the LSTM's forget-gate product: f_c = z * c
    child = graft(lstm, gru, "z", ("f_c", 0))
    assert child is not None and WIDEST.contains(child)
    ops = sorted(n.op for n in child.nodes)
    assert len(child.nodes) == len(lstm.nodes) + 4 - 4  # z's 4 nodes in, f's 4 pruned
    assert ops == sorted(n.op for n in lstm.nodes)
    assert child.key() == lstm.key()  # the same cell: f and z are both sigmoid(Wx + Uh)
    rng = np.random.default_rng(0)
    keys = {crossover(lstm, gru, rng, WIDEST).key() for _ in range(10)}
    assert lstm.key() not in keys and gru.key() not in keys and len(keys) > 1


def test_parents_outside_the_space_give_members() -> None:
    space = GraphSpace()  # at most 3 states: fgr (5) is outside
    fgr = evolstm.cells.graph("fgr")
    rng = np.random.default_rng(1)
    check_member(mutate(fgr, rng, space), space)
    for operator in OPERATORS.values():
        check_member(operator(fgr, rng, space), space)


def test_sampled_graphs_run_in_the_interpreter() -> None:
    rng = np.random.default_rng(11)
    for _ in range(8):
        graph = crossover_or_mutant(rng)
        pop = evolstm.Population(graph, n_in=2, n_hidden=4, n_out=1)
        y = pop.predict(rng.normal(size=(3, pop.n_params)), rng.normal(size=(2, 10, 2)))
        assert y.shape == (3, 2, 10, 1)  # (unbounded cells may overflow: no finiteness check)
    # no weights: in no space (with output units such a cell is no graph: test_graph_malformed)
    bare = Graph.from_dict({"states": ["h"], "nodes": [{"name": "a", "op": "tanh",
                                                        "inputs": ["h"]}],
                            "outputs": {"h": "a"}})
    assert not WIDEST.contains(bare)


def crossover_or_mutant(rng: np.random.Generator) -> Graph:
    from evolstm.archsearch.graphs.crossover import crossover

    graph = mutate(sample(rng, WIDEST), rng, WIDEST)
    return crossover(graph, sample(rng, WIDEST), rng, WIDEST) if rng.integers(2) else graph


def test_elman_is_two_mutations_from_the_minimal_cell() -> None:
    """A bounded search over `neighbours` (the paths above are not shortest: 4 steps)."""
    space = GraphSpace(max_states=1, max_nodes=4)
    target = evolstm.cells.graph("elman").key()
    first = neighbours(minimal(space), space)
    assert target not in {g.key() for g in first}
    assert any(target in {h.key() for h in neighbours(g, space)} for g in first)
