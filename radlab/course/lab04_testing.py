"""Lab 4 — Testing: prevalence, Bayes, the one look at the test set, confidence intervals, thresholds."""
from __future__ import annotations

from typing import Any

from radlab.course import need
from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "labs/04_testing"

PREVALENCE = "the prevalence of the positive class"
OPTIMISTIC = "an optimistic estimate: the test set has been used to tune the model"


def exercises(lab: Any = None) -> ExerciseSet:
    """The lab's questions; ``your_test_auc`` is answered by ``lab`` (a ``TestingLab``) once its test set is evaluated."""

    def report() -> Any:
        return need(getattr(lab, "report", None),
                    "evaluate the test set first: press 'Evaluate on the test set (once)' in the lab")

    def your_test_auc() -> float:
        return float(report().auc.auc)

    def gave_validation_auc(value: Any) -> bool:
        val = float(need(lab, "open the lab first").val_auc.auc)
        return abs(float(value) - val) <= 0.005 and abs(val - your_test_auc()) > 0.005

    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "prevalence", "At the same threshold, sensitivity and specificity are similar on validation and test, "
                          "but PPV and NPV are not. Which property of the two sets explains it?",
            choice(PREVALENCE),
            choices=(PREVALENCE, "the number of training epochs", "the image size", "the random seed of the bootstrap"),
            hints=["Sensitivity and specificity are computed within each true class; PPV and NPV are not.",
                   "Compare the 'prevalence' row of the table, and look at the PPV/NPV-vs-prevalence figure."],
            solution="The prevalence. Sensitivity and specificity are conditional on the true class; PPV and NPV "
                     "mix in how common the disease is (Bayes' rule). PneumoniaMNIST's validation set is 74% "
                     "pneumonia, its test set 62.5%.",
            mistakes=[Mistake("the number of training epochs", "the model is the same on both sets; only the "
                                                               "sets differ."),
                      Mistake("the random seed of the bootstrap", "the bootstrap only gives the interval; the point "
                                                                  "values differ without it.")]),
        Exercise(
            "bayes", "A test has sensitivity 0.90 and specificity 0.80. In a population where 10% of patients have "
                     "the disease, what is its PPV? (a number between 0 and 1)",
            number(0.09 / (0.09 + 0.2 * 0.9), abs_tol=0.01),
            hints=["PPV = true positives / all positive calls. Count both per 100 patients.",
                   "PPV = sens·p / (sens·p + (1 − spec)·(1 − p)) with p = 0.10."],
            solution="Per 100 patients: 10 ill → 9 true positives; 90 healthy → 18 false positives. "
                     "PPV = 9 / (9 + 18) = 1/3 ≈ 0.33: most positive calls are false alarms at low prevalence.",
            mistakes=[Mistake(0.9, "0.90 is the sensitivity: P(positive call | ill). PPV is P(ill | positive call)."),
                      Mistake(0.8, "0.80 is the specificity; PPV needs the prevalence too (Bayes)."),
                      Mistake(0.09, "0.09 are the true positives per patient; divide by all positive calls "
                                    "(0.09 + 0.18)."),
                      Mistake(lambda v: abs(float(v) - 33.3) <= 1.0, "give it as a number between 0 and 1, not a "
                                                                       "percentage.")]),
        Exercise(
            "second_look", "You evaluated on the test set, did not like the sensitivity, moved the threshold using "
                           "the test numbers and evaluated again. What does the second test result estimate?",
            choice(OPTIMISTIC),
            choices=(OPTIMISTIC, "an unbiased estimate of performance on new patients",
                     "exactly the validation performance"),
            hints=["What is the test set for?",
                   "Once a decision (the threshold) depends on the test set, is it still data the model has not "
                   "been tuned on?"],
            solution="An optimistic estimate: once a decision depends on it, the test set is part of tuning; only "
                     "new data can tell how the model does.",
            mistakes=[Mistake("an unbiased estimate of performance on new patients",
                              "it was unbiased at the first look; the threshold was then tuned on it.")]),
        Exercise(
            "ci_width", "The bootstrap 95% CI of the test AUC has some width. If the test set were four times larger "
                        "(same prevalence), the interval would be about ...",
            choice("half as wide"),
            choices=("half as wide", "the same width", "four times narrower", "twice as wide"),
            hints=["Standard errors shrink with the number of cases, but not in proportion.",
                   "A standard error goes like 1/√n: what is 1/√4?"],
            solution="Width ∝ 1/√n: four times the images, half the width.",
            mistakes=[Mistake("four times narrower", "the width shrinks with the square root of n, not n itself."),
                      Mistake("the same width", "more cases always pin the AUC down better.")]),
        Exercise(
            "accuracy_threshold", "Which threshold rule is most affected by the difference in prevalence between "
                                  "validation and test?",
            choice("maximum accuracy"), choices=("maximum accuracy", "Youden's J", "0.5 (no tuning)"),
            hints=["Which rules look at the classes' sizes, and which only at rates within each class?",
                   "Accuracy counts correct images of both classes, weighted by how many there are."],
            solution="Maximum accuracy: accuracy weighs each class by its share of the set, so the threshold that "
                     "maximises it moves with prevalence; Youden's J uses sensitivity and specificity only.",
            mistakes=[Mistake("Youden's J", "J = sensitivity + specificity − 1 uses within-class rates only."),
                      Mistake("0.5 (no tuning)", "a fixed 0.5 does not depend on any set at all.")]),
        Exercise(
            "your_test_auc", "What is your model's test AUC in the lab (the one look), to two decimals?",
            number(your_test_auc, abs_tol=0.005),
            hints=["Press 'Evaluate on the test set (once)'; the report appears above the button.",
                   "Read the AUC from the test column or the ROC title, not the dashed validation curve."],
            solution="The AUC on the test set at the one look: the number you would report, with its interval.",
            mistakes=[Mistake(gave_validation_auc, "you gave the validation AUC, not the test AUC.")]),
    ])
