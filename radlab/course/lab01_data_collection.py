"""Lab 1 — Data collection: windows, Hounsfield units, de-identification, MONOCHROME1."""
from __future__ import annotations

from typing import Any

from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "labs/01_data_collection"

#: The CT window presets of :data:`radlab.data.dicom.WINDOW_PRESETS` (a test keeps the two in step).
WINDOWS = ("lung", "mediastinum", "bone", "brain", "soft_tissue")

DEID_RIGHT = "The header holds names, IDs, dates and places that identify the patient"
PSEUDONYM_RIGHT = "So a patient's images can still be kept together in one split"


def exercises(lab: Any = None) -> ExerciseSet:
    """The lab's five questions (none depends on a run: the answers are facts the lab lets you find)."""
    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "nodule_window", "Which preset shows small lung nodules best on a chest CT?",
            choice("lung"), choices=WINDOWS,
            hints=["Nodules sit inside air-filled lung (about −850 HU). Which window is centred near lung?",
                   "Try each preset on the CT phantom with a nodule: in which one is the lung grey, not black, "
                   "and the nodule bright?"],
            solution="The lung window (level −600, width 1500) spreads −1350…+150 HU over the grey scale: lung is "
                     "grey, vessels and nodules bright. In a mediastinal or soft-tissue window the whole lung is black.",
            mistakes=[Mistake("mediastinum", "in the mediastinal window (−125…+225 HU) all of the lung is black, "
                                             "nodules included."),
                      Mistake("soft_tissue", "the soft-tissue window starts at −160 HU: the lung, and the nodule "
                                             "in it, are black."),
                      Mistake("bone", "the bone window is so wide (1800 HU) that a small nodule is barely "
                                      "brighter than the lung around it.")]),
        Exercise(
            "water_hu", "What is the Hounsfield value of water?", number(0.0, abs_tol=5.0),
            hints=["Hounsfield units are defined relative to water and air.",
                   "HU = 1000 × (μ − μ_water) / (μ_water − μ_air): put μ = μ_water in the formula."],
            solution="0 HU, by definition (air is −1000 HU); soft tissue is a few tens of HU above water, bone "
                     "hundreds to over a thousand.",
            mistakes=[Mistake(-1000, "−1000 HU is air; water is the other fixed point of the scale."),
                      Mistake(1000, "+1000 HU is dense bone; water is the zero of the scale.")]),
        Exercise(
            "why_deid", "Why de-identify DICOM files before sharing or exporting them?",
            choice(DEID_RIGHT),
            choices=("It makes the files smaller", DEID_RIGHT, "Models cannot read files that have a patient name"),
            hints=["Open the de-identification tab: what kind of values were removed?",
                   "Name, birth date, hospital, exam dates: what could someone do with them?"],
            solution="Privacy law (GDPR, HIPAA) and ethics: the header identifies the patient even when the image "
                     "does not. Burned-in text in the pixels needs cleaning too.",
            mistakes=[Mistake("It makes the files smaller", "removing a few header fields saves almost nothing; "
                                                             "look at what the fields are."),
                      Mistake("Models cannot read files that have a patient name",
                              "a model only sees the pixels; the header is for people, and it identifies the patient.")]),
        Exercise(
            "pseudonym", "De-identification replaced PatientID with the same pseudonym in every file of a patient. "
                         "Why not just delete it?",
            choice(PSEUDONYM_RIGHT),
            choices=(PSEUDONYM_RIGHT, "Because DICOM files without a PatientID cannot be opened",
                     "So the patient can be found again by anyone with the file"),
            hints=["Think ahead to Lab 2: what must you know about each image to split by patient?",
                   "A pseudonym tells you which images belong together, without telling you who the patient is."],
            solution="A consistent pseudonym keeps the grouping (needed to split by patient, Lab 2) without the "
                     "identity.",
            mistakes=[Mistake("Because DICOM files without a PatientID cannot be opened",
                              "readers open such files; the pseudonym is kept for what you do with the images later."),
                      Mistake("So the patient can be found again by anyone with the file",
                              "that is exactly what de-identification prevents: a pseudonym reveals no identity.")]),
        Exercise(
            "monochrome1", "In a MONOCHROME1 radiograph (RG1_UNCI.dcm), how is a HIGH stored pixel value displayed?",
            choice("dark"), choices=("dark", "bright"),
            hints=["MONOCHROME1 and MONOCHROME2 differ in one thing: which end of the grey scale is white.",
                   "Read the viewer's notes for the chest radiograph: RadLab inverts MONOCHROME1 images. Why would "
                   "it need to?"],
            solution="MONOCHROME1 shows the minimum as white, so a high value is dark. RadLab inverts such images so "
                     "high = bright = dense everywhere, as in MONOCHROME2 and CT.",
            mistakes=[Mistake("bright", "that is MONOCHROME2 (and CT); MONOCHROME1 is the inverted convention.")]),
    ])
