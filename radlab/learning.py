"""The mathematics of learning, small enough to do by hand (Chapter 3, ``course/03_learning``).

- a tiny network (2 inputs → 2 sigmoid units → 1 sigmoid output, binary cross-entropy) whose
  gradients are worked out with the chain rule, step by step, and checked against autograd;
- the soft Dice loss for segmentation;
- plain gradient descent, momentum and Adam written out as update rules (tests check them
  against ``torch.optim``), run on any loss given as functions;
- the spread of mini-batch gradients (the "noise" of SGD);
- per-layer gradient norms of deep networks: sigmoid vs ReLU vs residual (vanishing gradients).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from radlab.errors import DataError


# --------------------------------------------------------------------------- backprop by hand

def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def tiny_network(seed: int = 0) -> dict[str, np.ndarray]:
    """Weights of the 2-2-1 network of Chapter 3: W1 (2×2), b1 (2), W2 (2), b2 (scalar), drawn small."""
    rng = np.random.default_rng(seed)
    return {"W1": rng.normal(0, 1, (2, 2)), "b1": rng.normal(0, 0.5, 2), "W2": rng.normal(0, 1, 2),
            "b2": np.array(rng.normal(0, 0.5))}


def forward_by_hand(x: Sequence[float], y: float, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Forward pass of the tiny network, keeping every intermediate value backprop needs (Chapter 3)."""
    x = np.asarray(x, dtype=np.float64)
    z1 = params["W1"] @ x + params["b1"]           # hidden pre-activations
    h = _sigmoid(z1)                               # hidden activations
    z2 = float(params["W2"] @ h + params["b2"])    # output logit
    p = float(_sigmoid(np.array(z2)))              # probability of "malignant"
    loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return {"x": x, "z1": z1, "h": h, "z2": np.array(z2), "p": np.array(p), "loss": np.array(loss)}


def backward_by_hand(x: Sequence[float], y: float, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The chain rule, layer by layer from the loss back to the first weights (Chapter 3)."""
    f = forward_by_hand(x, y, params)
    dz2 = f["p"] - y                               # dL/dz2 for sigmoid + BCE: p − y
    grads = {"W2": dz2 * f["h"], "b2": np.array(dz2)}
    dh = dz2 * params["W2"]                        # dL/dh: back through the output weights
    dz1 = dh * f["h"] * (1 - f["h"])               # through the sigmoid: σ'(z) = σ(z)(1 − σ(z))
    grads["W1"] = np.outer(dz1, f["x"])            # dL/dW1[i, j] = dz1[i] · x[j]
    grads["b1"] = dz1
    return grads


def autograd_gradients(x: Sequence[float], y: float, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same gradients from PyTorch's autograd, to check the hand-worked ones (Chapter 3)."""
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    xt = torch.tensor(np.asarray(x, dtype=np.float64))
    p = torch.sigmoid(t["W2"] @ torch.sigmoid(t["W1"] @ xt + t["b1"]) + t["b2"])
    loss = nn.functional.binary_cross_entropy(p, torch.tensor(float(y), dtype=torch.float64))
    loss.backward()
    return {k: v.grad.numpy() for k, v in t.items()}


# --------------------------------------------------------------------------- losses

def soft_dice_loss(prob: np.ndarray, mask: np.ndarray, smooth: float = 1.0) -> float:
    """1 − soft Dice between predicted probabilities and a binary mask: the segmentation loss (Chapter 3)."""
    p, m = np.asarray(prob, dtype=np.float64).ravel(), np.asarray(mask, dtype=np.float64).ravel()
    if p.shape != m.shape:
        raise DataError(f"prediction {np.shape(prob)} and mask {np.shape(mask)} differ", fix="pass arrays of one shape")
    return float(1.0 - (2.0 * (p * m).sum() + smooth) / (p.sum() + m.sum() + smooth))


# --------------------------------------------------------------------------- optimisers by hand

OPTIMIZERS = ("sgd", "momentum", "adam")


@dataclass
class OptimizerPath:
    """Where an optimiser went: the weights after every step and the loss there (Chapter 3)."""

    method: str
    lr: float
    weights: np.ndarray      # (steps + 1, d)
    losses: np.ndarray       # (steps + 1,)

    @property
    def label(self) -> str:
        return f"{self.method}, lr = {self.lr:g}"


def optimize(loss: Callable[[np.ndarray], float], gradient: Callable[[np.ndarray], np.ndarray],
             start: Sequence[float], *, method: str = "sgd", lr: float = 0.1, steps: int = 50,
             momentum: float = 0.9, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> OptimizerPath:
    """Run plain gradient descent, momentum or Adam, each written out as its update rule (Chapter 3).

    - sgd:      w ← w − lr·g
    - momentum: v ← μ·v + g;  w ← w − lr·v                       (PyTorch's SGD with momentum)
    - adam:     m ← β1·m + (1−β1)·g;  s ← β2·s + (1−β2)·g²;  w ← w − lr·m̂ / (√ŝ + ε), with m̂, ŝ bias-corrected
    """
    if method not in OPTIMIZERS:
        raise DataError(f"unknown optimiser {method!r}", fix=f"use one of {OPTIMIZERS}")
    if not (np.isfinite(lr) and lr > 0) or steps < 1:
        raise DataError(f"need lr > 0 and steps >= 1, got lr={lr}, steps={steps}", fix="e.g. lr=0.1, steps=50")
    w = np.asarray(start, dtype=np.float64).copy()
    v, m, s = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    weights, losses = [w.copy()], [float(loss(w))]
    for t in range(1, steps + 1):
        g = np.asarray(gradient(w), dtype=np.float64)
        if method == "sgd":
            w = w - lr * g
        elif method == "momentum":
            v = momentum * v + g
            w = w - lr * v
        else:
            m = betas[0] * m + (1 - betas[0]) * g
            s = betas[1] * s + (1 - betas[1]) * g**2
            m_hat, s_hat = m / (1 - betas[0] ** t), s / (1 - betas[1] ** t)
            w = w - lr * m_hat / (np.sqrt(s_hat) + eps)
        weights.append(w.copy())
        losses.append(float(loss(w)))
        if not np.isfinite(losses[-1]) or losses[-1] > 1e12:
            break
    return OptimizerPath(method, float(lr), np.array(weights), np.array(losses))


def steps_to_reach(path: OptimizerPath, target_loss: float) -> int | None:
    """The first step at which the loss is at or below ``target_loss`` (None if never) (Chapter 3)."""
    hit = np.flatnonzero(path.losses <= target_loss)
    return int(hit[0]) if hit.size else None


# --------------------------------------------------------------------------- mini-batch noise

def minibatch_gradient_spread(gradient: Callable[[np.ndarray, np.ndarray | None], np.ndarray], n_samples: int,
                              w: Sequence[float], batch_sizes: Sequence[int], *, draws: int = 200,
                              seed: int = 0) -> dict[int, float]:
    """How far a mini-batch gradient lands from the full-data gradient, on average, per batch size (Chapter 3).

    ``gradient(w, batch)`` is the mean gradient over the images ``batch`` (None: all of them).
    Returns the root-mean-square distance: it shrinks roughly as 1/√batch size.
    """
    rng = np.random.default_rng(seed)
    w = np.asarray(w, dtype=np.float64)
    full = np.asarray(gradient(w, None))
    out = {}
    for b in batch_sizes:
        if not 1 <= b <= n_samples:
            raise DataError(f"batch size {b} outside 1..{n_samples}", fix="use batch sizes up to the data size")
        dist = [np.sum((np.asarray(gradient(w, rng.choice(n_samples, b, replace=False))) - full) ** 2)
                for _ in range(draws)]
        out[int(b)] = float(np.sqrt(np.mean(dist)))
    return out


# --------------------------------------------------------------------------- vanishing gradients

class DeepMLP(nn.Module):
    """``depth`` hidden layers of ``width`` units with sigmoid or ReLU, optionally residual (x + f(x)) (Chapter 3).

    Weights start as each activation's textbook initialisation (Glorot for sigmoid, He for ReLU), so
    what the gradient norms show is the activation's doing, not a bad start.
    """

    def __init__(self, depth: int = 20, width: int = 32, activation: str = "sigmoid", residual: bool = False,
                 in_features: int = 16):
        super().__init__()
        if activation not in ("sigmoid", "relu"):
            raise DataError(f"activation {activation!r}", fix="use 'sigmoid' or 'relu'")
        self.inp = nn.Linear(in_features, width)
        self.hidden = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.out = nn.Linear(width, 1)
        self.act = torch.sigmoid if activation == "sigmoid" else torch.relu
        self.residual = residual
        for layer in (self.inp, *self.hidden, self.out):     # the usual start for each activation
            if activation == "relu":
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")     # He et al. 2015
            else:
                nn.init.xavier_normal_(layer.weight)                             # Glorot & Bengio 2010
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.inp(x))
        for layer in self.hidden:
            h = h + self.act(layer(h)) if self.residual else self.act(layer(h))
        return self.out(h)


def layer_gradient_norms(activation: str = "sigmoid", *, residual: bool = False, depth: int = 20, width: int = 32,
                         n: int = 256, seed: int = 0) -> np.ndarray:
    """One backward pass of BCE through a fresh :class:`DeepMLP`; the gradient norm of each hidden layer's
    weights, first (next to the input) to last (Chapter 3)."""
    torch.manual_seed(seed)
    net = DeepMLP(depth, width, activation, residual)
    x = torch.randn(n, 16)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).float()[:, None]       # a learnable rule, so the loss has a direction
    loss = nn.functional.binary_cross_entropy_with_logits(net(x), y)
    loss.backward()
    return np.array([float(layer.weight.grad.norm()) for layer in net.hidden])


__all__ = ["DeepMLP", "OPTIMIZERS", "OptimizerPath", "autograd_gradients", "backward_by_hand", "forward_by_hand",
           "layer_gradient_norms", "minibatch_gradient_spread", "optimize", "soft_dice_loss", "steps_to_reach",
           "tiny_network"]
