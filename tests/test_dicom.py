"""DICOM: HU, windows, MONOCHROME1, multi-frame, de-identification, series, and clear errors for bad files."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from radlab.data.dicom import (WINDOW_PRESETS, DicomImage, apply_window, auto_window, deidentify, normalize,
                               read_dicom, read_folder, read_series, to_tensor)
from radlab.errors import DataError


def sample(name: str) -> Path:
    """A pydicom sample file (never downloads); skip if this installation lacks it."""
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} not installed (pip install pydicom-data)")
    return Path(path)


# --------------------------------------------------------------------------- HU and windows

def test_ct_small_is_converted_to_hounsfield_units_with_the_header_rescale():
    raw = pydicom.dcmread(sample("CT_small.dcm"))
    image = read_dicom(sample("CT_small.dcm"))
    expected = raw.pixel_array * float(raw.RescaleSlope) + float(raw.RescaleIntercept)
    assert isinstance(image, DicomImage)
    assert image.units == "HU" and image.modality == "CT" and image.pixels.dtype == np.float32
    np.testing.assert_allclose(image.pixels, expected)
    assert image.pixels.min() < -800  # air/lung in HU, not stored values (which start at 0)
    assert any("Hounsfield" in note for note in image.notes)


def test_mr_keeps_raw_units():
    image = read_dicom(sample("MR_small.dcm"))
    assert image.units == "raw" and image.pixels.shape == (64, 64)
    assert image.file_window == (600.0, 1600.0)


def test_window_presets_are_the_standard_ones():
    assert WINDOW_PRESETS["lung"] == (-600, 1500)
    assert WINDOW_PRESETS["mediastinum"] == (50, 350)
    assert WINDOW_PRESETS["bone"] == (400, 1800)
    assert WINDOW_PRESETS["brain"] == (40, 80)
    assert WINDOW_PRESETS["soft_tissue"] == (40, 400)


def test_apply_window_maps_level_and_width_linearly_and_clips():
    hu = np.array([-2000.0, -1350.0, -600.0, 150.0, 3000.0])
    out = apply_window(hu, *WINDOW_PRESETS["lung"])
    np.testing.assert_allclose(out, [0.0, 0.0, 0.5, 1.0, 1.0])
    assert out.dtype == np.float32
    custom = apply_window(np.array([30.0, 40.0, 50.0]), 40, 20)
    np.testing.assert_allclose(custom, [0.0, 0.5, 1.0])


def test_windowing_a_nan_image_or_with_a_bad_width_raises_data_error():
    with pytest.raises(DataError, match="NaN"):
        apply_window(np.array([[0.0, np.nan]]), 40, 400)
    with pytest.raises(DataError, match="width"):
        apply_window(np.zeros((2, 2)), 40, 0)


def test_constant_images_cannot_be_normalised_or_auto_windowed():
    with pytest.raises(DataError, match="constant"):
        normalize(np.full((4, 4), 7.0))
    with pytest.raises(DataError, match="constant"):
        auto_window(np.full((4, 4), -1000.0))
    with pytest.raises(DataError, match="NaN"):
        normalize(np.array([1.0, np.inf]))
    np.testing.assert_allclose(normalize(np.array([2.0, 4.0, 6.0])), [0.0, 0.5, 1.0])


def test_to_tensor_gives_one_channel_and_windows_on_request():
    image = read_dicom(sample("CT_small.dcm"))
    t = to_tensor(image)
    assert tuple(t.shape) == (1, 128, 128) and t.dtype.__str__() == "torch.float32"
    assert float(t.min()) < -800  # HU kept
    w = to_tensor(image, level=-600, width=1500)
    assert 0.0 <= float(w.min()) and float(w.max()) <= 1.0
    with pytest.raises(DataError):
        to_tensor(image, level=40)


# --------------------------------------------------------------------------- radiographs, multi-frame

def test_monochrome1_chest_radiograph_is_inverted_so_dense_is_bright():
    path = sample("RG1_UNCI.dcm")
    raw = pydicom.dcmread(path).pixel_array
    image = read_dicom(path)
    assert image.photometric == "MONOCHROME1" and image.inverted
    np.testing.assert_array_equal(image.pixels, (2**15 - 1) - raw.astype(np.float32))
    h, w = image.pixels.shape
    rows = slice(int(0.3 * h), int(0.6 * h))
    mediastinum = image.pixels[rows, int(0.47 * w):int(0.53 * w)].mean()
    lungs = image.pixels[rows, int(0.2 * w):int(0.35 * w)].mean()
    assert mediastinum > lungs  # after inversion the lungs are dark, as on a light box
    assert any("MONOCHROME1" in note for note in image.notes)
    level, _ = image.file_window  # the header window is mirrored with the pixels
    assert level == pytest.approx((2**15 - 1) - 15000)


def test_multiframe_enhanced_ct_reads_all_frames_in_hu():
    image = read_dicom(sample("eCT_Supplemental.dcm"))
    assert image.pixels.shape == (2, 512, 512) and image.n_frames == 2
    assert image.units == "HU" and image.pixels.min() == -1024  # rescale from the functional groups
    assert image.frame(1).shape == (512, 512)
    with pytest.raises(DataError, match="frame"):
        image.frame(5)


# --------------------------------------------------------------------------- de-identification

def test_deidentify_removes_identifiers_and_private_tags_and_keeps_pixels():
    original = pydicom.dcmread(sample("CT_small.dcm"))
    name, pid, study_uid = str(original.PatientName), original.PatientID, original.StudyInstanceUID
    assert any(e.tag.is_private for e in original)
    clean, report = deidentify(original, salt="test")
    assert str(clean.PatientName) != name and clean.PatientID != pid
    assert not clean.get("StudyDate") and "InstitutionName" not in clean and "PatientAge" not in clean
    assert not any(e.tag.is_private for e in clean)
    assert clean.StudyInstanceUID != study_uid
    assert clean.file_meta.MediaStorageSOPInstanceUID == clean.SOPInstanceUID
    assert clean.PatientIdentityRemoved == "YES" and "Annex E" in clean.DeidentificationMethod
    np.testing.assert_array_equal(clean.pixel_array, original.pixel_array)
    # the original is untouched, and the report says what was removed, with the old value
    assert str(original.PatientName) == name
    rows = {r["keyword"]: r for r in report.rows()}
    assert rows["PatientName"]["action"] == "D" and rows["PatientName"]["old"] == name
    assert rows["StudyDate"]["action"] == "Z" and rows["InstitutionName"]["action"] == "X"
    assert rows["StudyInstanceUID"]["action"] == "U"
    assert report.count("X") > 100  # CT_small has 179 private tags


def test_pseudonyms_and_uids_are_consistent_across_files_of_a_study():
    a, _ = deidentify(pydicom.dcmread(sample("CT_small.dcm")), salt="s1")
    b, _ = deidentify(pydicom.dcmread(sample("CT_small.dcm")), salt="s1")
    c, _ = deidentify(pydicom.dcmread(sample("CT_small.dcm")), salt="s2")
    assert a.PatientID == b.PatientID and a.StudyInstanceUID == b.StudyInstanceUID
    assert a.PatientID != c.PatientID  # another salt (another session) gives other pseudonyms


def test_read_dicom_returns_only_the_deidentified_header():
    image = read_dicom(sample("CT_small.dcm"))
    assert image.dataset.PatientIdentityRemoved == "YES"
    assert "CompressedSamples" not in str(image.dataset.PatientName)
    assert len(image.deid_report) > 0


# --------------------------------------------------------------------------- bad input

def test_truncated_file_raises_data_error_naming_the_file():
    path = sample("MR_truncated.dcm")
    with pytest.raises(DataError, match="truncated") as err:
        read_dicom(path)
    assert "MR_truncated.dcm" in str(err.value) and "Fix:" in str(err.value)


def test_non_dicom_file_raises_data_error(tmp_path):
    path = tmp_path / "report.dcm"
    path.write_text("Findings: clear lungs.\n" * 20)
    with pytest.raises(DataError, match="not a DICOM file") as err:
        read_dicom(path)
    assert "report.dcm" in str(err.value)


def test_missing_file_raises_data_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_dicom(tmp_path / "nothing.dcm")


def test_dicom_without_pixel_data_raises_data_error():
    with pytest.raises(DataError, match="no pixel data") as err:
        read_dicom(sample("rtplan.dcm"))
    assert "rtplan.dcm" in str(err.value)


@pytest.mark.parametrize("name, package", [("JPEG-lossy.dcm", "python-gdcm"),
                                           ("MR_small_jpeg_ls_lossless.dcm", "pylibjpeg")])
def test_compressed_file_without_decoder_names_the_package_to_install(name, package):
    path = sample(name)
    try:
        pydicom.dcmread(path).pixel_array
        pytest.skip(f"a decoder for {name} is installed here")
    except Exception:
        pass
    with pytest.raises(DataError, match="compressed") as err:
        read_dicom(path)
    assert package in str(err.value) and name in str(err.value)


def test_read_folder_keeps_good_files_and_reports_skipped_ones(tmp_path):
    for name in ("CT_small.dcm", "MR_small.dcm", "MR_truncated.dcm", "rtplan.dcm"):
        shutil.copy(sample(name), tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    result = read_folder(tmp_path)
    assert sorted(im.path.name for im in result.images) == ["CT_small.dcm", "MR_small.dcm"]
    skipped = {p.name: reason for p, reason in result.skipped}
    assert set(skipped) == {"MR_truncated.dcm", "rtplan.dcm", "notes.txt"}
    assert "truncated" in skipped["MR_truncated.dcm"] and "Fix:" in skipped["notes.txt"]
    assert "3 files skipped" in str(result)


# --------------------------------------------------------------------------- series

def _write_series(folder: Path, positions: list[float], instance_numbers: list[int]) -> None:
    """Copies of CT_small as slices; slice k's pixels are offset by k so the order can be checked."""
    pixels = pydicom.dcmread(sample("CT_small.dcm")).pixel_array
    for k, (z, number) in enumerate(zip(positions, instance_numbers)):
        ds = pydicom.dcmread(sample("CT_small.dcm"))
        ds.PixelData = (pixels + k).astype(pixels.dtype).tobytes()
        ds.ImagePositionPatient = [0.0, 0.0, z]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.InstanceNumber = number
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.save_as(folder / f"slice_{k}.dcm")


def test_read_series_sorts_slices_by_position_along_the_normal(tmp_path):
    _write_series(tmp_path, positions=[20.0, 0.0, 10.0], instance_numbers=[1, 2, 3])
    series = read_series(tmp_path)
    assert series.volume.shape == (3, 128, 128) and series.sorted_by == "ImagePositionPatient"
    np.testing.assert_array_equal(series.slice_positions, [0.0, 10.0, 20.0])
    first_pixel = read_dicom(sample("CT_small.dcm")).pixels[0, 0]
    np.testing.assert_array_equal(series.volume[:, 0, 0] - first_pixel, [1, 2, 0])  # slice k was offset by k
    assert [im.path.name for im in series.images] == ["slice_1.dcm", "slice_2.dcm", "slice_0.dcm"]


def test_read_series_falls_back_to_instance_number_and_reports_bad_files(tmp_path):
    _write_series(tmp_path, positions=[5.0, 5.0, 5.0], instance_numbers=[3, 1, 2])
    shutil.copy(sample("MR_truncated.dcm"), tmp_path / "broken.dcm")
    series = read_series(tmp_path)
    assert series.sorted_by == "InstanceNumber"
    assert [im.path.name for im in series.images] == ["slice_1.dcm", "slice_2.dcm", "slice_0.dcm"]
    assert [p.name for p, _ in series.skipped] == ["broken.dcm"]
