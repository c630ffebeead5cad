"""Chapter 6 — Overfitting and its mitigations: the train-validation gap and what narrows it."""
from __future__ import annotations

from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "course/06_overfitting_and_its_mitigations"


def exercises() -> ExerciseSet:
    """The chapter's exercises; the notebook calls ``ex.diagnosis.check(ANSWER_DIAGNOSIS)`` etc."""
    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "diagnosis",
            "Training loss 0.05 and still falling; validation loss 0.9 and rising since epoch 4. Is the model "
            "'underfitting', 'overfitting' or 'fine'?",
            choice("overfitting"), choices=("underfitting", "overfitting", "fine"),
            hints=["Compare the two curves: which one keeps improving, which one got worse?",
                   "A model that gets better on the images it has seen and worse on new ones has memorised them."],
            solution="Overfitting: the gap between validation and training loss widens (Yamashita 2018, Fig. 9). "
                     "Early stopping would keep the weights of epoch 4.",
            mistakes=[Mistake("underfitting", "an underfitting model is poor on its own training images too; "
                                              "here the training loss is tiny.")]),
        Exercise(
            "only_more_data",
            "Which of these mitigations gives the model new information, rather than limiting what it learns from "
            "the images it already has: 'augmentation', 'dropout', 'more data' or 'early stopping'?",
            choice("more data"), choices=("augmentation", "dropout", "more data", "early stopping"),
            hints=["Augmentation re-uses the same patients; dropout and early stopping restrict the model.",
                   "In the table, compare the 'val AUC' column, not only the 'gap' column."],
            solution="More data: the other cures narrow the gap by making the model learn less from the 30 images "
                     "it has; only new patients add information. Yamashita 2018 (Table 3) puts it first.",
            mistakes=[Mistake("early stopping", "early stopping has the smallest gap, but a small gap at a "
                                                "validation AUC near 0.5 means it learned little, not that it "
                                                "generalises.")]),
        Exercise(
            "dropout_kept",
            "Dropout with p = 0.5 on a layer of 64 units: on average how many units are kept for one training image?",
            number(32, abs_tol=0.5),
            hints=["p is the probability that a unit is set to zero during training.",
                   "64 × (1 − 0.5)."],
            solution="32 on average, a different 32 each time; at test time all 64 are used (PyTorch scales the "
                     "kept ones by 1/(1 − p) during training so the sums match).",
            mistakes=[Mistake(64, "that is at test time, when dropout is switched off."),
                      Mistake(0.5, "0.5 is the probability; the question asks how many units.")]),
        Exercise(
            "weight_decay_step",
            "Plain weight decay with λ = 0.01 and learning rate 0.1 shrinks every weight by what factor per step, "
            "before the gradient of the loss is applied? (w ← w·(1 − lr·λ))",
            number(0.999, abs_tol=1e-4),
            hints=["lr·λ = 0.1 × 0.01.", "1 − 0.001."],
            solution="0.999: a tiny pull towards zero at every step; weights the loss does not need fade away, "
                     "which keeps the model simple (L2 regularisation).",
            mistakes=[Mistake(0.99, "that is 1 − λ; the step also multiplies by the learning rate."),
                      Mistake(0.001, "that is how much is taken away, not the factor that remains.")]),
        Exercise(
            "early_stop_epoch",
            "Validation loss per epoch: 0.70, 0.55, 0.48, 0.47, 0.50, 0.56, 0.61. With early stopping "
            "(patience 2), which epoch's weights are kept (count from 1)?",
            number(4),
            hints=["Find the lowest validation loss.", "0.47 is the lowest; patience only decides when training stops."],
            solution="Epoch 4 (0.47). Training stops after epoch 6, two epochs without improvement, and the "
                     "weights of epoch 4 are put back.",
            mistakes=[Mistake(6, "epoch 6 is when training stops; the kept weights are those of the best epoch."),
                      Mistake(7, "the last epoch is the most overfitted one.")]),
    ])
