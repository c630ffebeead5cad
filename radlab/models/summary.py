"""A model summary that teaches: what each layer outputs, learns, is set to, and can see.

For every layer the input passes through (in the order it passes):

- **output shape** (channels × height × width, batch left out);
- **learnable parameters**: the kernels of a convolution, the weights of a fully
  connected layer, biases, batch norm's scale and shift. Training fits these.
- **hyperparameters**: kernel size, stride, padding, number of kernels, pooling,
  activation, dropout. *You* choose these before training (Yamashita et al., 2018, Table 1).
- **receptive field**: the side, in input pixels, of the patch one output value depends
  on. With ``r`` the receptive field and ``j`` the distance in input pixels between two
  neighbouring outputs ("jump"), a layer with kernel ``k``, stride ``s`` and dilation
  ``d`` gives ``r_out = r_in + (k - 1)·d·j_in`` and ``j_out = j_in·s``. Global pooling
  and flattening see the whole image. In networks with branches (residual shortcuts,
  U-Net skips) the value follows the longest path.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go
import torch
from torch import nn

from radlab.device import evaluating

#: What training learns vs what the designer sets (the reviews' Table 1), shown under the summary.
PARAMETERS_VS_HYPERPARAMETERS: dict[str, tuple[str, str]] = {
    "convolution layer": ("kernels (and biases)", "kernel size, number of kernels, stride, padding, activation"),
    "pooling layer": ("none", "pooling method, filter size, stride, padding"),
    "fully connected layer": ("weights (and biases)", "number of weights, activation"),
    "others": ("", "architecture, optimizer, learning rate, loss, batch size, epochs, "
                   "regularisation, weight initialisation, data split"),
}

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_T = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_POOL = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
_ADAPTIVE = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
             nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
_NORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm,
         nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)
_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Softmax, nn.PReLU)
_DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)


@dataclass
class LayerRow:
    """One layer call of the forward pass."""

    name: str                        # module path, e.g. "features.0.0"
    layer: str                       # class name, e.g. "Conv2d"
    output_shape: tuple[int, ...]    # without the batch axis
    hyperparameters: str             # what the designer set
    learnable: str                   # what training fits, in words
    params: int                      # learnable values (counted at a module's first call only)
    trainable: int                   # of which requires_grad (not frozen)
    receptive_field: int | None      # side of the input patch one output value sees, in pixels
    jump: float | None               # input pixels between neighbouring outputs


@dataclass
class ModelSummary:
    """The rows of :func:`summary` plus totals; ``to_text()`` and ``to_figure()`` show them."""

    model_name: str
    input_size: tuple[int, ...]
    rows: list[LayerRow]
    total_params: int
    trainable_params: int
    output_shape: tuple[int, ...] = field(default=())

    def to_text(self) -> str:
        """A fixed-width table, one line per layer, then the totals and what they mean."""
        head = ("#", "layer", "type", "output", "hyperparameters", "learnable", "params", "RF")
        lines = [(str(i), r.name, r.layer, _shape(r.output_shape), r.hyperparameters, r.learnable,
                  f"{r.params:,}", _rf(r.receptive_field)) for i, r in enumerate(self.rows, 1)]
        widths = [max(len(h), *(len(line[k]) for line in lines)) if lines else len(h) for k, h in enumerate(head)]
        fmt = "  ".join(f"{{:{'>' if k in (0, 6, 7) else '<'}{w}}}" for k, w in enumerate(widths))
        out = [f"{self.model_name} — input {_shape(self.input_size)}", fmt.format(*head),
               "  ".join("-" * w for w in widths)]
        out += [fmt.format(*line) for line in lines]
        frozen = self.total_params - self.trainable_params
        out.append(f"Total learnable parameters: {self.total_params:,} "
                   f"(trainable {self.trainable_params:,}, frozen {frozen:,}); output {_shape(self.output_shape)}")
        out.append("Learnable parameters (kernels, weights, biases) are fitted by training; "
                   "hyperparameters (kernel size, stride, padding, number of kernels, pooling, "
                   "activation) are chosen before training. RF = receptive field in input pixels.")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_text()

    def to_figure(self) -> go.Figure:
        """The same table as a plotly figure (one go.Table)."""
        columns = {
            "#": list(range(1, len(self.rows) + 1)),
            "layer": [r.name for r in self.rows],
            "type": [r.layer for r in self.rows],
            "output shape": [_shape(r.output_shape) for r in self.rows],
            "hyperparameters (you choose)": [r.hyperparameters for r in self.rows],
            "learnable parameters (training fits)": [r.learnable for r in self.rows],
            "# params": [f"{r.params:,}" for r in self.rows],
            "receptive field (px)": [_rf(r.receptive_field) for r in self.rows],
        }
        table = go.Table(
            name="layers", columnwidth=[28, 110, 80, 90, 230, 200, 70, 80],
            header=dict(values=[f"<b>{c}</b>" for c in columns], fill_color="#e8eef7", align="left"),
            cells=dict(values=list(columns.values()), align="left", height=22))
        title = (f"{self.model_name}: {self.total_params:,} learnable parameters "
                 f"({self.trainable_params:,} trainable) — input {_shape(self.input_size)}")
        return go.Figure(data=[table], layout=dict(title=title, height=min(900, 120 + 24 * len(self.rows)),
                                                   margin=dict(l=10, r=10, t=50, b=10)))


def _shape(shape: Sequence[int]) -> str:
    return "×".join(str(s) for s in shape) if shape else "—"


def _rf(rf: int | None) -> str:
    return "—" if rf is None else str(rf)


def _first(value: Any) -> int:
    """The first entry of a kernel/stride/padding that may be an int or a tuple."""
    return int(value[0] if isinstance(value, (tuple, list)) else value)


def describe_layer(module: nn.Module) -> tuple[str, str]:
    """(hyperparameters, learnable parameters) of one layer, in words."""
    if isinstance(module, _CONV + _CONV_T):
        k = "×".join(str(v) for v in module.kernel_size)
        hyper = f"{module.out_channels} kernels {k}, stride {_first(module.stride)}, padding {_first(module.padding)}"
        if isinstance(module, _CONV_T):
            hyper = f"{module.out_channels} kernels {k}, stride {_first(module.stride)} (up-sampling)"
        if _first(module.dilation) != 1:
            hyper += f", dilation {_first(module.dilation)}"
        if module.groups != 1:
            hyper += f", groups {module.groups}"
        shape = "×".join(str(v) for v in module.weight.shape)
        learn = f"kernels {shape}" + (f" + {module.bias.numel()} biases" if module.bias is not None else "")
        return hyper, learn
    if isinstance(module, nn.Linear):
        learn = f"weights {module.out_features}×{module.in_features}"
        learn += f" + {module.out_features} biases" if module.bias is not None else ""
        return f"{module.in_features} → {module.out_features} units", learn
    if isinstance(module, _POOL):
        kind = "max" if "Max" in type(module).__name__ else "average"
        k, s = _first(module.kernel_size), _first(module.stride or module.kernel_size)
        return f"{kind} pooling {k}×{k}, stride {s}", "none"
    if isinstance(module, _ADAPTIVE):
        kind = "max" if "Max" in type(module).__name__ else "average"
        size = module.output_size
        if size == 1 or (isinstance(size, tuple) and all(v == 1 for v in size)):
            return f"global {kind} pooling (one number per feature map)", "none"
        return f"adaptive {kind} pooling to {size}", "none"
    if isinstance(module, _NORM):
        n = sum(p.numel() for p in module.parameters(recurse=False))
        return f"{type(module).__name__} (normalises each channel)", \
            (f"{n // 2} scales γ + {n // 2} shifts β" if n else "none")
    if isinstance(module, _ACTIVATIONS):
        return f"activation: {type(module).__name__}", "none" if not any(module.parameters()) else "slope"
    if isinstance(module, _DROPOUT):
        return f"dropout p = {module.p:g} (only while training)", "none"
    if isinstance(module, nn.Flatten):
        return "flatten feature maps into one vector", "none"
    if isinstance(module, nn.Identity):
        return "identity (passes the input on)", "none"
    n = sum(p.numel() for p in module.parameters(recurse=False))
    return type(module).__name__, (f"{n:,} values" if n else "none")


def receptive_field_step(module: nn.Module, r: float, j: float, in_shape: Sequence[int]) -> tuple[float, float]:
    """Receptive field ``r`` and jump ``j`` after ``module``, given them before it (see module docstring)."""
    spatial = list(in_shape[2:])                     # input (N, C, *spatial)
    if isinstance(module, _CONV):
        return r + (_first(module.kernel_size) - 1) * _first(module.dilation) * j, j * _first(module.stride)
    if isinstance(module, _CONV_T):                  # up-sampling: outputs are closer together
        j_out = j / _first(module.stride)
        return r + (_first(module.kernel_size) - 1) * j_out, j_out
    if isinstance(module, _POOL):
        k = _first(module.kernel_size)
        s = _first(module.stride or module.kernel_size)
        d = _first(getattr(module, "dilation", 1))
        return r + (k - 1) * d * j, j * s
    if isinstance(module, _ADAPTIVE) or (isinstance(module, nn.Flatten) and spatial):
        n = spatial[0] if spatial else 1             # global pooling / flattening sees every position
        out = module.output_size if isinstance(module, _ADAPTIVE) else 1
        out = _first(out) if out is not None else n
        k = -(-n // out)                              # ceil(n / out)
        return r + (k - 1) * j, j * max(1, n // out)
    if isinstance(module, nn.Upsample) and module.scale_factor:
        return r, j / float(_first(module.scale_factor))
    return r, j


def _batched_size(model: nn.Module, input_size: Sequence[int]) -> tuple[int, ...]:
    """``input_size`` with a batch axis of 1 in front, unless it already has one."""
    size = tuple(int(v) for v in input_size)
    for module in model.modules():
        if isinstance(module, _CONV + _CONV_T):
            spatial = len(module.kernel_size)
            if len(size) == spatial + 2:
                return size
            if len(size) == spatial + 1:
                return (1, *size)
            raise ValueError(f"input_size {size} does not fit {type(module).__name__}: give (C, "
                             + ", ".join("HWD"[:spatial]) + ") or with a batch axis in front")
    return size if len(size) >= 2 else (1, *size)


def summary(model: nn.Module, input_size: Sequence[int] | torch.Tensor) -> ModelSummary:
    """Run one input of ``input_size`` (e.g. ``(1, 28, 28)``) through ``model`` and describe every layer.

    A tensor may be given instead of a size. The model is run in eval mode without
    gradients and put back in the mode it was in.
    """
    # Long on purpose (~75 lines): the forward hooks below share the receptive-field state
    # (rf, jump per tensor) and the set of modules already counted; as closures over one
    # run they stay correct for shared modules and skip connections.
    if isinstance(input_size, torch.Tensor):
        x = input_size if input_size.ndim > 1 else input_size[None]
    else:
        x = torch.zeros(_batched_size(model, input_size))
    try:
        x = x.to(next(model.parameters()).device)
    except StopIteration:
        pass

    rows: list[LayerRow] = []
    rf: dict[int, tuple[float, float, torch.Tensor]] = {id(x): (1.0, 1.0, x)}   # tensor id -> (r, j, tensor)
    last = [(1.0, 1.0)]                         # fallback for tensors made by functional ops (x + y, cat)
    counted: set[int] = set()
    starts: dict[int, list[int]] = {}           # container id -> stack of row indices where its calls began
    names = {id(m): n for n, m in model.named_modules()}

    def remember(tensor: Any, r: float, j: float) -> None:
        if isinstance(tensor, torch.Tensor):
            rf[id(tensor)] = (r, j, tensor)     # the tensor is kept alive so its id stays unique
            last[0] = (r, j)

    def pre_container(module: nn.Module, inputs: tuple) -> None:
        starts.setdefault(id(module), []).append(len(rows))

    def post_container(module: nn.Module, inputs: tuple, output: Any) -> None:
        start = starts[id(module)].pop()
        inside = [row for row in rows[start:] if row.receptive_field is not None]
        if isinstance(output, torch.Tensor) and id(output) not in rf and inside:
            deepest = max(inside, key=lambda row: row.receptive_field)   # the longest path wins
            remember(output, float(deepest.receptive_field), float(deepest.jump))

    def post_leaf(module: nn.Module, inputs: tuple, output: Any) -> None:
        first = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
        r_in, j_in = rf[id(first)][:2] if first is not None and id(first) in rf else last[0]
        r, j = receptive_field_step(module, r_in, j_in, tuple(first.shape) if first is not None else ())
        own = list(module.parameters(recurse=False))
        new = id(module) not in counted
        counted.add(id(module))
        hyper, learn = describe_layer(module)
        shape = tuple(output.shape[1:]) if isinstance(output, torch.Tensor) else ()
        rows.append(LayerRow(
            name=names.get(id(module), type(module).__name__), layer=type(module).__name__,
            output_shape=shape, hyperparameters=hyper, learnable=learn if new else "(shared, counted above)",
            params=sum(p.numel() for p in own) if new else 0,
            trainable=sum(p.numel() for p in own if p.requires_grad) if new else 0,
            receptive_field=int(round(r)), jump=j))
        remember(output, r, j)

    handles = []
    for module in model.modules():
        if len(list(module.children())) == 0:
            handles.append(module.register_forward_hook(post_leaf))
        else:
            handles.append(module.register_forward_pre_hook(pre_container))
            handles.append(module.register_forward_hook(post_container))
    try:
        with evaluating(model), torch.no_grad():
            out = model(x)
    finally:
        for h in handles:
            h.remove()

    params = list(model.parameters())
    return ModelSummary(
        model_name=type(model).__name__, input_size=tuple(x.shape[1:]), rows=rows,
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        output_shape=tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else ())
