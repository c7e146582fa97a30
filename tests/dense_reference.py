"""A plain NumPy dense network written for the tests, from the givens as the student sees them."""

from __future__ import annotations

import math

import numpy as np


def act(name: str, z: np.ndarray, alpha: float) -> np.ndarray:
    if name == "identity":
        return z
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, alpha * z)
    if name == "elu":
        return np.where(z >= 0, z, alpha * (np.exp(np.minimum(z, 0)) - 1))
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "silu":
        return z / (1 + np.exp(-z))
    if name == "gelu":
        return np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in z])
    if name == "softmax":
        e = np.exp(z - z.max())
        return e / e.sum()
    raise ValueError(name)


def weights_of(given) -> list[np.ndarray]:
    return [np.array(w.tolist(), dtype=float) for w in given["weights"]]


def forward(given, weights=None):
    """(zs, activations) for every layer."""
    weights = weights if weights is not None else weights_of(given)
    biases = [np.array(b.tolist(), float).ravel() for b in given["biases"]] if given["biases"] else None
    a = np.array(given["x"].tolist(), float).ravel()
    alpha = float(given["alpha"])
    zs, outs = [], []
    for l, W in enumerate(weights):
        if given["convention"] == "W":
            z = W @ a
        elif given["bias"] == "row":
            z = W[1:].T @ a + W[0]
        else:
            z = W.T @ a
        if given["bias"] == "vector":
            z = z + biases[l]
        name = given["output_activation"] if l == len(weights) - 1 else given["activation"]
        a = act(name, z, alpha)
        zs.append(z)
        outs.append(a)
    return zs, outs


def loss(given, weights=None) -> float:
    """The loss; cross-entropies from the logits so that a saturated output stays finite."""
    y = np.array(given["y"].tolist(), float).ravel()
    zs, outs = forward(given, weights)
    z, yhat = zs[-1], outs[-1]
    kind = given["loss"]
    if kind == "mse_half":
        return 0.5 * float(np.sum((yhat - y) ** 2))
    if kind == "mse_mean":
        return float(np.mean((yhat - y) ** 2))
    if kind == "mse_sum":
        return float(np.sum((yhat - y) ** 2))
    if kind == "bce":  # ln σ(z) = -softplus(-z), ln(1 - σ(z)) = -softplus(z)
        return float(np.sum(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)))
    if kind == "ce":  # ln softmax(z)_k = z_k - logsumexp(z)
        return float(-np.sum(y * (z - (z.max() + np.log(np.sum(np.exp(z - z.max())))))))
    raise ValueError(kind)
