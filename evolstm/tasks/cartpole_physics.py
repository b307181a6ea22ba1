"""Cart-pole physics (Wieland 1991, as in Gomez's ESP/CoSyNE code) and a population kernel.

State, float64 (6,): ``[x (m), x' (m/s), theta1 (rad), theta1' (rad/s), theta2, theta2']``;
theta is measured from upright, positive when the pole leans towards +x. The equations of
motion are the "effective mass" form, for poles i = 1..n_poles (half-length l_i, mass m_i):

    F~_i = m_i l_i theta_i'^2 sin(theta_i)
           - 3/4 m_i cos(theta_i) (g sin(theta_i) - mu_p theta_i' / (m_i l_i))
    m~_i = m_i (1 - 3/4 cos^2(theta_i))
    x''  = (F - mu_c sgn(x') + sum_i F~_i) / (M + sum_i m~_i)
    theta_i'' = 3 / (4 l_i) (g sin(theta_i) - x'' cos(theta_i) - mu_p theta_i' / (m_i l_i))

with M = 1 kg, (m, l) = (0.1 kg, 0.5 m) and (0.01 kg, 0.05 m), g = 9.8 m/s^2, pole friction
mu_p = 2e-6, cart-track friction mu_c = 5e-4 N. Two differences from Gomez's C code, both
invisible after the first step: sgn(0) = 0 here (his is +1, so a cart at rest drifts), and no
|F| >= 1/256 N clamp on the force. Each action is held for two RK4 steps of tau = 0.01 s.

`balance` runs a whole population of cells (any topology, float32 or float64) as
controllers: observation -> `cell_step` -> force F = 10 tanh(y) N -> two RK4 steps ->
failure check -> damping bookkeeping, for every genome and every start state.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from evolstm.cells.kernels import cell_step
from evolstm.cells.layout import F_N_GATES_REC

JIT = dict(cache=True, nogil=True, error_model="numpy")

CART_MASS = 1.0  # kg
POLE_MASS = (0.1, 0.01)  # kg
POLE_HALF_LENGTH = (0.5, 0.05)  # m
GRAVITY = 9.8  # m/s^2
POLE_FRICTION = 2.0e-6  # mu_p, N m s (hinge)
CART_FRICTION = 5.0e-4  # mu_c, N (Coulomb, cart on track)
TAU = 0.01  # s, one RK4 step; an action lasts two
FORCE_SCALE = 10.0  # N: F = FORCE_SCALE * tanh(y)
TRACK_LIMIT = 2.4  # m
JIGGLE_WINDOW = 100  # steps summed by Gruau's damping term

# Indices into the parameter vector that every physics function takes.
P_CART_MASS, P_GRAVITY, P_CART_FRICTION, P_POLE_FRICTION, P_POLES = 0, 1, 2, 3, 4


def parameters(
    cart_friction: float = CART_FRICTION, pole_friction: float = POLE_FRICTION
) -> np.ndarray:
    """(8,) float64: cart mass, g, mu_c, mu_p, then (mass, half-length) of poles 1 and 2."""
    poles = [value for pole in zip(POLE_MASS, POLE_HALF_LENGTH, strict=True) for value in pole]
    return np.array([CART_MASS, GRAVITY, cart_friction, pole_friction, *poles])


@numba.njit(**JIT)
def derivatives(state, force, n_poles, params, out):
    """out (6,) = d state / dt under a constant `force` (N) on the cart; n_poles in {1, 2};
    params: `parameters()`."""
    gravity, pole_friction = params[P_GRAVITY], params[P_POLE_FRICTION]
    numerator = force
    if state[1] > 0.0:
        numerator -= params[P_CART_FRICTION]
    elif state[1] < 0.0:
        numerator += params[P_CART_FRICTION]
    denominator = params[P_CART_MASS]
    for i in range(n_poles):
        theta, omega = state[2 + 2 * i], state[3 + 2 * i]
        mass, half = params[P_POLES + 2 * i], params[P_POLES + 2 * i + 1]
        cos_t, sin_t = math.cos(theta), math.sin(theta)
        hinge = pole_friction * omega / (mass * half)
        numerator += mass * half * omega * omega * sin_t - 0.75 * mass * cos_t * (
            gravity * sin_t - hinge
        )
        denominator += mass * (1.0 - 0.75 * cos_t * cos_t)
    accel = numerator / denominator
    out[0] = state[1]
    out[1] = accel
    for i in range(2):
        out[2 + 2 * i] = 0.0
        out[3 + 2 * i] = 0.0
        if i < n_poles:
            theta, omega = state[2 + 2 * i], state[3 + 2 * i]
            mass, half = params[P_POLES + 2 * i], params[P_POLES + 2 * i + 1]
            hinge = pole_friction * omega / (mass * half)
            out[2 + 2 * i] = omega
            out[3 + 2 * i] = 0.75 * (
                gravity * math.sin(theta) - accel * math.cos(theta) - hinge
            ) / half


@numba.njit(**JIT)
def rk4_step(state, force, n_poles, params, dt, scratch):
    """Advance `state` (6,) in place by one classical RK4 step of `dt` s.

    scratch: (5, 6) float64 work space (k1..k4 and the trial state).
    """
    k1, k2, k3, k4, trial = scratch[0], scratch[1], scratch[2], scratch[3], scratch[4]
    derivatives(state, force, n_poles, params, k1)
    for j in range(6):
        trial[j] = state[j] + 0.5 * dt * k1[j]
    derivatives(trial, force, n_poles, params, k2)
    for j in range(6):
        trial[j] = state[j] + 0.5 * dt * k2[j]
    derivatives(trial, force, n_poles, params, k3)
    for j in range(6):
        trial[j] = state[j] + dt * k3[j]
    derivatives(trial, force, n_poles, params, k4)
    for j in range(6):
        state[j] += dt / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j])


@numba.njit(**JIT)
def act(state, force, n_poles, params, scratch):
    """Apply `force` (N) for one control step: two RK4 steps of TAU."""
    rk4_step(state, force, n_poles, params, TAU, scratch)
    rk4_step(state, force, n_poles, params, TAU, scratch)


@numba.njit(**JIT)
def within_bounds(state, n_poles, angle_limit):
    """|x| <= 2.4 m and every |theta| <= angle_limit (rad); False for NaN."""
    if not abs(state[0]) <= TRACK_LIMIT:
        return False
    for i in range(n_poles):
        if not abs(state[2 + 2 * i]) <= angle_limit:
            return False
    return True


@numba.njit(**JIT)
def balance(w, flags, units, layers, readout, width, observed, scale, starts, n_poles,
            params, angle_limit, n_steps, one, stop_at_failure, steps, jiggle, record):
    """Run every genome as the controller from every start state.

    w: (P, n_params) kernel genomes (`kernel_genomes`); flags, units, layers, readout: the
    population's `KernelSpec` tables; width: per-layer state length W; observed (I,) int64
    and scale (I,) float64: input i is state[observed[i]] / scale[i]; starts: (S, 6)
    float64; params: `parameters()`; angle_limit: rad; n_steps: the trial length. The cell
    state is zero at the start of every trial. A trial ends after `n_steps` actions or
    after the action whose resulting state is out of bounds.
    Writes steps (P, S) int64: actions after which the state was in bounds (the trial
    lasted steps + 1 actions when steps < n_steps); jiggle (P, S) float64: sum over the
    last (at most 100) post-action states of the trial, the failing one included, of
    |x| + |x'| + |theta1| + |theta1'|. stop_at_failure: once a genome's trial ends before
    `n_steps`, its remaining starts are not run (steps -1, jiggle 0): a check that needs
    every start costs a failing genome no more than its first failure;
    record: (P, S, n_steps, 6) post-action states (NaN after the end), or a
    (0, 0, 0, 0) array to skip.
    """
    n_pop, n_starts, n_in = w.shape[0], starts.shape[0], observed.shape[0]
    n_layers = layers.shape[0]
    n_hidden = width // (2 + flags[F_N_GATES_REC])
    keep = record.shape[0] > 0
    cell = np.zeros((n_layers, width), dtype=w.dtype)
    pre = np.empty(4 * n_hidden, dtype=w.dtype)
    rec = np.empty(4 * n_hidden, dtype=w.dtype)
    inp = np.empty(n_in, dtype=w.dtype)
    y = np.empty(1, dtype=w.dtype)
    state = np.empty(6)
    scratch = np.empty((5, 6))
    window = np.zeros(JIGGLE_WINDOW)
    for p in range(n_pop):
        failed = False
        for s in range(n_starts):
            if failed:
                steps[p, s] = -1
                jiggle[p, s] = 0.0
                if keep:
                    record[p, s, :, :] = np.nan
                continue
            cell[:, :] = 0
            state[:] = starts[s]
            window[:] = 0.0
            t = balanced = 0
            while t < n_steps:
                for i in range(n_in):
                    inp[i] = state[observed[i]] / scale[i]
                cell_step(w[p], flags, units, layers, readout, inp, cell, pre, rec,
                          n_hidden, y, one)
                force = FORCE_SCALE * math.tanh(np.float64(y[0]))
                act(state, force, n_poles, params, scratch)
                window[t % JIGGLE_WINDOW] = (
                    abs(state[0]) + abs(state[1]) + abs(state[2]) + abs(state[3])
                )
                if keep:
                    record[p, s, t, :] = state
                t += 1
                if not within_bounds(state, n_poles, angle_limit):
                    break
                balanced += 1
            steps[p, s] = balanced
            failed = stop_at_failure and balanced < n_steps
            total = 0.0
            for k in range(JIGGLE_WINDOW):
                total += window[k]
            jiggle[p, s] = total
            if keep:
                record[p, s, t:, :] = np.nan
