"""Reading real DICOM: pixels in Hounsfield units, windowing, and de-identification.

A DICOM file is a header (who, when, how) plus pixel data. ``read_dicom`` gives a
:class:`DicomImage` whose ``pixels`` are float32 in physical units when the file says how
(CT: Hounsfield units through *Rescale Slope/Intercept*), and whose ``dataset`` is a
**de-identified copy**: the original header, with names, IDs, dates and UIDs, is never
kept, shown or exported (DICOM PS3.15 Annex E, the whole basic profile: :mod:`radlab.data.deid`).

Windowing maps a range of HU (level ± width/2) onto the grey scale; a few presets are
the ones radiologists use daily. Every bad input raises :class:`radlab.errors.DataError`
naming the file and the fix.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_rescale

# the whole PS3.15 basic profile lives in radlab.data.deid; these names stay importable from here
from radlab.data.deid import DEID_METHOD, DeidAction, DeidReport, deidentify, load_profile, profile_rows  # noqa: F401
from radlab.errors import DataError

if TYPE_CHECKING:  # torch is imported lazily: reading DICOM should not cost a torch import
    import torch

#: name -> (level_hu, width_hu): the windows radiologists use for CT.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (50.0, 350.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
    "soft_tissue": (40.0, 400.0),
}

#: pip packages that add a decoder for compressed transfer syntaxes pydicom cannot read alone.
DECODER_PACKAGES: dict[str, str] = {
    "1.2.840.10008.1.2.4.50": "pylibjpeg pylibjpeg-libjpeg",            # JPEG Baseline
    "1.2.840.10008.1.2.4.51": "python-gdcm",                            # JPEG Extended (12-bit)
    "1.2.840.10008.1.2.4.57": "pylibjpeg pylibjpeg-libjpeg",            # JPEG Lossless
    "1.2.840.10008.1.2.4.70": "pylibjpeg pylibjpeg-libjpeg",            # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.80": "pylibjpeg pylibjpeg-libjpeg",            # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81": "pylibjpeg pylibjpeg-libjpeg",            # JPEG-LS Near-lossless
    "1.2.840.10008.1.2.4.90": "pylibjpeg pylibjpeg-openjpeg",           # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91": "pylibjpeg pylibjpeg-openjpeg",           # JPEG 2000
    "1.2.840.10008.1.2.4.201": "pylibjpeg pylibjpeg-openjpeg",          # HTJ2K
    "1.2.840.10008.1.2.4.202": "pylibjpeg pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.203": "pylibjpeg pylibjpeg-openjpeg",
}


# --------------------------------------------------------------------------- reading

@dataclass
class DicomImage:
    """A DICOM image ready for display and models; the header is a de-identified copy.

    ``pixels`` is float32, (H, W) or (frames, H, W). CT pixels are in Hounsfield units
    (``units == "HU"``); other modalities keep their rescaled values (``units == "raw"``).
    MONOCHROME1 images (high value = dark, common in radiographs) are inverted so that, as
    everywhere else in RadLab, high = bright = dense; ``inverted`` records it. ``notes``
    lists every conversion in words, for the lab to show.
    """

    pixels: np.ndarray
    dataset: Dataset
    path: Path
    modality: str
    photometric: str
    units: str
    deid_report: DeidReport
    inverted: bool = False
    file_window: tuple[float, float] | None = None  # (level, width) from the header, in pixels' units
    pixel_spacing: tuple[float, float] | None = None  # (row, column) in mm
    notes: list[str] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return 1 if self.pixels.ndim == 2 else int(self.pixels.shape[0])

    def frame(self, index: int = 0) -> np.ndarray:
        """One 2-D frame (the image itself for single-frame files)."""
        if self.pixels.ndim == 2:
            return self.pixels
        if not 0 <= index < self.n_frames:
            raise DataError(f"frame {index} does not exist; the file has {self.n_frames} frames",
                            path=self.path, fix=f"pick a frame between 0 and {self.n_frames - 1}")
        return self.pixels[index]


def _missing_decoder_error(path: Path, ds: Dataset, exc: Exception) -> DataError:
    uid = str(ds.file_meta.TransferSyntaxUID)
    name = getattr(ds.file_meta.TransferSyntaxUID, "name", uid)
    package = DECODER_PACKAGES.get(uid, "python-gdcm")
    return DataError(f"the pixel data is compressed ({name}) and no installed decoder can read it "
                     f"({type(exc).__name__}: {str(exc).splitlines()[0]})", path=path,
                     fix=f"install a decoder: pip install {package} (python-gdcm reads most "
                         "syntaxes), or export the image uncompressed")


def _open(path: Path) -> Dataset:
    """Read a file's header and pixel bytes, turning every failure into a DataError."""
    if not path.is_file():
        raise DataError("file not found", path=path, fix="check the file name and folder")
    try:
        return pydicom.dcmread(path)
    except InvalidDicomError:
        pass  # maybe a DICOM file without the 128-byte preamble: try once more, leniently
    except Exception as exc:
        raise DataError(f"the DICOM header cannot be parsed ({type(exc).__name__}: {exc})", path=path,
                        fix="the file is damaged or truncated: copy or export it again") from exc
    try:
        with warnings.catch_warnings():  # forcing junk through the parser warns about every byte
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, force=True)
    except Exception:  # noqa: BLE001
        ds = None
    if ds is None or "PixelData" not in ds or "Rows" not in ds:
        raise DataError("not a DICOM file (no 'DICM' marker and no DICOM image elements)", path=path,
                        fix="pick a DICOM file (.dcm); JPEG/PNG exports or reports are not DICOM")
    if not hasattr(ds, "file_meta") or "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta = ds.file_meta if hasattr(ds, "file_meta") else pydicom.dataset.FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian  # the DICOM default
    return ds


def _decode(path: Path, ds: Dataset) -> np.ndarray:
    """Decode pixel data; truncated files only fail here, so this is also the validity check."""
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        kind = ds.get("Modality", "") or ds.get("SOPClassUID", "unknown type")
        raise DataError(f"the file has no pixel data (a {kind} object, not an image)", path=path,
                        fix="pick an image file; RT plans, structured reports and DICOMDIR hold no pixels")
    try:
        return ds.pixel_array
    except (RuntimeError, NotImplementedError) as exc:
        if ds.file_meta.TransferSyntaxUID.is_compressed:
            raise _missing_decoder_error(path, ds, exc) from exc
        raise DataError(f"the pixel data cannot be decoded ({exc})", path=path,
                        fix="the file may be damaged: copy or export it again") from exc
    except Exception as exc:
        raise DataError(f"the pixel data is truncated or corrupt ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0]})", path=path,
                        fix="the file was cut off or damaged (e.g. an interrupted copy): copy or export it again") from exc


def _rescale_source(ds: Dataset) -> Dataset | None:
    """Where the rescale lives: the dataset, or an enhanced multi-frame shared functional group."""
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        return ds
    for group in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        items = ds.get(group)
        if items and "PixelValueTransformationSequence" in items[0]:
            return items[0].PixelValueTransformationSequence[0]
    return None


def _file_window(ds: Dataset) -> tuple[float, float] | None:
    """The header's (WindowCenter, WindowWidth), first value if several; enhanced groups too."""
    src = ds
    if "WindowCenter" not in ds:
        shared = ds.get("SharedFunctionalGroupsSequence")
        if shared and "FrameVOILUTSequence" in shared[0]:
            src = shared[0].FrameVOILUTSequence[0]
    if "WindowCenter" not in src or "WindowWidth" not in src:
        return None
    first = lambda v: float(v[0] if isinstance(v, pydicom.multival.MultiValue) else v)  # noqa: E731
    return first(src.WindowCenter), first(src.WindowWidth)


def read_dicom(path: str | Path) -> DicomImage:
    """Read one DICOM image: decode and check pixels, convert to HU, de-identify the header.

    Raises DataError (naming the file and the fix) for missing, non-DICOM, truncated or
    pixel-less files and for compressed pixel data without an installed decoder.
    """
    path = Path(path)
    ds = _open(path)
    raw = _decode(path, ds)
    notes: list[str] = []
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))

    if int(ds.get("SamplesPerPixel", 1)) == 3:  # pydicom already gives RGB for YBR colour spaces
        raw = raw.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        notes.append(f"{photometric} colour image converted to grey (luminance)")

    pixels = raw.astype(np.float64)
    source = _rescale_source(ds)
    modality = str(ds.get("Modality", ""))
    units = "raw"
    if source is not None:
        slope, intercept = float(source.RescaleSlope), float(source.RescaleIntercept)
        pixels = apply_rescale(pixels, source)
        if modality == "CT" or str(source.get("RescaleType", "")).upper() == "HU":
            units = "HU"
            notes.append(f"converted to Hounsfield units: HU = {slope:g} × stored value + {intercept:g}")
        else:
            notes.append(f"rescaled: value = {slope:g} × stored value + {intercept:g} (not HU: {modality})")
    elif modality == "CT":
        notes.append("CT without Rescale Slope/Intercept: values are stored values, assumed HU")
        units = "HU"

    window = _file_window(ds)
    inverted = photometric == "MONOCHROME1"
    if inverted:
        # MONOCHROME1: the lowest value is shown white. Mirror the values in the range the file
        # can hold, so that high = bright like MONOCHROME2; the header window mirrors with it.
        bits = int(ds.get("BitsStored", 16))
        signed = int(ds.get("PixelRepresentation", 0)) == 1
        lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
        if source is not None:
            lo, hi = sorted(apply_rescale(np.array([lo, hi], dtype=np.float64), source))
        pixels = lo + hi - pixels
        if window is not None:
            window = (lo + hi - window[0], window[1])
        notes.append("MONOCHROME1 (high values shown dark): inverted so that bright = dense, like MONOCHROME2")

    if ds.get("NumberOfFrames") and int(ds.NumberOfFrames) > 1:
        notes.append(f"multi-frame: {int(ds.NumberOfFrames)} frames")
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    spacing_mm = (float(spacing[0]), float(spacing[1])) if spacing and float(spacing[0]) > 0 else None

    clean, report = deidentify(ds)
    notes.append(f"header de-identified: {len(report)} elements removed or replaced "
                 f"(PS3.15 Table E.1-1, edition {report.edition})")
    notes += [f"WARNING: {w}" for w in report.warnings]
    return DicomImage(pixels=pixels.astype(np.float32), dataset=clean, path=path, modality=modality,
                      photometric=photometric, units=units, deid_report=report, inverted=inverted,
                      file_window=window, pixel_spacing=spacing_mm, notes=notes)


@dataclass
class FolderResult:
    """The images a folder held, and the files skipped with the reason (the problem and its fix)."""

    images: list[DicomImage]
    skipped: list[tuple[Path, str]]

    def __str__(self) -> str:
        lines = [f"{len(self.images)} images read, {len(self.skipped)} files skipped"]
        lines += [f"  skipped {p.name}: {reason}" for p, reason in self.skipped]
        return "\n".join(lines)


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DataError("folder not found", path=folder, fix="check the folder name")
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def read_folder(folder: str | Path) -> FolderResult:
    """Read every DICOM image in ``folder``; keep the good ones, report the rest with the reason."""
    images, skipped = [], []
    for path in _files(Path(folder)):
        try:
            images.append(read_dicom(path))
        except DataError as exc:  # keep going: one bad file must not stop a whole export
            skipped.append((path, exc.problem + (f" Fix: {exc.fix}" if exc.fix else "")))
    return FolderResult(images=images, skipped=skipped)


@dataclass
class DicomSeries:
    """One series stacked into a volume, slices sorted along the patient axis."""

    volume: np.ndarray               # float32 (D, H, W)
    images: list[DicomImage]         # in the volume's order
    units: str
    sorted_by: str                   # "ImagePositionPatient", "InstanceNumber" or "file name"
    skipped: list[tuple[Path, str]]
    slice_positions: np.ndarray      # mm along the slice normal, or instance numbers


def _slice_order(images: list[DicomImage]) -> tuple[np.ndarray, str]:
    """Sort keys: position along the slice normal if every slice has one, else InstanceNumber."""
    datasets = [im.dataset for im in images]
    if all("ImagePositionPatient" in d and "ImageOrientationPatient" in d for d in datasets):
        row, col = (np.asarray(datasets[0].ImageOrientationPatient, dtype=float).reshape(2, 3))
        normal = np.cross(row, col)
        keys = np.array([np.dot(normal, np.asarray(d.ImagePositionPatient, dtype=float)) for d in datasets])
        if len(np.unique(keys)) == len(keys):
            return keys, "ImagePositionPatient"
    if all("InstanceNumber" in d and d.InstanceNumber is not None for d in datasets):
        return np.array([float(d.InstanceNumber) for d in datasets]), "InstanceNumber"
    return np.arange(len(images), dtype=float), "file name"


def read_series(folder: str | Path, *, series_uid: str | None = None) -> DicomSeries:
    """Stack the single-frame images of one series in ``folder`` into a (D, H, W) volume.

    Slices are sorted by their position along the slice normal (ImagePositionPatient and
    ImageOrientationPatient), else by InstanceNumber. Files that cannot be read are skipped
    and reported; a folder holding several series needs ``series_uid`` (de-identified UID).
    """
    result = read_folder(folder)
    images = [im for im in result.images if im.pixels.ndim == 2]
    if not images:
        raise DataError("no readable single-frame DICOM images in the folder", path=folder,
                        fix="point to a folder holding one series' slices (see the skipped files)")
    by_series: dict[str, list[DicomImage]] = {}
    for im in images:
        by_series.setdefault(str(im.dataset.get("SeriesInstanceUID", "")), []).append(im)
    if series_uid is None and len(by_series) > 1:
        raise DataError(f"the folder holds {len(by_series)} series: {sorted(by_series)}", path=folder,
                        fix="pass series_uid=... (one of those listed) or put each series in its own folder")
    chosen = by_series[series_uid] if series_uid is not None else images
    if series_uid is not None and series_uid not in by_series:
        raise DataError(f"series {series_uid} is not in the folder", path=folder,
                        fix=f"use one of {sorted(by_series)}")
    shapes = {im.pixels.shape for im in chosen}
    if len(shapes) > 1:
        raise DataError(f"slices have different sizes {sorted(shapes)}", path=folder,
                        fix="a series' slices share one size; remove the slices of other series")
    keys, how = _slice_order(chosen)
    order = np.argsort(keys, kind="stable")
    ordered = [chosen[i] for i in order]
    return DicomSeries(volume=np.stack([im.pixels for im in ordered]), images=ordered,
                       units=ordered[0].units, sorted_by=how, skipped=result.skipped,
                       slice_positions=keys[order])


# --------------------------------------------------------------------------- windowing

def _check_finite(image: np.ndarray, what: str) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.size == 0:
        raise DataError(f"cannot {what} an empty image", fix="check the image was read correctly")
    if not np.isfinite(image).all():
        raise DataError(f"cannot {what}: the image holds NaN or infinite values",
                        fix="replace them first (e.g. np.nan_to_num) or check how the image was made")
    return image


def apply_window(image_hu: np.ndarray, level_hu: float, width_hu: float) -> np.ndarray:
    """Map ``level ± width/2`` linearly onto [0, 1] (float32); values outside are clipped.

    Narrow windows show small HU differences (brain: grey vs white matter); wide ones show
    everything from air to bone with little contrast (lung, bone).
    """
    image = _check_finite(image_hu, "window")
    if not (np.isfinite(level_hu) and np.isfinite(width_hu)) or width_hu <= 0:
        raise DataError(f"invalid window: level {level_hu}, width {width_hu}",
                        fix="use a finite level and a width > 0 (e.g. WINDOW_PRESETS['lung'])")
    low = level_hu - width_hu / 2.0
    return np.clip((image - low) / width_hu, 0.0, 1.0).astype(np.float32)


def auto_window(image: np.ndarray, *, percentiles: tuple[float, float] = (1.0, 99.0)) -> tuple[float, float]:
    """A (level, width) spanning the given percentiles: a display default for non-HU images."""
    image = _check_finite(image, "choose a window for")
    low, high = np.percentile(image, percentiles)
    if high <= low:
        low, high = float(image.min()), float(image.max())
    if high <= low:
        raise DataError(f"the image is constant (every pixel is {low:g}): there is nothing to window",
                        fix="check the file: a blank or all-air image has no contrast to show")
    return float((low + high) / 2.0), float(high - low)


def normalize(image: np.ndarray) -> np.ndarray:
    """Min-max scale to [0, 1] (float32); refuses NaN and constant images instead of dividing by 0."""
    image = _check_finite(image, "normalise")
    low, high = float(image.min()), float(image.max())
    if high <= low:
        raise DataError(f"the image is constant (every pixel is {low:g}): min-max scaling would divide by zero",
                        fix="check the file or pass a fixed window with apply_window")
    return ((image - low) / (high - low)).astype(np.float32)


def to_tensor(image: DicomImage | np.ndarray, *, level: float | None = None,
              width: float | None = None) -> torch.Tensor:
    """A float32 tensor (1, H, W) — (1, D, H, W) for multi-frame — windowed to [0, 1] if a window is given."""
    import torch  # noqa: PLC0415

    pixels = image.pixels if isinstance(image, DicomImage) else np.asarray(image, dtype=np.float32)
    pixels = _check_finite(pixels, "convert")
    if (level is None) != (width is None):
        raise DataError("give both level and width, or neither", fix="e.g. to_tensor(img, level=-600, width=1500)")
    if level is not None:
        pixels = apply_window(pixels, level, width)
    return torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None]


def sample_files(names: Iterable[str]) -> dict[str, Path]:
    """The pydicom sample files among ``names`` that are installed (never downloads)."""
    from pydicom.data import get_testdata_file  # noqa: PLC0415

    found = {}
    for name in names:
        try:
            path = get_testdata_file(name, download=False)
        except Exception:  # noqa: BLE001  (an unknown name is just "not installed")
            path = None
        if path:
            found[name] = Path(path)
    return found
