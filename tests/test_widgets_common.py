"""radlab.widgets.common.copy_figure: the widget ends up showing the freshly built figure."""
from __future__ import annotations

import plotly.graph_objects as go

from radlab.widgets.common import copy_figure


def _figure(y, *, line_at: float, title: str, note: str) -> go.Figure:
    fig = go.Figure([go.Scatter(x=[0, 1, 2], y=y, name="curve"), go.Bar(x=["a", "b"], y=[y[0], y[1]])])
    fig.add_vline(x=line_at)
    fig.add_annotation(text=note, x=1, y=1, showarrow=False)
    fig.update_layout(title=title)
    return fig


def _shown(fig) -> dict:
    plotly_json = fig.to_plotly_json()
    layout = plotly_json["layout"]
    return {"data": [{k: list(v) if k in ("x", "y") else v for k, v in t.items() if k != "uid"}
                     for t in plotly_json["data"]],
            "title": layout.get("title"), "shapes": layout.get("shapes"), "annotations": layout.get("annotations")}


def test_copy_figure_shows_the_fresh_figure_whether_shapes_and_notes_changed_or_not():
    target = go.FigureWidget(_figure([1, 2, 3], line_at=0.5, title="first", note="n1"))
    fresh = _figure([3, 1, 2], line_at=0.5, title="second", note="n1")
    copy_figure(target, fresh)
    assert _shown(target) == _shown(fresh)
    moved = _figure([3, 1, 2], line_at=1.5, title="second", note="n2")
    copy_figure(target, moved)
    assert _shown(target) == _shown(moved)
    assert target.layout.shapes[0].x0 == 1.5 and target.layout.annotations[0].text == "n2"
