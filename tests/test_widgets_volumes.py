"""Lab 12 widget: scrolling, windows and phases change the figures; training fills the comparison; exercises."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from radlab.volumetric import WINDOWS
from radlab.widgets.volumes import VolumesLab
from figures import plain_figure, shape_named, shown_values, trace_named
from radlab.viz.images import NO_OUTLINE, outline_path
from radlab.viz.volumes import slice_view_figure


@pytest.fixture(scope="module")
def lab() -> VolumesLab:
    return VolumesLab(seed=0, fast=True, epochs_2d=1, epochs_3d=1)


def axial(lab: VolumesLab) -> np.ndarray:
    """The axial slice as shown: 0…255 grey levels of its picture."""
    return shown_values(trace_named(lab.view_fig, "axial slice")).astype(float)


def test_the_lab_opens_on_a_test_volume_with_a_nodule_in_view(lab):
    assert isinstance(lab.view_fig, go.FigureWidget) and isinstance(lab.compare_fig, go.FigureWidget)
    first, last = lab.current_extent()
    assert first <= lab.z <= last
    outline = shape_named(lab.view_fig, "axial outline")                                      # the outline is drawn
    assert outline.path == outline_path(lab.volumes.masks[lab.index][lab.z]) != ""
    assert "nodule in slices" in lab.view_html.value


def test_the_slice_slider_scrolls_through_the_volume(lab):
    before = axial(lab)
    lab.slice_slider.value = (lab.z + 5) % 16
    assert not np.allclose(before, axial(lab))
    assert list(trace_named(lab.view_fig, "this slice").y) == [lab.z, lab.z]                    # the line on the coronal view


def test_the_figures_follow_every_control_as_fresh_ones_would(lab):
    """The lab updates the pictures, outlines and lines in place (slice_view_data, phases_data), not
    from rebuilt figures; an outline shows on the slices with the nodule and hides on the others."""
    n_volumes = lab.volume_slider.max + 1
    for change in (lambda: setattr(lab.slice_slider, "value", (lab.z + 3) % 16),
                   lambda: setattr(lab.volume_slider, "value", (lab.volume_slider.value + 1) % n_volumes),
                   lambda: setattr(lab.window_dropdown, "value", list(WINDOWS)[-1]),
                   lambda: setattr(lab.level_slider, "value", lab.level_slider.value + 40)):
        change()
        assert plain_figure(lab.phases_fig, ("shapes",)) == plain_figure(lab._phases_figure(), ("shapes",))
        fresh = slice_view_figure(*lab._view_args(), **lab._view_kwargs())
        assert plain_figure(lab.view_fig, ("shapes",)) == plain_figure(fresh, ("shapes",))
    lab.volume_slider.value = next(k for k, i in enumerate(lab.test_index) if lab.volumes.labels[i] == 1)
    seen = set()
    for z in range(16):
        lab.slice_slider.value = z
        on_slice = bool(lab.volumes.masks[lab.index][lab.z].any())
        drawn = [shape.path != NO_OUTLINE for shape in (shape_named(lab.view_fig, "axial outline"),
                                                        *lab.phases_fig.layout.shapes)]
        assert drawn == [on_slice] * 4
        seen.add(on_slice)
    assert seen == {True, False}, "the volume shown has slices with and without its nodule"


def test_a_window_preset_sets_level_and_width_and_changes_the_image(lab):
    before = axial(lab)
    sent = []   # messages to the browser: each figure is redrawn once, after both sliders moved
    for name, fig in (("view", lab.view_fig), ("phases", lab.phases_fig)):
        fig.observe(lambda change, name=name: sent.append(name) if change["new"] else None, names="_py2js_update")
    lab.window_dropdown.value = "mediastinum"
    assert sorted(sent) == ["phases", "view"]
    assert (lab.level_slider.value, lab.width_slider.value) == WINDOWS["mediastinum"]
    after = axial(lab)
    assert not np.allclose(before, after)
    assert after.min() == 0.0                        # lung is black in a soft-tissue window
    lab.window_dropdown.value = "lung"


def test_the_venous_phase_brightens_the_image(lab):
    lab.phase_toggle.value = "non-contrast"
    plain = axial(lab)
    lab.phase_toggle.value = "venous"
    assert axial(lab).mean() > plain.mean()
    lab.phase_toggle.value = "non-contrast"


def test_the_volume_slider_shows_another_volume(lab):
    before = shown_values(trace_named(lab.view_fig, "coronal reformat")).astype(float)
    lab.volume_slider.value = (lab.volume_slider.value + 1) % (lab.volume_slider.max + 1)
    assert not np.allclose(before, shown_values(trace_named(lab.view_fig, "coronal reformat")).astype(float))


def test_training_fills_the_comparison_and_the_per_slice_scores(lab):
    lab.train_button.click()
    assert [r.name for r in lab.results] == ["2d", "2d_phases", "3d"], lab.status_html.value
    assert lab.results_html.value.count("<tr>") == 4
    assert all(v is not None for v in trace_named(lab.compare_fig, "AUC").y)
    assert len(trace_named(lab.scores_fig, "2-D CNN: score of each slice").x) == 16
    assert len(trace_named(lab.scores_fig, "3-D CNN: score of the volume").y) == 2


def test_every_exercise_accepts_its_own_answer_and_refuses_a_typical_wrong_one(lab):
    if not lab.results:
        lab.run()
    k = next(k for k, i in enumerate(lab.test_index) if lab.volumes.labels[i] == 1)
    lab.volume_slider.value = k
    best = lab.exercises.your_best.expected()
    wrong = {"lookalike": "a rib", "nodule_slices": 16, "conv3d_params": 1168, "phase_channels": "(1, 64, 32)",
             "your_best": next(c for c in ("2d", "2d_phases", "3d") if c != best),
             "your_3d_params": next(r.params for r in lab.results if r.name == "2d")}
    assert set(wrong) == set(lab.exercises.names())
    for ex in lab.exercises:
        assert ex.check(ex.expected(), record=False).correct, ex.name
        assert not ex.check(wrong[ex.name], record=False).correct, ex.name
        assert len(ex.hints) >= 2 and ex.solution_text


def test_the_nodule_question_waits_for_a_volume_with_a_nodule(lab):
    k = next(k for k, i in enumerate(lab.test_index) if lab.volumes.labels[i] == 0)
    lab.volume_slider.value = k
    feedback = lab.exercises.nodule_slices.check(3, record=False)
    assert not feedback.answered and "nodule" in feedback.message
