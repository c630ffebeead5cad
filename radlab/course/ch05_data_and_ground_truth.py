"""Chapter 5 — Data and ground truth: kappa by hand, the accuracy paradox, balanced accuracy, validation, other sites."""
from __future__ import annotations

from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "course/05_data_and_ground_truth"

# the two readers of the kappa exercise: counts of (A, B) calls on 100 nodules
_BOTH_MAL, _BOTH_BEN, _A_ONLY, _B_ONLY = 20, 60, 10, 10


def _kappa_expected() -> float:
    n = _BOTH_MAL + _BOTH_BEN + _A_ONLY + _B_ONLY
    p_o = (_BOTH_MAL + _BOTH_BEN) / n
    a_mal, b_mal = (_BOTH_MAL + _A_ONLY) / n, (_BOTH_MAL + _B_ONLY) / n
    p_e = a_mal * b_mal + (1 - a_mal) * (1 - b_mal)
    return (p_o - p_e) / (1 - p_e)


def exercises() -> ExerciseSet:
    """The chapter's exercises; the notebook calls ``ex.kappa.check(ANSWER_KAPPA)`` etc."""
    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "noise_chance",
            "Exactly half of the binary training labels are flipped at random. What validation AUC (against the "
            "true labels) do you expect from any model, in the long run?",
            number(0.5, abs_tol=1e-3),
            hints=["With half the labels flipped at random, is a malignant image more likely to be labelled "
                   "malignant than a benign one?",
                   "The labels no longer depend on the images at all: the model can only guess. What AUC does guessing give?"],
            solution="0.5, chance: every image is labelled malignant with probability ½ whatever it shows, so the "
                     "labels carry no information. The measured curve reaches about 0.5 at 50 % (up to the noise of a "
                     "small validation set).",
            mistakes=[Mistake(0.0, "an AUC of 0 would be perfectly wrong, which also needs information; flipped "
                                   "at random, the labels carry none."),
                      Mistake(0.75, "half the labels are still right, but the right and wrong ones cannot be told "
                                    "apart: the label says nothing about the image.")]),
        Exercise(
            "kappa",
            f"Two radiologists read 100 nodules. Both call {_BOTH_MAL} malignant, both call {_BOTH_BEN} benign; "
            f"A alone calls {_A_ONLY} malignant, B alone {_B_ONLY}. What is Cohen's kappa? (two decimals)",
            number(_kappa_expected(), abs_tol=0.01),
            hints=["κ = (p_observed − p_chance) / (1 − p_chance). p_observed is the share of nodules where they agree.",
                   "p_observed = 0.80. Each calls 30 % malignant, so by chance they agree on 0.3·0.3 + 0.7·0.7 = 0.58."],
            solution="(0.80 − 0.58) / (1 − 0.58) = 0.52: 'moderate' agreement, although they agree on 80 % of the "
                     "nodules. Most of that agreement is what two readers calling 30 % malignant at random would reach.",
            mistakes=[Mistake(0.8, "0.80 is the raw agreement; kappa subtracts the agreement expected by chance."),
                      Mistake(0.22, "that is p_observed − p_chance; divide by 1 − p_chance.")]),
        Exercise(
            "accuracy_paradox",
            "3 % of the nodules in a screening cohort are malignant. What accuracy does a model reach that calls "
            "every nodule benign? (a fraction, e.g. 0.5)",
            number(0.97, abs_tol=1e-3),
            hints=["It is right on every benign nodule and wrong on every malignant one.",
                   "What fraction of the nodules is benign?"],
            solution="0.97: a useless model with 97 % accuracy and 0 % sensitivity. With imbalanced classes report "
                     "sensitivity and specificity, balanced accuracy or the AUC.",
            mistakes=[Mistake(0.03, "0.03 is the share it gets wrong (all the malignant ones)."),
                      Mistake(97, "give a fraction: 0.97, not 97."),
                      Mistake(0.5, "0.5 is its balanced accuracy, not its accuracy.")]),
        Exercise(
            "balanced_accuracy",
            "A model has sensitivity 0.25 and specificity 0.98 on an imbalanced test set. What is its balanced "
            "accuracy? (three decimals)",
            number((0.25 + 0.98) / 2, abs_tol=1e-3),
            hints=["Balanced accuracy gives each class the same weight, whatever its size.",
                   "It is the mean of sensitivity (accuracy on the positives) and specificity (on the negatives)."],
            solution="(0.25 + 0.98) / 2 = 0.615: the high plain accuracy hid that three malignant nodules in four "
                     "are missed.",
            mistakes=[Mistake(0.98, "that is the specificity alone; average it with the sensitivity."),
                      Mistake(0.25 * 0.98, "average the two, do not multiply them.")]),
        Exercise(
            "medical_validation",
            "In a clinical radiology paper, 'the model was validated' usually means it was evaluated on: "
            "'the tuning set', 'independent data after development' or 'the training data'?",
            choice("independent data after development"),
            choices=("the tuning set", "independent data after development", "the training data"),
            hints=["Yamashita et al. 2018 point out that the word is used differently in medicine and in machine learning.",
                   "In machine learning the 'validation set' is used during development to tune; in medicine "
                   "'validation' is the check of a finished model."],
            solution="In medicine, validation is the evaluation of a finished model on data not used to build it (the "
                     "machine-learning 'test', ideally external). The machine-learning 'validation set' is a tuning "
                     "set; some papers call it the development set to avoid the confusion.",
            mistakes=[Mistake("the tuning set", "that is the machine-learning meaning of 'validation set'."),
                      Mistake("the training data", "performance on the training data validates nothing.")]),
        Exercise(
            "after_site_change",
            "At a new hospital with a lower-dose protocol, your nodule model's AUC barely changes but its "
            "specificity at the old threshold collapses. What do you recalibrate first: 'the threshold', "
            "'the architecture' or 'the labels'?",
            choice("the threshold"), choices=("the threshold", "the architecture", "the labels"),
            hints=["The AUC measures how well the model ranks malignant above benign, at every threshold.",
                   "If the ranking still works, only the operating point has moved: more noise makes every nodule "
                   "look rougher, so every score rises."],
            solution="The threshold: the model still ranks cases well (AUC), but its scores have shifted, so the old "
                     "cut-off flags too many benign nodules. Choose a new threshold on local data, then check it on "
                     "further local cases. If the AUC itself had fallen, retraining or fine-tuning with local data "
                     "would be needed.",
            mistakes=[Mistake("the architecture", "the ranking (AUC) still works: the network is not the problem."),
                      Mistake("the labels", "the labels at the new site are not the problem; the scores have shifted.")]),
    ])
