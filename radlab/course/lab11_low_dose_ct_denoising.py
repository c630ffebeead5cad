"""Lab 11 — Low-dose CT denoising: noise and dose, PSNR against classical filters, a lesion erased."""
from __future__ import annotations

from typing import Any

from radlab.course import need
from radlab.exercises import Exercise, ExerciseSet, Mistake, NotReady, choice, number

NOTEBOOK = "labs/11_low_dose_ct_denoising"
#: The method keys of radlab.denoising.METHOD_NAMES (a test checks they agree).
METHODS = ("low_dose", "gaussian", "nl_means", "cnn", "residual_cnn")
METHOD_LABELS = {"cnn": "CNN encoder–decoder", "residual_cnn": "residual CNN (learns the noise)"}


def exercises(lab: Any = None) -> ExerciseSet:
    """Lab 11's checked questions: physics, then numbers read off ``lab`` (a ``DenoisingLab``), the student's run.

    Without a lab (the progress view, nbgrader) the run-based questions answer NotReady.
    """
    methods = tuple(lab.table.psnr) if lab is not None else METHODS
    network = getattr(lab, "network", "residual_cnn")

    def ready() -> Any:
        return need(lab, "build the lab first: run the lab's cells above")

    def noise_at_eighth() -> float:
        lab_ = ready()
        levels = [i for i, d in enumerate(lab_.series.doses) if abs(d - 0.125) < 1e-9]
        if not levels:
            raise NotReady("this run has no 12.5 % dose level")
        return float(lab_.noise_hu[levels[0]])

    def best_at_lowest() -> str:
        return ready().table.best("psnr", -1)

    def erased_kept() -> float:
        from radlab.denoising import most_erased  # noqa: PLC0415  (heavy: only when checking)

        lab_ = ready()
        return most_erased(lab_.cases, lab_.network).kept(lab_.network)

    return ExerciseSet(NOTEBOOK, [
        Exercise("quarter_dose_noise", "The dose is cut to a quarter. By what factor does the noise (standard "
                 "deviation in HU) grow?", number(2.0, abs_tol=0.05),
                 hints=["Photon counts are Poisson: the variance equals the mean.",
                        "Relative noise is 1/sqrt(count); a quarter of the photons..."],
                 solution="Noise ∝ 1/sqrt(dose): 1/sqrt(1/4) = 2. Check it on the slider: 100 % → 25 %.",
                 mistakes=[Mistake(4.0, "the variance grows 4×; the standard deviation grows by its square root")]),
        Exercise("noise_at_eighth", "In your simulation, what is the noise in soft tissue (HU) at 12.5 % dose? "
                 "(whole HU)", number(noise_at_eighth, abs_tol=1.0),
                 hints=["Move the dose slider to 12.5 %.", "The line under the images says 'noise … HU'."],
                 solution="About √8 ≈ 2.8 times the full-dose noise."),
        Exercise("best_at_lowest_dose", "At the lowest dose, which method has the highest PSNR on the test slices?",
                 choice(best_at_lowest), choices=methods,
                 hints=["Look at the left panel of the curves, at the left end (lowest dose).",
                        "Or move the slider to the lowest dose and read the table."],
                 solution="Read off your run: the method keys are low_dose, gaussian, nl_means, cnn, residual_cnn."),
        Exercise("residual_learns", "The residual network's decoder outputs what?",
                 choice("the noise"), choices=("the clean image", "the noise", "the dose"),
                 hints=["Residual learning: output = input − decoder(encoder(input)).",
                        "What must be subtracted from the noisy image to leave the clean one?"],
                 solution="The noise: it is simpler than the anatomy, and what the network leaves alone is not blurred."),
        Exercise("erased_contrast", f"In the planted-lesion case where the {METHOD_LABELS.get(network, network)} "
                 "does worst, what share of the lesion's contrast does it keep? (two decimals)",
                 number(erased_kept, abs_tol=0.02),
                 hints=["The lesion dropdown starts on that case.", "Read the 'kept' column of its row."],
                 solution="Below 0.5 the lesion has mostly been averaged away with the noise: a higher PSNR does "
                          "not mean the small, faint finding survived."),
        Exercise("psnr_is_enough", "A denoiser gains 3 dB of PSNR on average but lowers a small lesion's contrast "
                 "by 70 %. Is PSNR enough to accept it for lesion detection?",
                 choice("no"), choices=("yes", "no"),
                 hints=["PSNR averages over every pixel; how many pixels does a small lesion have?",
                        "Which measure in this lab looks at the lesion itself?"],
                 solution="No: PSNR and SSIM are dominated by the many background pixels. Task-based measures "
                          "(lesion CNR, reader studies) decide whether a denoiser is safe."),
    ])

