"""De-identification of DICOM headers: the whole PS3.15 basic application level confidentiality profile.

DICOM PS3.15 Annex E, Table E.1-1, lists every attribute that can identify a patient and what
to do with it. The actions:

* **D** replace with a dummy value that fits the VR (names and IDs get a *pseudonym*: the same
  patient always gets the same one within a session, so a patient's images stay together);
* **Z** replace with an empty value (Z also allows a dummy; RadLab empties);
* **X** remove the attribute;
* **K** keep it (an option says it is needed, e.g. the patient's age for a study of age);
* **C** clean it: keep the meaning, remove what identifies (dates shifted by a per-patient
  number of days, free text with the patient's names, IDs and dates blacked out);
* **U** replace a UID with a new one, the same new UID for the same old UID, so the series,
  study and every reference between files stay consistent.

Combinations (X/Z, X/D, Z/D, X/Z/D, X/Z/U*) leave the choice to whether the attribute is
required in the file's IOD. RadLab's copies are for viewing and training, not for sending
back to a PACS, so by default it takes the most private choice: **remove** (X) for every
combination that starts with X, a dummy (D) for Z/D. ``conformant=True`` keeps every such
attribute present instead (X/Z -> Z, X/D and X/Z/D -> D, X/Z/U* -> U for the UIDs inside).
Private attributes (odd groups), overlay data and comments (60xx) and curves (50xx) are
removed; sequences are walked, so a name hidden in an item is treated like one at the top.

The table is not typed by hand: the basic profile's actions are read from the maintained
``dicom-anonymizer`` package (``dicomanonymizer.dicom_anonymization_databases``, one module
per edition of the standard, :data:`PROFILE_EDITION` by default); attribute names and the
options' K/C columns, which that package does not ship, come from :mod:`radlab.data._ps315_table`.

Pixels are not touched. Burned-in text (``BurnedInAnnotation`` YES, screen captures, scanned
documents) is *warned about* in the report: such images need their pixels cleaned or must
be left out.
"""
from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import importlib
import importlib.metadata
import re
import secrets
from dataclasses import dataclass, field
from typing import Iterable

import pydicom
from pydicom.datadict import dictionary_description
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from radlab.data import _ps315_table
from radlab.errors import DataError

#: The edition of DICOM PS3.15 Table E.1-1 used by default (a dicom-anonymizer module name suffix).
PROFILE_EDITION = "2026c"
#: The profile's action codes and what each one does, in words (for the lab's legend).
ACTION_WORDS: dict[str, str] = {
    "D": "replace with a dummy value (names/IDs: a consistent pseudonym)",
    "Z": "replace with an empty value",
    "X": "remove",
    "K": "keep (an option retains it)",
    "C": "clean (dates shifted, identifying words in text blacked out)",
    "U": "replace the UID with a new one, consistently",
    "Z/D": "Z unless D is required; RadLab: D",
    "X/Z": "X unless Z is required; RadLab: X (Z if conformant)",
    "X/D": "X unless D is required; RadLab: X (D if conformant)",
    "X/Z/D": "X unless Z or D is required; RadLab: X (D if conformant)",
    "X/Z/U*": "X unless Z or new contained UIDs are required; RadLab: X (U inside if conformant)",
}
#: Profile options RadLab implements (Table E.1-1's option columns). Each turns some actions into K or C.
OPTIONS: dict[str, str] = {
    "retain_patient_characteristics": "Retain Patient Characteristics Option (age, sex, size, weight…)",
    "retain_device_identity": "Retain Device Identity Option (serial numbers, station names)",
    "retain_institution_identity": "Retain Institution Identity Option",
    "retain_uids": "Retain UIDs Option",
    "retain_full_dates": "Retain Longitudinal Temporal Information with Full Dates Option",
    "retain_modified_dates": "Retain Longitudinal Temporal Information with Modified Dates Option",
    "clean_descriptors": "Clean Descriptors Option",
}
#: DCM codes for PS3.15's profile and options (PS3.16 CID 7050), written in DeidentificationMethodCodeSequence.
_OPTION_CODES = {"basic": ("113100", "Basic Application Confidentiality Profile"),
                 "clean_descriptors": ("113105", "Clean Descriptors Option"),
                 "retain_full_dates": ("113106", "Retain Longitudinal Temporal Information Full Dates Option"),
                 "retain_modified_dates": ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
                 "retain_patient_characteristics": ("113108", "Retain Patient Characteristics Option"),
                 "retain_device_identity": ("113109", "Retain Device Identity Option"),
                 "retain_uids": ("113110", "Retain UIDs Option"),
                 "retain_institution_identity": ("113112", "Retain Institution Identity Option")}
_CATEGORIES = {"D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D",
               "X_Z_TAGS": "X/Z", "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D", "X_Z_U_STAR_TAGS": "X/Z/U*"}
#: Attributes replaced by a pseudonym (D) although the profile allows empty (Z): a consistent
#: stand-in keeps a patient's images together for splits by patient (Lab 2).
PSEUDONYMISED = ("PatientName", "PatientID")
#: Secondary Capture SOP classes: screen captures and scans, where text is often burned into the pixels.
SECONDARY_CAPTURE = {"1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.7.1", "1.2.840.10008.5.1.4.1.1.7.2",
                     "1.2.840.10008.5.1.4.1.1.7.3", "1.2.840.10008.5.1.4.1.1.7.4"}
#: ConversionType values of images that did not come straight from a modality.
CONVERSION_TYPES = {"WSD": "workstation (screen capture)", "SD": "scanned document", "SI": "scanned image",
                    "DF": "digitized film", "DV": "digitized video", "DRW": "drawing"}

#: A random salt per Python session: the same patient/UID maps to the same stand-in within a
#: session (a folder's images still group together) but stand-ins cannot be reversed.
_SESSION_SALT = secrets.token_hex(16)
DEID_METHOD = f"RadLab PS3.15 Annex E basic profile, table {PROFILE_EDITION}"  # LO: at most 64 characters


# --------------------------------------------------------------------------- the table

@dataclass(frozen=True)
class ProfileRule:
    """One row of Table E.1-1: a tag (or a repeating-group pattern), its action and option actions."""

    tag: str                    # "(0010,0010)", "(60xx,3000)", "(50xx,xxxx)"
    name: str
    action: str                 # D, Z, X, U or a combination such as X/Z/D
    options: dict[str, str]     # option name -> K or C


@dataclass
class Profile:
    """Table E.1-1 as lookups: exact tags, repeating-group patterns, and the options' columns."""

    edition: str
    source: str
    exact: dict[int, str]                               # tag as int -> action
    patterns: list[tuple[int, int, int, int, str]]      # (group, element, group mask, element mask, action)
    options: dict[str, dict[str, str]] = field(default_factory=dict)  # "GGGG,EEEE" -> {option: K|C}

    def action_for(self, tag: int) -> str | None:
        """The basic profile's action for a (non-private) tag, or None when the table does not list it."""
        action = self.exact.get(tag)
        if action is not None:
            return action
        group, element = tag >> 16, tag & 0xFFFF
        for g, e, gmask, emask, act in self.patterns:
            if group & gmask == g & gmask and element & emask == e & emask:
                return act
        return None

    def option_actions(self, tag: int) -> dict[str, str]:
        """{option: K or C} for the options that change this tag."""
        group, element = tag >> 16, tag & 0xFFFF
        key = f"{group:04X},{element:04X}"
        if key in self.options:
            return self.options[key]
        if group & 0xFF00 == 0x6000:
            return self.options.get(f"60XX,{element:04X}", {})
        if group & 0xFF00 == 0x5000:
            return self.options.get("50XX,XXXX", {})
        return {}

    def rules(self) -> list[ProfileRule]:
        """Every row, sorted by tag, with the standard's name (for the lab's table)."""
        rows = []
        for tag, action in self.exact.items():
            key = f"{tag >> 16:04X},{tag & 0xFFFF:04X}"
            rows.append((tag, ProfileRule(f"({key})", _name(tag), action, self.options.get(key, {}))))
        for g, e, _gmask, emask, action in self.patterns:
            key = f"{g >> 8:02X}XX," + ("XXXX" if emask == 0 else f"{e:04X}")
            rows.append(((g << 16) | e, ProfileRule(f"({key[:2]}xx,{key[5:].replace('XXXX', 'xxxx')})",
                                                    _ps315_table.NAMES.get(key, key), action,
                                                    self.options.get(key, {}))))
        rows.append((1 << 33, ProfileRule("(gggg,eeee), gggg odd", "Private attributes", "X",
                                          _ps315_table.OPTIONS.get("GGGG,EEEE", {}))))
        return [rule for _, rule in sorted(rows, key=lambda r: r[0])]

    def __len__(self) -> int:
        return len(self.exact) + len(self.patterns)


def _name(tag: int) -> str:
    key = f"{tag >> 16:04X},{tag & 0xFFFF:04X}"
    if key in _ps315_table.NAMES:
        return _ps315_table.NAMES[key]
    try:
        return dictionary_description(tag)
    except KeyError:
        return f"({key})"


_PROFILES: dict[str, Profile] = {}


def load_profile(edition: str = PROFILE_EDITION) -> Profile:
    """Table E.1-1 of one edition, read from dicom-anonymizer's maintained copy (cached)."""
    if edition in _PROFILES:
        return _PROFILES[edition]
    if not re.fullmatch(r"[0-9]{4}[a-e]?", str(edition)):
        raise DataError(f"unknown edition {edition!r} of the confidentiality profile",
                        fix=f"use an edition such as {PROFILE_EDITION!r}")
    module = f"dicomanonymizer.dicom_anonymization_databases.dicomfields_{edition}"
    try:
        table = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise DataError(f"the profile table {module} is not installed ({exc})",
                        fix="pip install 'dicom-anonymizer>=2.1' (it ships PS3.15 Table E.1-1 per edition), "
                            f"or choose an installed edition (default {PROFILE_EDITION!r})") from exc
    exact: dict[int, str] = {}
    patterns: list[tuple[int, int, int, int, str]] = []
    for category, action in _CATEGORIES.items():
        for entry in getattr(table, category):
            if len(entry) == 2:
                exact[(entry[0] << 16) | entry[1]] = action
            else:
                patterns.append((entry[0], entry[1], entry[2], entry[3], action))
    try:
        version = " " + importlib.metadata.version("dicom-anonymizer")
    except importlib.metadata.PackageNotFoundError:
        version = ""
    profile = Profile(edition=edition, source=f"dicom-anonymizer{version}: {module}",
                      exact=exact, patterns=patterns, options=_ps315_table.OPTIONS)
    _PROFILES[edition] = profile
    return profile


def profile_rows(edition: str = PROFILE_EDITION) -> list[dict[str, str]]:
    """Table E.1-1 as rows (tag, name, action, options) for a lab to show."""
    return [{"tag": r.tag, "name": r.name, "action": r.action,
             "options": ", ".join(f"{o}: {a}" for o, a in sorted(r.options.items()))}
            for r in load_profile(edition).rules()]


# --------------------------------------------------------------------------- the report

@dataclass(frozen=True)
class DeidAction:
    """What de-identification did to one attribute: tag, name, the action applied, old and new value.

    ``rule`` is the table's action (e.g. ``X/Z/D``) when it differs from the applied ``action``
    (e.g. ``X``); nested attributes carry their path in ``keyword`` (``Sequence[0].Attribute``).
    """

    tag: str        # "(0010,0010)"
    keyword: str    # "PatientName" (or "private tag")
    action: str     # D, Z, X, U, K or C
    old: str
    new: str
    rule: str = ""


@dataclass
class DeidReport:
    """Everything de-identification changed (``actions``), kept (``kept``) and warns about."""

    actions: list[DeidAction] = field(default_factory=list)
    method: str = DEID_METHOD
    kept: list[DeidAction] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    edition: str = PROFILE_EDITION
    options: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.actions)

    def rows(self, *, include_kept: bool = False) -> list[dict[str, str]]:
        """The report as table rows (tag, keyword, action, old, new, rule) for a lab to show."""
        return [vars(a).copy() for a in (self.actions + (self.kept if include_kept else []))]

    def count(self, action: str) -> int:
        """How many elements got ``action`` (D, Z, X, U or C; K counts the kept ones)."""
        return sum(a.action == action for a in (self.kept if action == "K" else self.actions))

    def __str__(self) -> str:
        counts = ", ".join(f"{a} {self.count(a)}" for a in "DZXUC")
        lines = [f"{self.method}: {len(self)} changes ({counts}), {len(self.kept)} attributes kept"]
        lines += [f"  WARNING: {w}" for w in self.warnings]
        lines += [f"  {a.tag} {a.keyword:<28} {a.action}  {a.old!r} -> {a.new!r}" for a in self.actions]
        return "\n".join(lines)


def mask(value: str) -> str:
    """Hide an identifying value on screen: the first character of each word, then dots.

    ``"Smith^John"`` -> ``"S••••^J•••"``; short structure (separators, length) stays visible.
    """
    return re.sub(r"(?<=[0-9A-Za-z])[0-9A-Za-z]", "•", str(value))


# --------------------------------------------------------------------------- the actions

def _short(value: object, limit: int = 64) -> str:
    if isinstance(value, (bytes, bytearray)):
        text = f"<{len(value)} bytes>"
    elif isinstance(value, Sequence):
        text = f"<sequence of {len(value)} items>"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pseudonym(kind: str, value: str, salt: str) -> str:
    """A stable, irreversible stand-in for ``value`` (same input and salt -> same output)."""
    return hashlib.sha256(f"{salt}|{kind}|{value}".encode()).hexdigest()[:10].upper()


def new_uid(old: str, salt: str) -> str:
    """The replacement UID for ``old``: the same for the same ``old`` and salt, so references stay consistent."""
    return generate_uid(entropy_srcs=[salt, str(old)])


def _dummy_value(elem: pydicom.DataElement, salt: str) -> object:
    """A dummy value (action D) that fits the element's VR."""
    vr, old = elem.VR, elem.value
    if elem.keyword == "PatientID":
        return "ANON-" + _pseudonym("id", str(old), salt)
    if vr == "PN":
        return "Anonymous^" + _pseudonym("name", str(old), salt)
    if vr == "UI":
        return [new_uid(v, salt) for v in old] if elem.VM > 1 else new_uid(old, salt) if old else old
    return {"DA": "19000101", "TM": "000000", "DT": "19000101000000", "AS": "000Y", "DS": "0", "IS": "0",
            "UR": "http://anonymized.invalid", "CS": "ANONYMIZED", "AE": "ANONYMIZED"}.get(vr, _binary_or_text(vr))


def _binary_or_text(vr: str) -> object:
    if vr in ("US", "SS", "UL", "SL", "FL", "FD", "SV", "UV", "AT"):
        return 0
    if vr in ("OB", "OW", "OD", "OF", "OL", "OV", "UN"):
        return b"ANONYMIZED"
    return "ANONYMIZED"


class _Deidentifier:
    """One de-identification run: profile, options, salt and the report being written."""

    def __init__(self, profile: Profile, options: frozenset[str], keep: frozenset[str], salt: str,
                 conformant: bool, original: Dataset):
        self.profile, self.options, self.keep, self.salt = profile, options, keep, salt
        self.conformant = conformant
        self.report = DeidReport(method=f"RadLab PS3.15 Annex E basic profile, table {profile.edition}",
                                 edition=profile.edition, options=tuple(sorted(options)))
        pid = str(original.get("PatientID", "")) + str(original.get("PatientName", ""))
        # retain_modified_dates: every date of a patient moves by the same number of days (1-3 years back)
        self.day_shift = 365 + int(_pseudonym("days", pid, salt), 16) % 730
        self.identifiers = _identifying_words(original)

    # --- choosing the action -----------------------------------------------------------
    def decide(self, elem: pydicom.DataElement) -> tuple[str, str]:
        """(rule, action) for a non-private element; rule "" means the table does not list it."""
        rule = self.profile.action_for(int(elem.tag)) or ""
        if elem.keyword and elem.keyword in self.keep:
            return rule, "K"
        chosen = [a for o, a in self.profile.option_actions(int(elem.tag)).items() if o in self.options]
        if chosen:
            return rule, "K" if "K" in chosen else "C"
        if not rule:
            return "", "K"
        if elem.keyword in PSEUDONYMISED:
            return rule, "D"
        if "/" not in rule:
            return rule, rule
        if rule == "Z/D":
            return rule, "D"
        if not self.conformant:
            return rule, "X"
        return rule, {"X/Z": "Z", "X/D": "D", "X/Z/D": "D", "X/Z/U*": "U*"}[rule]

    # --- walking the dataset --------------------------------------------------------------
    def run(self, ds: Dataset, path: str = "") -> None:
        for elem in list(ds):  # a list: elements are deleted while iterating
            tag = f"({elem.tag.group:04X},{elem.tag.element:04X})"
            old = _short(elem.value)
            if elem.tag.is_private:
                del ds[elem.tag]
                self._log(tag, path + "private tag" if path else "private tag", "X", old, "", "X")
                continue
            if elem.tag.element == 0 and elem.tag.group != 0xFFFE and elem.VR == "UL":  # group length
                continue
            rule, action = self.decide(elem)
            where = path + (elem.keyword or _name(int(elem.tag)))
            if action == "K":
                if elem.VR == "SQ":  # K for a sequence: kept, and its items de-identified (PS3.15 E.1.1)
                    for i, item in enumerate(elem.value):
                        self.run(item, f"{where}[{i}].")
                if not path:
                    self.report.kept.append(DeidAction(tag, where, "K", old, old, rule))
                continue
            if action == "Z" and old == "":
                continue  # already empty: nothing to change, nothing to report
            new = self.apply(ds, elem, action, where)
            self._log(tag, where, "U" if action == "U*" else action, old, new, rule)

    def apply(self, ds: Dataset, elem: pydicom.DataElement, action: str, where: str) -> str:
        """Do ``action`` to ``elem`` (inside ``ds``) and return the new value as text."""
        if action == "X":
            del ds[elem.tag]
            return ""
        if action == "Z":
            elem.value = Sequence([]) if elem.VR == "SQ" else None
            return ""
        if action == "D":
            if elem.VR == "SQ":
                for item in elem.value:
                    self._dummy_item(item)
            else:
                elem.value = _dummy_value(elem, self.salt)
            return _short(elem.value)
        if action in ("U", "U*"):
            if elem.VR == "SQ":  # X/Z/U*, conformant: keep the items, new instance UIDs inside
                for i, item in enumerate(elem.value):
                    self.run(item, f"{where}[{i}].")
            elif elem.VR == "UI":
                elem.value = _dummy_value(elem, self.salt)
            else:
                elem.value = None
            return _short(elem.value)
        if action == "C":
            self._clean(elem, where)
            return _short(elem.value)
        raise DataError(f"unknown de-identification action {action!r}", fix="use D, Z, X, K, C or U")

    def _dummy_item(self, item: Dataset) -> None:
        """D for a sequence: every attribute of every item replaced by a dummy (UIDs by new UIDs)."""
        for elem in list(item):
            if elem.tag.is_private:
                del item[elem.tag]
            elif elem.VR == "SQ":
                for sub in elem.value:
                    self._dummy_item(sub)
            elif not (elem.VR == "UI" and self.profile.action_for(int(elem.tag)) is None):
                elem.value = _dummy_value(elem, self.salt)  # class UIDs (not in the table) are kept

    def _clean(self, elem: pydicom.DataElement, where: str) -> None:
        """C: keep the meaning, drop the identity (dates shifted, identifying words blacked out)."""
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value):
                self.run(item, f"{where}[{i}].")
        elif elem.VR in ("DA", "DT"):
            elem.value = _shift_dates(elem.value, -self.day_shift)
        elif elem.VR in ("LO", "LT", "SH", "ST", "UT", "UC", "PN") and elem.value:
            values = elem.value if elem.VM > 1 else [elem.value]
            cleaned = [_scrub(str(v), self.identifiers) for v in values]
            elem.value = cleaned if elem.VM > 1 else cleaned[0]
        # other VRs (times, codes, numbers): kept as they are

    def _log(self, tag: str, keyword: str, action: str, old: str, new: str, rule: str) -> None:
        self.report.actions.append(DeidAction(tag, keyword, action, old, new, rule if rule != action else ""))


def _identifying_words(ds: Dataset) -> set[str]:
    """Words of the file's names, IDs and dates (what a free-text description must not repeat)."""
    words: set[str] = set()
    for keyword in ("PatientName", "PatientID", "OtherPatientIDs", "PatientBirthDate", "StudyDate",
                    "AccessionNumber", "InstitutionName", "ReferringPhysicianName", "PerformingPhysicianName",
                    "OperatorsName", "StationName", "PatientAddress", "StudyID"):
        value = ds.get(keyword)
        if value:
            words |= {w.lower() for w in re.split(r"[\s^,;:/\\.\-]+", str(value)) if len(w) >= 3}
    return words


def _scrub(text: str, identifiers: set[str]) -> str:
    """Black out words found among the identifiers, and digit runs long enough to be IDs or dates."""
    text = re.sub(r"\d{5,}", "***", text)
    return re.sub(r"[0-9A-Za-z]+", lambda m: "***" if m.group(0).lower() in identifiers else m.group(0), text)


def _shift_dates(value: object, days: int) -> object:
    """Move DA/DT values by ``days`` (the time of day is kept); unreadable values become empty."""
    values = list(value) if isinstance(value, pydicom.multival.MultiValue) else [value]
    out = []
    for v in values:
        text = str(v)
        try:
            day = _dt.datetime.strptime(text[:8], "%Y%m%d").date() + _dt.timedelta(days=days)
            out.append(day.strftime("%Y%m%d") + text[8:])
        except ValueError:
            out.append("")
    return out if len(out) > 1 else out[0]


def burned_in_warnings(ds: Dataset) -> list[str]:
    """Reasons to suspect identifying text in the pixels themselves (which header cleaning cannot reach)."""
    found = []
    if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
        found.append("BurnedInAnnotation is YES: the pixels contain text that may identify the patient; "
                     "clean the pixels (mask the text) or leave the image out")
    if str(ds.get("RecognizableVisualFeatures", "")).upper() == "YES":
        found.append("RecognizableVisualFeatures is YES: the image may show the face or other recognisable "
                     "features")
    if str(ds.get("SOPClassUID", "")) in SECONDARY_CAPTURE:
        found.append("a Secondary Capture image (a screen capture or scan): text is often burned into the "
                     "pixels; check them before sharing")
    conversion = str(ds.get("ConversionType", "")).upper()
    if conversion in CONVERSION_TYPES:
        found.append(f"ConversionType {conversion} ({CONVERSION_TYPES[conversion]}): the image did not come "
                     "straight from a scanner and may carry burned-in text")
    if "SCREEN SAVE" in {str(v).upper() for v in (ds.get("ImageType") or [])}:
        found.append("ImageType says SCREEN SAVE: a screen capture, possibly with burned-in text")
    return found


def deidentify(ds: Dataset, *, salt: str | None = None, options: Iterable[str] = (),
               keep: Iterable[str] = (), conformant: bool = False,
               edition: str = PROFILE_EDITION) -> tuple[Dataset, DeidReport]:
    """Return a de-identified copy of ``ds`` and a report of what was removed, replaced or kept.

    Applies PS3.15 Table E.1-1 (``edition``) to every attribute, in sequences too; removes
    private attributes, overlays' data and curves; replaces UIDs consistently (same old UID ->
    same new UID for the same ``salt``; the default salt lasts one Python session). ``options``
    (see :data:`OPTIONS`) turn some actions into K or C; ``keep`` names extra attributes to keep
    (K) on your own responsibility. Sets PatientIdentityRemoved, DeidentificationMethod and its
    code sequence, and warns (``report.warnings``) when the pixels may hold burned-in text.
    ``ds`` itself is not changed; pixels are copied as they are.
    """
    options = frozenset(options)
    unknown = options - set(OPTIONS)
    if unknown:
        raise DataError(f"unknown de-identification option(s) {sorted(unknown)}", fix=f"use some of {list(OPTIONS)}")
    if {"retain_full_dates", "retain_modified_dates"} <= options:
        raise DataError("retain_full_dates and retain_modified_dates contradict each other",
                        fix="choose one: full dates (K) or dates shifted per patient (C)")
    salt = _SESSION_SALT if salt is None else str(salt)
    clean = copy.deepcopy(ds)
    run = _Deidentifier(load_profile(edition), options, frozenset(keep), salt, conformant, ds)
    run.run(clean)
    meta = getattr(clean, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta:
        old = str(meta.MediaStorageSOPInstanceUID)
        if "retain_uids" not in options:
            meta.MediaStorageSOPInstanceUID = new_uid(old, salt)
            run.report.actions.append(DeidAction("(0002,0003)", "MediaStorageSOPInstanceUID", "U", old,
                                                 str(meta.MediaStorageSOPInstanceUID)))
    run.report.warnings = burned_in_warnings(ds)
    clean.PatientIdentityRemoved = "YES"
    clean.DeidentificationMethod = run.report.method[:64]
    codes = []
    for key in ("basic", *sorted(options)):
        item = Dataset()
        item.CodeValue, item.CodeMeaning = _OPTION_CODES[key]
        item.CodingSchemeDesignator = "DCM"
        codes.append(item)
    clean.DeidentificationMethodCodeSequence = Sequence(codes)
    clean.LongitudinalTemporalInformationModified = (
        "UNMODIFIED" if "retain_full_dates" in options else
        "MODIFIED" if "retain_modified_dates" in options else "REMOVED")
    return clean, run.report


def surviving(ds: Dataset, needles: Iterable[str]) -> set[str]:
    """Which of ``needles`` still appear in any value of ``ds`` (sequences and file meta included).

    The check behind RadLab's de-identification tests: plant a unique marker in every attribute
    of the table, de-identify, and count the markers that survived.
    """
    needles = set(needles)
    found: set[str] = set()

    def visit(data: Dataset) -> None:
        for elem in data:
            if elem.VR == "SQ":
                for item in elem.value or []:
                    visit(item)
                continue
            value = elem.value
            if isinstance(value, (bytes, bytearray)):
                text = bytes(value).decode("latin-1")
            elif isinstance(value, pydicom.multival.MultiValue):
                text = "\\".join(str(v) for v in value)
            else:
                text = str(value)
            found.update(n for n in needles if n in text)

    visit(ds)
    if getattr(ds, "file_meta", None) is not None:
        visit(ds.file_meta)
    return found


__all__ = ["PROFILE_EDITION", "ACTION_WORDS", "OPTIONS", "DEID_METHOD", "Profile", "ProfileRule", "DeidAction",
           "DeidReport", "load_profile", "profile_rows", "deidentify", "burned_in_warnings", "mask", "new_uid",
           "surviving"]
