"""Lab 8 widget: epsilon, attack, target and window change the figures; the lesson's numbers are right."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from radlab import attacks as A
from radlab.widgets.adversarial import AdversarialLab
from figures import plain_figure, trace_named
from test_explain import trained_lesion_model


@pytest.fixture(scope="module")
def lab() -> AdversarialLab:
    model, x, y, _ = trained_lesion_model()
    return AdversarialLab(model, x, y, scale=A.InputScale.detector(), level=0.5, width=1.0,
                          curve_images=24, pgd_steps=4)


def adversarial_z(lab: AdversarialLab) -> np.ndarray:
    return np.asarray(trace_named(lab.adversarial_fig, "perturbation").customdata, dtype=float)   # the change per pixel


def test_the_lab_builds_figure_widgets_with_data_in_them(lab):
    assert isinstance(lab.adversarial_fig, go.FigureWidget) and isinstance(lab.curve_fig, go.FigureWidget)
    assert len(lab.adversarial_fig.data) == 3 and len(lab.curve_fig.data) == 4
    assert len(trace_named(lab.curve_fig, "FGSM").x) == len(lab.curve_eps_units)
    assert trace_named(lab.curve_fig, "FGSM").y[0] == pytest.approx(trace_named(lab.curve_fig, "PGD").y[0])   # same clean accuracy


def test_changing_epsilon_changes_the_perturbation_and_moves_the_curve_marker(lab):
    lab.eps_slider.value = 1 / 255
    small = adversarial_z(lab)
    lab.eps_slider.value = 8 / 255
    large = adversarial_z(lab)
    assert np.abs(large).max() == pytest.approx(8 / 255, rel=1e-4)
    assert np.abs(small).max() == pytest.approx(1 / 255, rel=1e-4)
    assert list(trace_named(lab.curve_fig, "chosen ε").x) == pytest.approx([8 / 255, 8 / 255])
    assert "grey levels" in lab.info_html.value


def test_changing_the_attack_changes_the_adversarial_image(lab):
    lab.eps_slider.value = 6 / 255
    lab.attack_dropdown.value = "fgsm"
    fgsm = adversarial_z(lab)
    lab.attack_dropdown.value = "pgd"
    assert not np.allclose(fgsm, adversarial_z(lab))
    lab.attack_dropdown.value = "fgsm"


def test_a_targeted_attack_pushes_towards_the_chosen_diagnosis(lab):
    lab.image_dropdown.value = int(np.argmin(np.abs(lab.scores - 0.5)))   # an image the model is unsure of
    lab.attack_dropdown.value = "pgd"
    lab.eps_slider.value = 2 / 255
    lab.targeted_checkbox.value = True
    assert not lab.target_dropdown.disabled
    lab.target_dropdown.value = 0
    _, p, p_toward_healthy = lab.attacked()
    lab.target_dropdown.value = 1
    _, _, p_toward_lesion = lab.attacked()
    assert p_toward_healthy < p < p_toward_lesion
    lab.targeted_checkbox.value = False
    assert lab.target_dropdown.disabled


def test_the_display_window_decides_what_is_invisible(lab):
    lab.attack_dropdown.value = "fgsm"
    lab.eps_slider.value = 0.003                        # 0.77 grey levels at width 1.0
    lab.width_slider.value = 1.0
    assert "invisible" in lab.info_html.value
    assert max(trace_named(lab.curve_fig, "invisible at this window (< 1 grey level)").x) == pytest.approx(1 / 255)
    lab.width_slider.value = 0.5                        # a narrower window: 1.5 grey levels
    assert "<b>visible</b>" in lab.info_html.value
    assert max(trace_named(lab.curve_fig, "invisible at this window (< 1 grey level)").x) == pytest.approx(0.5 / 255)
    lab.width_slider.value = 1.0


def test_the_report_button_fills_in_clean_and_adversarial_numbers(lab):
    lab.attack_dropdown.value = "fgsm"
    lab.report_button.click()
    assert lab.report is not None and lab.report.attack == "fgsm"
    assert "AUC" in lab.report_html.value and len(lab.report.rows) == 5


def test_exercises_are_answered_by_the_lab_itself(lab):
    assert lab.exercises.notebook == "labs/08_adversarial_explorer"
    widgets = {w.exercise.name: w for w in lab.exercise_panel.items}
    grey = widgets["grey_level"]
    grey.answer.value = str(lab.window[1] / 255)      # the text box a student types into
    assert grey.check().correct
    grey.answer.value = str(lab.window[1])
    assert "divide it by the 255" in grey.check().message
    stronger = widgets["stronger"]
    fgsm, pgd = (sum(a for _, a in lab.curves[k]) for k in ("fgsm", "pgd"))
    stronger.answer.value = "PGD" if pgd <= fgsm else "FGSM"
    assert stronger.check().correct


def test_both_figures_show_what_fresh_ones_show_after_every_control(lab):
    """The lab updates its figures' values in place (adversarial_view, epsilon_marks), not by copying
    rebuilt figures into them."""
    eps = lab.eps_slider.value
    for name, value in [("eps_slider", eps * 2), ("attack_dropdown", "pgd"), ("width_slider", lab.width_slider.value / 2),
                        ("image_dropdown", lab.image_dropdown.options[1][1]), ("targeted_checkbox", True),
                        ("target_dropdown", 1), ("targeted_checkbox", False), ("attack_dropdown", "fgsm"),
                        ("eps_slider", eps)]:
        getattr(lab, name).value = value
        assert plain_figure(lab.adversarial_fig, ("title", "shapes", "annotations")) == \
            plain_figure(lab._adversarial(), ("title", "shapes", "annotations")), name
        assert plain_figure(lab.curve_fig) == plain_figure(lab._curves()), name
