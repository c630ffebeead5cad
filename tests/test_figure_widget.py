"""radlab.widgets.figure: plotly's FigureWidget with plotly.js sent once per page.

The browser suite (tests/test_browser.py in Voilà, tests/test_jupyterlab.py in JupyterLab) shows
the figures drawn and updated; these tests pin down the cut itself, so that a plotly upgrade that
changes its widget bundle fails here instead of silently shipping plotly.js with every figure.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import nbformat
import numpy as np
import plotly.graph_objects as go
import pytest
from nbformat.v4 import new_code_cell, new_notebook

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
    # the figure module takes the page's one library when it arrives (the factory's result, through a proxy) and
    # does not wait for it at load: only its view's render does (anywidget gives a module 2 s to load)
    assert fig.count("__radlabShared.promise.then(") == 1 and "await __radlabShared.promise" not in fig
    assert fig.count("await __radlabPlotlyReady") == 1 and "async render(" in fig
    assert library.count("__radlabShared.resolve(") == 1
    assert "export default" in library


def test_figures_use_the_cut_module_and_plain_figure_widgets_do_not():
    library, fig = split_bundle()
    assert Figure._esm == fig
    assert PlotlyLibrary._esm == figure_module.LOADER_ESM  # small: the library module goes on request
    assert len(PlotlyLibrary._esm) < 5_000 and "__radlabShared.resolve(" in PlotlyLibrary._esm
    assert go.FigureWidget._esm != fig  # plotly's own class is left as it was


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_both_modules_are_valid_javascript(tmp_path):
    for name, text in zip(("library.mjs", "figure.mjs", "loader.mjs"), (*split_bundle(), figure_module.LOADER_ESM)):
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


def test_the_library_widget_sends_the_library_module_when_asked():
    library, sent = PlotlyLibrary(), []
    library.send = lambda content, buffers=None: sent.append((content, buffers))
    library._on_request(library, {"type": "something else"}, [])
    assert sent == []
    library._on_request(library, {"type": figure_module.REQUEST}, [])
    assert sent == [({"type": figure_module.REPLY}, [split_bundle()[0].encode("utf-8")])]
    from plotly.offline import get_plotlyjs_version
    assert f'const WANT = "{get_plotlyjs_version()}";' in figure_module.LOADER_ESM


def test_every_figure_of_a_kernel_shares_one_library_widget():
    a, b = Figure(), Figure()
    library = plotly_library()
    assert isinstance(library, PlotlyLibrary) and plotly_library() is library
    assert a.model_id != b.model_id
    library.close()  # e.g. Widget.close_all() between runs: the next figure makes a new one
    Figure()
    assert plotly_library() is not library and plotly_library().comm is not None


def test_send_changes_sends_only_what_changed_in_one_message():
    """Figure.send_changes: one update message with the changed values only (a trace whose value is
    unchanged gets none: undefined), nested keys as plotly's dotted ones, layout keys checked; the figure
    then holds the new values; nothing changed sends nothing; a key no trace has is a clear error."""
    from plotly.basedatatypes import Undefined

    fig = Figure(data=[dict(type="scatter", mode="text", x=[0.0, 1.0], y=[0.0, 1.0], text=["a", "b"],
                            textfont=dict(size=11, color=["#444", "#444"])),
                       dict(type="image", source="data:image/bmp;base64,AA", x0=0.0, dx=1.0)],
                 layout=dict(title=dict(text="t"), annotations=[dict(text="one"), dict(text="two")]))
    sent = []
    fig.observe(lambda change: change.new and sent.append(change.new), names="_py2js_update")
    fig.send_changes([{"x": [0.0, 1.0], "text": ["c", "b"], "textfont": {"color": ["#fff", "#444"]}},
                      {"source": "data:image/bmp;base64,AA", "x0": 0.5}],
                     {"annotations[1].text": "deux", "annotations[0].text": "one", "title.text": "t"})
    assert len(sent) == 1
    message = sent[0]
    assert message["style_data"] == {"text": [["c", "b"], Undefined], "textfont.color": [["#fff", "#444"], Undefined],
                                     "x0": [Undefined, 0.5]}
    assert message["layout_data"] == {"annotations[1].text": "deux"}
    assert list(fig.data[0].text) == ["c", "b"] and fig.data[1].x0 == 0.5 and fig.layout.annotations[1].text == "deux"
    assert list(fig.data[0].textfont.color) == ["#fff", "#444"] and fig.data[0].textfont.size == 11
    fig.send_changes([{"text": ["c", "b"]}], {"title.text": "t"})
    assert len(sent) == 1, "nothing changed: nothing sent"
    with pytest.raises(ValueError, match="bogus"):
        fig.send_changes([{"bogus": 1}])


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


def _rows(value) -> np.ndarray:
    """The 2-D array back from figure_to_js's binary rows (what the browser gets as typed arrays)."""
    return np.stack([np.frombuffer(row["buffer"], dtype=row["dtype"]) for row in value])


def test_images_travel_as_binary_rows_not_json_text():
    from ipywidgets.widgets.widget import _remove_buffers

    z = np.random.default_rng(0).integers(0, 256, size=(512, 480)).astype(np.uint8)
    hover = (z.astype(np.int16) * 8 - 1024)
    fig = Figure(go.Heatmap(z=z, customdata=hover, x=np.arange(480.0)))
    state = fig.get_state("_widget_data")["_widget_data"]
    trace = state[0]
    assert len(trace["z"]) == 512 and trace["z"][0]["dtype"] == "uint8"
    assert np.array_equal(_rows(trace["z"]), z) and np.array_equal(_rows(trace["customdata"]), hover)
    assert trace["x"]["dtype"] == "float64"   # 1-D arrays: plotly's own single buffer, as before
    json_part, _paths, buffers = _remove_buffers({"_widget_data": state})
    assert len(buffers) == 2 * 512 + 1
    assert sum(b.nbytes for b in buffers) == z.nbytes + hover.nbytes + 480 * 8
    assert len(json.dumps(json_part)) < 100_000          # plotly's own serializer: JSON lists
    plain = go.FigureWidget(go.Heatmap(z=z)).get_state("_widget_data")["_widget_data"]
    assert len(json.dumps(_remove_buffers({"d": plain})[0])) > 1_000_000
    # an update sends rows too
    sent = []
    fig.observe(lambda change: sent.append(fig.get_state("_py2js_update")["_py2js_update"]),
                names="_py2js_update")
    with fig.batch_update():
        fig.data[0].z = z[::-1]
    update = next(s for s in sent if s)
    assert np.array_equal(_rows(update["style_data"]["z"][0]), z[::-1])


@pytest.mark.parametrize("array, rows", [
    (np.arange(6, dtype=np.int64).reshape(2, 3), True),        # int64 in int32's range: int32 rows
    (np.full((2, 3), 2**40, dtype=np.int64), False),            # beyond int32: JSON lists, values kept
    (np.zeros((2, 3, 3), dtype=np.uint8), False),               # an RGB image (3-D): JSON lists
    (np.array([[True, False]]), False),                         # booleans: JSON lists
    (np.array([["a", "b"]]), False),                            # text: JSON lists
])
def test_only_numeric_2d_arrays_become_rows(array, rows):
    out = figure_module.figure_to_js({"z": array})["z"]
    if rows:
        assert np.array_equal(_rows(out), array) and out[0]["dtype"] == "int32"
    else:
        assert out == array.tolist()


def test_the_fast_path_decodes_typed_array_specs_as_plotly_js_does_with_and_without_native_base64():
    """IMAGE_SWAP_JS's decoder in a bare page: a 2-D spec gives typed rows, a 3-D spec rows whose cells are made
    when read (plotly.js reads one per hover); the same with ``Uint8Array.fromBase64`` and with the atob loop
    older browsers take."""
    from browser import chromium_browser

    from radlab.viz.images import plotly_array

    flat = np.arange(4 * 5 * 3, dtype=np.float32) - 7.5
    specs = {"2d": plotly_array(flat[:20].reshape(4, 5)), "3d": plotly_array(flat.reshape(4, 5, 3))}
    helpers = figure_module.IMAGE_SWAP_JS.split("function __radlabPlanImage")[0]
    read = ("(specs) => { const d2 = __radlabDecoded(specs['2d']), d3 = __radlabDecoded(specs['3d']);"
            " return { d2: d2.map((r) => Array.from(r)), rows: d3.length, isArray: Array.isArray(d3[1]),"
            " width: d3[1].length, cell: Array.from(d3[2][4]), cells: d3[3].map((c) => Array.from(c)),"
            " beyond: d3[0][5] === undefined }; }")
    with chromium_browser() as browser:
        page = browser.new_page()
        page.add_script_tag(content=helpers + "\nglobalThis.__radlabDecoded = __radlabDecoded;")
        native = page.evaluate(read, specs)
        page.evaluate("() => { delete Uint8Array.fromBase64; }")
        assert page.evaluate("() => typeof Uint8Array.fromBase64") == "undefined"
        fallback = page.evaluate(read, specs)
    cube = flat.reshape(4, 5, 3)
    for got in (native, fallback):
        assert got["d2"] == flat[:20].reshape(4, 5).tolist()
        assert (got["rows"], got["isArray"], got["width"], got["beyond"]) == (4, True, 5, True)
        assert got["cell"] == cube[2, 4].tolist()
        assert got["cells"] == cube[3].tolist()


def test_plotly_js_draws_and_hovers_a_heatmap_given_typed_rows():
    """The browser side of the binary rows: plotly.js takes an array of typed arrays as z and customdata."""
    import plotly

    from browser import chromium_browser

    with chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 400, "height": 300})
        page.set_content("<div id='plot'></div>")
        page.add_script_tag(path=str(Path(plotly.__file__).parent / "package_data" / "plotly.min.js"))
        page.evaluate("""async () => {
          const rows = (n, m, f, T) => Array.from({length: n}, (_, i) => T.from({length: m}, (_, j) => f(i, j)));
          await Plotly.newPlot('plot', [{type: 'heatmap', colorscale: 'Greys', zmin: 0, zmax: 255, showscale: false,
              z: rows(20, 30, (i, j) => (i * 30 + j) % 256, Uint8Array),
              customdata: rows(20, 30, (i, j) => i * 30 + j - 1000, Int16Array),
              hovertemplate: '%{customdata} HU<extra></extra>'}],
            {width: 400, height: 300, margin: {l: 0, r: 0, t: 0, b: 0},
             xaxis: {range: [-0.5, 29.5]}, yaxis: {range: [-0.5, 19.5]}});
        }""")
        assert page.locator("#plot .heatmaplayer image").count() == 1
        x, y = page.evaluate("""() => {  // the screen position of pixel (row 2, column 5)
          const gd = document.getElementById('plot'), L = gd._fullLayout, box = gd.getBoundingClientRect();
          return [box.left + L._size.l + L.xaxis.d2p(5), box.top + L._size.t + L.yaxis.d2p(2)];
        }""")
        page.mouse.move(x, y)
        page.wait_for_selector("#plot .hovertext", timeout=5000)
        assert page.locator("#plot .hovertext").text_content().strip() == f"{2 * 30 + 5 - 1000} HU"


def _python_notebook(cells: list[str]) -> nbformat.NotebookNode:
    """A notebook of these code cells, for a Python 3 kernel (what the Voilà test pages run)."""
    return new_notebook(cells=[new_code_cell(c) for c in cells], metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def _dashboard(static_figure: bool) -> nbformat.NotebookNode:
    """A notebook with one live figure and a slider that restyles it, after a static figure or not."""
    cells = ["import ipywidgets as w\nimport plotly.graph_objects as go\nfrom radlab.widgets.figure import Figure",
             "fig = Figure(data=[{'type': 'heatmap', 'z': [[0, 1], [2, 3]]}], layout={'width': 300, 'height': 200})\n"
             "s = w.IntSlider(0, 0, 9, description='shift')\n"
             "s.observe(lambda c: fig.data[0].update(z=[[c.new, 1], [2, 3]]), 'value')\n"
             "w.VBox([s, fig])"]
    if static_figure:
        cells.insert(1, "go.Figure(go.Bar(y=[1, 3, 2]), layout={'width': 300, 'height': 200})")
    return _python_notebook(cells)


def _live_heatmap_answers_its_slider(page) -> str:
    """The dashboard's live heatmap shows level 0, then 1 once its slider moves; the JS that finds it."""
    live = "Array.from(document.querySelectorAll('.js-plotly-plot')).find((p) => p.data[0].type === 'heatmap')"
    assert page.evaluate(f"() => {live}.data[0].z[0][0]") == 0
    page.locator(".widget-slider .noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => {live}.data[0].z[0][0] === 1", timeout=15_000)
    return live


def test_a_figure_whose_plotly_js_arrives_late_still_answers_its_controls(tmp_path):
    """anywidget drops every message to a model whose module took over 2 s to load and initialise. The figure
    module waited for plotly.js at load, so with plotly.js late (from the kernel on a busy page; here the page's
    bundle held back 8 s) the figure drew but never answered its slider (checked on the tree before the fix)."""
    import re as regex

    from browser import chromium_browser, open_lab, serve_labs

    (tmp_path / "labs").mkdir()
    nbformat.write(_dashboard(False), tmp_path / "labs" / "dash.ipynb")
    with serve_labs(tmp_path / "labs") as server, chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 800, "height": 900})

        def late(route):
            response = route.fetch()
            page.wait_for_timeout(8000)
            route.fulfill(response=response)

        page.route(regex.compile(r"plotly-cartesian\.min\.js"), late)
        open_lab(page, server.lab_url("dash.ipynb"), timeout_s=90)
        assert page.evaluate("() => globalThis.__radlabPlotly.source") == "bundle"
        _live_heatmap_answers_its_slider(page)


@pytest.mark.parametrize(("static_figure", "bundle", "renderer", "source"), [
    (True, True, True, "bundle"), (False, True, True, "bundle"),
    (True, False, True, "page"), (False, False, True, "page"), (False, False, False, "kernel")],
    ids=["after-a-static-figure", "alone", "no-bundle-after-a-static-figure", "no-bundle",
         "without-jupyterlab-plotly"])
def test_a_voila_page_gets_plotly_js_once(tmp_path, static_figure, bundle, renderer, source):
    """A RadLab page loads plotly's cartesian bundle, and its static and live figures all use that
    copy, whether a static figure has drawn yet or not. Without the bundle, where the page has
    jupyterlab-plotly (the static figures' renderer, which brings plotly.js) the live figures use
    that copy; without either, the kernel sends plotly.js. The live figure is drawn and answers a
    slider in every case, and plotly.js crosses the kernel's websocket only in the last."""
    from browser import chromium_browser, open_lab, serve_labs

    (tmp_path / "labs").mkdir()
    nbformat.write(_dashboard(static_figure), tmp_path / "labs" / "dash.ipynb")
    with serve_labs(tmp_path / "labs") as server, chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 800, "height": 900})
        if not renderer:
            page.route("**/labextensions/jupyterlab-plotly/**", lambda route: route.abort())
        if not bundle:
            page.route("**/plotly-cartesian.min.js*", lambda route: route.abort())
        received: list[int] = []
        sent: list[bytes] = []
        page.on("websocket", lambda ws: (
            ws.on("framereceived", lambda payload: received.append(len(payload))),
            ws.on("framesent", lambda payload: sent.append(payload.encode() if isinstance(payload, str) else payload))))
        open_lab(page, server.lab_url("dash.ipynb"))
        page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= "
                               f"{1 + static_figure}", timeout=30_000)
        assert page.evaluate("() => globalThis.__radlabPlotly.source") == source
        assert page.evaluate("() => window.__radlabDrawOnce.bundle") == ("loaded" if bundle else "failed")
        if renderer:   # with the bundle, jupyterlab-plotly's own plotly.js is never evaluated
            full = page.evaluate("async () => ((await window._JUPYTERLAB['jupyterlab-plotly']"
                                 ".get('./mimeExtension'))()).RenderedPlotly.Plotly !== null")
            assert full is (not bundle)
        live = _live_heatmap_answers_its_slider(page)
        box = page.evaluate(f"() => {{ const r = {live}.querySelector('.nsewdrag').getBoundingClientRect(); "
                            f"return [r.x, r.y, r.width, r.height]; }}")
        for dx in (0.4, 0.5, 0.6):   # hover over the heatmap
            page.mouse.move(box[0] + box[2] * dx, box[1] + box[3] * 0.5)
            page.wait_for_timeout(100)
        page.wait_for_selector(".js-plotly-plot .hovertext", timeout=5000)   # the hover was seen
        page.wait_for_timeout(500)
        # the figure is one-way: the slider's change went to the kernel, nothing from the figure did
        assert any(b'"value"' in frame for frame in sent), "the slider's change was not seen leaving the page"
        back = [frame[:200] for frame in sent if b"_js2py_" in frame]
        assert not back, f"the figure sent {len(back)} messages back to the kernel: {back[:2]}"
        biggest = max(received)
        if source != "kernel":
            assert biggest < 1_000_000, f"a {biggest}-byte kernel message: plotly.js came from the kernel"
        else:
            assert biggest > len(split_bundle()[0]) * 0.9, "plotly.js should have come as one kernel message"


def test_the_page_bundle_is_the_plotly_js_version_plotly_py_expects():
    """The RadLab Voilà template's plotly.js (plotly's cartesian bundle, vendored) is the version of
    the installed plotly; after a plotly upgrade this fails until the bundle is refreshed:
    ``npm pack plotly.js-cartesian-dist-min@<version>`` and copy its ``plotly-cartesian.min.js``."""
    from plotly.offline import get_plotlyjs_version

    static = Path(__file__).resolve().parent.parent / "radlab/voila_templates/voila/templates/radlab/static"
    head = (static / "plotly-cartesian.min.js").read_text(encoding="utf-8")[:300]
    found = re.search(r"plotly\.js \(cartesian - minified\) v(\S+)", head)
    assert found, f"{static / 'plotly-cartesian.min.js'} does not start with plotly's cartesian bundle header"
    assert found.group(1) == get_plotlyjs_version()
    assert (static / "plotly-cartesian.LICENSE").read_text(encoding="utf-8").startswith("MIT License")


#: The page's (first) plotly figure, and a function giving the address of the picture it shows first.
FIGURE_JS = "document.querySelector('.js-plotly-plot')"
FIRST_PICTURE_JS = (f"() => {FIGURE_JS}.querySelector('.imagelayer image').getAttribute('xlink:href') || "
                    f"{FIGURE_JS}.querySelector('.imagelayer image').getAttribute('href')")


def _hover_text(page, gd: str, row: float, col: float) -> str:
    """The hover label plotly.js shows over data point (row, col) of the figure ``gd`` (a JS expression):
    the mouse leaves the figure first, so no earlier label is read. The axes' own offsets place the
    point (``constrain="domain"`` narrows an axis inside the plot area)."""
    x, y = page.evaluate(f"""() => {{
      const g = {gd}, L = g._fullLayout, box = g.getBoundingClientRect();
      return [box.left + L.xaxis._offset + L.xaxis.d2p({col}), box.top + L.yaxis._offset + L.yaxis.d2p({row})];
    }}""")
    page.mouse.move(1, 1)
    page.wait_for_selector(".js-plotly-plot .hovertext", state="detached", timeout=5000)
    page.mouse.move(x, y)
    page.wait_for_selector(".js-plotly-plot .hovertext", timeout=5000)
    return page.locator(".js-plotly-plot .hovertext").text_content()


def _image_dashboard() -> nbformat.NotebookNode:
    """A live image figure: a slider gives it a new picture of the same size (and a new title), a
    dropdown a picture of another size."""
    cells = [
        "import ipywidgets as w\nimport numpy as np\nfrom radlab.widgets.figure import Figure\n"
        "from radlab.viz.images import image_trace",
        "def picture(level, shape):\n"
        "    h, w_ = shape\n"
        "    return image_trace(np.arange(h * w_).reshape(h, w_) * 10.0 + 1000 * level, level=150 + 1000 * level + 50 * level,\n"
        "                       width=300, units='HU')\n"
        "first = picture(0, (20, 30))\n"
        "second = picture(5, (2, 3)).update(x0=26, y0=17, name='second')   # a corner of the first\n"
        "fig = Figure(data=[first, second], layout={'width': 400, 'height': 300, 'margin': dict(l=0, r=0, t=30, b=0),\n"
        "             'title': {'text': 'level 0'}, 'xaxis': {'range': [-0.5, 29.5]}, 'yaxis': {'range': [19.5, -0.5]},\n"
        "             'annotations': [dict(text='panel 0', x=0.5, y=1, xref='paper', yref='paper', xanchor='center',\n"
        "                                  yanchor='bottom', showarrow=False)]})\n"
        "level = w.IntSlider(0, 0, 9, description='level')\n"
        "size = w.Dropdown(options=['20x30', '10x15'], description='size')\n"
        "def redraw(_=None):\n"
        "    shape = (20, 30) if size.value == '20x30' else (10, 15)\n"
        "    fresh = picture(level.value, shape)\n"
        "    with fig.batch_update():\n"
        "        t = fig.data[0]\n"
        "        t.source, t.customdata = fresh.source, fresh.customdata\n"
        "        t.x0, t.dx, t.y0, t.dy = fresh.x0, fresh.dx, fresh.y0, fresh.dy\n"
        "        fig.layout.title.text = f'level {level.value}'\n"
        "        fig.layout.annotations[0].text = f'panel {level.value}'\n"
        "double = w.Checkbox(False, description='double')\n"
        "def doubled(_=None):   # the first picture stays, its hover values double; the second changes\n"
        "    with fig.batch_update():\n"
        "        fig.data[0].customdata = np.asarray(fig.data[0].customdata) * 2\n"
        "        fresh = picture(7, (2, 3))\n"
        "        fig.data[1].source, fig.data[1].customdata = fresh.source, fresh.customdata\n"
        "level.observe(redraw, 'value')\n"
        "size.observe(redraw, 'value')\n"
        "double.observe(doubled, 'value')\n"
        "w.VBox([level, size, double, fig])",
    ]
    return _python_notebook(cells)


def test_a_new_picture_of_the_same_size_skips_plotly_js_redraw_and_hovers_right(tmp_path):
    """The figure module's fast way (IMAGE_SWAP_JS): a new picture of the same size only changes the
    image element's address, the figure's data and the hover values, and the title still follows;
    a picture of another size goes through plotly.js. Both draw the picture sent and hover the
    value sent for the pixel under the mouse."""
    from browser import chromium_browser, open_lab, serve_labs

    (tmp_path / "labs").mkdir()
    nbformat.write(_image_dashboard(), tmp_path / "labs" / "images.ipynb")
    gd, href = FIGURE_JS, FIRST_PICTURE_JS
    with serve_labs(tmp_path / "labs") as server, chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 800, "height": 900})
        open_lab(page, server.lab_url("images.ipynb"))
        page.wait_for_function(f"() => {gd} && {gd}.querySelector('.imagelayer image')", timeout=30_000)

        def hover(row: int, col: int) -> float:
            text = _hover_text(page, gd, row, col)   # "x 6, y 0: 60.00 HU"
            return float(text.split(": ")[1].removesuffix(" HU"))

        assert hover(0, 6) == 60.0         # (0·30 + 6) · 10
        before = page.evaluate(href)
        page.locator(".widget-slider .noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")      # level 1: the same size
        page.wait_for_function(f"() => ({href})() !== {json.dumps(before)}", timeout=15_000)
        assert page.evaluate("() => globalThis.__radlabImageSwaps") == 1
        assert page.evaluate(href) == page.evaluate(f"() => {gd}.data[0].source")
        page.wait_for_function(f"() => {gd}.querySelector('.gtitle').textContent === 'level 1'", timeout=5000)
        # the subplot title (an annotation) is rewritten in place, and plotly.js knows its new text
        assert page.evaluate("() => globalThis.__radlabTitleSwaps") == 1
        assert page.evaluate(f"() => [{gd}.querySelector('.annotation-text').textContent, "
                             f"{gd}.layout.annotations[0].text, {gd}._fullLayout.annotations[0].text]") == ["panel 1"] * 3
        assert hover(1, 4) == 1340.0       # 1000 + (1·30 + 4) · 10, the value sent with the new picture

        # one picture's hover values alone (its source unchanged, sent as undefined) and another picture
        second = f"() => {gd}.querySelectorAll('.imagelayer image')[1].getAttribute('xlink:href') || " \
                 f"{gd}.querySelectorAll('.imagelayer image')[1].getAttribute('href')"
        picture = page.evaluate(href)
        page.locator(".widget-checkbox input").check()
        page.wait_for_function(f"() => ({second})() === {gd}.data[1].source && {gd}.data[1].source.length > 0 "
                               f"&& globalThis.__radlabImageSwaps === 2", timeout=15_000)
        assert page.evaluate(href) == picture == page.evaluate(f"() => {gd}.data[0].source")
        assert hover(1, 4) == 2680.0       # doubled
        page.locator(".widget-checkbox input").uncheck()   # (doubles again: nothing below reads it)
        page.wait_for_function("() => globalThis.__radlabImageSwaps === 3", timeout=15_000)
        page.locator(".widget-slider .noUi-handle").first.focus()

        page.locator(".widget-dropdown select").select_option("10x15")   # another size: plotly.js redraws
        page.wait_for_function(f"() => {gd}._fullData[0] && {gd}.calcdata[0][0].w === 15", timeout=15_000)
        assert page.evaluate("() => globalThis.__radlabImageSwaps") == 3
        assert page.evaluate(href) == page.evaluate(f"() => {gd}.data[0].source")
        assert hover(0, 2) == 1020.0
        # plotly.js's full redraw (the new size) draws the title text the fast update left in the figure
        assert page.evaluate(f"() => {gd}.querySelector('.annotation-text').textContent") == "panel 1"


def _marks_dashboard(axis: str) -> nbformat.NotebookNode:
    """A curve with a "you are here" line and dot that a slider moves (t = 11 lies outside the fixed
    x range: 0–10, or 1–10 on a log axis), and a colour dropdown that makes plotly.js redraw the figure."""
    xaxis = "{'range': [0, 10]}" if axis == "linear" else "{'type': 'log', 'range': [0, 1]}"
    start = 0 if axis == "linear" else 1
    cells = [
        "import ipywidgets as w\nimport numpy as np\nfrom radlab.widgets.figure import Figure",
        f"t0 = np.linspace({start}, 10, 41)\n"
        "fig = Figure(data=[dict(type='scatter', x=t0, y=np.sin(t0), mode='lines', name='curve', hoverinfo='skip'),\n"
        f"                   dict(type='scatter', x=[{start}, {start}], y=[-1, 1], mode='lines', line=dict(dash='dash')),\n"
        f"                   dict(type='scatter', x=[{start}], y=[np.sin({start})], mode='markers', name='dot',\n"
        "                        hovertemplate='t %{x}: %{y:.2f}<extra></extra>')],\n"
        "             layout={'width': 500, 'height': 300, 'margin': dict(l=40, r=10, t=10, b=30), 'showlegend': False,\n"
        f"                     'xaxis': {xaxis}, 'yaxis': {{'range': [-1.2, 1.2]}}}})\n"
        f"t = w.IntSlider({start}, {start}, 11, description='t')\n"
        "colour = w.Dropdown(options=['blue', 'green'], description='colour')\n"
        "def move(_=None):\n"
        "    with fig.batch_update():\n"
        "        fig.data[1].x = [t.value, t.value]\n"
        "        fig.data[2].x, fig.data[2].y = [t.value], [float(np.sin(t.value))]\n"
        "def recolour(_=None):\n"
        "    fig.data[0].line.color = colour.value\n"
        "t.observe(move, 'value')\n"
        "colour.observe(recolour, 'value')\n"
        "w.VBox([t, colour, fig])",
    ]
    return _python_notebook(cells)


@pytest.mark.parametrize("axis", ["linear", "log"])
def test_a_moving_mark_is_drawn_where_plotly_js_draws_it_without_a_redraw(tmp_path, axis):
    """IMAGE_SWAP_JS's marks: new x/y of a line and a dot inside fixed axis ranges move their SVG
    (and calcdata, for hover) without a plotly.js redraw; plotly.js's own later redraw puts them at
    the same pixels. A dot outside the range goes through plotly.js."""
    from browser import chromium_browser, open_lab, serve_labs

    (tmp_path / "labs").mkdir()
    nbformat.write(_marks_dashboard(axis), tmp_path / "labs" / "marks.ipynb")
    gd = "document.querySelector('.js-plotly-plot')"
    drawn = f"""() => {{
      const groups = {gd}.querySelectorAll('.scatterlayer .trace');
      const nums = (s) => (s || '').match(/-?[0-9.]+(e-?[0-9]+)?/g).map(Number);
      return [nums(groups[1].querySelector('path.js-line').getAttribute('d')),
              nums(groups[2].querySelector('path.point').getAttribute('transform'))];
    }}"""
    with serve_labs(tmp_path / "labs") as server, chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 800, "height": 700})
        open_lab(page, server.lab_url("marks.ipynb"))
        page.wait_for_function(f"() => {gd} && {gd}.querySelector('.scatterlayer path.point')", timeout=30_000)
        page.evaluate(f"() => {{ window.__plots = 0; {gd}.on('plotly_afterplot', () => window.__plots++); }}")
        slider = page.locator(".widget-slider .noUi-handle").first
        slider.focus()
        for _ in range(3 - (0 if axis == "linear" else 1)):   # to t = 3
            page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => {gd}.data[2].x[0] === 3 && globalThis.__radlabMarkMoves >= 1", timeout=15_000)
        moves = page.evaluate("() => globalThis.__radlabMarkMoves")   # presses close together are sent as one
        assert page.evaluate("() => window.__plots") == 0, "plotly.js redrew the figure"
        line, dot = page.evaluate(drawn)
        x3 = page.evaluate(f"() => {gd}._fullLayout.xaxis.c2p(3)")   # (a log axis maps log10(3))
        assert line[0] == line[2] == pytest.approx(x3) and dot[0] == pytest.approx(x3)

        box = page.evaluate(f"() => {{ const b = {gd}.querySelector('.nsewdrag').getBoundingClientRect(); "
                            f"return [b.left, b.top]; }}")
        page.mouse.move(box[0] + dot[0] - 30, box[1] + dot[1] - 30)
        page.mouse.move(box[0] + dot[0], box[1] + dot[1])
        page.wait_for_selector(".js-plotly-plot .hovertext", timeout=5000)
        assert page.locator(".js-plotly-plot .hovertext").text_content() == f"t 3: {np.sin(3):.2f}"
        page.mouse.move(0, 0)

        page.locator(".widget-dropdown select").select_option("green")   # plotly.js redraws everything
        page.wait_for_function("() => window.__plots >= 1", timeout=15_000)
        assert page.evaluate(drawn) == [pytest.approx(line, abs=0.01), pytest.approx(dot, abs=0.01)]

        slider.focus()
        page.keyboard.press("End")           # t = 11: outside the x range, so plotly.js's own way
        page.wait_for_function(f"() => {gd}.data[2].x[0] === 11", timeout=15_000)
        assert page.evaluate("() => globalThis.__radlabMarkMoves") == moves


def _packed_hover_dashboard() -> nbformat.NotebookNode:
    """A mosaic picture (radlab.viz.model.map_picture) whose hover values travel packed, (tile, value)
    per pixel: a slider gives it new values of the same size."""
    cells = [
        "import ipywidgets as w\nimport numpy as np\nfrom radlab.widgets.figure import Figure\n"
        "from radlab.viz.model import map_picture",
        "def picture(k):\n"
        "    values = np.arange(20 * 30, dtype=np.float32).reshape(20, 30) + 1000 * k\n"
        "    tiles = (np.arange(30)[None, :] >= 15).repeat(20, axis=0).astype(np.int32)   # left tile 0, right 1\n"
        "    return map_picture(values, colorscale='Viridis', tile=tiles)\n"
        "fig = Figure(data=[dict(type='image', hovertemplate='tile %{customdata[0]}: %{customdata[1]}<extra></extra>',\n"
        "                        **picture(0))],\n"
        "             layout={'width': 400, 'height': 300, 'margin': dict(l=0, r=0, t=30, b=0),\n"
        "                     'xaxis': {'range': [-0.5, 29.5]}, 'yaxis': {'range': [19.5, -0.5]}})\n"
        "k = w.IntSlider(0, 0, 9, description='k')\n"
        "def redraw(_=None):\n"
        "    with fig.batch_update():\n"
        "        fig.data[0].update(picture(k.value))\n"
        "k.observe(redraw, 'value')\n"
        "w.VBox([k, fig])",
    ]
    return _python_notebook(cells)


def test_packed_hover_values_of_a_new_picture_are_decoded_as_plotly_js_decodes_them(tmp_path):
    """A picture swap whose hover values come packed (radlab.viz.conv.plotly_array, here 3-D: tile and
    value per pixel) hovers the new values, as plotly.js's own drawing of the first picture hovers its."""
    from browser import chromium_browser, open_lab, serve_labs

    (tmp_path / "labs").mkdir()
    nbformat.write(_packed_hover_dashboard(), tmp_path / "labs" / "packed.ipynb")
    gd = "document.querySelector('.js-plotly-plot')"
    with serve_labs(tmp_path / "labs") as server, chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 800, "height": 900})
        open_lab(page, server.lab_url("packed.ipynb"))
        page.wait_for_function(f"() => {gd} && {gd}.querySelector('.imagelayer image')", timeout=30_000)

        def hover(row: int, col: int) -> str:
            return _hover_text(page, gd, row, col)

        assert hover(2, 20) == "tile 1: 80"            # plotly.js decoded the first picture's values
        page.locator(".widget-slider .noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => globalThis.__radlabImageSwaps === 1", timeout=15_000)
        assert hover(2, 20) == "tile 1: 1080"          # the swap decoded the new ones
        assert hover(3, 4) == "tile 0: 1094"


def _scaled_picture_dashboard() -> nbformat.NotebookNode:
    """A map picture spanning 20 axis units whatever its pixel count (radlab.viz.model.map_picture's
    ``extent``, as Lab 6's layers): a slider gives it another square size (the same box), a checkbox a
    wide one (another box)."""
    cells = [
        "import ipywidgets as w\nimport numpy as np\nfrom radlab.widgets.figure import Figure\n"
        "from radlab.viz.model import map_picture",
        "def picture(side, wide=False):\n"
        "    values = np.arange(side * side * (1 + wide), dtype=np.float32).reshape(side, side * (1 + wide))\n"
        "    return map_picture(values + 1000 * side, colorscale='Viridis', extent=20)\n"
        "fig = Figure(data=[dict(type='image', **picture(20),\n"
        "                        hovertemplate='row %{customdata[0]}, col %{customdata[1]}: %{customdata[2]}<extra></extra>')],\n"
        "             layout={'width': 400, 'height': 400, 'margin': dict(l=0, r=0, t=30, b=0),\n"
        "                     'xaxis': {'constrain': 'domain'}, 'yaxis': {'autorange': 'reversed', 'scaleanchor': 'x'}})\n"
        "side = w.IntSlider(20, 5, 20, step=5, description='side')\n"
        "wide = w.Checkbox(False, description='wide')\n"
        "def redraw(_=None):\n"
        "    with fig.batch_update():\n"
        "        fig.data[0].update(picture(side.value, wide.value))\n"
        "side.observe(redraw, 'value')\n"
        "wide.observe(redraw, 'value')\n"
        "w.VBox([side, wide, fig])",
    ]
    return _python_notebook(cells)


def test_a_picture_of_another_size_in_the_same_box_is_swapped_and_hovers_its_own_pixels(tmp_path):
    """20×20 → 15×15 pixels over the same 20 axis units: the picture is swapped in place (no redraw, the
    drawn box unchanged) and hover finds the new pixels. A wide picture (another box) goes through
    plotly.js, which draws and hovers it as its own first drawing."""
    from browser import chromium_browser, open_lab, serve_labs

    (tmp_path / "labs").mkdir()
    nbformat.write(_scaled_picture_dashboard(), tmp_path / "labs" / "scaled.ipynb")
    gd = "document.querySelector('.js-plotly-plot')"
    box = f"() => {{ const r = {gd}.querySelector('.imagelayer image').getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }}"
    with serve_labs(tmp_path / "labs") as server, chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 800, "height": 900})
        open_lab(page, server.lab_url("scaled.ipynb"))
        page.wait_for_function(f"() => {gd} && {gd}.querySelector('.imagelayer image')", timeout=30_000)

        def hover(row: int, col: int, side: int) -> str:   # the centre of pixel (row, col) of a side×side picture
            step = 20 / side
            return _hover_text(page, gd, -0.5 + (row + 0.5) * step, -0.5 + (col + 0.5) * step)

        drawn = page.evaluate(box)
        assert hover(2, 3, 20) == "row 2, col 3: 20043"          # plotly.js's own first drawing
        page.locator(".widget-slider .noUi-handle").first.focus()
        page.keyboard.press("ArrowLeft")                          # 15×15
        page.wait_for_function("() => globalThis.__radlabImageSwaps === 1", timeout=15_000)
        assert page.evaluate(box) == pytest.approx(drawn, abs=0.01)
        assert page.evaluate(f"() => {gd}.calcdata[0][0].w") == 15
        assert hover(2, 3, 15) == "row 2, col 3: 15033"           # 15000 + 2 × 15 + 3
        assert hover(14, 14, 15) == "row 14, col 14: 15224"

        page.locator(".widget-checkbox input").first.check()    # 15×30: another box, plotly.js's way
        page.wait_for_function(f"() => {gd}.calcdata[0][0].w === 30", timeout=15_000)
        assert page.evaluate("() => globalThis.__radlabImageSwaps") == 1
        assert hover(2, 3, 30) == "row 2, col 3: 15063"           # 15000 + 2 × 30 + 3


def _outline_dashboard() -> nbformat.NotebookNode:
    """A mask's outline as a path shape (radlab.viz.images.outline_shape) on fixed axes: a slider gives it
    another mask; a dropdown changes the outline's colour, which plotly.js redraws itself."""
    cells = [
        "import ipywidgets as w\nimport numpy as np\nfrom radlab.widgets.figure import Figure\n"
        "from radlab.viz.images import outline_shape",
        "def mask(k):\n"
        "    m = np.zeros((20, 30), bool)\n"
        "    m[3 + k:9 + k, 4 + 2 * k:12 + k] = True\n"
        "    m[10, 20 + k] = True\n"
        "    return m\n"
        "fig = Figure(data=[dict(type='scatter', x=[0], y=[0], mode='markers')],\n"
        "             layout={'width': 400, 'height': 300, 'margin': dict(l=0, r=0, t=30, b=0), 'showlegend': False,\n"
        "                     'xaxis': {'range': [-0.5, 29.5]}, 'yaxis': {'range': [19.5, -0.5]},\n"
        "                     'shapes': [outline_shape(mask(0), x0=0.25)],\n"
        "                     'annotations': [dict(text='panel<br>k 0', x=0.5, y=1, xref='paper', yref='paper',\n"
        "                                          xanchor='center', yanchor='bottom', showarrow=False)]})\n"
        "k = w.IntSlider(0, 0, 5, description='k')\n"
        "colour = w.Dropdown(options=['red', 'blue'], description='colour')\n"
        "def moved(_=None):\n"
        "    with fig.batch_update():\n"
        "        fig.layout.shapes[0].path = outline_shape(mask(k.value), x0=0.25)['path']\n"
        "        fig.layout.annotations[0].text = f'panel<br>k {k.value}'\n"
        "k.observe(moved, 'value')\n"
        "colour.observe(lambda _: setattr(fig.layout.shapes[0].line, 'color', colour.value), 'value')\n"
        "w.VBox([k, colour, fig])",
    ]
    return _python_notebook(cells)


def test_a_new_outline_is_drawn_where_plotly_js_draws_it_without_a_relayout(tmp_path):
    """IMAGE_SWAP_JS sets a path shape's new path (a mask's outline on another slice) itself: the drawn
    path equals the one plotly.js draws for the same shape later (±0.01 px), and plotly.js's layout holds
    it. A two-line subplot title in the same update is rewritten line by line."""
    from browser import chromium_browser, open_lab, serve_labs

    (tmp_path / "labs").mkdir()
    nbformat.write(_outline_dashboard(), tmp_path / "labs" / "outline.ipynb")
    gd = "document.querySelector('.js-plotly-plot')"
    drawn = f"""() => ({gd}.querySelector('.shapelayer path[data-index="0"]').getAttribute('d') || '')
                      .match(/-?[0-9.]+(e-?[0-9]+)?/g).map(Number)"""
    with serve_labs(tmp_path / "labs") as server, chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 800, "height": 700})
        open_lab(page, server.lab_url("outline.ipynb"))
        page.wait_for_function(f"() => {gd} && {gd}.querySelector('.shapelayer path')", timeout=30_000)
        first = page.evaluate(drawn)
        page.locator(".widget-slider .noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => globalThis.__radlabShapeSwaps === 1", timeout=15_000)
        moved = page.evaluate(drawn)
        assert moved != first and len(moved) != len(first)
        assert page.evaluate(f"() => {gd}.layout.shapes[0].path === {gd}._fullLayout.shapes[0].path") is True
        # a two-line subplot title, rewritten line by line in the same update
        lines = f"() => [...{gd}.querySelectorAll('.annotation-text tspan.line')].map((t) => t.textContent)"
        assert page.evaluate(lines) == ["panel", "k 1"]
        assert page.evaluate("() => globalThis.__radlabTitleSwaps") == 1
        page.locator(".widget-dropdown select").select_option("blue")    # plotly.js draws the shape again
        page.wait_for_function(f"() => {gd}.querySelector('.shapelayer path[data-index=\"0\"]').style.stroke "
                               f"=== 'rgb(0, 0, 255)'", timeout=15_000)
        assert page.evaluate(drawn) == pytest.approx(moved, abs=0.01)
        assert page.evaluate("() => globalThis.__radlabShapeSwaps") == 1
        assert page.evaluate(lines) == ["panel", "k 1"]     # plotly.js draws the title it was given


def _box_dashboard() -> nbformat.NotebookNode:
    """A lesion's box (radlab.viz.images.box_shape, a rect shape) on fixed axes: a slider moves it, hides it
    (k = 2: no box) and shows it again."""
    cells = [
        "import ipywidgets as w\nfrom radlab.widgets.figure import Figure\nfrom radlab.viz.images import box_shape",
        "def box(k):\n"
        "    return None if k == 2 else [2 + k, 3 + k, 9 + 2 * k, 12 + k]\n"
        "fig = Figure(data=[dict(type='scatter', x=[0], y=[0], mode='markers')],\n"
        "             layout={'width': 400, 'height': 300, 'margin': dict(l=0, r=0, t=30, b=0), 'showlegend': False,\n"
        "                     'xaxis': {'range': [-0.5, 29.5]}, 'yaxis': {'range': [19.5, -0.5]},\n"
        "                     'shapes': [box_shape(box(0))]})\n"
        "k = w.IntSlider(0, 0, 3, description='k')\n"
        "k.observe(lambda _: fig.layout.shapes[0].update(box_shape(box(k.value))), 'value')\n"
        "w.VBox([k, fig])",
    ]
    return _python_notebook(cells)


def test_a_box_is_moved_hidden_and_shown_where_plotly_js_draws_it_without_a_relayout(tmp_path):
    """IMAGE_SWAP_JS moves a rect shape (new x0/x1/y0/y1), hides it (visible false) and shows it again itself:
    the drawn path equals plotly.js's own drawing of the same layout (±0.01 px), a hidden box is not shown
    (plotly.js does not draw it), and plotly.js's layout holds the new values."""
    from browser import chromium_browser, serve_labs

    (tmp_path / "labs").mkdir()
    nbformat.write(_box_dashboard(), tmp_path / "labs" / "box.ipynb")
    gd = GD
    drawn = f"""() => {{ const p = {gd}.querySelector('.shapelayer path[data-index="0"]');
                         return p && getComputedStyle(p).display !== 'none'
                           ? p.getAttribute('d').match(/-?[0-9.]+(e-?[0-9]+)?/g).map(Number) : null; }}"""
    redraw = REDRAW_JS
    with serve_labs(tmp_path / "labs") as server, chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 800, "height": 700})
        _open_counting_redraws(page, server.lab_url("box.ipynb"), f"() => {gd} && {gd}.querySelector('.shapelayer path')")
        first = page.evaluate(drawn)
        slider = page.locator(".widget-slider .noUi-handle").first
        slider.focus()
        page.keyboard.press("ArrowRight")                     # k = 1: the box moves
        page.wait_for_function("() => globalThis.__radlabShapeSwaps === 1", timeout=15_000)
        moved = page.evaluate(drawn)
        assert moved != first and page.evaluate("() => window.__plots") == 0
        assert page.evaluate(f"() => {gd}._fullLayout.shapes[0].x1") == 10.5   # 9 + 2 - 0.5
        page.keyboard.press("ArrowRight")                     # k = 2: no box
        page.wait_for_function("() => globalThis.__radlabShapeSwaps === 2", timeout=15_000)
        assert page.evaluate(drawn) is None and page.evaluate("() => window.__plots") == 0
        page.keyboard.press("ArrowLeft")                      # k = 1: shown again by the page
        page.wait_for_function("() => globalThis.__radlabShapeSwaps === 3", timeout=15_000)
        assert page.evaluate(drawn) == pytest.approx(moved, abs=0.01) and page.evaluate("() => window.__plots") == 0
        page.keyboard.press("ArrowRight")                     # k = 2: hidden again
        page.wait_for_function("() => globalThis.__radlabShapeSwaps === 4", timeout=15_000)
        page.evaluate(redraw)
        assert page.evaluate(drawn) is None, "plotly.js does not draw a hidden box either"
        page.keyboard.press("ArrowLeft")                      # k = 1 again (plotly.js's redraw left no element)
        page.wait_for_function(f"() => {gd}._fullLayout.shapes[0].visible === true", timeout=15_000)
        assert page.evaluate(drawn) == pytest.approx(moved, abs=0.01)
        page.keyboard.press("ArrowLeft")                      # k = 0: moved back by the page
        page.wait_for_function(f"() => {gd}._fullLayout.shapes[0].x1 === 8.5", timeout=15_000)
        fast = page.evaluate(drawn)
        page.evaluate(redraw)
        assert page.evaluate(drawn) == pytest.approx(fast, abs=0.01) and fast == pytest.approx(first, abs=0.01)


def _labelled_marks_dashboard() -> nbformat.NotebookNode:
    """Labelled dots (markers+text) and a dot with a hover text that a slider moves (and re-words), on fixed
    ranges; a colour dropdown makes plotly.js redraw the figure."""
    cells = [
        "import ipywidgets as w\nfrom radlab.widgets.figure import Figure",
        "fig = Figure(data=[dict(type='scatter', x=[0.2, 0.6], y=[0.5, 0.3], mode='markers+text', text=['a', 'b'],\n"
        "                        textposition='top left', marker=dict(size=10)),\n"
        "                   dict(type='scatter', x=[0.5], y=[0.5], mode='markers', text=['t 0'],\n"
        "                        hovertemplate='%{text}<extra></extra>', marker=dict(size=12))],\n"
        "             layout={'width': 500, 'height': 300, 'margin': dict(l=40, r=10, t=10, b=30), 'showlegend': False,\n"
        "                     'xaxis': {'range': [0, 1]}, 'yaxis': {'range': [0, 1]}})\n"
        "t = w.IntSlider(0, 0, 5, description='t')\n"
        "colour = w.Dropdown(options=['blue', 'green'], description='colour')\n"
        "def move(_=None):\n"
        "    with fig.batch_update():\n"
        "        fig.data[0].y = [0.5 + 0.05 * t.value, 0.3 + 0.1 * t.value]\n"
        "        fig.data[1].x, fig.data[1].text = [0.5 + 0.05 * t.value], [f't {t.value}']\n"
        "t.observe(move, 'value')\n"
        "colour.observe(lambda _: setattr(fig.data[1].marker, 'color', colour.value), 'value')\n"
        "w.VBox([t, colour, fig])",
    ]
    return _python_notebook(cells)


def test_labelled_marks_and_hover_texts_move_where_plotly_js_draws_them(tmp_path):
    """IMAGE_SWAP_JS moves a markers+text trace's dots with their labels, and gives a dot a new hover text:
    the labels sit where plotly.js's own redraw puts them (±0.01 px) and hover shows the new text."""
    from browser import chromium_browser, open_lab, serve_labs

    (tmp_path / "labs").mkdir()
    nbformat.write(_labelled_marks_dashboard(), tmp_path / "labs" / "labelled.ipynb")
    gd = "document.querySelector('.js-plotly-plot')"
    drawn = f"""() => [...{gd}.querySelectorAll('.scatterlayer .trace')[0].querySelectorAll('g.textpoint text')]
                      .map((t) => [Number(t.getAttribute('x')), Number(t.getAttribute('y'))])"""
    with serve_labs(tmp_path / "labs") as server, chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 800, "height": 700})
        open_lab(page, server.lab_url("labelled.ipynb"))
        page.wait_for_function(f"() => {gd} && {gd}.querySelector('g.textpoint text')", timeout=30_000)
        page.evaluate(f"() => {{ window.__plots = 0; {gd}.on('plotly_afterplot', () => window.__plots++); }}")
        page.locator(".widget-slider .noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => globalThis.__radlabMarkMoves === 1", timeout=15_000)
        assert page.evaluate("() => window.__plots") == 0, "plotly.js redrew the figure"
        moved = page.evaluate(drawn)
        dot = page.evaluate(f"() => {{ const b = {gd}.querySelector('.nsewdrag').getBoundingClientRect(), "
                            f"L = {gd}._fullLayout; return [b.left + L.xaxis.c2p(0.55), b.top + L.yaxis.c2p(0.5)]; }}")
        page.mouse.move(dot[0] - 30, dot[1] - 30)
        page.mouse.move(dot[0], dot[1])
        page.wait_for_selector(".js-plotly-plot .hovertext", timeout=5000)
        assert page.locator(".js-plotly-plot .hovertext").text_content() == "t 1"
        page.mouse.move(0, 0)
        page.locator(".widget-dropdown select").select_option("green")   # plotly.js redraws everything
        page.wait_for_function("() => window.__plots >= 1", timeout=15_000)
        assert page.evaluate(drawn) == [pytest.approx(p, abs=0.01) for p in moved]


GD = "document.querySelector('.js-plotly-plot')"
#: plotly.js's own drawing of the figure's data (what the page's fast paths must match)
REDRAW_JS = f"async () => (await globalThis.__radlabPlotly.promise).redraw({GD})"


def _open_counting_redraws(page, url: str, ready_js: str) -> None:
    """Open a dashboard, wait for ``ready_js`` and count plotly.js's redraws of its figure from then on
    (``window.__plots``)."""
    from browser import open_lab

    open_lab(page, url)
    page.wait_for_function(ready_js, timeout=30_000)
    page.evaluate(f"() => {{ window.__plots = 0; {GD}.on('plotly_afterplot', () => window.__plots++); }}")


def _numbered_panels_dashboard() -> nbformat.NotebookNode:
    """Lab 5's pipeline figure (pictures with their numbers in the cells, radlab.viz.conv), updated as the lab
    does (``Figure.send_changes``): a kernel dropdown gives the maps new values, a stride slider maps of
    another size (10×10 → 5×5)."""
    cells = [
        "import ipywidgets as w\nimport numpy as np\nfrom radlab.viz import conv as C\nfrom radlab.widgets.figure import Figure",
        "image = np.zeros((10, 10), dtype=np.float32)\nimage[3:7, 2:8] = 1.0\n"
        "def pipeline(k, s):\n"
        "    return C.run_pipeline(image, C.kernel(k), stride=s, padding=1, pool_size=2)\n"
        "fig = Figure(C.pipeline_figure(pipeline('edge: Sobel x (vertical edges)', 1)))\n"
        "fig.layout.width, fig.layout.height = 760, 340\n"
        "kern = w.Dropdown(options=['edge: Sobel x (vertical edges)', 'edge: Laplacian'], description='kernel')\n"
        "stride = w.IntSlider(1, 1, 3, description='stride')\n"
        "def redraw(_=None):\n"
        "    p = pipeline(kern.value, stride.value)\n"
        "    fig.send_changes(C.pipeline_trace_data(p), {'annotations[1].text': C.pipeline_titles(p)[1]})\n"
        "kern.observe(redraw, 'value')\n"
        "stride.observe(redraw, 'value')\n"
        "w.VBox([kern, stride, fig])",
    ]
    return _python_notebook(cells)


def test_a_maps_numbers_are_rewritten_in_place_as_plotly_js_draws_them(tmp_path):
    """IMAGE_SWAP_JS gives the numbers written in a map's cells (a text trace of fixed length,
    radlab.viz.images.cell_labels) new words, colours and places without a plotly.js redraw: a new kernel
    (new values) and a stride (a 5×5 map in the same box). plotly.js's own redraw of the same data then
    draws every label with the same words, colour and place, and hover names the new map's pixels."""
    from browser import chromium_browser, serve_labs

    from radlab.viz import conv as C

    (tmp_path / "labs").mkdir()
    nbformat.write(_numbered_panels_dashboard(), tmp_path / "labs" / "numbers.ipynb")
    gd = GD
    labels = f"""() => [...{gd}.querySelectorAll('.scatterlayer .trace')[1].querySelectorAll('g.textpoint text')]
                       .map((t) => [t.textContent, getComputedStyle(t).fill, Number(t.getAttribute('x')),
                                    Number(t.getAttribute('y'))])"""
    image = np.zeros((10, 10), dtype=np.float32)
    image[3:7, 2:8] = 1.0
    with serve_labs(tmp_path / "labs") as server, chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 900, "height": 700})
        _open_counting_redraws(page, server.lab_url("numbers.ipynb"),
                               f"() => {gd} && {gd}.querySelectorAll('g.textpoint text').length > 200")

        def redrawn() -> list:   # the same data drawn by plotly.js itself
            page.evaluate(REDRAW_JS)
            return page.evaluate(labels)

        page.locator(".widget-dropdown select").select_option("edge: Laplacian")
        page.wait_for_function("() => globalThis.__radlabMarkMoves >= 1 && globalThis.__radlabImageSwaps >= 1",
                               timeout=15_000)
        assert page.evaluate("() => window.__plots") == 0, "plotly.js redrew the figure"
        fast = page.evaluate(labels)
        laplacian = C.conv2d(image, C.kernel("edge: Laplacian"), padding=1)
        assert [t for t, *_ in fast[:100]] == [C._short_number(v) for v in laplacian.ravel()]
        assert {fill for _, fill, *_ in fast[:100]} == {"rgb(255, 255, 255)", "rgb(68, 68, 68)"}
        assert redrawn() == [[t, fill, pytest.approx(x, abs=0.01), pytest.approx(y, abs=0.01)] for t, fill, x, y in fast]

        moves = page.evaluate("() => globalThis.__radlabMarkMoves")
        plots = page.evaluate("() => window.__plots")
        page.locator(".widget-slider .noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")                       # stride 2: a 5×5 map in the same box
        page.wait_for_function(f"() => globalThis.__radlabMarkMoves > {moves}", timeout=15_000)
        assert page.evaluate("() => window.__plots") == plots, "plotly.js redrew the figure"
        assert page.evaluate(f"() => {gd}._fullLayout.annotations[1].text").endswith("5×5")
        fast = page.evaluate(labels)
        strided = C.conv2d(image, C.kernel("edge: Laplacian"), padding=1, stride=2)
        assert [t for t, *_ in fast[:25]] == [C._short_number(v) for v in strided.ravel()]
        assert {t for t, *_ in fast[25:]} == {" "}
        assert redrawn() == [[t, fill, pytest.approx(x, abs=0.01), pytest.approx(y, abs=0.01)] for t, fill, x, y in fast]
        xy = page.evaluate(f"() => {{ const L = {gd}._fullLayout; return [L.xaxis2, L.yaxis2].map((a) => a._offset); }}")
        box = page.evaluate(f"() => {{ const b = {gd}.getBoundingClientRect(); return [b.left, b.top]; }}")
        _, _, x, y = fast[2 * 5 + 3]                             # the label of cell (2, 3) sits on its pixel
        page.mouse.move(1, 1)
        page.mouse.move(box[0] + xy[0] + x, box[1] + xy[1] + y)
        page.wait_for_selector(".js-plotly-plot .hovertext", timeout=5000)
        assert page.locator(".js-plotly-plot .hovertext").text_content() == f"row 2, col 3: {strided[2, 3]:.3f}"


def _split_grid_dashboard() -> nbformat.NotebookNode:
    """Lab 2's split grids (radlab.viz.splits), updated as the lab does: a seed slider recolours every image
    by its new split and the leak marks (red or see-through)."""
    cells = [
        "import ipywidgets as w\nfrom radlab.data.phantoms import make_phantoms\nfrom radlab.widgets.splitting import SplittingLab",
        "lab = SplittingLab(make_phantoms('chest', n_patients=12, images_per_patient=3, size=16, seed=0), seed=0, k=3)\n"
        "lab.figure.layout.width = 700\n"
        "w.VBox([lab.seed_slider, lab.figure])",
    ]
    return _python_notebook(cells)


def test_new_marker_colours_are_drawn_as_plotly_js_draws_them(tmp_path):
    """IMAGE_SWAP_JS gives a marker trace new colours, one per point (a new seed's splits, hex and see-through
    rgba), and new hover texts without a plotly.js redraw; plotly.js's own redraw of the same data fills every
    marker alike, and hover shows the new split."""
    from browser import chromium_browser, serve_labs

    (tmp_path / "labs").mkdir()
    nbformat.write(_split_grid_dashboard(), tmp_path / "labs" / "grids.ipynb")
    gd = GD
    fills = f"""() => [...{gd}.querySelectorAll('.scatterlayer .trace')].slice(0, 4).map((g) =>
                 [...g.querySelectorAll('path.point')].map((p) => [getComputedStyle(p).fill, getComputedStyle(p).fillOpacity]))"""
    with serve_labs(tmp_path / "labs") as server, chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 900, "height": 800})
        _open_counting_redraws(page, server.lab_url("grids.ipynb"),
                               f"() => {gd} && {gd}.querySelectorAll('path.point').length > 40")
        before = page.evaluate(fills)
        page.locator(".widget-slider .noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")                         # seed 1 (sent when the slider is let go)
        page.wait_for_function("() => globalThis.__radlabMarkMoves >= 1", timeout=15_000)
        assert page.evaluate("() => window.__plots") == 0, "plotly.js redrew the figure"
        fast = page.evaluate(fills)
        assert fast != before and ["rgb(31, 119, 180)", "1"] in fast[0], "a train image"
        assert ["rgb(0, 0, 0)", "0"] in fast[1], "see-through leak marks"
        split = page.evaluate(f"() => {gd}.data[0].text[0]")
        page.evaluate(REDRAW_JS)
        assert page.evaluate(fills) == fast
        x, y = page.evaluate(f"""() => {{
          const g = {gd}, L = g._fullLayout, box = g.getBoundingClientRect();
          return [box.left + L.xaxis._offset + L.xaxis.d2p(1), box.top + L.yaxis._offset + L.yaxis.d2p(0)];
        }}""")
        page.mouse.move(1, 1)
        page.mouse.move(x, y)
        page.wait_for_selector(".js-plotly-plot .hovertext", timeout=5000)
        assert split in page.locator(".js-plotly-plot .hovertext").text_content()


def test_a_see_through_png_picture_is_swapped_too(tmp_path):
    """An overlay's PNG picture (radlab.viz.explain.heatmap_picture: alpha kept) of the same size is
    swapped in place like a BMP one (its size read from the PNG header); hover shows the new map."""
    from browser import chromium_browser, open_lab, serve_labs

    cells = [
        "import ipywidgets as w\nimport numpy as np\nfrom radlab.widgets.figure import Figure\n"
        "from radlab.viz.explain import heatmap_trace",
        "def heat(k):\n"
        "    return np.linspace(0, 1, 20 * 30, dtype=np.float32).reshape(20, 30) ** (1 + k)\n"
        "fig = Figure(data=[heatmap_trace(heat(0))],\n"
        "             layout={'width': 400, 'height': 300, 'margin': dict(l=0, r=0, t=30, b=0),\n"
        "                     'xaxis': {'range': [-0.5, 29.5]}, 'yaxis': {'range': [19.5, -0.5]}})\n"
        "k = w.IntSlider(0, 0, 5, description='k')\n"
        "def redraw(_=None):\n"
        "    with fig.batch_update():\n"
        "        fig.data[0].update(heatmap_trace(heat(k.value)).to_plotly_json())\n"
        "k.observe(redraw, 'value')\n"
        "w.VBox([k, fig])",
    ]
    (tmp_path / "labs").mkdir()
    nbformat.write(_python_notebook(cells), tmp_path / "labs" / "png.ipynb")
    gd, href = FIGURE_JS, FIRST_PICTURE_JS
    with serve_labs(tmp_path / "labs") as server, chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 800, "height": 900})
        open_lab(page, server.lab_url("png.ipynb"))
        page.wait_for_function(f"() => {gd} && {gd}.querySelector('.imagelayer image')", timeout=30_000)
        before = page.evaluate(href)
        assert before.startswith("data:image/png;base64,")
        page.locator(".widget-slider .noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => globalThis.__radlabImageSwaps === 1", timeout=15_000)
        assert page.evaluate(href) == page.evaluate(f"() => {gd}.data[0].source") != before
        value = page.evaluate(f"() => {gd}._fullData[0].customdata[10][15]")
        assert value == pytest.approx(float(np.linspace(0, 1, 600, dtype=np.float32)[315] ** 2), abs=1e-6)


def test_a_lab_kernel_does_not_build_jsonschemas_iri_grammar_but_can_still_import_it():
    """rfc3987_syntax builds a lark grammar at import (~1 s of every lab kernel's start): the labs'
    figure module imports jsonschema without it; anything that imports it itself still gets it."""
    import subprocess
    import sys
    pytest.importorskip("rfc3987_syntax")   # installed with jupyter-events; without it there is nothing to skip
    probe = ("import sys, radlab.widgets.figure, jsonschema; "
             "print('rfc3987_syntax' in sys.modules, 'iri' in jsonschema.FormatChecker().checkers, "
             "'email' in jsonschema.FormatChecker().checkers); "
             "import rfc3987_syntax; print(rfc3987_syntax.is_valid_syntax('iri', 'http://example.org/a'))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "True", "True"]
    # jsonschema imported first (as in a process that already validated something): left as it was
    first = "import jsonschema, radlab.widgets.figure; print('iri' in jsonschema.FormatChecker().checkers)"
    assert subprocess.run([sys.executable, "-c", first], capture_output=True, text=True,
                          check=True).stdout.strip() == "True"
