"""Lab 2 — Splitting: ML's test set, patients that leak, k-fold by patient, the AUC the leak makes up."""
from __future__ import annotations

from typing import Any

from radlab.course import need
from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "labs/02_splitting"


def exercises(lab: Any = None) -> ExerciseSet:
    """The lab's questions; two are answered by ``lab`` (a ``SplittingLab``): its split and its experiment."""

    def leaking_patients() -> int:
        report = need(lab, "open the lab first: the answer comes from its split").reports["image"]
        return len(report.patient_overlaps[("train", "test")])

    def seen_in_train_or_val(value: Any) -> bool:
        report = need(lab, "open the lab first").reports["image"]
        leaking = len(report.leaking_patients)
        return leaking != leaking_patients() and float(value) == leaking

    def experiment() -> Any:
        return need(getattr(lab, "experiment", None),
                    "run the experiment first: press 'Train both' in the lab (or run lab.run_experiment())")

    def inflation() -> float:
        return round(experiment().inflation, 2)

    def gave_leaky_auc(value: Any) -> bool:
        return abs(float(value) - experiment().auc["image"]) <= 0.01 and abs(experiment().inflation) > 0.02

    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "vocabulary", "A radiology paper reports its model's AUC on a held-out 'validation set' it looked at "
                          "only once, at the end. Which split is that in this course?",
            choice("test"), choices=("train", "val", "test"),
            hints=["In ML, the validation (val) set is used again and again to tune and choose models.",
                   "Which of the three splits is touched only once, at the very end?"],
            solution="Medicine's 'validation' (held out, looked at once) is ML's test set; ML's validation set is "
                     "the one used to tune.",
            mistakes=[Mistake("val", "the word matches, but ML's val set is used again and again for tuning; "
                                     "a set looked at once at the end is ML's test set."),
                      Mistake("train", "the model never learns from a set that is only looked at at the end.")]),
        Exercise(
            "leaking_patients", "With the split by image and the seed on the lab's slider, how many patients have "
                                "images in both train and test?",
            number(leaking_patients),
            hints=["Set the toggle to 'by image (leaky)'; the leakage report lists the overlaps per pair of splits.",
                   "Read the 'same patient, train ∩ test' row of the leakage report (only train and test, not val)."],
            solution="Each of them lets the model be tested on a patient it has already seen: its test score "
                     "measures memory, not diagnosis. The number changes with the seed; the split by patient has none.",
            mistakes=[Mistake(0, "0 is the split by patient; set the toggle to 'by image (leaky)'."),
                      Mistake(seen_in_train_or_val, "that counts every leaking patient (val included); the "
                                                    "question asks for train ∩ test only.")]),
        Exercise(
            "kfold", "In 5-fold cross-validation by patient, in how many folds is each patient held out?",
            number(1),
            hints=["Look at the k-fold figure: each row is a patient, each column a fold.",
                   "Count the held-out (orange) cells in one patient's row."],
            solution="Exactly once: the patients are cut into k groups and each group is held out in one fold, "
                     "so every patient is validated on once and trains the other k − 1 models.",
            mistakes=[Mistake(5, "5 is the number of folds; a patient is held out in only one of them."),
                      Mistake(4, "in 4 folds the patient is in training; held out, only once.")]),
        Exercise(
            "leak_gap", "By how much (to two decimals) does the leaky test AUC overstate the AUC on new patients, "
                        "in your run of the experiment?",
            number(inflation, abs_tol=0.01),
            hints=["The experiment's figure has four bars: each split's own test set, and new patients.",
                   "Subtract the 'new patients' bar from the 'its own test set' bar, both for the split by image."],
            solution="Leaky test AUC − new-patient AUC: the score the leak made up, which a split by patient would "
                     "have avoided.",
            mistakes=[Mistake(gave_leaky_auc, "that is the leaky test AUC itself; subtract the AUC on new patients."),
                      Mistake(lambda v: abs(float(v) + inflation()) <= 0.01 and abs(inflation()) > 0.01,
                              "the sign is reversed: test AUC minus new-patient AUC.")]),
    ])
