"""Chapter 4 — Parameters and hyperparameters: the reviews' table filled from a real model, counts, receptive field,
tuning on validation only."""
from __future__ import annotations

from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number, text

NOTEBOOK = "course/04_parameters_and_hyperparameters"

#: The items the student sorts into learned (L) or chosen before training (H), in this order.
TABLE_ITEMS = ("kernel weights of a convolution", "kernel size", "number of kernels", "stride", "padding",
               "bias of a fully connected layer", "learning rate", "mini-batch size", "batch norm's scale γ",
               "pooling window size", "number of epochs", "dropout rate")
_TABLE_ANSWER = "LHHHHLHHLHHH"


def _letters(answer) -> str:
    return "".join(ch for ch in str(answer).upper() if ch in "LH")


def _wrong_at(answer, index: int) -> bool:
    got = _letters(answer)
    return len(got) == len(_TABLE_ANSWER) and got[index] != _TABLE_ANSWER[index]


def exercises() -> ExerciseSet:
    """The chapter's exercises; the notebook calls ``ex.table.check(ANSWER_TABLE)`` etc."""
    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "table",
            f"Sort the {len(TABLE_ITEMS)} items of TABLE_ITEMS, in order, into L (learned by training) or H "
            "(hyperparameter, chosen before training): one letter each, e.g. 'LHH...'.",
            text(_TABLE_ANSWER),
            hints=["Yamashita et al. 2018, Table 1: in a convolution layer only the kernels are learned; kernel "
                   "size, number of kernels, stride, padding and activation are chosen. Biases and batch norm's "
                   "scale and shift are learned too.",
                   "Learned items have a number that appears in model.parameters() (the summary's 'learnable' "
                   "column). Everything you type into the model's constructor or into fit(...) is a hyperparameter: "
                   "there are three L's in all."],
            solution="L H H H H L H H L H H H: kernels, biases and batch norm's γ are fitted by gradient descent; "
                     "the rest is set before training, in the model's design or in fit(...).",
            mistakes=[Mistake(lambda a: len(_letters(a)) != len(_TABLE_ANSWER),
                              f"give exactly {len(_TABLE_ANSWER)} letters L or H, one per item."),
                      Mistake(lambda a: _wrong_at(a, 8), "batch norm's scale γ is learned: it is in model.parameters()."),
                      Mistake(lambda a: _wrong_at(a, 5), "biases are learned, like weights."),
                      Mistake(lambda a: _wrong_at(a, 2), "the NUMBER of kernels is chosen; their weights are learned."),
                      Mistake(lambda a: _wrong_at(a, 9), "pooling has no learnable parameters; its window is chosen.")]),
        Exercise(
            "conv2_params",
            "TeachingCNN(width=8, n_blocks=3) has batch normalisation, so its convolutions have no bias. Its second "
            "convolution takes 8 channels to 16 with 3×3 kernels. How many learnable parameters does it have?",
            number(3 * 3 * 8 * 16),
            hints=["Each kernel spans all input channels: 3·3·8 weights per kernel.",
                   "16 kernels of 3·3·8, and no biases (batch norm's shift β plays that role)."],
            solution="3·3·8·16 = 1,152. With a bias per kernel it would be 1,168; the summary's params column shows "
                     "1,152 for features.1.0.",
            mistakes=[Mistake(3 * 3 * 8 * 16 + 16, "this convolution has no biases: batch norm follows it."),
                      Mistake(3 * 3 * 16, "each kernel spans all 8 input channels: 3·3·8 weights, not 3·3."),
                      Mistake(3 * 3 * 16 + 16, "each kernel spans all 8 input channels, and there are no biases.")]),
        Exercise(
            "dense_params",
            "Its first fully connected layer takes the flattened maps (32 channels of 8×8) to 64 units, with a bias "
            "per unit. How many learnable parameters?",
            number(32 * 8 * 8 * 64 + 64),
            hints=["Flattened inputs: 32·8·8 = 2,048.", "One weight per input–output pair, plus one bias per output."],
            solution="2,048 · 64 + 64 = 131,136: almost all of this network's parameters. A global-average-pooling "
                     "head would need 32 inputs instead of 2,048.",
            mistakes=[Mistake(32 * 8 * 8 * 64, "add one bias per output unit."),
                      Mistake(32 * 64 + 64, "that is a global-average-pooling head; here the 8×8 maps are flattened.")]),
        Exercise(
            "receptive_field",
            "3×3 convolution (stride 1) → 2×2 max pool (stride 2) → 3×3 convolution → 2×2 max pool → 3×3 "
            "convolution. How many input pixels wide is the receptive field of one output of the last convolution?",
            number(18),
            hints=["Use r ← r + (k − 1)·j and j ← j·s, starting from r = 1, j = 1.",
                   "3 → 4 (pool, j becomes 2) → 4 + 2·2 = 8 → 8 + 1·2 = 10 (j becomes 4) → 10 + 2·4."],
            solution="3, 4, 8, 10, 18. Pooling doubles the step j between outputs, not the field itself; every later "
                     "3×3 kernel then adds 2·j pixels. Check with receptive_field([(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)]).",
            mistakes=[Mistake(7, "that ignores the pooling: after each pool one step of a kernel covers more input pixels."),
                      Mistake(12, "each pool doubles the jump j, so the third convolution adds 2·4 = 8 pixels."),
                      Mistake(22, "that includes a third pooling; the sequence ends with the third convolution.")]),
        Exercise(
            "report_which",
            "You tried 30 settings. Which number goes into the paper as the model's expected performance?",
            choice("test AUC of the model chosen on validation"),
            choices=("test AUC of the model chosen on validation", "best test AUC over all settings",
                     "best validation AUC"),
            hints=["Which of these numbers was used to make a choice? A number used to choose is no longer an "
                   "unbiased estimate.",
                   "Yamashita et al. 2018: the test set is used once, at the end, for the model chosen with the "
                   "training and validation sets."],
            solution="Choose on validation; report that one model's test AUC. The best of 30 test AUCs (or of 30 "
                     "validation AUCs) is the maximum of noisy numbers: on new patients it usually does worse, as "
                     "the experiment measures.",
            mistakes=[Mistake("best test AUC over all settings", "choosing on the test set turns it into a second "
                                                                 "validation set: its best score is flattered."),
                      Mistake("best validation AUC", "the validation AUC was used to choose, so it flatters the "
                                                     "chosen model.")]),
    ])
