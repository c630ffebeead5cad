"""Chapter 1 — How a CNN reads an image: the four checks (output size, pooling, last layer, parameters)."""
from __future__ import annotations

from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "course/01_how_a_cnn_reads_an_image"


def exercises() -> ExerciseSet:
    """The chapter's exercises; the notebook calls ``ex.output_size.check(ANSWER_OUTPUT_SIZE)`` etc."""
    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "output_size",
            "A 28×28 MedMNIST image, a 3×3 kernel, padding 1, stride 2: how many pixels wide is the feature map?",
            number(14),
            hints=["Use the formula of section 3: ⌊(n + 2p − k)/s⌋ + 1.",
                   "n = 28, p = 1, k = 3, s = 2: (28 + 2 − 3)/2 = 13.5. Round the division down before adding 1."],
            solution="(28 + 2·1 − 3)/2 + 1 = 14.5, and the division is rounded down (a kernel cannot sit half "
                     "outside the padded image): ⌊27/2⌋ + 1 = 13 + 1 = 14. Check: "
                     "output_size_formula(28, 3, padding=1, stride=2).",
            mistakes=[Mistake(15, "you rounded up; the division is rounded down, ⌊27/2⌋ = 13."),
                      Mistake(14.5, "the map has a whole number of pixels: round the division down first."),
                      Mistake(28, "that is stride 1 ('same' padding); stride 2 jumps two pixels per step."),
                      Mistake(13, "did you forget the padding? p = 1 adds a pixel on each side: n + 2p = 30."),
                      Mistake(27, "27 is n + 2p − k; now divide by the stride and add 1.")]),
        Exercise(
            "pooled_size",
            "A network applies three blocks of (3×3 convolution with padding 1 → 2×2 max pooling) to a 64×64 "
            "image. How many pixels wide is each feature map after the third block?",
            number(8),
            hints=["What does a 3×3 convolution with padding 1 and stride 1 do to the size? And a 2×2 max pool "
                   "with stride 2?",
                   "The 'same' convolution keeps the size; each pooling halves it. Halve 64 three times."],
            solution="Each 'same' convolution keeps the size and each 2×2 max pool halves it: 64 → 32 → 16 → 8.",
            mistakes=[Mistake(64, "the convolutions keep the size, but each of the three max pools halves it."),
                      Mistake(32, "that is after one block; there are three."),
                      Mistake(16, "that is after two blocks; there are three."),
                      Mistake(4, "that is four halvings; there are three pooling layers."),
                      Mistake(6, "padding 1 keeps the size: a 3×3 kernel with p = 1 does not shrink the map.")]),
        Exercise(
            "last_layer",
            "A model reports, for each chest radiograph, whether it shows a pleural effusion, a nodule and "
            "cardiomegaly, in any combination. Which last-layer activation: sigmoid or softmax?",
            choice("sigmoid"), choices=("sigmoid", "softmax"),
            hints=["Can two of the findings be present in the same radiograph?",
                   "Softmax makes the outputs compete (they sum to 1); sigmoid gives each output its own yes/no."],
            solution="The findings are not exclusive (a patient can have an effusion and cardiomegaly), so each "
                     "output needs its own probability: one sigmoid per finding (multi-label). Softmax is for "
                     "mutually exclusive classes such as normal / bacterial / viral pneumonia.",
            mistakes=[Mistake("softmax", "softmax makes the three findings compete: their probabilities sum to "
                                         "1, so an effusion would lower the probability of cardiomegaly.")]),
        Exercise(
            "conv_params",
            "A convolution layer with 16 kernels of 3×3 on a one-channel image, with one bias per kernel: how "
            "many learnable parameters does it have?",
            number(160),
            hints=["Count the weights of one kernel (3·3·input channels), then the biases.",
                   "16 kernels × 9 weights each, plus one bias per kernel."],
            solution="16 · (3·3·1) weights + 16 biases = 144 + 16 = 160. Check: "
                     "sum(p.numel() for p in torch.nn.Conv2d(1, 16, 3).parameters()).",
            mistakes=[Mistake(144, "those are the weights; each of the 16 kernels also has a bias."),
                      Mistake(16, "those are the biases; each kernel also has 3·3 weights."),
                      Mistake(9, "that is one kernel's weights; there are 16 kernels, each with a bias too."),
                      Mistake(10, "that is one kernel (9 weights + 1 bias); there are 16.")]),
    ])
