"""Lab 9 — Small data and transfer learning: learning curves, fixed features vs fine-tuning, gray to RGB."""
from __future__ import annotations

from typing import Any

from radlab.course import need
from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "labs/09_transfer_learning"
FIXED_TRAINABLE = 513          # ResNet-18 features (512) -> one logit: 512 weights + 1 bias
RESNET18_TOTAL = 11_170_753    # the whole 1-channel ResNet-18 with that head
SUMMED = "w_R + w_G + w_B"
CHANNEL_CHOICES = ("w_R", "(w_R + w_G + w_B) / 3", SUMMED, "w_G only, the green channel")
STRATEGY_CHOICES = ("fixed feature extraction", "fine-tune every layer", "train ResNet-18 from scratch")
SOURCE_CHOICES = ("radlab", "imagenet", "file", "random")


def exercises(lab: Any = None) -> ExerciseSet:
    """The lab's questions; ``smallest_gain``, ``your_frozen`` and ``your_source`` read ``lab`` (a ``TransferLab``)."""

    def curves() -> Any:
        return need(getattr(lab, "curves", None), "run the learning curves first: press 'Run learning curves'")

    def smallest_gain() -> float:
        c = curves()
        scratch, transfer = c.auc("scratch")[0], c.auc("transfer")[0]
        return round(float(transfer - scratch), 2)

    def finetune_run() -> Any:
        runs = getattr(lab, "strategy_runs", None) or []
        run = next((r for r in runs if r.strategy == "finetune"), None)
        return need(run, "compare the strategies first: press 'Compare strategies'")

    def your_frozen() -> int:
        return int(finetune_run().frozen)

    def your_source() -> str:
        return need(getattr(lab, "weights", None), "build the lab first").kind

    def gave_trainable(value: Any) -> bool:
        return int(value) == finetune_run().trainable != finetune_run().frozen

    def sign_flipped(value: Any) -> bool:
        gain = smallest_gain()
        return gain != 0 and abs(float(value) + gain) <= 0.01

    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "fixed_trainable", "ResNet-18 as a fixed feature extractor with a new one-output head (pneumonia or "
                               "not): how many parameters learn from your images?",
            number(FIXED_TRAINABLE),
            hints=["Everything in the backbone is frozen; only the new head trains.",
                   "The head is one linear layer from ResNet-18's 512 pooled features to one logit: weights + bias."],
            solution="512 weights + 1 bias = 513, out of about 11.2 million: that is why fixed features cannot "
                     "overfit much, and why they are cheap.",
            mistakes=[Mistake(RESNET18_TOTAL, "that is the whole network; the frozen backbone does not learn."),
                      Mistake(512, "you forgot the bias."),
                      Mistake(1000 * 512 + 1000, "that is ImageNet's 1000-class head, which is thrown away.")]),
        Exercise(
            "strategy_first", "You have 40 labelled radiographs and a network pretrained on another, larger task. "
                              "Which strategy do you try first?",
            choice("fixed feature extraction"), choices=STRATEGY_CHOICES,
            hints=["Count what each strategy must learn from 40 images.",
                   "Look at the strategies table: trainable parameters, and the validation AUC at the smallest size."],
            solution="Fixed feature extraction: only a few hundred weights learn, so 40 images can pin them down. "
                     "Fine-tune (a few stages, small learning rate) when you have more data or very different images.",
            mistakes=[Mistake("fine-tune every layer", "11 million weights learning from 40 images overfit quickly."),
                      Mistake("train ResNet-18 from scratch", "with 40 images a network this size learns noise.")]),
        Exercise(
            "gray_to_rgb", "A gray image is copied into R, G and B; conv1's kernels for them are w_R, w_G, w_B. "
                           "Which single one-channel kernel gives exactly the same first-layer output?",
            choice(SUMMED), choices=CHANNEL_CHOICES,
            hints=["Convolution is linear: conv(x, w_R) + conv(x, w_G) + conv(x, w_B) = conv(x, ?).",
                   "The lab's figure shows both paths and their largest difference."],
            solution="w_R + w_G + w_B: each copy of x meets its own kernel and the layer adds the three results, "
                     "so summing the kernels first gives the same map at a third of the cost.",
            mistakes=[Mistake("(w_R + w_G + w_B) / 3", "the mean gives a third of the output: the three channels "
                                                       "add up, they are not averaged.")]),
        Exercise(
            "smallest_gain", "From your learning curves: at the smallest training set, transfer's validation AUC "
                             "minus the from-scratch CNN's (two decimals; negative if transfer lost)?",
            number(smallest_gain, abs_tol=0.011),
            hints=["Read the leftmost points of the red (transfer) and grey (scratch) curves, or the table.",
                   "Subtract: transfer − scratch, at the smallest number of training images."],
            solution="The gap at the smallest size is where pretrained features matter most; it usually narrows "
                     "as the training set grows.",
            mistakes=[Mistake(sign_flipped, "you subtracted the other way round: transfer − scratch.")]),
        Exercise(
            "your_frozen", "In your strategy comparison, how many parameters stayed frozen in the fine-tuning run?",
            number(your_frozen),
            hints=["The table lists trainable and frozen parameters for each strategy.",
                   "Frozen = total − trainable; the frozen stages are the first ones (stem, layer1, …)."],
            solution="The frozen stages keep their pretrained weights (and batch-norm statistics); the lab checks "
                     "that they are unchanged after training.",
            mistakes=[Mistake(gave_trainable, "that is the number that trains; the question asks for the frozen ones.")]),
        Exercise(
            "your_source", "Which pretrained weights did your lab start from?",
            choice(your_source), choices=SOURCE_CHOICES,
            hints=["The lab prints a sentence about its weights at the top.",
                   "'radlab' is the CT-phantom source model standing in for ImageNet."],
            solution="Always report where pretrained weights came from: results depend on them."),
    ])
