"""Chapter 10 — Challenges: interpretability, adversarial examples vs domain shift, data, artefacts."""
from __future__ import annotations

from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "course/10_challenges"


def exercises() -> ExerciseSet:
    """The chapter's exercises; the notebook calls ``ex.black_box.check(ANSWER_BLACK_BOX)`` etc."""
    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "black_box",
            "A vendor's model can only be called (image in, probability out): no weights, no gradients. Which "
            "explanation can you still compute: 'CAM', 'Grad-CAM' or 'occlusion'?",
            choice("occlusion"), choices=("CAM", "Grad-CAM", "occlusion"),
            hints=["CAM needs the last layer's weights; Grad-CAM needs gradients.",
                   "Which method only changes the input and watches the output?"],
            solution="Occlusion (like LIME) is model-agnostic: grey out patches, call the model, record the drop.",
            mistakes=[Mistake("Grad-CAM", "Grad-CAM backpropagates gradients through the model: not possible "
                                          "with a black box.")]),
        Exercise(
            "eps_in_hu",
            "The model's input is the lung window (width 1,500 HU) mapped to 0..1. An adversarial perturbation "
            "of eps = 2/255 changes each pixel by how many HU at most?",
            number(1500 * 2 / 255, rel=0.02),
            hints=["1 input unit = the whole window width.", "1500 × 2/255."],
            solution="About 12 HU: less than the quantum noise of a clinical CT, invisible in a lung window, yet "
                     "chosen in the worst direction for this model.",
            mistakes=[Mistake(2 / 255, "that is in model units; convert to HU with the window width.")]),
        Exercise(
            "shift_remedy",
            "A nodule model's AUC drops at a hospital whose scanner has another reconstruction kernel. The best "
            "first remedy: 'adversarial training', 'training data from several sites and scanners' or "
            "'a bigger model'?",
            choice("training data from several sites and scanners"),
            choices=("adversarial training", "training data from several sites and scanners", "a bigger model"),
            hints=["Is a different kernel a worst-case attack or a natural change of the images?",
                   "What makes a model see that kind of variation before deployment?"],
            solution="Several sites and scanners (plus external validation and, if needed, recalibration at the "
                     "new site). Adversarial training defends against tiny worst-case patterns, not against "
                     "a different kernel.",
            mistakes=[Mistake("adversarial training", "a scanner change is not an attack: the measured scanner "
                                                      "shifts and the FGSM row are different problems.")]),
        Exercise(
            "contrast_kept",
            "A planted lesion has 20 HU contrast in the reference image and 8 HU after denoising. What fraction "
            "of its contrast did the denoiser keep?",
            number(0.4, abs_tol=0.005),
            hints=["kept = contrast after / contrast before.", "8 / 20."],
            solution="0.4: the image looks cleaner, and 60 % of the lesion has gone with the noise. Lab 11 calls a "
                     "lesion 'erased' below 0.5.",
            mistakes=[Mistake(0.6, "that is the fraction lost.")]),
        Exercise(
            "ppv_screening",
            "Screening: prevalence 1 %, sensitivity 90 %, specificity 90 %. What is the positive predictive "
            "value (two decimals)?",
            number(0.9 * 0.01 / (0.9 * 0.01 + 0.1 * 0.99), abs_tol=0.005),
            hints=["Of 10,000 people, 100 are ill: 90 true positives. Of the 9,900 well, 10 % are false positives.",
                   "PPV = 90 / (90 + 990)."],
            solution="0.08: at low prevalence most positives are false even with a good model (class imbalance, "
                     "chapter 5). Report PPV at the prevalence where the model will be used.",
            mistakes=[Mistake(0.9, "that is the sensitivity; PPV depends on prevalence.")]),
    ])
