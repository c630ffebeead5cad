"""Mini-batches for training: in-memory tensors are sliced directly, torch Datasets go through a DataLoader.

Also the checks ``fit`` makes on its data (an ``(x, y)`` pair of float images with one
target each) and the target format each task's loss wants.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from radlab.errors import DataError


class TensorBatches:
    """Mini-batches of in-memory tensors by index slicing (faster than a DataLoader on CPU)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle: bool,
                 generator: torch.Generator | None = None):
        self.x, self.y, self.batch_size, self.shuffle, self.generator = x, y, batch_size, shuffle, generator

    def __len__(self) -> int:
        n, bs = len(self.x), self.batch_size
        # Training skips a last batch of one image: batch norm cannot normalise a single image.
        return n // bs + (1 if n % bs > (1 if self.shuffle else 0) else 0)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.x)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.x.device)
            for b in range(len(self)):
                idx = order[b * self.batch_size:(b + 1) * self.batch_size]
                yield self.x[idx], self.y[idx]
        else:
            for start in range(0, n, self.batch_size):
                yield self.x[start:start + self.batch_size], self.y[start:start + self.batch_size]


class LoaderBatches:
    """Mini-batches from a torch Dataset, moved to the device and given the task's target format."""

    def __init__(self, dataset: Dataset, batch_size: int, *, shuffle: bool, device: torch.device,
                 prepare: Callable[[torch.Tensor], torch.Tensor], generator: torch.Generator | None = None):
        n = len(dataset)  # type: ignore[arg-type]
        self.loader = DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                                 drop_last=shuffle and n % batch_size == 1,
                                 pin_memory=device.type == "cuda")
        self.device, self.prepare = device, prepare

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for xb, yb in self.loader:
            yield (xb.to(self.device, non_blocking=True).float(),
                   self.prepare(torch.as_tensor(yb)).to(self.device, non_blocking=True))


def as_tensor_pair(data: Any, role: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Check an ``(x, y)`` pair and return it as tensors (x float32)."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise DataError(f"{role} data must be an (x, y) pair or a torch Dataset, got {type(data).__name__}",
                        fix=f"pass {role}=(x_{role}, y_{role})")
    x, y = (v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v)) for v in data)
    if x.ndim not in (4, 5):
        raise DataError(f"{role} images have shape {tuple(x.shape)}; a CNN wants (N, C, H, W)",
                        fix="add the channel axis with radlab.data.transforms.to_model_input(images, units=...)")
    if not x.is_floating_point():
        raise DataError(f"{role} images are {x.dtype}, not floats in [0, 1]",
                        fix="convert with radlab.data.transforms.to_model_input(images, units='uint8')")
    if len(x) != len(y):
        raise DataError(f"{role} has {len(x)} images but {len(y)} targets",
                        fix="pass one target (label, mask or clean image) per image")
    if len(x) == 0:
        raise DataError(f"{role} data is empty", fix=f"give {role} at least one image")
    return x.float(), y


def first_input(data: Any) -> torch.Tensor:
    """One input image with a batch axis, to ask the model what its output looks like."""
    if isinstance(data, Dataset):
        return torch.as_tensor(data[0][0]).float().unsqueeze(0)
    return as_tensor_pair(data, "val")[0][:1]


def target_converter(task: str, kind: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return a function giving targets the form the task's loss wants."""
    if kind == "binary":
        return lambda y: y.reshape(len(y), 1).float()
    if kind == "multiclass":
        return lambda y: y.reshape(len(y)).long()
    if kind == "multilabel":
        return lambda y: y.float()
    if task == "segmentation":
        return lambda y: (y.unsqueeze(1) if y.ndim == 3 else y).float()
    return lambda y: y.float()  # denoising: the clean image


def classification_kind(out_width: int, y_example: torch.Tensor | None) -> str:
    """binary (1 logit), multi-label (K logits, K-column targets) or multi-class (K logits, one label)."""
    if out_width == 1:
        return "binary"
    if y_example is not None and y_example.ndim == 2 and y_example.shape[1] == out_width:
        return "multilabel"
    return "multiclass"


__all__ = ["LoaderBatches", "TensorBatches", "as_tensor_pair", "classification_kind", "first_input",
           "target_converter"]
