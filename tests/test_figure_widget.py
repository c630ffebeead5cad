"""radlab.widgets.figure: plotly's FigureWidget with plotly.js sent once per page.

The browser suite (tests/test_browser.py in Voilà, tests/test_jupyterlab.py in JupyterLab) shows
the figures drawn and updated; these tests pin down the cut itself, so that a plotly upgrade that
changes its widget bundle fails here instead of silently shipping plotly.js with every figure.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from radlab.widgets import figure as figure_module
from radlab.widgets.figure import BundleLayoutError, Figure, PlotlyLibrary, plotly_library, split_bundle

WIDGETS = Path(figure_module.__file__).parent


def test_the_installed_plotly_bundle_is_cut_in_two():
    library, fig = split_bundle()
    bundle = figure_module._bundle_path().read_text(encoding="utf-8")
    # plotly.js (its trace modules, d3) lives in the library module only
    for marker in ("scattergl", "modules/@plotly/d3/d3.js"):
        assert marker in bundle and marker in library and marker not in fig
    assert len(fig) < len(bundle) / 20, f"figure module {len(fig)} bytes: plotly.js was not cut out"
    assert len(library) + len(fig) < len(bundle) * 1.1
    # the figure module waits for the page's one library, which hands over the factory's result
    assert fig.count("await __radlabShared.promise") == 1
    assert library.count("__radlabShared.resolve(") == 1
    assert "export default" in library


def test_figures_use_the_cut_module_and_plain_figure_widgets_do_not():
    library, fig = split_bundle()
    assert Figure._esm == fig
    assert PlotlyLibrary._esm == library
    assert go.FigureWidget._esm != fig  # plotly's own class is left as it was


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_both_modules_are_valid_javascript(tmp_path):
    for name, text in zip(("library.mjs", "figure.mjs"), split_bundle()):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        check = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True, timeout=120)
        assert check.returncode == 0, f"{name}: {check.stderr[:800]}"


def _without_uids(fig) -> dict:
    """The figure's dict without the per-trace ``uid`` each widget draws at random."""
    out = fig.to_dict()
    for trace in out["data"]:
        trace.pop("uid", None)
    return out


def test_a_figure_holds_the_same_data_as_plotlys_figure_widget():
    z = np.arange(12.0).reshape(3, 4)
    data = [go.Heatmap(z=z, name="image"), go.Scatter(x=[0, 1, 2], y=[3, 1, 2], name="curve")]
    layout = dict(title="t", width=300, height=200)
    ours, theirs = Figure(data=data, layout=layout), go.FigureWidget(data=data, layout=layout)
    assert _without_uids(ours) == _without_uids(theirs)
    with ours.batch_update():
        ours.data[1].y = [0, 0, 5]
    with theirs.batch_update():
        theirs.data[1].y = [0, 0, 5]
    assert _without_uids(ours) == _without_uids(theirs)
    assert list(ours.data[1].y) == [0, 0, 5]


def test_every_figure_of_a_kernel_shares_one_library_widget():
    a, b = Figure(), Figure()
    library = plotly_library()
    assert isinstance(library, PlotlyLibrary) and plotly_library() is library
    assert a.model_id != b.model_id
    library.close()  # e.g. Widget.close_all() between runs: the next figure makes a new one
    Figure()
    assert plotly_library() is not library and plotly_library().comm is not None


def test_lab_widgets_build_figure_not_plotlys_figure_widget():
    offenders = []
    for path in sorted(WIDGETS.glob("*.py")):
        if path.name == "figure.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\bFigureWidget\(", line):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert not offenders, ("build radlab.widgets.figure.Figure (plotly.js once per page), "
                           f"not go.FigureWidget: {offenders}")


def test_an_unexpected_bundle_layout_is_a_clear_error(tmp_path, monkeypatch):
    fake = tmp_path / "widgetbundle.js"
    fake.write_text("var a=1;export default {};", encoding="utf-8")
    monkeypatch.setattr(figure_module, "_bundle_path", lambda: fake)
    split_bundle.cache_clear()
    try:
        with pytest.raises(BundleLayoutError, match="widgetbundle.js: expected one plotly.js factory"):
            split_bundle()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert figure_module._modules() == (None, None)
        assert any("every figure will carry plotly.js" in str(w.message) for w in caught)
    finally:
        split_bundle.cache_clear()
    monkeypatch.undo()
    assert split_bundle()[1] == Figure._esm
