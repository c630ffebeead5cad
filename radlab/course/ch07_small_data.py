"""Chapter 7 — Small data: plausible augmentation, transfer learning, learning curves, pseudo-labels."""
from __future__ import annotations

from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "course/07_small_data"


def exercises() -> ExerciseSet:
    """The chapter's exercises; the notebook calls ``ex.implausible.check(ANSWER_IMPLAUSIBLE)`` etc."""
    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "implausible",
            "Training a cardiomegaly classifier on PA chest radiographs: which augmentation does NOT give a "
            "plausible radiograph of the same class? 'rotate 5°', 'horizontal flip', 'shift 3 %' or "
            "'contrast ±10 %'",
            choice("horizontal flip"), choices=("rotate 5°", "horizontal flip", "shift 3 %", "contrast ±10 %"),
            hints=["Picture each transformed film on the light box: would you see it in practice?",
                   "Where is the heart after the transformation?"],
            solution="The horizontal flip: it puts the heart on the right (dextrocardia, situs inversus) and "
                     "mirrors markers and lines. Small shifts, rotations and contrast changes happen every day.",
            mistakes=[Mistake("rotate 5°", "patients are often a few degrees rotated; 5° is plausible.")]),
        Exercise(
            "fixed_trainable",
            "Fixed feature extraction: ResNet-18's frozen base gives 512 features, a new fully connected layer "
            "turns them into 1 logit. How many parameters are trained?",
            number(513),
            hints=["A fully connected layer has one weight per input for each output, plus a bias per output.",
                   "512 × 1 + 1."],
            solution="513, against 11.2 million when the whole ResNet-18 trains: strategy_parameter_counts() "
                     "prints both. That is why fixed features are cheap and hard to overfit.",
            mistakes=[Mistake(512, "do not forget the bias."),
                      Mistake(11170753, "that is the whole network; the base is frozen.")]),
        Exercise(
            "gray_kernel_weights",
            "ResNet-18's first layer has 64 kernels of 7 × 7 over 3 colour channels (no bias). Summing each "
            "kernel's R, G and B slices gives a layer for one grey channel: how many weights does it have?",
            number(64 * 7 * 7),
            hints=["Weights of a conv layer = kernels × height × width × input channels.",
                   "64 × 7 × 7 × 1."],
            solution="3,136 (instead of 9,408): the same feature maps as copying the grey image into R, G and B, "
                     "because convolution is linear; channel_adaptation() shows the difference is zero.",
            mistakes=[Mistake(64 * 7 * 7 * 3, "that is the RGB layer; the summed one has one input channel.")]),
        Exercise(
            "radiology_strategy",
            "Which transfer-learning strategy do Yamashita et al. (2018) describe as more often used in "
            "radiology research: 'fixed feature extraction' or 'fine-tuning'?",
            choice("fine-tuning"), choices=("fixed feature extraction", "fine-tuning"),
            hints=["Photographs of cats and X-rays of chests are very different images.",
                   "Which strategy lets the convolutional base adapt to the new images?"],
            solution="Fine-tuning: ImageNet photographs are unlike medical images, so frozen ImageNet features fit "
                     "them less well; fine-tuning adapts the deeper kernels (early ones, edges, are generic).",
            mistakes=[Mistake("fixed feature extraction", "the review calls it 'not common' in medical imaging, "
                                                          "because ImageNet and medical images differ.")]),
        Exercise(
            "pseudo_count",
            "Pseudo-labelling keeps the most confident quarter (keep_fraction = 0.25) of 80 unlabelled images. "
            "How many pseudo-labelled images join the training set?",
            number(20),
            hints=["A quarter of 80.", "The others stay unlabelled: the model is least sure about them."],
            solution="20: the 20 scores farthest from 0.5. They are only as right as the first model; the chapter "
                     "measures how many were right.",
            mistakes=[Mistake(60, "that is the three quarters left out.")]),
    ])
