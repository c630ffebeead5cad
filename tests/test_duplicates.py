"""Near-duplicates: planted copies (shifted, cropped, rotated, scaled, mirrored, re-windowed, JPEG)
of real PneumoniaMNIST images are found, real different images are not; compared with imagededup.

``pytest -s`` prints recall per change and false positives for RadLab and for imagededup's
perceptual hash (PHash, its default distance threshold 10).
"""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from radlab.data.duplicates import DEFAULT_THRESHOLD, NearDuplicate, find_near_duplicates
from radlab.data.splits import Split, check_leakage


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def shift(img, rng):  # 1-3 px down or up, 0-3 px sideways
    dy, dx = rng.integers(1, 4) * rng.choice([-1, 1]), rng.integers(0, 4) * rng.choice([-1, 1])
    return _u8(ndimage.shift(img.astype(float), (dy, dx), order=1, mode="nearest"))


def crop(img, rng):  # 1-3 px cut per axis, split between the sides, resized back
    h, w = img.shape
    cut_y, cut_x = rng.integers(1, 4, size=2)
    t, left = rng.integers(0, cut_y + 1), rng.integers(0, cut_x + 1)
    sub = img[t:h - (cut_y - t), left:w - (cut_x - left)]
    return np.asarray(Image.fromarray(sub).resize((w, h), Image.BILINEAR))


def rotate(img, rng):  # 2-5 degrees either way
    angle = rng.uniform(2, 5) * rng.choice([-1, 1])
    return _u8(ndimage.rotate(img.astype(float), angle, reshape=False, order=1, mode="nearest"))


def scale(img, rng):  # zoom 0.9-1.1 about the centre
    s, (h, w) = rng.uniform(0.9, 1.1), img.shape
    z = ndimage.zoom(img.astype(float), s, order=1)
    if s >= 1:
        y0, x0 = (z.shape[0] - h) // 2, (z.shape[1] - w) // 2
        return _u8(z[y0:y0 + h, x0:x0 + w])
    py, px = h - z.shape[0], w - z.shape[1]
    return _u8(np.pad(z, ((py // 2, py - py // 2), (px // 2, px - px // 2)), mode="edge"))


def flip(img, rng):
    return img[:, ::-1].copy()


def window(img, rng):  # contrast 0.7-1.3, brightness ±30, gamma 0.8-1.25
    gamma, contrast, bright = rng.uniform(0.8, 1.25), rng.uniform(0.7, 1.3), rng.uniform(-30, 30)
    return _u8(((img / 255.0) ** gamma * 255 - 128) * contrast + 128 + bright)


def jpeg(img, rng):  # JPEG quality 70-95
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(rng.integers(70, 96)))
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())))


CHANGES = {"shift": shift, "crop": crop, "rotate": rotate, "scale": scale, "flip": flip, "window": window,
           "jpeg": jpeg}
#: Least recall accepted per change (RadLab on 60 planted copies each, seed 0).
MIN_RECALL = {"shift": 0.9, "crop": 0.75, "rotate": 0.95, "scale": 0.85, "flip": 1.0, "window": 0.95, "jpeg": 0.95}


@pytest.fixture(scope="module")
def pneumonia(data_cache):
    from radlab.data.medmnist import load_medmnist

    data = load_medmnist("pneumoniamnist")
    return data.train.images, np.concatenate([data.val.images, data.test.images])


@pytest.fixture(scope="module")
def planted(pneumonia):
    """60 train images per change, each copied once with that change: (sources, copies, change names)."""
    train, _ = pneumonia
    rng = np.random.default_rng(0)
    sources, copies, names = [], [], []
    for name, change in CHANGES.items():
        for i in rng.choice(len(train), 60, replace=False):
            sources.append(int(i))
            copies.append(change(train[i], rng))
            names.append(name)
    return np.array(sources), np.stack(copies), np.array(names)


def _recall(found: set[tuple[int, int]], sources, names) -> dict[str, float]:
    hit = np.array([(s, j) in found for j, s in enumerate(sources)])
    return {name: float(hit[names == name].mean()) for name in CHANGES}


def test_planted_copies_are_found_and_nothing_else(pneumonia, planted):
    train, _ = pneumonia
    sources, copies, names = planted
    found = find_near_duplicates(train, copies)
    pairs = {(p.index_a, p.index_b) for p in found}
    recall = _recall(pairs, sources, names)
    false = [p for p in found if p.index_a != sources[p.index_b]
             and not np.array_equal(train[p.index_a], train[sources[p.index_b]])]
    print("\nRadLab recall:", {k: round(v, 3) for k, v in recall.items()}, "false positives:", len(false))
    assert false == []
    for name, least in MIN_RECALL.items():
        assert recall[name] >= least, (name, recall[name])
    flipped = [p for p in found if names[p.index_b] == "flip"]
    assert flipped and all(p.flipped for p in flipped)
    shifted = next(p for p in found if names[p.index_b] == "shift")
    assert "shifted" in shifted.describe() and isinstance(shifted, NearDuplicate)


def test_check_leakage_reports_a_shifted_copy_in_another_split(pneumonia):
    train, _ = pneumonia
    images = np.concatenate([train[:300], shift(train[7], np.random.default_rng(3))[None]])
    split = Split(train=np.arange(250), val=np.arange(250, 300), test=[300], seed=0, method="manual")
    report = check_leakage(split, images=images)
    near = report.near_duplicate_images[("train", "test")]
    assert [(p.index_a, p.index_b) for p in near] == [(7, 300)]
    assert near[0].similarity >= DEFAULT_THRESHOLD and not report.ok
    assert "shifted" in str(report)


def test_imagededup_peer_on_the_same_planted_copies(pneumonia, planted):
    """The maintained peer (imagededup's perceptual hash) on the same cases, for the report.

    It must find the exact-geometry changes; its false positives among real different
    images are counted (RadLab's are zero: tests/test_splits.py and the test above).
    """
    imagededup = pytest.importorskip("imagededup.methods")
    train, others = pneumonia
    sources, copies, names = planted
    phash = imagededup.PHash(verbose=False)
    code = lambda img: phash.encode_image(image_array=np.repeat(img[..., None], 3, axis=2))  # noqa: E731
    encodings = {f"t{i}": code(img) for i, img in enumerate(train)}
    encodings.update({f"c{j}": code(img) for j, img in enumerate(copies)})
    encodings.update({f"o{j}": code(img) for j, img in enumerate(others)})
    dups = phash.find_duplicates(encoding_map=encodings, max_distance_threshold=10)
    pairs = {(int(t[1:]), int(k[1:])) for k, v in dups.items() if k[0] == "c" for t in v if t[0] == "t"}
    recall = _recall(pairs, sources, names)
    false_copies = sum(1 for i, j in pairs if i != sources[j])
    false_real = sum(1 for k, v in dups.items() if k[0] == "o" for t in v
                     if t[0] == "t" and not np.array_equal(others[int(k[1:])], train[int(t[1:])]))
    print("\nimagededup PHash recall:", {k: round(v, 3) for k, v in recall.items()},
          f"false positives: {false_copies} copy pairs, {false_real} real val/test-train pairs")
    assert recall["window"] > 0.5 and recall["jpeg"] > 0.5  # the peer does work on photometric changes
