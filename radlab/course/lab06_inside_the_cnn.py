"""Lab 6 — Inside the CNN: the first layer's weights, the size of the deep maps, early vs deep, receptive field."""
from __future__ import annotations

from typing import Any

from radlab.course import need
from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "labs/06_inside_the_cnn"


def exercises(lab: Any = None) -> ExerciseSet:
    """The lab's questions; two are read off ``lab``'s model (an ``InsideCNNLab``), not typed in by an author."""

    def first() -> Any:
        return need(lab, "open the lab first: the answer is read off its model").layers[0].module

    def first_weights() -> int:
        return int(first().weight.numel())

    def deep_side() -> int:
        lab_ = need(lab, "open the lab first: the answer is read off its model")
        return int(lab_.feature_maps().layer(lab_.layer_names[-1]).shape[-1])

    def input_side() -> int:
        return int(need(lab, "open the lab first").images.shape[-1])

    about_first = "the first conv layer"
    about_deep = "the last conv layer"
    if lab is not None:  # the question names this model's numbers
        conv = lab.layers[0].module
        about_first = (f"the first conv layer ({lab.layers[0].n_kernels} kernels of {conv.kernel_size[0]}×"
                       f"{conv.kernel_size[1]} reading {conv.in_channels} input channel(s))")
        about_deep = f"the last conv layer ({lab.layer_names[-1]}) for a {input_side()}×{input_side()} input image"

    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "first_layer_weights", f"How many weights (not counting biases) does {about_first} have?",
            number(first_weights),
            hints=["Each kernel has one k×k grid of weights per input channel.",
                   "kernels × input channels × k × k: read the three numbers off the layer dropdown or the question."],
            solution="kernels × input channels × k × k; the biases (one per kernel) are extra.",
            mistakes=[Mistake(lambda v: int(v) == first_weights() + first().out_channels,
                              "that includes the biases; the question asks for the weights only."),
                      Mistake(lambda v: int(v) == first().kernel_size[0] * first().kernel_size[1],
                              "that is one kernel's grid; there is one per kernel and input channel.")]),
        Exercise(
            "deep_size", f"How many pixels a side are the feature maps of {about_deep}?",
            number(deep_side),
            hints=["Choose that layer in the dropdown and read the size in the figure's title.",
                   "Each pooling (or stride-2 convolution) before it halves the side of the input image."],
            solution="The deep maps are coarse: each of their pixels sees a large part of the image, which is how "
                     "deep layers recognise whole structures.",
            mistakes=[Mistake(lambda v: int(v) == input_side() != deep_side(),
                              "that is the input image; the poolings before the last layer shrink it.")]),
        Exercise(
            "early_or_deep", "Whose feature maps still look like the image (edges, outlines of ribs and lungs)?",
            choice("the first conv layer"), choices=("the first conv layer", "the last conv layer"),
            hints=["Compare the two mosaics in the early-vs-deep figure.",
                   "Which layer has seen only a few pixels around each position, and which has pooled many times?"],
            solution="The first layer: early layers detect edges and textures at full resolution; deep layers "
                     "combine them into coarse, abstract maps.",
            mistakes=[Mistake("the last conv layer", "the last layer's maps are a few pixels wide and abstract; "
                                                     "look at the early-vs-deep figure again.")]),
        Exercise(
            "receptive_field", "Two 3×3 convolutions (stride 1) in a row: one output pixel of the second sees a patch "
                               "of how many pixels a side of the input?",
            number(3 + (3 - 1)),
            hints=["Each pixel of the first map already saw 3×3 pixels of the input.",
                   "The second convolution reads 3×3 neighbouring pixels of the first map; their input patches "
                   "overlap and together span 3 + 2 pixels."],
            solution="3 + (3 − 1) = 5: the receptive field grows by k − 1 with every layer (and doubles with every "
                     "pooling).",
            mistakes=[Mistake(6, "the two 3×3 patches overlap: the second layer adds k − 1 = 2, not 3."),
                      Mistake(9, "9 = 3 × 3 would be true if the patches did not overlap; they do."),
                      Mistake(3, "that is one layer; the second one widens the view.")]),
    ])
