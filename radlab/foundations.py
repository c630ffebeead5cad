"""The foundations under a CNN: the perceptron, XOR, and why depth helps.

A single neuron draws one straight line through feature space, so it cannot separate
classes that need two lines (XOR); a hidden layer can. One hidden layer can approximate
any continuous function (universal approximation), but it may need very many units: a
zig-zag with 2^L straight pieces needs 2^L − 1 ReLU units in one layer, and only L layers
of 2 units when the layers are stacked. Chapter 2 (``course/02_handcrafted_to_learned_features``)
runs each of these; the constructions are exact and the trainings are measured.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from radlab.errors import DataError

#: The four corners of the unit square and the labels of three logic gates.
GATE_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
GATES = {"AND": np.array([0, 0, 0, 1]), "OR": np.array([0, 1, 1, 1]), "XOR": np.array([0, 1, 1, 0])}


# --------------------------------------------------------------------------- perceptron

@dataclass
class PerceptronResult:
    """Rosenblatt's perceptron after training: its weights, bias and the mistakes it made in each epoch (Chapter 2)."""

    weights: np.ndarray
    bias: float
    errors_per_epoch: list[int]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Step function of the weighted sum: 1 on one side of the line, 0 on the other."""
        return (np.asarray(x) @ self.weights + self.bias > 0).astype(np.int64)

    @property
    def converged(self) -> bool:
        return bool(self.errors_per_epoch) and self.errors_per_epoch[-1] == 0


def train_perceptron(x: np.ndarray, y: np.ndarray, *, epochs: int = 20, lr: float = 1.0) -> PerceptronResult:
    """Rosenblatt's rule, one example at a time: w ← w + lr·(y − ŷ)·x, b ← b + lr·(y − ŷ) (Chapter 2)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.int64)
    if x.ndim != 2 or len(x) != len(y):
        raise DataError(f"x {x.shape} and y {y.shape} do not match", fix="pass x (N, features) and y (N,)")
    w, b, errors = np.zeros(x.shape[1]), 0.0, []
    for _ in range(epochs):
        wrong = 0
        for xi, yi in zip(x, y):
            y_hat = int(xi @ w + b > 0)
            if y_hat != yi:
                w, b, wrong = w + lr * (yi - y_hat) * xi, b + lr * (yi - y_hat), wrong + 1
        errors.append(wrong)
        if wrong == 0:
            break
    return PerceptronResult(w, float(b), errors)


def xor_by_hand(x: np.ndarray) -> np.ndarray:
    """XOR from two hidden neurons with chosen weights: OR minus AND (Chapter 2)."""
    x = np.asarray(x, dtype=np.float64)
    h_or = (x[:, 0] + x[:, 1] - 0.5 > 0).astype(np.float64)      # fires if at least one input is 1
    h_and = (x[:, 0] + x[:, 1] - 1.5 > 0).astype(np.float64)     # fires only if both are 1
    return (h_or - h_and - 0.5 > 0).astype(np.int64)             # at least one, but not both


def train_xor_mlp(hidden: int = 2, *, seed: int = 0, steps: int = 500, lr: float = 0.05) -> float:
    """Train a 2-``hidden``-1 network (tanh, BCE, Adam) on XOR; return its accuracy on the 4 corners (Chapter 2)."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 1))
    x = torch.tensor(GATE_INPUTS, dtype=torch.float32)
    y = torch.tensor(GATES["XOR"], dtype=torch.float32)[:, None]
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(net(x), y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float(((net(x) > 0).float() == y).float().mean())


# --------------------------------------------------------------------------- depth

def sawtooth(x: np.ndarray, teeth_log2: int) -> np.ndarray:
    """The tent map applied ``teeth_log2`` times on [0, 1]: a zig-zag with 2**teeth_log2 straight pieces (Chapter 2)."""
    y = np.asarray(x, dtype=np.float64)
    for _ in range(teeth_log2):
        y = np.where(y < 0.5, 2 * y, 2 - 2 * y)
    return y


def deep_sawtooth_net(teeth_log2: int) -> nn.Sequential:
    """An exact ReLU network for :func:`sawtooth`: ``teeth_log2`` hidden layers of 2 units (Chapter 2).

    Each layer computes the tent map t(u) = 2·relu(u) − 4·relu(u − ½) of the previous output.
    """
    layers: list[nn.Module] = []
    for k in range(teeth_log2):
        lin = nn.Linear(1 if k == 0 else 2, 2)
        with torch.no_grad():
            prev = torch.tensor([[1.0]]) if k == 0 else torch.tensor([[2.0, -4.0]])   # rebuild t(u) from the 2 units
            lin.weight.copy_(torch.ones(2, 1) @ prev)
            lin.bias.copy_(torch.tensor([0.0, -0.5]))
        layers += [lin, nn.ReLU()]
    out = nn.Linear(2, 1)
    with torch.no_grad():
        out.weight.copy_(torch.tensor([[2.0, -4.0]]))
        out.bias.zero_()
    return nn.Sequential(*layers, out)


def shallow_sawtooth_net(teeth_log2: int) -> nn.Sequential:
    """An exact one-hidden-layer ReLU network for :func:`sawtooth`: one unit per kink, 2**teeth_log2 − 1 of them
    plus one for the first slope (Chapter 2)."""
    n = 2 ** teeth_log2
    kinks = np.arange(n) / n                              # 0 and the n − 1 corners of the zig-zag
    slopes = np.where(np.arange(n) % 2 == 0, n, -n).astype(np.float64)
    change = np.diff(np.concatenate([[0.0], slopes]))     # how much the slope changes at each kink
    hidden = nn.Linear(1, n)
    out = nn.Linear(n, 1)
    with torch.no_grad():
        hidden.weight.fill_(1.0)
        hidden.bias.copy_(torch.tensor(-kinks, dtype=torch.float32))
        out.weight.copy_(torch.tensor(change, dtype=torch.float32)[None])
        out.bias.zero_()
    return nn.Sequential(hidden, nn.ReLU(), out)


def count_parameters(net: nn.Module) -> int:
    """Number of learnable numbers (weights and biases) in a network (Chapter 2)."""
    return int(sum(p.numel() for p in net.parameters()))


def max_error(net: nn.Module, teeth_log2: int, n: int = 4097) -> float:
    """Largest |network − sawtooth| on a fine grid of [0, 1] (Chapter 2)."""
    x = np.linspace(0, 1, n)
    with torch.no_grad():
        y = net(torch.tensor(x, dtype=torch.float32)[:, None])[:, 0].double().numpy()
    return float(np.abs(y - sawtooth(x, teeth_log2)).max())


def shallow_least_squares(teeth_log2: int, width: int, *, n: int = 2048) -> float:
    """Best one-hidden-layer fit of the sawtooth with ``width`` ReLU units whose kinks are spread evenly
    over [0, 1] (output weights by least squares); returns the mean squared error (Chapter 2)."""
    if width < 1:
        raise DataError(f"width must be at least 1, got {width}", fix="e.g. width=8")
    x = np.linspace(0, 1, n)
    kinks = np.arange(width) / width
    design = np.concatenate([np.maximum(x[:, None] - kinks[None], 0.0), np.ones((n, 1))], axis=1)
    target = sawtooth(x, teeth_log2)
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    return float(np.mean((design @ coef - target) ** 2))


def shallow_units_needed(teeth_log2: int, *, target_mse: float = 1e-4, max_width: int = 4096) -> int:
    """The fewest evenly spaced ReLU units in one hidden layer whose least-squares fit reaches ``target_mse`` (Chapter 2)."""
    for width in range(1, max_width + 1):
        if shallow_least_squares(teeth_log2, width) < target_mse:
            return width
    raise DataError(f"no width up to {max_width} reaches MSE {target_mse}", fix="raise max_width or target_mse")


__all__ = ["GATES", "GATE_INPUTS", "PerceptronResult", "count_parameters", "deep_sawtooth_net",
           "max_error", "sawtooth", "shallow_least_squares", "shallow_sawtooth_net", "shallow_units_needed",
           "train_perceptron", "train_xor_mlp", "xor_by_hand"]
