"""Chapter 2 — From hand-crafted to learned features: GLCM by hand, shape, the perceptron, depth."""
from __future__ import annotations

import math

from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "course/02_handcrafted_to_learned_features"

#: The 4 × 4 grey-level image of the GLCM exercise (levels 0..3); the notebook prints it.
GLCM_EXAMPLE = ((0, 0, 1, 1),
                (0, 0, 1, 1),
                (0, 2, 2, 2),
                (2, 2, 3, 3))


def _pairs_right(image, first: int, second: int) -> int:
    """How often grey level ``second`` sits immediately right of ``first`` (one direction only)."""
    return sum(1 for row in image for a, b in zip(row, row[1:]) if (a, b) == (first, second))


def exercises() -> ExerciseSet:
    """The chapter's exercises; the notebook calls ``ex.glcm_count.check(ANSWER_GLCM_COUNT)`` etc."""
    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "glcm_count",
            "In GLCM_EXAMPLE, how many times does grey level 2 sit immediately to the RIGHT of grey level 2 "
            "(offset 0°, distance 1, counted one way only, not symmetric)?",
            number(_pairs_right(GLCM_EXAMPLE, 2, 2)),
            hints=["Walk along each row and look at each pair of horizontal neighbours (left, right).",
                   "Row 3 is 0 2 2 2: the pairs are (0,2), (2,2), (2,2). Row 4 is 2 2 3 3: (2,2), (2,3), (3,3)."],
            solution="Rows 3 and 4 give (2,2) twice and once: 3. Check: glcm(np.array(GLCM_EXAMPLE), (0, 1), "
                     "levels=4, symmetric=False, normed=False)[2, 2]. A symmetric GLCM would count each pair "
                     "both ways round and give 6.",
            mistakes=[Mistake(6, "that is the symmetric count (each pair counted both ways); the question asks one way."),
                      Mistake(2, "look at row 4 as well: it starts with 2 2.")]),
        Exercise(
            "square_circularity",
            "Circularity is 4π·area / perimeter²: 1 for a perfect disc, lower for irregular or spiculated "
            "outlines. What is the circularity of a perfect square (ignore pixel effects)? Two decimals.",
            number(math.pi / 4, abs_tol=0.01),
            hints=["Take a square of side a: area a², perimeter 4a.",
                   "4π·a² / (4a)² = 4π / 16. The side cancels out."],
            solution="4π·a² / 16a² = π/4 ≈ 0.785: a square is less round than a disc (1) but far rounder "
                     "than a spiculated nodule, whose long perimeter drives the value down.",
            mistakes=[Mistake(1.0, "1 is the disc; a square's corners make its perimeter longer for its area."),
                      Mistake(math.pi, "you forgot to square the perimeter: (4a)² = 16a².")]),
        Exercise(
            "perceptron_gate",
            "A perceptron with weights w = (1, 1) and bias b = −1.5 outputs 1 when x₁ + x₂ − 1.5 > 0. Which "
            "gate does it compute on inputs 0/1: AND, OR or XOR?",
            choice("AND"), choices=("AND", "OR", "XOR"),
            hints=["Try the four corners (0,0), (0,1), (1,0), (1,1).",
                   "Only one corner gives a sum above 1.5."],
            solution="Only (1, 1) gives 2 − 1.5 > 0: AND. With b = −0.5 it would be OR. No single line gives "
                     "XOR: that needs a hidden layer (OR minus AND).",
            mistakes=[Mistake("OR", "(0, 1) gives 1 − 1.5 < 0: the output is 0, so it is not OR."),
                      Mistake("XOR", "no single perceptron computes XOR: one line cannot separate it.")]),
        Exercise(
            "deep_params",
            "The deep exact network for a zig-zag with 2^L straight pieces has L hidden layers of 2 ReLU units "
            "and one output. Counting weights and biases, how many learnable parameters does it have for "
            "L = 6 (64 pieces)?",
            number(4 + 6 * 5 + 3),
            hints=["First layer: 1 input → 2 units: 2 weights + 2 biases. Each further layer: 2 → 2 units.",
                   "A 2 → 2 layer has 4 weights + 2 biases = 6; the output 2 → 1 has 2 weights + 1 bias = 3. "
                   "Check with count_parameters(deep_sawtooth_net(6))."],
            solution="4 + 5·6 + 3 = 37 parameters, against 3·64 + 1 = 193 for one wide layer (one unit per "
                     "corner): depth reuses the same fold again and again.",
            mistakes=[Mistake(193, "that is the shallow network (one layer of 64 units); the question asks the deep one."),
                      Mistake(36, "did you forget the output bias?"),
                      Mistake(12, "that counts units, not parameters: each unit has weights and a bias.")]),
        Exercise(
            "why_radiomics_wins",
            "On the small phantom set, radiomics + logistic regression beat the CNN. The most likely reason: "
            "'features fit the task', 'CNNs cannot see shape', or 'the test set was too easy'?",
            choice("features fit the task"),
            choices=("features fit the task", "CNNs cannot see shape", "the test set was too easy"),
            hints=["What makes a phantom nodule malignant? Look at phantoms.py's docstring or the boxes above.",
                   "Malignancy here is a shape property, and circularity and solidity measure shape directly; a "
                   "CNN must learn such a measure from a few hundred crops."],
            solution="Malignant phantoms are spiculated and irregular: circularity and solidity measure exactly "
                     "that, so a linear model on them needs few examples. The CNN has to discover the same "
                     "property from pixels; with more cases it catches up (the full run measures it). With "
                     "real tumours nobody knows the right features in advance, which is where learned "
                     "features win (Kim et al. 2018).",
            mistakes=[Mistake("CNNs cannot see shape", "CNNs do learn shape: with more training cases the CNN's "
                                                       "AUC rises close to the features' (run the full lesson)."),
                      Mistake("the test set was too easy", "both methods were scored on the same test images, "
                                                           "so an easy test set would not favour one.")]),
    ])
