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


def test_copy_figure_sends_only_the_new_texts_of_subplot_titles():
    """New panel titles alone go as ``annotations.i.text`` (the browser rewrites them in place); a
    title that moved replaces the annotations as before. The figure ends up as the fresh one."""
    from plotly.subplots import make_subplots

    from radlab.widgets.figure import Figure

    def built(titles, y=1.0):
        fig = make_subplots(rows=1, cols=2, subplot_titles=titles)
        fig.add_trace(go.Scatter(y=[1, 2]), row=1, col=1)
        fig.add_trace(go.Scatter(y=[2, 1]), row=1, col=2)
        if y != 1.0:
            fig.layout.annotations[0].y = y
        return fig

    shown = Figure(built(["a", "b"]))
    sent = []
    shown.observe(lambda c: sent.append(c.new), names=["_py2js_update", "_py2js_relayout"])
    copy_figure(shown, built(["a", "c"]))
    layout_keys = {k for s in sent if s for k in s.get("layout_data", s.get("relayout_data", {}))}
    assert layout_keys == {"annotations.1.text"}
    assert [a.text for a in shown.layout.annotations] == ["a", "c"]
    sent.clear()
    copy_figure(shown, built(["a", "c"], y=0.9))
    layout_keys = {k for s in sent if s for k in s.get("layout_data", s.get("relayout_data", {}))}
    assert layout_keys == {"annotations"}
    assert shown.layout.annotations[0].y == 0.9
