"""Hand-crafted ("radiomics") features and a classical classifier, set against a small CNN.

Radiomics turns a segmented lesion into a row of numbers a statistician can use:
first-order **intensity** statistics (mean HU, spread, skewness, histogram entropy),
**texture** (the grey-level co-occurrence matrix, GLCM: how often grey level *i* sits next
to grey level *j*) and **shape** (area, perimeter, how round, how convex). A classical
classifier (logistic regression) then learns from these few numbers. A CNN instead learns
its own features from the pixels. Chapter 2 (``course/02_handcrafted_to_learned_features``)
measures both on the same task. The GLCM is written out here by hand (tests compare it with
scikit-image's ``graycomatrix``); shape measures come from scikit-image's ``regionprops``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from radlab.errors import DataError

#: GLCM offsets (row step, column step) at distance 1, named by scikit-image's ``graycomatrix`` angles
#: (0, π/4, π/2, 3π/4). With a symmetric GLCM an offset and its opposite count the same pairs.
DIRECTIONS = {"0°": (0, 1), "45°": (1, 1), "90°": (1, 0), "135°": (1, -1)}


# --------------------------------------------------------------------------- intensity

def quantize(image: Any, *, lo: float, hi: float, levels: int = 16) -> np.ndarray:
    """Map intensities in [lo, hi] (HU or detector units) to grey levels 0..levels-1 (Chapter 2)."""
    if not hi > lo or levels < 2:
        raise DataError(f"need hi > lo and levels >= 2, got lo={lo}, hi={hi}, levels={levels}",
                        fix="e.g. quantize(image_hu, lo=-1000, hi=200, levels=16)")
    x = (np.asarray(image, dtype=np.float64) - lo) / (hi - lo)
    return np.clip((x * levels).astype(np.int64), 0, levels - 1)


def intensity_features(values: Any, *, bins: int = 32, lo: float | None = None,
                       hi: float | None = None) -> dict[str, float]:
    """First-order statistics of the pixels inside a region: mean, spread, shape of the histogram (Chapter 2)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size < 2:
        raise DataError(f"need at least 2 pixels for intensity features, got {v.size}",
                        fix="pass the pixels inside the lesion mask: image[mask]")
    mean, std = float(v.mean()), float(v.std())
    z = (v - mean) / std if std > 0 else np.zeros_like(v)
    counts, _ = np.histogram(v, bins=bins, range=(lo if lo is not None else v.min(),
                                                 hi if hi is not None else v.max() + 1e-9))
    p = counts[counts > 0] / v.size
    return {"mean": mean, "std": std, "p10": float(np.percentile(v, 10)), "p90": float(np.percentile(v, 90)),
            "skewness": float(np.mean(z**3)), "kurtosis": float(np.mean(z**4) - 3.0),
            "entropy": float(-(p * np.log2(p)).sum())}


# --------------------------------------------------------------------------- texture: GLCM

def glcm(levels_image: Any, offset: tuple[int, int] = (0, 1), *, levels: int = 16,
         mask: Any = None, symmetric: bool = True, normed: bool = True) -> np.ndarray:
    """The grey-level co-occurrence matrix, by hand: P[i, j] counts pixel pairs (grey i, its neighbour
    at ``offset`` grey j), both inside ``mask`` (Chapter 2; equals scikit-image's ``graycomatrix``)."""
    g = np.asarray(levels_image)
    if g.ndim != 2 or g.min() < 0 or g.max() >= levels:
        raise DataError(f"need a 2-D image of grey levels 0..{levels - 1}", fix="quantize(image, lo=..., hi=...) first")
    dr, dc = offset
    h, w = g.shape
    inside = np.ones_like(g, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    # the pairs (r, c) -> (r + dr, c + dc) that stay inside the image
    r0, r1 = max(0, -dr), min(h, h - dr)
    c0, c1 = max(0, -dc), min(w, w - dc)
    first, second = g[r0:r1, c0:c1], g[r0 + dr:r1 + dr, c0 + dc:c1 + dc]
    both = inside[r0:r1, c0:c1] & inside[r0 + dr:r1 + dr, c0 + dc:c1 + dc]
    counts = np.zeros((levels, levels), dtype=np.float64)
    np.add.at(counts, (first[both], second[both]), 1.0)
    if symmetric:
        counts = counts + counts.T               # count each pair both ways round
    if normed:
        total = counts.sum()
        counts = counts / total if total > 0 else counts
    return counts


def glcm_properties(p: Any) -> dict[str, float]:
    """Contrast, homogeneity, energy and correlation of a normalised GLCM (scikit-image's definitions; Chapter 2)."""
    p = np.asarray(p, dtype=np.float64)
    i, j = np.indices(p.shape)
    mu_i, mu_j = (i * p).sum(), (j * p).sum()
    sd_i, sd_j = np.sqrt(((i - mu_i) ** 2 * p).sum()), np.sqrt(((j - mu_j) ** 2 * p).sum())
    corr = ((i - mu_i) * (j - mu_j) * p).sum() / (sd_i * sd_j) if sd_i > 1e-12 and sd_j > 1e-12 else 1.0
    return {"contrast": float(((i - j) ** 2 * p).sum()),
            "homogeneity": float((p / (1.0 + (i - j) ** 2)).sum()),
            "energy": float(np.sqrt((p**2).sum())),
            "correlation": float(corr)}


def texture_features(image: Any, mask: Any = None, *, lo: float, hi: float, levels: int = 16) -> dict[str, float]:
    """GLCM properties averaged over the four directions, inside ``mask`` (Chapter 2)."""
    g = quantize(image, lo=lo, hi=hi, levels=levels)
    props = [glcm_properties(glcm(g, off, levels=levels, mask=mask)) for off in DIRECTIONS.values()]
    return {f"glcm_{k}": float(np.mean([p[k] for p in props])) for k in props[0]}


# --------------------------------------------------------------------------- shape

def shape_features(mask: Any) -> dict[str, float]:
    """Area, perimeter, circularity 4πA/P², solidity and eccentricity of the largest region (Chapter 2)."""
    from skimage.measure import label, regionprops  # noqa: PLC0415  (import cost only when used)

    m = np.asarray(mask, dtype=bool)
    regions = regionprops(label(m))
    if not regions:
        raise DataError("the mask is empty: no lesion to measure", fix="pass the mask of an image with a lesion")
    r = max(regions, key=lambda reg: reg.area)
    perimeter = max(float(r.perimeter), 1.0)
    return {"area_px": float(r.area), "perimeter_px": perimeter,
            "circularity": float(4 * np.pi * r.area / perimeter**2), "solidity": float(r.solidity),
            "eccentricity": float(r.eccentricity)}


# --------------------------------------------------------------------------- the table

def radiomics_features(image: Any, mask: Any = None, *, lo: float, hi: float, levels: int = 16,
                       shape: bool = True) -> dict[str, float]:
    """One image's feature row: intensity and texture inside ``mask`` (whole image if None), and shape (Chapter 2)."""
    img = np.asarray(image, dtype=np.float64)
    region = np.ones(img.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    row = {f"int_{k}": v for k, v in intensity_features(img[region], lo=lo, hi=hi).items()}
    row.update(texture_features(img, None if mask is None else region, lo=lo, hi=hi, levels=levels))
    if shape and mask is not None:
        row.update({f"shape_{k}": v for k, v in shape_features(region).items()})
    return row


def feature_table(images: Any, masks: Any = None, *, lo: float, hi: float, levels: int = 16,
                  shape: bool = True) -> tuple[np.ndarray, list[str]]:
    """Feature rows for a stack of images (and masks): an (N, F) array and the F feature names (Chapter 2)."""
    rows = [radiomics_features(im, None if masks is None else masks[k], lo=lo, hi=hi, levels=levels, shape=shape)
            for k, im in enumerate(images)]
    names = list(rows[0])
    return np.array([[r[n] for n in names] for r in rows], dtype=np.float64), names


def lesion_crops(images: Any, masks: Any, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """``size`` × ``size`` crops centred on each lesion's centroid (edges repeated), with their masks (Chapter 2)."""
    images, masks = np.asarray(images), np.asarray(masks, dtype=bool)
    half = size // 2
    pad_img = np.pad(images, ((0, 0), (half, half), (half, half)), mode="edge")
    pad_msk = np.pad(masks, ((0, 0), (half, half), (half, half)))
    crops, crop_masks = [], []
    for k in range(len(images)):
        rows, cols = np.nonzero(masks[k])
        if rows.size == 0:
            raise DataError(f"image {k} has no lesion to crop around", fix="keep only images with a lesion")
        r, c = int(round(rows.mean())) + half, int(round(cols.mean())) + half
        crops.append(pad_img[k, r - half:r - half + size, c - half:c - half + size])
        crop_masks.append(pad_msk[k, r - half:r - half + size, c - half:c - half + size])
    return np.stack(crops).astype(np.float32), np.stack(crop_masks)


def classical_classifier(*, C: float = 1.0, seed: int = 0) -> Any:
    """Standardise each feature, then logistic regression: the classical radiomics baseline (Chapter 2)."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
    from sklearn.pipeline import make_pipeline  # noqa: PLC0415
    from sklearn.preprocessing import StandardScaler  # noqa: PLC0415

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, random_state=seed))


# --------------------------------------------------------------------------- head to head

@dataclass
class HeadToHead:
    """Hand-crafted features + logistic regression vs a small CNN, on the same train/test images (Chapter 2)."""

    task: str
    n_train: int
    n_test: int
    auc_features: float
    auc_cnn: float
    seconds_features: float
    seconds_cnn: float
    feature_names: list[str] = field(default_factory=list)
    coefficients: np.ndarray | None = None      # the logistic regression's weight per (standardised) feature

    def __str__(self) -> str:
        return (f"{self.task}: {self.n_train} training / {self.n_test} test images — "
                f"radiomics + logistic regression AUC {self.auc_features:.3f} ({self.seconds_features:.1f} s), "
                f"small CNN AUC {self.auc_cnn:.3f} ({self.seconds_cnn:.1f} s)")


def _train_cnn(x_train, y_train, x_val, y_val, *, epochs: int, seed: int, width: int = 8) -> Any:
    """A small GAP CNN trained with radlab's fit (constant settings shared by both comparisons)."""
    from radlab.models import GapCNN  # noqa: PLC0415
    from radlab.device import seed_everything  # noqa: PLC0415
    from radlab.train import fit  # noqa: PLC0415

    seed_everything(seed)
    model = GapCNN(width=width, n_blocks=3)
    return fit(model, (x_train, y_train), (x_val, y_val), epochs=epochs, batch_size=32, lr=3e-3,
               augment=("flip",), seed=seed, save=False, progress=False, device="cpu").model


def _cnn_scores(model: Any, x: Any) -> np.ndarray:
    from radlab.train import predict  # noqa: PLC0415

    return np.asarray(predict(model, x, device="cpu")).reshape(-1)


def phantom_malignancy_task(n_patients: int = 120, *, size: int = 64, crop: int = 32,
                            seed: int = 0) -> dict[str, Any]:
    """CT phantoms where every patient has a nodule: crops, masks and benign (0) / malignant (1) labels,
    split by patient into train / val / test (Chapter 2)."""
    from radlab.data.phantoms import make_phantoms  # noqa: PLC0415
    from radlab.data.splits import split_by_patient  # noqa: PLC0415

    ph = make_phantoms("ct", n_patients=n_patients, images_per_patient=2, size=size, lesion_fraction=1.0, seed=seed)
    crops_hu, masks = lesion_crops(ph.images, ph.masks, crop)
    y = (ph.lesion_type == 2).astype(np.int64)
    split = split_by_patient(y, ph.patient_ids, seed=seed)
    return {"crops_hu": crops_hu, "masks": masks, "y": y, "split": split, "phantoms": ph}


def handcrafted_vs_cnn_phantoms(n_patients: int = 120, *, epochs: int = 8, seed: int = 0) -> HeadToHead:
    """Benign vs malignant CT nodules: radiomics features (in the mask) + logistic regression vs a CNN on the crop (Chapter 2)."""
    from radlab.data.transforms import to_model_input  # noqa: PLC0415
    from radlab.metrics import roc_auc  # noqa: PLC0415

    task = phantom_malignancy_task(n_patients, seed=seed)
    crops, masks, y, s = task["crops_hu"], task["masks"], task["y"], task["split"]
    t0 = time.perf_counter()
    X, names = feature_table(crops, masks, lo=-1000.0, hi=200.0)
    clf = classical_classifier(seed=seed).fit(X[s.train], y[s.train])
    auc_f = roc_auc(y[s.test], clf.predict_proba(X[s.test])[:, 1])
    t1 = time.perf_counter()
    x = to_model_input(crops, units="HU", level_hu=-400.0, width_hu=1500.0)      # a lung window
    model = _train_cnn(x[s.train], y[s.train], x[s.val], y[s.val], epochs=epochs, seed=seed)
    auc_c = roc_auc(y[s.test], _cnn_scores(model, x[s.test]))
    t2 = time.perf_counter()
    return HeadToHead("CT phantom nodules, benign vs malignant", len(s.train), len(s.test), auc_f, auc_c,
                      t1 - t0, t2 - t1, names, clf[-1].coef_.ravel().copy())


def handcrafted_vs_cnn_pneumonia(n_train: int = 1000, *, epochs: int = 4, seed: int = 0) -> HeadToHead | None:
    """PneumoniaMNIST (only when cached): whole-image intensity + GLCM features vs a CNN; None when not cached (Chapter 2)."""
    from radlab.data.lab_data import pneumonia_available  # noqa: PLC0415
    from radlab.data.transforms import to_model_input  # noqa: PLC0415
    from radlab.metrics import roc_auc  # noqa: PLC0415

    if not pneumonia_available():
        return None
    import warnings  # noqa: PLC0415

    from radlab.data.medmnist import load_medmnist  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # the shared copy is unofficial: said in the notebook
        data = load_medmnist("pneumoniamnist")
    rng = np.random.default_rng(seed)
    tr = rng.permutation(len(data.train))[:n_train]
    xtr, ytr = data.train.images[tr], data.train.labels[tr].reshape(-1)
    xva, yva = data.val.images, data.val.labels.reshape(-1)
    xte, yte = data.test.images, data.test.labels.reshape(-1)
    t0 = time.perf_counter()
    Xtr, names = feature_table(xtr, lo=0, hi=256, shape=False)
    Xte, _ = feature_table(xte, lo=0, hi=256, shape=False)
    clf = classical_classifier(seed=seed).fit(Xtr, ytr)
    auc_f = roc_auc(yte, clf.predict_proba(Xte)[:, 1])
    t1 = time.perf_counter()
    model = _train_cnn(to_model_input(xtr), ytr, to_model_input(xva), yva, epochs=epochs, seed=seed)
    auc_c = roc_auc(yte, _cnn_scores(model, to_model_input(xte)))
    t2 = time.perf_counter()
    return HeadToHead("PneumoniaMNIST (28 px), pneumonia vs normal", len(tr), len(yte), auc_f, auc_c,
                      t1 - t0, t2 - t1, names, clf[-1].coef_.ravel().copy())


def feature_values_by_class(X: np.ndarray, names: Sequence[str], y: Any, feature: str) -> tuple[np.ndarray, np.ndarray]:
    """The values of one named feature for class 0 and class 1 (to draw them side by side; Chapter 2)."""
    if feature not in names:
        raise DataError(f"no feature {feature!r}", fix=f"use one of {list(names)}")
    col, y = X[:, list(names).index(feature)], np.asarray(y)
    return col[y == 0], col[y == 1]


__all__ = ["DIRECTIONS", "HeadToHead", "classical_classifier", "feature_table", "feature_values_by_class", "glcm",
           "glcm_properties", "handcrafted_vs_cnn_phantoms", "handcrafted_vs_cnn_pneumonia", "intensity_features",
           "lesion_crops", "phantom_malignancy_task", "quantize", "radiomics_features", "shape_features",
           "texture_features"]
