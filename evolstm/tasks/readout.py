"""Evolino's least-squares readout: the linear map hidden state -> output, solved per genome.

Schmidhuber, Wierstra, Gagliolo & Gomez (2007, Neural Computation 19(3)) evolve only the
recurrent weights; each genome's output layer is the least-squares solution (Moore-Penrose
pseudo-inverse) from the hidden states it produces on the training sequence to the targets.
Here the solve is per genome, with a bias column and an optional ridge penalty on the
weights (not on the bias). A genome whose states are not finite is flagged, never raised on.
"""

from __future__ import annotations

import numpy as np

from evolstm.cells import Population


def fit_readout(
    hidden: np.ndarray, targets: np.ndarray, mask: np.ndarray, ridge: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares readouts for P genomes.

    hidden: (P, B, T, H) states; targets: (B, T, O); mask: (B, T) or (T,) bool, the steps
    fitted (e.g. False over the washout); ridge: penalty λ on ‖W‖² (0: minimum-norm
    least squares, i.e. the pseudo-inverse). Returns weight (P, O, H), bias (P, O) and
    ok (P,) bool; where ok is False (non-finite states or a failed solve) the readout is 0.
    """
    hidden = np.asarray(hidden, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    n_pop, n_batch, n_steps, n_hidden = hidden.shape
    n_out = targets.shape[-1]
    mask = np.broadcast_to(np.asarray(mask, dtype=bool), (n_batch, n_steps))
    if ridge < 0:
        raise ValueError(f"ridge: must be >= 0, got {ridge}")
    target_rows = targets[mask]  # (N, O)
    weight = np.zeros((n_pop, n_out, n_hidden))
    bias = np.zeros((n_pop, n_out))
    ok = np.zeros(n_pop, dtype=bool)
    if not np.all(np.isfinite(target_rows)):
        return weight, bias, ok
    n_rows = target_rows.shape[0]
    penalty = np.sqrt(ridge) * np.eye(n_hidden, n_hidden + 1)  # bias column unpenalised
    for p in range(n_pop):
        design = np.empty((n_rows, n_hidden + 1))
        design[:, :n_hidden] = hidden[p][mask]
        design[:, n_hidden] = 1.0
        if not np.all(np.isfinite(design)):
            continue
        rhs = target_rows
        if ridge > 0:
            design = np.vstack([design, penalty])
            rhs = np.vstack([target_rows, np.zeros((n_hidden, n_out))])
        try:
            solution = np.linalg.lstsq(design, rhs, rcond=None)[0]  # (H + 1, O)
        except np.linalg.LinAlgError:
            continue
        if np.all(np.isfinite(solution)):
            weight[p] = solution[:n_hidden].T
            bias[p] = solution[n_hidden]
            ok[p] = True
    return weight, bias, ok


def with_readout(
    population: Population, genomes: np.ndarray, weight: np.ndarray, bias: np.ndarray
) -> np.ndarray:
    """Copy of genomes (P, n_params) with readout_weight (P, O, H) and readout_bias (P, O)."""
    genomes = np.array(genomes, dtype=np.float64, copy=True)
    blocks = population.layout.by_name
    w_block, b_block = blocks["readout_weight"], blocks["readout_bias"]
    n_pop = genomes.shape[0]
    genomes[:, w_block.offset : w_block.offset + w_block.size] = weight.reshape(n_pop, -1)
    genomes[:, b_block.offset : b_block.offset + b_block.size] = bias.reshape(n_pop, -1)
    return genomes
