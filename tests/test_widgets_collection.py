"""Lab 1 widget: sliders and presets window the image, sources switch, phantoms show their ground truth."""
from __future__ import annotations

import numpy as np
import pytest

from radlab.course.lab01_data_collection import WINDOWS, exercises
from radlab.data.dicom import WINDOW_PRESETS
from radlab.widgets.collection import PHANTOM_SOURCE, DataCollectionLab
from figures import shown_values, trace_named


@pytest.fixture(scope="module")
def lab() -> DataCollectionLab:
    return DataCollectionLab(n_patients=4, size=32, seed=0)


def z(fig) -> np.ndarray:
    return shown_values(trace_named(fig, "image")).copy()


def test_the_viewer_starts_on_the_ct_with_a_figure_holding_data(lab):
    assert lab.source.value.endswith("CT_small.dcm")
    assert z(lab.figure).shape == (128, 128) and z(lab.figure).std() > 0
    assert "PatientName" in lab.deid_html.value  # the de-identification table of this file


def test_moving_the_level_slider_changes_the_image_and_marks_the_window_custom(lab):
    lab.preset.value = "soft_tissue"
    before = z(lab.figure)
    lab.level_slider.value = 400.0
    after = z(lab.figure)
    assert not np.array_equal(before, after)
    assert after.mean() < before.mean()  # a higher level makes the image darker
    assert lab.preset.value == "custom"
    lab.width_slider.value = 3000.0
    assert not np.array_equal(after, z(lab.figure))


@pytest.mark.parametrize("preset", ["lung", "bone", "brain"])
def test_choosing_a_preset_sets_both_sliders_and_redraws(lab, preset):
    lab.preset.value = "mediastinum"
    before = z(lab.figure)
    lab.preset.value = preset
    assert (lab.level_slider.value, lab.width_slider.value) == WINDOW_PRESETS[preset]
    assert not np.array_equal(before, z(lab.figure))
    assert f"level {WINDOW_PRESETS[preset][0]:.0f}" in lab.figure.layout.title.text


def test_switching_source_shows_the_new_image_and_its_deidentification(lab):
    mr = next(label for label in lab.source.options if "MR_small" in label)
    lab.source.value = mr
    assert z(lab.figure).shape == (64, 64)
    assert [v for _, v in lab.preset.options] == ["auto", "file", "custom"]  # no HU presets for MR
    assert lab.preset.value == "file" and lab.level_slider.value == 600.0
    assert "PatientName" in lab.deid_html.value
    lab.source.value = PHANTOM_SOURCE
    assert lab.preset.value == "lung" and z(lab.figure).shape == (256, 256)
    assert "nothing to de-identify" in lab.deid_html.value


def test_window_steps_reuse_the_block_averaged_frame_and_match_a_fresh_trace(monkeypatch):
    """A level/width step re-windows the kept display-size frame: the same z as image_trace of the
    full frame (the same picture), for every source (the 1955 x 1841 radiograph included), without block-averaging it again."""
    import radlab.widgets.collection as collection
    from radlab.viz.images import image_trace

    lab = DataCollectionLab(n_patients=2, size=32, seed=0)
    calls = []
    original = collection.display_pixels
    monkeypatch.setattr(collection, "display_pixels", lambda image: calls.append(image.shape) or original(image))
    for source in lab.source.options:
        lab.source.value = source
        for frame in sorted({0, lab.frame_slider.max}):
            lab.frame_slider.value = frame
            calls.clear()
            for level in (lab.level_slider.value + 7 * lab.level_slider.step, lab.level_slider.min + 1):
                lab.level_slider.value = level
                lab.width_slider.value = lab.width_slider.value / 2
                fresh = image_trace(lab._frame(), level=lab.window[0], width=lab.window[1], units=lab._units())
                shown = lab.figure.data[0]
                assert shown.source == fresh.source, (source, frame, level)
                assert np.array_equal(np.asarray(shown.customdata), fresh.customdata), (source, frame)
                assert (shown.x0, shown.dx, shown.y0, shown.dy) == (fresh.x0, fresh.dx, fresh.y0, fresh.dy)
            # at most once (the first step on the frame the lab opened with), never once per step
            assert len(calls) <= 1, f"{source}: window steps block-averaged the frame {len(calls)} times"


def test_image_trace_refuses_shown_pixels_of_another_size():
    from radlab.viz.images import display_pixels, image_trace

    image = np.arange(1030 * 700, dtype=np.float32).reshape(1030, 700)
    assert image_trace(image, shown=display_pixels(image)).source == image_trace(image).source
    with pytest.raises(ValueError, match=r"display_pixels\(image, max_size\)"):
        image_trace(image, shown=image)


def test_unknown_values_sent_from_the_browser_are_refused(lab):
    from traitlets import TraitError

    with pytest.raises(TraitError):
        lab.source.value = "/etc/passwd"


def test_the_phantom_browser_shows_the_lesion_outline_and_box_and_hides_them_on_request(lab):
    lab.phantom_kind.value = "ct"
    ps = lab.phantoms["ct"]
    i = int(np.flatnonzero(ps.labels == 1)[0])
    lab.show_truth.value = True
    lab.phantom_index.value = i
    assert np.asarray(trace_named(lab.phantom_figure, "lesion mask").z).sum() == ps.masks[i].sum()
    assert lab.phantom_figure.layout.shapes[0].visible
    assert lab.phantom_figure.layout.shapes[0].x0 == pytest.approx(ps.boxes[i][0] - 0.5)
    assert "label <b>1</b>" in lab.phantom_info.value
    before = z(lab.phantom_figure)
    lab.phantom_index.value = int(np.flatnonzero(ps.labels == 0)[0])
    assert not np.array_equal(before, z(lab.phantom_figure))
    assert not lab.phantom_figure.layout.shapes[0].visible
    lab.phantom_index.value = i
    lab.show_truth.value = False
    assert np.asarray(trace_named(lab.phantom_figure, "lesion mask").z).sum() == 0 and not lab.phantom_figure.layout.shapes[0].visible


def test_dataset_cards_are_listed_and_shown(lab):
    names = [value for _, value in lab.card.options]
    assert "ct-phantoms" in names and "pydicom-samples" in names
    lab.card.value = "pydicom-samples"
    shown = lab.card_text  # the Markdown the Output widget displays
    assert "license" in shown and "Cite as" in shown


def test_exercises_accept_the_right_answer_and_explain_the_typical_wrong_one():
    ex = exercises()
    assert ex.nodule_window.check("lung", record=False).correct
    wrong = ex.nodule_window.check("bone", record=False)
    assert not wrong.correct and "bone window" in wrong.message
    assert ex.water_hu.check(0, record=False).correct
    assert "air" in ex.water_hu.check(-1000, record=False).message
    assert ex.monochrome1.check("dark", record=False).correct
    for exercise in ex:
        if exercise.choices:
            assert sum(exercise.check(c, record=False).correct for c in exercise.choices) == 1
    assert set(WINDOWS) == set(WINDOW_PRESETS), "the window question offers every preset of the viewer"


def test_the_lab_exposes_its_exercise_set():
    lab = DataCollectionLab(n_patients=4, size=32)
    assert lab.exercises.notebook == "labs/01_data_collection" and len(lab.exercises) == 5


def test_a_new_image_reaches_the_page_before_its_controls_one_message_per_control(lab, monkeypatch):
    """The picture is what a student waits for: its update goes first, then each control's new range,
    choices and value together (before, ~20 updates came first, slider by slider, attribute by attribute)."""
    import ipywidgets as W
    sent: list[tuple[object, set[str]]] = []
    original = W.Widget._send

    def record(widget, msg, buffers=None):
        if msg.get("method") == "update":
            sent.append((widget, set(msg.get("state", {}))))
        return original(widget, msg, buffers)

    monkeypatch.setattr(W.Widget, "_send", record)
    lab.source.value = next(label for label in lab.source.options if "RG1_UNCI" in label)
    sent = [(widget, keys) for widget, keys in sent if widget is not lab.source]   # the dropdown's own value
    order = [widget for widget, _ in sent]
    assert order and order[0] is lab.figure, [type(w).__name__ for w in order]
    assert lab.figure not in order[order.index(lab.info):], "the picture's update came after a control's"
    controls = (lab.frame_slider, lab.preset, lab.level_slider, lab.width_slider, lab.info, lab.deid_html)
    for control in controls:
        assert order.count(control) <= 1, f"{control.description or control}: {order.count(control)} updates"
    assert {"min", "max", "step", "value"} <= next(keys for widget, keys in sent if widget is lab.level_slider)


def test_going_back_to_an_image_shows_the_same_picture(lab):
    """Display-size frames are kept per image and frame: a revisit shows exactly what a first visit did."""
    ct, mr = (next(label for label in lab.source.options if name in label) for name in ("CT_small", "MR_small"))
    lab.source.value = ct
    first = (z(lab.figure), lab.figure.data[0].source)
    lab.source.value = mr
    lab.source.value = ct
    assert np.array_equal(first[0], z(lab.figure)) and first[1] == lab.figure.data[0].source
