"""Chapter 3 — Learning: losses, gradient descent, backpropagation, mini-batches, optimisers, vanishing gradients."""
from __future__ import annotations

import math

from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "course/03_learning"


def exercises() -> ExerciseSet:
    """The chapter's exercises; the notebook calls ``ex.bce.check(ANSWER_BCE)`` etc."""
    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "bce",
            "An image has a lesion (y = 1) and the model says p = 0.2. What is its binary cross-entropy "
            "(natural logarithm, two decimals)?",
            number(-math.log(0.2), abs_tol=0.01),
            hints=["BCE = −[y·ln p + (1 − y)·ln(1 − p)]. With y = 1 one term drops out.",
                   "What is left is −ln p = −ln 0.2."],
            solution="−ln 0.2 = 1.61. Confident and wrong is expensive: p = 0.01 would cost 4.6.",
            mistakes=[Mistake(-math.log(0.8), "that is −ln 0.8, the loss of an image WITHOUT a lesion at p = 0.2."),
                      Mistake(0.64, "that is the squared error (1 − 0.2)²; the question asks cross-entropy."),
                      Mistake(0.7, "that is log10; use the natural logarithm.")]),
        Exercise(
            "largest_lr",
            "L(w) = ½·4·(w − 2)². Above which learning rate does plain gradient descent diverge?",
            number(0.5, abs_tol=1e-3),
            hints=["One step multiplies the distance to the minimum by (1 − lr·curvature); here the curvature is 4.",
                   "The distance grows when |1 − 4·lr| > 1."],
            solution="lr > 2/4 = 0.5. A steeper loss needs a smaller learning rate. Try "
                     "gradient_descent(Bowl((4.0,), (2.0,)), -1.0, lr=0.51, steps=20).outcome.",
            mistakes=[Mistake(2.0, "2 is the limit for curvature 1; this bowl is 4 times steeper."),
                      Mistake(0.25, "at 0.25 one step lands exactly on the minimum; divergence starts at twice that.")]),
        Exercise(
            "backprop_db2",
            "In the tiny network, the output is p = σ(z2) and the loss is BCE. For an image with y = 1 the "
            "network says p = 0.8. What is ∂L/∂b2, the gradient for the output bias?",
            number(-0.2, abs_tol=1e-3),
            hints=["For a sigmoid followed by BCE the chain rule collapses to ∂L/∂z2 = p − y.",
                   "z2 = W2·h + b2, so ∂z2/∂b2 = 1 and ∂L/∂b2 = p − y."],
            solution="p − y = 0.8 − 1 = −0.2: negative, so gradient descent raises b2 and with it p.",
            mistakes=[Mistake(0.2, "mind the sign: p − y = 0.8 − 1."),
                      Mistake(-0.16, "that multiplies by σ'(z2) = p(1 − p) once more; with BCE that factor cancels.")]),
        Exercise(
            "steps_per_epoch",
            "2,000 training images, mini-batches of 50: how many weight updates (steps) make one epoch?",
            number(40),
            hints=["One update per mini-batch.", "How many batches of 50 make 2,000 images?"],
            solution="2000 / 50 = 40 updates per epoch.",
            mistakes=[Mistake(2000, "that is one update per image (batch size 1)."),
                      Mistake(50, "50 is the batch size, not the number of batches.")]),
        Exercise(
            "momentum_step",
            "With momentum μ = 0.9 (v ← 0.9·v + g, w ← w − lr·v) and a gradient g that stays the same step after "
            "step, the step lr·v grows towards how many times lr·g?",
            number(10.0, rel=0.01),
            hints=["v after many steps: g + 0.9·g + 0.81·g + ... , a geometric series.",
                   "g·(1 + μ + μ² + ...) = g / (1 − μ)."],
            solution="1 / (1 − 0.9) = 10: on a long, steady slope momentum takes steps ten times as long as plain "
                     "gradient descent with the same learning rate; where the gradient flips sign (across a "
                     "valley) the terms cancel instead.",
            mistakes=[Mistake(0.9, "0.9 is μ; the steps add up: g + 0.9·g + 0.81·g + ..."),
                      Mistake(1.9, "that is after two steps; keep adding: the series converges to g / (1 − μ).")]),
        Exercise(
            "sigmoid_max_slope",
            "The sigmoid's slope is σ'(z) = σ(z)·(1 − σ(z)). What is its largest value (at z = 0)?",
            number(0.25, abs_tol=1e-3),
            hints=["σ(0) = 0.5.", "0.5 · (1 − 0.5)."],
            solution="0.25. Backpropagation multiplies by this slope once per sigmoid layer, so after 10 layers the "
                     "gradient has shrunk by at least 0.25¹⁰ ≈ 10⁻⁶ (less the weights make up for it): the "
                     "vanishing gradient. ReLU's slope is 1 for every positive input.",
            mistakes=[Mistake(0.5, "0.5 is σ(0), the value; the slope is σ(0)·(1 − σ(0))."),
                      Mistake(1.0, "1 is ReLU's slope for positive inputs; the sigmoid is flatter.")]),
        Exercise(
            "lr_verdict",
            "A colleague's training loss jumps to 50 in the first epoch, then sits at 0.69 with a validation AUC "
            "of 0.5. Is the learning rate 'too small' or 'too large'?",
            choice("too large"), choices=("too small", "too large"),
            hints=["Can a tiny step make the loss jump up?", "0.69 = ln 2 is the loss of answering 0.5 for everything."],
            solution="Too large: the first steps overshoot so far that the network is thrown out of the useful region "
                     "(e.g. its ReLUs all die) and it predicts 0.5 for everything.",
            mistakes=[Mistake("too small", "a too-small rate moves the loss slowly but never makes it jump up.")]),
    ])
