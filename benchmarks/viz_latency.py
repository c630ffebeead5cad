"""How long a student waits after touching a control: recompute + update the live figure data.

Measured with two torch threads, as on the course's 2-core machines, over ~50 changes each:
(a) the convolution playground after a kernel entry is typed (feature map, pooled map and
the step view), (b) a GapCNN's feature maps for a new 64×64 image (one forward pass plus
every figure of Lab 6) and for another channel of the same image (a slice of the cache),
(c) a Grad-CAM heatmap for a new image, when ``radlab.explain`` is installed (also with one
thread, for comparison: the feature-map view runs its single-image forward pass on one).
Prints ``name: value`` lines in milliseconds; the goal is ≤ 100 ms each.

    python benchmarks/viz_latency.py [--repeats 50]
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np
import torch

GOAL_MS = 100.0


def timed(action: Callable[[int], object], repeats: int, warmup: int = 3) -> np.ndarray:
    """Milliseconds of ``action(i)`` for i = 0..repeats-1, after a few warm-up calls."""
    for i in range(warmup):
        action(-1 - i)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        action(i)
        times.append((time.perf_counter() - start) * 1000)
    return np.array(times)


def report(name: str, times: np.ndarray) -> None:
    print(f"{name}_median_ms: {np.median(times):.1f}")
    print(f"{name}_p95_ms: {np.percentile(times, 95):.1f}")


def images_64(n: int, seed: int = 0) -> np.ndarray:
    """n distinct 64×64 chest phantoms in [0, 1] (distinct, so no cache can answer)."""
    from radlab.data.phantoms import make_phantoms

    chest = make_phantoms("chest", n_patients=n, images_per_patient=1, size=64, seed=seed)
    return np.clip(chest.images, 0, 1).astype(np.float32)


def bench_playground(repeats: int) -> None:
    from radlab.widgets.conv_playground import ConvPlaygroundLab

    image = images_64(1)[0]
    lab = ConvPlaygroundLab({"chest phantom 64×64": image})
    lab.padding_slider.value = 1
    lab.position_slider.value = 64 * 32 + 20
    box = lab.kernel_boxes[4]
    report("conv_playground_kernel_edit", timed(lambda i: setattr(box, "value", float(i % 7) - 3.0), repeats))


def bench_feature_maps(repeats: int) -> None:
    from radlab.models.cnn import GapCNN
    from radlab.widgets.inside import InsideCNNLab

    torch.manual_seed(0)
    model = GapCNN()
    images = images_64(repeats + 4, seed=1)
    lab = InsideCNNLab(model, images)
    n = len(images)
    report("feature_maps_new_image", timed(lambda i: setattr(lab.image_slider, "value", i % n), repeats))
    channels = lab.layer.n_kernels
    report("feature_maps_channel_change", timed(lambda i: setattr(lab.channel_slider, "value", i % channels), repeats))
    names = lab.layer_names
    report("feature_maps_layer_change", timed(lambda i: setattr(lab.layer_dropdown, "value", names[i % len(names)]),
                                              repeats))


def bench_grad_cam(repeats: int) -> None:
    try:
        from radlab.explain import grad_cam
    except ImportError as exc:
        print(f"grad_cam: missing ({exc})")
        return
    import plotly.graph_objects as go

    from radlab.models.cnn import GapCNN
    from radlab.viz.conv import packed

    torch.manual_seed(0)
    model = GapCNN()
    images = images_64(repeats + 4, seed=2)
    fig = go.FigureWidget(data=[go.Heatmap(z=images[0], colorscale="gray", showscale=False),
                                go.Heatmap(z=np.zeros((64, 64)), colorscale="Jet", opacity=0.4, showscale=False)])

    def show_cam(i: int) -> None:
        heat = grad_cam(model, images[i % len(images)][None, None])[0]
        with fig.batch_update():
            fig.data[0].update(packed({"z": images[i % len(images)]}))
            fig.data[1].update(packed({"z": heat}))

    report("grad_cam_new_image", timed(show_cam, repeats))
    torch.set_num_threads(1)    # for comparison: one image is too small to share between threads
    report("grad_cam_new_image_1_thread", timed(show_cam, repeats))
    torch.set_num_threads(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"torch_threads: {torch.get_num_threads()}")
    print(f"goal_ms: {GOAL_MS:.0f}")
    bench_playground(args.repeats)
    bench_feature_maps(args.repeats)
    bench_grad_cam(args.repeats)


if __name__ == "__main__":
    main()
