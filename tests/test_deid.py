"""De-identification to DICOM PS3.15's basic profile, checked against a maintained library.

The main check plants a unique marker in every attribute of Table E.1-1 that can hold one
(plus nested, private, overlay and curve attributes) in pydicom's sample files, runs RadLab
and dicom-anonymizer on copies, and asserts that every marker the library removes, RadLab
removes too. ``pytest -s`` prints the counts of surviving markers.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from radlab.data import _ps315_table
from radlab.data.deid import (ACTION_WORDS, OPTIONS, PROFILE_EDITION, burned_in_warnings, deidentify,
                              load_profile, mask, profile_rows, surviving)
from radlab.errors import DataError

SAMPLES = ("CT_small.dcm", "MR_small.dcm", "RG1_UNCI.dcm", "RG3_UNCI.dcm", "MR2_UNCI.dcm",
           "eCT_Supplemental.dcm", "US1_UNCI.dcm", "SC_rgb.dcm")
#: A sequence the table does not list: attributes planted in its item test the walk into sequences.
CARRIER = "AnatomicRegionSequence"


def sample(name: str) -> Path:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} not installed (pip install pydicom-data)")
    return Path(path)


def read(name: str) -> Dataset:
    return pydicom.dcmread(sample(name))


# --------------------------------------------------------------------------- planting markers

def _marker_value(vr: str, n: int) -> object | None:
    """A value unique to marker ``n`` that an attribute of this VR can hold (None: not writable)."""
    text = f"RLMK{n:04d}"
    day = (np.datetime64("1901-01-01") + np.timedelta64(n, "D")).astype(str).replace("-", "")  # valid, unique
    return {"AE": text, "CS": text, "LO": text, "LT": text, "PN": text, "SH": text, "ST": text, "UC": text,
            "UT": text, "UR": f"http://{text}.example", "DA": day, "TM": f"010101.{n:06d}",
            "DT": f"{day}010101", "DS": f"777{n:04d}", "IS": f"777{n:04d}",
            "UI": f"1.2.826.0.1.3680043.10.777.{n}", "OB": text.encode(), "UN": text.encode()}.get(vr)


def _needle(vr: str, n: int) -> str:
    value = _marker_value(vr, n)
    return value.decode() if isinstance(value, bytes) else str(value)


def plant_markers(ds: Dataset) -> tuple[Dataset, dict[str, str]]:
    """A copy of ``ds`` with a unique marker in every writable attribute of Table E.1-1.

    Returns the copy and ``{marker: where}``; ``where`` starts with "nested", "private",
    "overlay" or "curve" for the extra plants, else it is the tag. Sequences in the table get
    one item holding a marked CodeMeaning.
    """
    ds = copy.deepcopy(ds)
    markers: dict[str, str] = {}
    n = 0
    for tag in sorted(load_profile().exact):
        group = tag >> 16
        if group in (0x0000, 0xFFFA, 0xFFFC):  # command group, signatures, padding: not in a file's data set
            continue
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            continue  # newer than pydicom's dictionary: no VR to write it with
        n += 1
        where = f"({group:04X},{tag & 0xFFFF:04X})"
        target = ds.file_meta if group == 0x0002 else ds
        if vr == "SQ":
            item = Dataset()
            item.CodeMeaning = _marker_value("LO", n)
            target.add_new(tag, "SQ", Sequence([item]))
            markers[_needle("LO", n)] = where
        elif (value := _marker_value(vr, n)) is not None:
            target.add_new(tag, vr, value)
            markers[_needle(vr, n)] = where
    # the same identifiers hidden one level down, in a sequence the table does not list
    item = Dataset()
    for keyword, vr in (("PatientName", "PN"), ("InstitutionName", "LO"), ("StudyDate", "DA"),
                        ("OperatorsName", "PN"), ("ReferencedSOPInstanceUID", "UI")):
        n += 1
        setattr(item, keyword, _marker_value(vr, n))
        markers[_needle(vr, n)] = f"nested {keyword}"
    setattr(ds, CARRIER, Sequence([item]))
    n += 1
    block = ds.private_block(0x0029, "RADLAB TEST", create=True)
    block.add_new(0x10, "LO", _marker_value("LO", n))
    markers[_needle("LO", n)] = "private"
    for tag, vr, kind in ((0x60003000, "OB", "overlay"), (0x60004000, "LT", "overlay"),
                          (0x50002500, "LO", "curve")):
        n += 1
        ds.add_new(tag, vr, _marker_value(vr, n))
        markers[_needle(vr, n)] = kind
    return ds, markers


def library_deidentify(ds: Dataset) -> Dataset:
    """dicom-anonymizer 2.x on a copy, with the same edition of the table as RadLab's."""
    from dicomanonymizer.simpledicomanonymizer import anonymize_dataset, initialize_actions

    out = copy.deepcopy(ds)
    anonymize_dataset(out, delete_private_tags=True,
                      base_rules_gen=lambda: initialize_actions(f"dicomfields_{PROFILE_EDITION}"))
    return out


# --------------------------------------------------------------------------- against the library

@pytest.mark.parametrize("name", SAMPLES)
def test_every_marker_the_library_removes_radlab_removes_too(name):
    planted, markers = plant_markers(read(name))
    assert len(markers) > 450  # the table's writable attributes and the extra plants
    radlab_left = surviving(deidentify(planted, salt="t")[0], markers)
    library_left = surviving(library_deidentify(planted), markers)
    print(f"\n{name}: {len(markers)} markers planted; surviving: RadLab {len(radlab_left)}, "
          f"dicom-anonymizer {len(library_left)}")
    assert radlab_left <= library_left, sorted(markers[m] for m in radlab_left - library_left)
    assert radlab_left == set(), sorted(markers[m] for m in radlab_left)
    assert library_left, "the planting is too easy: the library should leave the nested markers"


def test_nested_private_overlay_and_curve_markers_are_all_removed():
    planted, markers = plant_markers(read("CT_small.dcm"))
    extra = {m for m, where in markers.items() if where.split()[0] in ("nested", "private", "overlay", "curve")}
    assert len(extra) == 9
    clean, report = deidentify(planted, salt="t")
    assert not surviving(clean, extra)
    assert clean[CARRIER][0].get("PatientName") != planted[CARRIER][0].PatientName
    assert "InstitutionName" not in clean[CARRIER][0]
    assert any(a.keyword == f"{CARRIER}[0].PatientName" for a in report.actions)
    assert not any(e.tag.group in (0x5000, 0x6000) and e.tag.element in (0x2500, 0x3000, 0x4000) for e in clean)


# --------------------------------------------------------------------------- the table

def test_the_table_is_the_maintained_librarys_edition_with_all_its_actions():
    from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector

    library = dicom_anonymization_database_selector(f"dicomfields_{PROFILE_EDITION}")
    profile = load_profile()
    assert profile.edition == PROFILE_EDITION and "dicom-anonymizer" in profile.source
    assert len(profile) == len(library["ALL_TAGS"])
    codes = {"D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D", "X_Z_TAGS": "X/Z",
             "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D", "X_Z_U_STAR_TAGS": "X/Z/U*"}
    for category, action in codes.items():
        for entry in library[category]:
            tag = (entry[0] << 16) | entry[1]
            assert profile.action_for(tag) == action, (hex(tag), category)
    assert profile.action_for(0x60023000) == "X" and profile.action_for(0x501E1234) == "X"  # repeating groups
    assert {r["action"] for r in profile_rows()} == set(codes.values())
    assert set(ACTION_WORDS) >= set(codes.values()) | {"K", "C"}


def test_the_vendored_option_columns_only_keep_or_clean_and_name_every_row():
    assert _ps315_table.EDITION == "2024b" and "innolitics" in _ps315_table.SOURCE
    assert {a for opts in _ps315_table.OPTIONS.values() for a in opts.values()} == {"K", "C"}
    used = {o for opts in _ps315_table.OPTIONS.values() for o in opts}
    assert set(OPTIONS) <= used
    rows = profile_rows()
    named = [r for r in rows if not r["name"].startswith("(")]
    assert len(named) / len(rows) > 0.95
    assert next(r for r in rows if r["tag"] == "(0010,0010)")["name"] == "Patient's Name"
    with pytest.raises(DataError, match="edition"):
        load_profile("1999z")


# --------------------------------------------------------------------------- actions, UIDs, options

def test_uids_are_replaced_consistently_so_references_between_files_still_match():
    a, b = read("CT_small.dcm"), read("CT_small.dcm")
    b.SOPInstanceUID = pydicom.uid.generate_uid()
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = a.SOPClassUID, a.SOPInstanceUID
    b.ReferencedImageSequence = Sequence([ref])
    clean_a, _ = deidentify(a, salt="study", conformant=True)
    clean_b, report_b = deidentify(b, salt="study", conformant=True)
    assert clean_a.StudyInstanceUID == clean_b.StudyInstanceUID != a.StudyInstanceUID
    assert clean_a.SOPInstanceUID != clean_b.SOPInstanceUID
    new_ref = clean_b.ReferencedImageSequence[0]
    assert new_ref.ReferencedSOPInstanceUID == clean_a.SOPInstanceUID  # the reference still points to a
    assert new_ref.ReferencedSOPClassUID == a.SOPClassUID  # class UIDs identify nothing: kept
    assert clean_a.file_meta.MediaStorageSOPInstanceUID == clean_a.SOPInstanceUID
    again, _ = deidentify(a, salt="study")
    other, _ = deidentify(a, salt="another session")
    assert again.SOPInstanceUID == clean_a.SOPInstanceUID != other.SOPInstanceUID
    assert any(r["rule"] == "X/Z/U*" for r in report_b.rows())


def test_combinations_remove_by_default_and_keep_the_attribute_when_conformant():
    ds = read("CT_small.dcm")
    clean, report = deidentify(ds, salt="t")
    rows = {r["keyword"]: r for r in report.rows()}
    assert "InstitutionName" not in clean and rows["InstitutionName"]["rule"] == "X/Z/D"
    assert rows["AcquisitionDate"]["action"] == "X" and rows["AcquisitionDate"]["rule"] == "X/Z"
    assert rows["ContentDate"]["action"] == "D" and rows["ContentDate"]["rule"] == "Z/D"
    assert rows["StudyDate"]["action"] == "Z" and not clean.StudyDate
    conf, conf_report = deidentify(ds, salt="t", conformant=True)
    assert conf.InstitutionName == "ANONYMIZED" and "AcquisitionDate" in conf and not conf.AcquisitionDate
    assert {r["keyword"]: r for r in conf_report.rows()}["SeriesDate"]["action"] == "D"


def test_options_keep_or_clean_what_the_standard_says():
    ds = read("CT_small.dcm")
    ds.PatientAge, ds.PatientSex = "061Y", "F"
    ds.StudyDescription = f"CT chest {ds.PatientName.family_name} 1234567 follow-up"
    plain, _ = deidentify(ds, salt="t")
    assert "PatientAge" not in plain and "StudyDescription" not in plain
    kept, report = deidentify(ds, salt="t", options={"retain_patient_characteristics", "clean_descriptors"})
    assert kept.PatientAge == "061Y" and kept.PatientSex == "F"
    assert kept.StudyDescription == "CT chest *** *** follow-up"
    assert report.count("C") >= 1 and {"K", "C"} <= {a.action for a in report.kept + report.actions}
    codes = {item.CodeValue for item in kept.DeidentificationMethodCodeSequence}
    assert codes == {"113100", "113105", "113108"}
    with pytest.raises(DataError, match="option"):
        deidentify(ds, options={"keep_everything"})


def test_modified_dates_move_by_the_same_days_for_one_patient():
    a, b = read("CT_small.dcm"), read("CT_small.dcm")
    a.StudyDate, b.StudyDate = "20040119", "20040301"
    ca, _ = deidentify(a, salt="s", options={"retain_modified_dates"})
    cb, _ = deidentify(b, salt="s", options={"retain_modified_dates"})
    days = lambda d: np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:]}")  # noqa: E731
    assert ca.StudyDate != "20040119" and days(cb.StudyDate) - days(ca.StudyDate) == np.timedelta64(42, "D")
    assert ca.LongitudinalTemporalInformationModified == "MODIFIED"
    full, _ = deidentify(a, salt="s", options={"retain_full_dates"})
    assert full.StudyDate == "20040119" and full.LongitudinalTemporalInformationModified == "UNMODIFIED"
    with pytest.raises(DataError, match="contradict"):
        deidentify(a, options={"retain_full_dates", "retain_modified_dates"})


def test_keep_retains_named_attributes_and_reports_them():
    ds = read("MR_small.dcm")
    clean, report = deidentify(ds, salt="t", keep={"StationName"})
    assert clean.StationName == ds.StationName
    assert any(a.keyword == "StationName" and a.action == "K" and a.rule for a in report.kept)
    assert report.count("K") == len(report.kept) > 10


# --------------------------------------------------------------------------- burned-in text

def test_burned_in_annotation_and_screen_captures_are_warned_about():
    ds = read("CT_small.dcm")
    assert burned_in_warnings(ds) == []
    ds.BurnedInAnnotation = "YES"
    _, report = deidentify(ds, salt="t")
    assert any("BurnedInAnnotation" in w for w in report.warnings)
    assert "WARNING" in str(report)
    ds = read("CT_small.dcm")
    ds.ConversionType = "WSD"
    assert any("WSD" in w for w in burned_in_warnings(ds))
    sc = read("SC_rgb.dcm")  # a Secondary Capture image
    assert any("Secondary Capture" in w for w in burned_in_warnings(sc))


def test_read_dicom_puts_the_warnings_in_its_notes(tmp_path):
    from radlab.data.dicom import read_dicom

    ds = read("CT_small.dcm")
    ds.BurnedInAnnotation = "YES"
    ds.save_as(tmp_path / "burned.dcm")
    image = read_dicom(tmp_path / "burned.dcm")
    assert any(n.startswith("WARNING") and "BurnedInAnnotation" in n for n in image.notes)
    assert image.deid_report.warnings


def test_mask_hides_identifying_values_but_keeps_their_shape():
    assert mask("Smith^John") == "S••••^J•••"
    assert mask("20040119") == "2•••••••"
    assert mask("") == ""


# --------------------------------------------------------------------------- Lab 1's display

def test_lab_tables_mask_identifying_values_and_filter_the_profile():
    from radlab.data.dicom import read_dicom
    from radlab.widgets.collection import PROFILE_FILTERS, deid_table_html, profile_table_html

    image = read_dicom(sample("CT_small.dcm"))
    rows = image.deid_report.rows(include_kept=True)
    page = deid_table_html(rows, "summary")
    assert "CompressedSamples" not in page and "C••••••••••••••••^C••" in page  # PatientName, masked
    assert "JFK IMAGING CENTER" not in page and "Anonymous^" in page
    assert any(r["action"] == "K" for r in rows) and "<td>CT</td>" in page  # kept values are shown as they are
    assert "CompressedSamples" in deid_table_html(rows, "summary", masked=False)
    table = profile_rows()
    everything = profile_table_html(table)
    only_u = profile_table_html(table, PROFILE_FILTERS["U (new UID)"])
    assert "Patient&#x27;s Name" in everything and "Patient&#x27;s Name" not in only_u
    assert f"{sum(r['action'] == 'U' for r in table)} of the table" in only_u


def test_lab_shows_the_profile_and_redraws_it_when_the_filter_changes():
    from radlab.widgets.collection import DataCollectionLab

    lab = DataCollectionLab(n_patients=2, size=32, seed=0)
    assert "C•••" in lab.deid_html.value and "rule" in lab.deid_html.value
    before = lab.profile_html.value
    lab.profile_filter.value = "X (remove)"
    assert lab.profile_html.value != before and "Private attributes" in lab.profile_html.value
