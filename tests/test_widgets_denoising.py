"""Lab 11 widget: the dose slider redraws slice, noise map and curve marker; lesion cases; exercises."""
from __future__ import annotations

import numpy as np
import pytest

from radlab import denoising as D
from radlab.data.ct_dose import Scanner, dose_series
from radlab.widgets.denoising import DenoisingLab
from figures import shown_values, trace_named

DOSES = (1.0, 0.25, 0.125, 0.03125)


@pytest.fixture(scope="module")
def parts():
    scanner = Scanner(n_angles=64)
    data = D.make_denoising_data(n_train=2, n_val=2, n_test=2, doses=DOSES, scanner=scanner, seed=0)
    # stand-ins for the networks (training is tested elsewhere): two blurs
    methods = {"low_dose": None, "gaussian": D.gaussian_denoiser(1.0), "residual_cnn": D.gaussian_denoiser(2.0)}
    table = D.evaluate_by_dose(data, methods)
    cases = D.lesion_study(data.test_objects[0], methods, radii=(1.0, 3.0), contrasts=(40.0,), dose=0.125,
                           scanner=scanner, repeats=1, seed=0)
    series = dose_series(data.test_objects[0], DOSES, scanner=scanner, seed=0)
    return series, D.denoise_series(series.images_hu, methods), table, cases


@pytest.fixture()
def lab(parts, tmp_path, monkeypatch) -> DenoisingLab:
    monkeypatch.setenv("RADLAB_PROGRESS", str(tmp_path / "progress.jsonl"))
    return DenoisingLab(*parts)


def _z(trace) -> np.ndarray:
    return np.asarray(shown_values(trace), dtype=float)


def test_the_lab_opens_on_the_residual_networks_worst_lesion_case(lab, parts):
    cases = parts[3]
    assert lab.case is D.most_erased(cases, "residual_cnn")
    assert len(lab.dose_fig.data) == 3 and len(lab.lesion_fig.data) == len(lab.lesion_fig.layout.shapes) == 4   # reference + 3 methods
    assert len(lab.kept_fig.data) == 3 and "<table>" in lab.dose_html.value


def test_moving_the_dose_slider_redraws_the_slice_the_noise_and_the_marker(lab):
    before = [_z(t).copy() for t in lab.dose_fig.data]
    noise_before = float(np.std(before[1]))
    lab.dose_slider.value = len(DOSES) - 1   # the lowest dose
    after = [_z(t) for t in lab.dose_fig.data]
    assert all(not np.array_equal(a, b) for a, b in zip(after, before))
    assert float(np.std(after[1])) > noise_before, "less dose, more noise"
    assert list(trace_named(lab.curves_fig, "slider").x) == [pytest.approx(DOSES[-1])] * 2
    assert "3.1% of the full dose" in lab.dose_html.value


def _panels(fig) -> list:
    """What the figure shows: each trace's values, hover values, axes and texts; the panel titles; the outlines."""
    keys = ("type", "z", "source", "customdata", "x", "y", "x0", "dx", "y0", "dy", "zmin", "zmax", "hovertemplate",
            "name", "colorscale", "xaxis", "yaxis")
    values = [{k: (t[k] if k in t else None) for k in keys} for t in fig.data]   # heatmaps have no source
    traces = [{k: np.asarray(v).tolist() if k in ("z", "customdata", "x", "y") and v is not None else v
               for k, v in t.items()} for t in values]
    return traces + [a.text for a in fig.layout.annotations] + [(sh.path, sh.xref, sh.yref) for sh in fig.layout.shapes]


def test_a_dose_or_denoiser_change_leaves_the_figure_a_fresh_dose_figure_would_draw(lab):
    """The lab copies only the panels (update_dose_figure), not a whole new figure: the result is the same."""
    for dose_level, method in ((len(DOSES) - 1, "gaussian"), (1, "residual_cnn"), (0, "low_dose")):
        lab.dose_slider.value, lab.method_dropdown.value = dose_level, method
        fresh = lab._dose()
        assert _panels(lab.dose_fig) == _panels(fresh), (dose_level, method)
        assert fresh.layout.annotations[0].text.startswith(f"{DOSES[dose_level]:.1%} dose")


def test_another_lesion_leaves_the_figure_a_fresh_lesion_figure_would_draw(lab):
    for case in [v for _, v in lab.case_dropdown.options] * 2:
        lab.case_dropdown.value = case
        assert _panels(lab.lesion_fig) == _panels(lab._lesion()), case


def test_choosing_another_denoiser_or_lesion_redraws_its_panel(lab):
    out = _z(trace_named(lab.dose_fig, "denoised")).copy()
    lab.method_dropdown.value = "low_dose"
    assert np.array_equal(_z(trace_named(lab.dose_fig, "denoised")), _z(trace_named(lab.dose_fig, "low-dose slice"))), "no filter: the scan itself"
    assert not np.array_equal(_z(trace_named(lab.dose_fig, "denoised")), out)
    text, z = lab.case_html.value, _z(trace_named(lab.lesion_fig, "lesion 1")).copy()
    lab.case_dropdown.value = 1 - lab.case_dropdown.value
    assert lab.case_html.value != text and not np.array_equal(_z(trace_named(lab.lesion_fig, "lesion 1")), z)


def test_every_exercise_accepts_its_own_answer_and_refuses_a_wrong_one(lab):
    assert lab.exercises.notebook == "labs/11_low_dose_ct_denoising" and len(lab.exercises) >= 5
    for ex in lab.exercises:
        assert len(ex.hints) >= 2 and ex.solution_text
        assert ex.check(ex.expected(), record=False).correct, ex.name
        wrong = [c for c in ex.choices if c != ex.expected()][0] if ex.choices else ex.expected() + 3
        assert not ex.check(wrong, record=False).correct, ex.name
    assert "variance" in lab.exercises.quarter_dose_noise.check(4, record=False).message


def test_inconsistent_inputs_are_refused(parts):
    series, outputs, table, cases = parts
    with pytest.raises(ValueError, match="outputs of shape"):
        DenoisingLab(series, {"low_dose": outputs["low_dose"][:2]}, table, cases)
    with pytest.raises(ValueError, match="lesion case"):
        DenoisingLab(series, outputs, table, [])
