"""Lab 3 — Training: overfitting, what helps against it, the learning rate, early stopping, your own run."""
from __future__ import annotations

from typing import Any

from radlab.course import need
from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "labs/03_training"

KEEP_BEST = "epoch 7, by validation loss"


def exercises(lab: Any = None) -> ExerciseSet:
    """The lab's questions; ``your_best_epoch`` is answered by ``lab`` (a ``TrainingLab``): its latest run."""

    def last_run() -> Any:
        runs = getattr(lab, "runs", None)
        return need(runs[-1] if runs else None, "train a model first: press 'Train' in the lab")

    def your_best_epoch() -> int:
        return int(last_run().best_epoch)

    def gave_last_epoch(value: Any) -> bool:
        run = last_run()
        return int(value) == len(run.history) and len(run.history) != run.best_epoch

    def gave_lowest_training_loss(value: Any) -> bool:
        run = last_run()
        losses = run.history.train_loss
        lowest = 1 + min(range(len(losses)), key=losses.__getitem__) if losses else None
        return lowest is not None and int(value) == lowest != run.best_epoch

    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "gap", "From epoch 6 on, the validation loss rises while the training loss keeps falling, and the shaded "
                   "gap between them widens. What is happening?",
            choice("overfitting"),
            choices=("underfitting", "overfitting", "the learning rate is too high", "a good fit"),
            hints=["On which images does the model keep getting better, and on which worse?",
                   "Better on the images it learns from, worse on new ones: it is memorising, not generalising."],
            solution="Overfitting: the model memorises the training images instead of learning what generalises, "
                     "so the validation loss turns up while the training loss keeps falling.",
            mistakes=[Mistake("underfitting", "an underfitting model is poor on training images too; here the "
                                              "training loss keeps falling."),
                      Mistake("the learning rate is too high", "a too-high learning rate makes the training loss "
                                                               "jump; here it falls smoothly."),
                      Mistake("a good fit", "in a good fit the validation loss keeps falling with the training loss.")]),
        Exercise(
            "mitigation", "Which of these changes does NOT help against overfitting?",
            choice("a bigger model"),
            choices=("more training images", "augmentation", "weight decay", "dropout", "a bigger model"),
            hints=["Four of them make memorising harder; one makes it easier.",
                   "Which change gives the model more room (more parameters) to memorise the training images?"],
            solution="A bigger model: more capacity makes memorising easier. More data, augmentation, weight decay "
                     "and dropout all make it harder; shrink the model instead.",
            mistakes=[Mistake(lambda v: str(v).strip().lower() in ("more training images", "augmentation",
                                                                   "weight decay", "dropout"),
                              "that one does help; the question asks which does NOT.")]),
        Exercise(
            "learning_rate", "The training loss jumps up and down and ends above where it started. What do you "
                             "change first?",
            choice("lower the learning rate"),
            choices=("add dropout", "lower the learning rate", "train more epochs", "use more data"),
            hints=["The training loss itself misbehaves: is the model failing to generalise, or failing to learn?",
                   "Try the learning-rate slider at 0.3 and at 0.003 and compare the training curves."],
            solution="Lower the learning rate: steps that are too big overshoot the minimum; smaller steps settle "
                     "into it.",
            mistakes=[Mistake("add dropout", "dropout fights overfitting; here even the training loss is not "
                                             "going down."),
                      Mistake("train more epochs", "more epochs of overshooting steps keep jumping."),
                      Mistake("use more data", "more data helps generalisation, not steps that overshoot.")]),
        Exercise(
            "best_epoch", "A run went 20 epochs; the validation loss was lowest at epoch 7. Which weights do you keep, "
                          "chosen on which data?",
            choice(KEEP_BEST),
            choices=("epoch 20, by training loss", KEEP_BEST, "epoch 7, by test AUC", "epoch 20, by test AUC"),
            hints=["The test set is looked at once, at the very end.",
                   "Choices such as the epoch are made on validation data: where was its loss lowest?"],
            solution="Epoch 7, chosen by validation loss (early stopping). The last epoch is overfitted, and "
                     "choosing on the test set would make its score optimistic.",
            mistakes=[Mistake("epoch 7, by test AUC", "the right epoch, the wrong data: choosing on the test set "
                                                      "uses up the test set."),
                      Mistake("epoch 20, by training loss", "the training loss always prefers the last, most "
                                                            "overfitted epoch."),
                      Mistake("epoch 20, by test AUC", "never choose on the test set, and epoch 20 is overfitted.")]),
        Exercise(
            "your_best_epoch", "In your latest run in the lab, at which epoch was the validation loss lowest?",
            number(your_best_epoch),
            hints=["Look at the loss curves of your latest run (the solid lines).",
                   "Find the green star on the validation loss curve, or the 'best epoch' column of the run table."],
            solution="The epoch of the lowest validation loss: those are the weights the lab kept (early stopping).",
            mistakes=[Mistake(gave_last_epoch, "that is the last epoch of the run; the best one is where the "
                                               "validation loss is lowest."),
                      Mistake(gave_lowest_training_loss, "that is where the training loss is lowest; use the "
                                                         "validation loss.")]),
    ])
