"""radlab.viz.style.plotly_white: the same figure as ``template="plotly_white"``, without re-validating it."""
from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go
import pytest
import plotly.io as pio
from plotly.utils import PlotlyJSONEncoder

from radlab.viz.style import plotly_white

ROOT = Path(__file__).resolve().parent.parent


def _json(fig: go.Figure) -> str:
    return json.dumps(fig.to_plotly_json(), cls=PlotlyJSONEncoder, sort_keys=True)


def test_plotly_white_gives_the_figure_update_layout_gives():
    def build() -> go.Figure:
        return go.Figure([go.Scatter(x=[1, 2, 3], y=[3, 1, 2]), go.Bar(x=["a", "b"], y=[1, 2])])

    by_name = build()
    by_name.update_layout(template="plotly_white", height=300, title="t")
    cheap = plotly_white(build())
    cheap.update_layout(height=300, title="t")
    assert _json(cheap) == _json(by_name)
    assert _json(plotly_white(build())) != _json(build())   # and it is not plotly's default look
    assert cheap.layout.template.layout.plot_bgcolor == "white"


def test_the_registered_template_is_left_as_it_was():
    before = json.dumps(pio.templates["plotly_white"].to_plotly_json(), sort_keys=True)
    for _ in range(3):
        fig = plotly_white(go.Figure())
        fig.update_layout(height=200, xaxis_title="x")
    assert json.dumps(pio.templates["plotly_white"].to_plotly_json(), sort_keys=True) == before


def test_radlab_figures_set_the_template_the_cheap_way():
    """``template="plotly_white"`` re-validates the template (~8 ms a figure): use plotly_white(fig)."""
    slow = [f"{path.relative_to(ROOT)}:{n}" for path in sorted((ROOT / "radlab").rglob("*.py"))
            if path.name != "style.py"
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
            if 'template="plotly_white"' in line]
    assert slow == [], f"use radlab.viz.style.plotly_white(fig) instead in {slow}"


def test_padded_range_holds_the_values_with_room_on_both_sides():
    from radlab.viz.style import padded_range

    assert padded_range([0.0, 1.0, None, float("nan")]) == pytest.approx([-0.05, 1.05])
    assert padded_range([0.01, 1.0], log=True, pad=0.1) == pytest.approx([-2.2, 0.2])   # log10 units
    assert padded_range([3.0, 3.0]) == pytest.approx([2.85, 3.15])                     # one value: room anyway
    assert padded_range([]) == [0.0, 1.0]
