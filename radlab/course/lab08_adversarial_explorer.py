"""Lab 8 — Adversarial explorer: one grey level, FGSM vs PGD, the invisible band, the display window."""
from __future__ import annotations

from typing import Any

from radlab.course import need
from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "labs/08_adversarial_explorer"


def exercises(lab: Any = None) -> ExerciseSet:
    """The lab's questions; three are answered by ``lab``'s own curves and window (an ``AdversarialLab``)."""

    def the_lab() -> Any:
        return need(lab, "open the lab first: the answer comes from its model, curves and window")

    def width() -> float:
        return float(the_lab().window[1])

    def grey_level() -> float:
        from radlab.attacks import display_grey_level  # noqa: PLC0415  (only with a lab, when torch is loaded)

        return display_grey_level(width())

    def accuracies(attack: str) -> list[float]:
        return [float(a) for _, a in the_lab().curves[attack]]

    def stronger() -> str:
        return "PGD" if sum(accuracies("pgd")) <= sum(accuracies("fgsm")) else "FGSM"

    def drops_while_invisible() -> str:
        from radlab.attacks import invisible_at_window  # noqa: PLC0415

        curve = the_lab().curves["pgd"]
        invisible = [float(a) for e, a in curve if 0 < e and invisible_at_window(e, width())]
        return "yes" if invisible and min(invisible) < float(curve[0][1]) else "no"

    units = "image units"
    if lab is not None:
        units = lab.scale.units

    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "grey_level", f"At the lab's current display window (the width slider), a screen shows 255 grey steps. "
                          f"How many {units} is one grey level?",
            number(grey_level, rel=0.02),
            hints=["The window's width is spread over the screen's grey steps.",
                   "Divide the width (read it off the width slider) by 255."],
            solution="width / 255: a change smaller than this cannot change what the screen shows. It depends on the "
                     "window: narrow the width and one grey level gets smaller.",
            mistakes=[Mistake(lambda v: abs(float(v) - width()) <= 0.02 * width(),
                              "that is the window width itself; divide it by the 255 grey steps."),
                      Mistake(lambda v: abs(float(v) - 255 / width()) <= 0.02 * 255 / width() and width() != 255 ** 0.5,
                              "upside down: width / 255, not 255 / width.")]),
        Exercise(
            "stronger", "Which attack brings the accuracy down further at the same ε?",
            choice(stronger), choices=("FGSM", "PGD"),
            hints=["Compare the two curves in the 'accuracy under attack' chart.",
                   "The red curve is PGD, the blue one FGSM: which one lies lower?"],
            solution="Usually PGD: it takes many small steps, each re-aimed by a fresh gradient, where FGSM takes "
                     "one step along the sign of one gradient. The lab's curves decide for this model."),
        Exercise(
            "invisible", "Does PGD lower the accuracy already inside the grey 'invisible' band (ε below one grey level "
                         "at the current window)?",
            choice(drops_while_invisible), choices=("yes", "no"),
            hints=["The shaded band in the chart is where ε is below one grey level: nothing visible changes.",
                   "Look at the PGD curve where it crosses the band: is it lower there than at ε = 0?"],
            solution="If it does, a perturbation no one can see on this screen changes the model's diagnosis. The "
                     "band moves with the window, so the answer can change with the width slider."),
        Exercise(
            "window", "You narrow the display window (smaller width). The same ε becomes ...",
            choice("more visible"), choices=("more visible", "less visible", "no different"),
            hints=["One grey level = width / 255: what happens to it when the width shrinks?",
                   "Narrow the width slider and watch the invisible band in the chart."],
            solution="More visible: a narrow window spreads fewer units over the 255 grey levels, so small changes "
                     "span more grey levels.",
            mistakes=[Mistake("less visible", "a smaller width makes one grey level smaller, so the same ε spans "
                                              "more of them."),
                      Mistake("no different", "the pixels change by the same ε, but the screen shows them with "
                                              "a finer grey scale.")]),
    ])
