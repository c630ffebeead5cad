"""The labs' live plotly figure: plotly's ``FigureWidget``, with plotly.js sent once per page.

Plotly's ``FigureWidget`` is an anywidget whose JavaScript module (``_esm``, ~4.9 MB) bundles
plotly.js itself; every figure's widget state carries that module, so a page with five figures
shipped plotly.js five times (measured in ``benchmarks/first_render.py``). :class:`Figure` is
the same Python class (every ``fig.data[i]`` update and ``batch_update`` works as before, and
the same front-end code draws it; only nothing is sent back, see :func:`_one_way`) with a different ``_esm``: the widget code with
its plotly.js removed, waiting for one :class:`PlotlyLibrary` widget per kernel that gets
plotly.js once and hands it to every figure of the page (``globalThis.__radlabPlotly``).

The library widget itself is small (:data:`LOADER_ESM`). JupyterLab and Voilà pages already
hold plotly.js: plotly's own renderer extension for static figures (``jupyterlab-plotly``, installed
with plotly) fetches it over HTTP at start-up. When that copy is the version the Python side
expects, the library has the renderer evaluate it (an empty figure, if no static figure did it
yet) and hands it to the live figures; only a page without it (another front end, another
version) asks the kernel for the library module, as one binary custom message. So a page gets
plotly.js once: not once per figure, and not once more for the widgets. A lab under ``radlab serve``
loads a smaller plotly.js still, plotly's cartesian bundle (the Voilà template's
``static/plotly-cartesian.min.js``: every trace type the labs draw, about half the evaluation
time), and the library takes that one when its version is the expected one; a live figure on such
a page must keep to the bundle's trace types (``BUNDLE_TYPES`` in the template's
``plotly-draw-once.js``; ``tests/test_figure_widget.py`` checks every lab's figures).

Both modules are cut out of the installed plotly's own ``widgetbundle.js`` at import, so the
JavaScript is always the version the Python side expects. If a plotly release changes the
bundle's layout so that the cut cannot be made exactly, :class:`Figure` falls back to the
whole bundle (every figure carries plotly.js again, as plain ``FigureWidget`` does) and warns
once; ``tests/test_figure_widget.py`` fails in that case so the project notices.
"""
from __future__ import annotations

import functools
import json
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import plotly
import plotly.graph_objects as go
from plotly.basedatatypes import Undefined
from plotly.offline import get_plotlyjs_version
from plotly.serializers import _js_to_py, _py_to_js
from traitlets import Dict, List


def _import_jsonschema_without_its_iri_grammar() -> None:
    """Import jsonschema once without ``rfc3987_syntax``: ~1 s less for every lab kernel's start.

    ``go.FigureWidget`` imports plotly.io, which imports nbformat, which imports jsonschema, whose
    format checkers import ``rfc3987_syntax`` if it is installed (jupyter-events installs it), and that
    builds a lark grammar at import: 1.0 s of the 1.7 s Lab 1's kernel spent importing its widget
    (``python -X importtime``), on every cold page. The only thing lost is jsonschema's ``iri`` format
    check in the kernel, which nothing there uses; ``rfc3987_syntax`` itself can still be imported.
    Nothing happens if jsonschema (or the grammar) was imported already.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        return
    sys.modules["rfc3987_syntax"] = None   # type: ignore[assignment]  # import raises ImportError
    try:
        import jsonschema  # noqa: F401, PLC0415  (its _format module skips the iri checker on ImportError)
    except ImportError:
        pass
    finally:
        if sys.modules.get("rfc3987_syntax", 0) is None:
            del sys.modules["rfc3987_syntax"]


_import_jsonschema_without_its_iri_grammar()  # before go.FigureWidget is first touched (class Figure, below)


#: The plotly.js factory inside plotly's widget bundle (esbuild output): a CommonJS wrapper
#: ``var A=B((C,D)=>{(function(E,F){typeof D=="object"&&D.exports?D.exports=F():E.moduleName=F()})``
#: that ends ``return window.Plotly=G,G})});``.
_FACTORY_START = re.compile(
    r'var (?P<name>[\w$]+)=[\w$]+\(\((?P<e>[\w$]+),(?P<m>[\w$]+)\)=>\{\(function\((?P<root>[\w$]+),(?P<f>[\w$]+)\)'
    r'\{typeof (?P=m)=="object"&&(?P=m)\.exports\?(?P=m)\.exports=(?P=f)\(\):(?P=root)\.moduleName=(?P=f)\(\)\}\)')
_FACTORY_END = re.compile(r'return window\.Plotly=(?P<v>[\w$]+),(?P=v)\}\)\}\);')

#: The figure module's plotly.js, which arrives after the module has loaded. anywidget drops every message
#: to a model whose module and ``initialize`` took over 2 s (its ``ready`` promise is rejected for good), so the
#: module must not wait for plotly.js (4.8 MB from the kernel, on a page without jupyterlab-plotly): a figure
#: drew but never answered a control (CI, 2026-12-07). plotly's widget code reaches plotly.js only in its view
#: (``Md.default.newPlot`` and the like, through this proxy), and ``render`` waits for it (:data:`_RENDER_FITTED`).
_LATE_LIBRARY_JS = """let __radlabPlotlyLib = null;
const __radlabPlotlyReady = __radlabShared.promise.then((lib) => { __radlabPlotlyLib = __radlabSwapping(lib); });
const __radlabPlotlyProxy = new Proxy({}, { get: (_, key) => (__radlabPlotlyLib ? __radlabPlotlyLib[key] : undefined) });
"""

#: One promise per page, shared by the library widget (which resolves it) and every figure.
_SHARED_JS = ("const __radlabShared = (globalThis.__radlabPlotly ??= (() => { let resolve; "
              "const promise = new Promise((r) => { resolve = r; }); return { promise, resolve }; })());\n")


class BundleLayoutError(RuntimeError):
    """plotly's widgetbundle.js is not laid out as this module expects (a plotly upgrade)."""


def _bundle_path() -> Path:
    return Path(plotly.__file__).parent / "package_data" / "widgetbundle.js"


@functools.lru_cache(maxsize=1)
def split_bundle() -> tuple[str, str]:
    """(library module, figure module): plotly's widget bundle cut in two at its plotly.js factory."""
    bundle = _bundle_path().read_text(encoding="utf-8")
    starts = list(_FACTORY_START.finditer(bundle))
    if len(starts) != 1:
        raise BundleLayoutError(f"{_bundle_path()}: expected one plotly.js factory, found {len(starts)}")
    start = starts[0]
    ends = [m for m in _FACTORY_END.finditer(bundle, start.end())]
    if not ends:
        raise BundleLayoutError(f"{_bundle_path()}: the plotly.js factory has no end marker")
    end = ends[0].end()
    name = start.group("name")
    uses = re.findall(rf"(?<![\w$.]){re.escape(name)}\(\)", bundle[end:])
    if len(uses) != 1:
        raise BundleLayoutError(f"{_bundle_path()}: expected the factory {name}() to be called once, "
                                f"found {len(uses)} calls")
    helpers = bundle[:start.start()]  # esbuild's module helpers, needed by both halves
    library = (_SHARED_JS + helpers + bundle[start.start():end]
               + f"\n__radlabShared.resolve({name}());\nexport default {{ initialize() {{}} }};\n")
    figure = (_SHARED_JS + _LATE_LIBRARY_JS
              + IMAGE_SWAP_JS + helpers + f"var {name}=()=>__radlabPlotlyProxy;"
              + _fit_to_container(_one_way(bundle[end:])))
    return library, figure


#: The figure module's plotly.js, with a fast way for a new picture in the same box.
#:
#: A live image trace (``radlab.viz.images.image_trace``: a BMP data URI as ``source``) that gets a
#: new picture of the same size (a new window level, slice or frame) only needs its ``<image>``
#: element's address changed. Through ``Plotly.restyle``/``Plotly.update`` plotly.js recomputes the
#: whole figure's defaults and redraws every subplot of it (~10-25 ms of script per figure on
#: 2 cores, plus layout and paint). So when a restyle changes nothing but ``source`` and the
#: hover values, ``customdata`` (either or both, per trace) of image traces drawn as real images,
#: at the same pixel size, or at another pixel size with a new ``x0``/``dx``/``y0``/``dy`` that keeps
#: the picture's edges where they were (``radlab.viz.images.map_picture``'s ``extent``: Lab 6's layers),
#: :data:`IMAGE_SWAP_JS` writes the new values into the figure's data and full data (as restyle
#: would), points the element at the new picture and reloads the hover canvas plotly.js keeps
#: for it. Likewise a new plain text for a subplot title (a centred annotation: plotly.js would
#: recompute the whole figure for it) is written into the layout, full layout and its text element;
#: And a "you are here" mark that moves (new x/y of line or marker scatter traces, as many points,
#: inside fixed axis ranges: ``radlab.viz.style.padded_range``) gets its path and marker positions
#: set where plotly.js would draw them, and its calcdata (hover) updated, without a redraw; text labels
#: (a map's numbers in its cells, ``radlab.viz.images.cell_labels``) also get new words and colours. One
#: restyle may mix the two, trace by trace (a new slice and the line marking it). Hover values sent
#: packed (``radlab.viz.conv.plotly_array``, up to 3-D) are decoded as plotly.js decodes them. A path
#: shape's new path (a mask's outline, ``radlab.viz.images.outline_shape``, on fixed linear axes), and a
#: rectangle's new corners or visibility (a lesion's box, ``radlab.viz.images.box_shape``), are drawn where
#: plotly.js draws them (``__radlabShapeSwaps``), where relayout would redo the layout.
#: Any other layout change still goes through ``Plotly.relayout``, and any other restyle through
#: plotly.js's own way. ``window.__radlabImageSwaps``, ``__radlabTitleSwaps`` and ``__radlabMarkMoves``
#: count the fast updates (``tests/test_figure_widget.py`` checks that both ways draw and hover the same).
IMAGE_SWAP_JS = r"""
const __radlabXlink = "http://www.w3.org/1999/xlink";
const __radlabBmp = "data:image/bmp;base64,";   // what radlab.viz.images.image_source writes
const __radlabPng = "data:image/png;base64,";   // radlab.viz.images.rgba_source (see-through overlays)
function __radlabImageSize(source) {   // [width, height] of a BMP or PNG data URI, from its header
  if (source.startsWith(__radlabPng)) {   // the IHDR chunk: width and height, big-endian, at bytes 16 and 20
    let png;
    try { png = atob(source.slice(__radlabPng.length, __radlabPng.length + 32)); } catch (err) { return null; }
    const be = (i) => ((png.charCodeAt(i) << 24) | (png.charCodeAt(i + 1) << 16) | (png.charCodeAt(i + 2) << 8)
      | png.charCodeAt(i + 3)) >>> 0;
    return png.slice(12, 16) === "IHDR" ? [be(16), be(20)] : null;
  }
  if (!source.startsWith(__radlabBmp)) return null;
  let head;
  try { head = atob(source.slice(__radlabBmp.length, __radlabBmp.length + 40)); } catch (err) { return null; }
  const le = (i) => head.charCodeAt(i) | (head.charCodeAt(i + 1) << 8) | (head.charCodeAt(i + 2) << 16)
    | (head.charCodeAt(i + 3) << 24);
  return [Math.abs(le(18)), Math.abs(le(22))];
}
// plotly.js's typed-array form {dtype, bdata (base64), shape} (radlab.viz.conv.plotly_array), decoded as
// plotly.js decodes it (lib/array.js decodeTypedArraySpec): nested arrays of typed rows; other values as they
// are; null for a spec of more than 3 dimensions (left to plotly.js)
const __radlabDtypes = { f4: Float32Array, f8: Float64Array, i1: Int8Array, u1: Uint8Array, i2: Int16Array,
  u2: Uint16Array, i4: Int32Array, u4: Uint32Array };
function __radlabBase64Bytes(text) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);   // native: chromium >= 140
  const chars = atob(text), bytes = new Uint8Array(chars.length);   // (Uint8Array.from(chars, f): 15x slower)
  for (let j = 0; j < chars.length; j++) bytes[j] = chars.charCodeAt(j);
  return bytes;
}
// A row of a 3-D spec: cell x is flat's k values from ``start + x * k``, made when read. plotly.js reads one
// cell per hover, and a row of w typed views made up front was ~80 k objects per Lab 6 key press (garbage).
// (``has`` too: map, forEach and the like skip the cells an array does not have.)
function __radlabCells(flat, start, w, k) {
  const cell = (key) => {
    if (typeof key !== "string" || !key.length || key.charCodeAt(0) < 48 || key.charCodeAt(0) > 57) return -1;
    const x = Number(key);
    return Number.isInteger(x) && x < w ? x : -1;
  };
  return new Proxy(new Array(w), {
    get(row, key, receiver) {
      const x = cell(key);
      return x < 0 ? Reflect.get(row, key, receiver) : flat.subarray(start + x * k, start + (x + 1) * k);
    },
    has(row, key) { return cell(key) >= 0 || Reflect.has(row, key); },
  });
}
function __radlabDecoded(v) {
  if (!v || typeof v !== "object" || Array.isArray(v) || typeof v.bdata !== "string" || !(v.dtype in __radlabDtypes)) return v;
  if (String(v.shape ?? "").split(",").length > 3) return null;
  const bytes = __radlabBase64Bytes(v.bdata), Type = __radlabDtypes[v.dtype];
  const flat = new Type(bytes.buffer, bytes.byteOffset, bytes.byteLength / Type.BYTES_PER_ELEMENT);
  const shape = v.shape === undefined ? [flat.length] : String(v.shape).split(",").map(Number);
  if (shape.length === 1) return flat;
  const [h, w, k = 0] = shape, rows = new Array(h);   // loops, not recursion: ~4x faster for a mosaic's 4k cells
  for (let y = 0; y < h; y++) rows[y] = k ? __radlabCells(flat, y * w * k, w, k) : flat.subarray(y * w, (y + 1) * w);
  return rows;
}
// A new picture for an image trace (``values``: its new source and/or customdata; a source plotly.py
// left undefined keeps the picture, and only the hover values change): a function that applies it,
// or null when plotly.js must do it (not a real image, another box, hover values removed). A picture
// of another pixel size comes with a new x0/dx/y0/dy (radlab.viz.images.map_picture's ``extent``) that
// keeps its box: the same edges on both axes, so the drawn element and the axes stay as they are.
const __radlabBoxKeys = ["x0", "dx", "y0", "dy"];
function __radlabPlanImage(gd, i, values) {
  const full = (gd._fullData || []).find((t) => t.index === i);
  const cd = full && (gd.calcdata || []).find((c) => c && c[0] && c[0].trace === full);
  if (!cd || full.type !== "image" || full.visible !== true || !full._realImage || full._hasZ) return null;
  const { source, customdata } = values;
  if (customdata === null || source === null) return null;   // removing them: plotly.js's way
  const hover = customdata === undefined ? undefined : __radlabDecoded(customdata);
  if (hover === null) return null;
  const box = {};   // the new x0, dx, y0, dy (those sent; the others as they are)
  for (const key of __radlabBoxKeys) {
    const v = key in values ? values[key] : full[key];
    if (typeof v !== "number" || !Number.isFinite(v)) return null;
    box[key] = v;
  }
  const xa = gd._fullLayout && gd._fullLayout["xaxis" + full.xaxis.slice(1)];
  const ya = gd._fullLayout && gd._fullLayout["yaxis" + full.yaxis.slice(1)];
  if (!xa || !ya || xa.type !== "linear" || ya.type !== "linear" || box.dx <= 0 || box.dy <= 0) return null;
  let element = null, size = [cd[0].w, cd[0].h];
  if (source !== undefined) {
    size = typeof source === "string" && __radlabImageSize(source);
    if (!size) return null;
    const group = cd[0].node3 && cd[0].node3.node();   // the trace's group (lib/make_trace_groups.js)
    element = group && group.querySelector("image");
    if (!element) return null;
  }
  // the picture's edges as plotly.js computes them (traces/image/calc.js: x0 - dx / 2, then w * dx on)
  const left = box.x0 - box.dx / 2, top = box.y0 - box.dy / 2;
  const near = (a, b, scale) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(scale));
  const w0 = cd[0].w * full.dx, h0 = cd[0].h * full.dy;
  if (!near(left, cd[0].x0, w0) || !near(top, cd[0].y0, h0) || !near(size[0] * box.dx, w0, w0)
      || !near(size[1] * box.dy, h0, h0)) return null;
  return () => {
    if (customdata !== undefined) {
      gd.data[i].customdata = customdata;
      full.customdata = hover;
    }
    for (const key of __radlabBoxKeys) if (key in values) gd.data[i][key] = full[key] = box[key];
    Object.assign(cd[0], { x0: left, y0: top, w: size[0], h: size[1] });   // what hover reads (image/hover.js)
    if (!element) return;
    gd.data[i].source = full.source = source;
    element.setAttributeNS(__radlabXlink, "xlink:href", source);
    // plotly.js reads a hovered pixel's colour from a canvas copy of the picture (traces/image/plot.js)
    const picture = new Image();
    picture.onload = () => {
      if (full.source !== source) return;
      const canvas = document.createElement("canvas");
      canvas.width = picture.width; canvas.height = picture.height;
      canvas.getContext("2d", { willReadFrequently: true }).drawImage(picture, 0, 0);
      full._canvas = { el: canvas, source };
    };
    picture.src = source;
  };
}
// A "you are here" mark (a dashed line at the chosen threshold, a dot on a curve) that moves: a
// scatter trace given new x and/or y only, as many points as before, all inside fixed axis ranges
// (autorange off: nothing else in the figure moves), drawn as straight lines and/or markers. The new
// values go into the data, full data and calcdata (what hover reads); the line's path and the
// markers' positions are set as plotly.js's scatter plot sets them (traces/scatter/plot.js). Text
// labels (the numbers in a map's cells: radlab.viz.images.cell_labels) may also get new words and
// colours, as many labels as before, each one plain line; markers new colours (Lab 2's split grids).
const __radlabMarkModes = ["lines", "markers", "lines+markers", "markers+text", "text"];
// a marker colour as plotly.js's Color.fill draws it: [fill "rgb(r, g, b)", fill-opacity]; null for another form
function __radlabFill(colour) {
  if (typeof colour !== "string") return null;
  let m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(colour);
  if (m) {
    const hex = m[1].length === 3 ? [...m[1]].map((c) => c + c).join("") : m[1];
    return [`rgb(${[0, 2, 4].map((k) => parseInt(hex.slice(k, k + 2), 16)).join(", ")})`, 1];
  }
  m = /^rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*(?:,\s*([\d.]+)\s*)?\)$/.exec(colour);
  if (!m || [m[1], m[2], m[3]].some((v) => Number(v) > 255)) return null;
  return [`rgb(${m[1]}, ${m[2]}, ${m[3]})`, m[4] === undefined ? 1 : Math.min(1, Number(m[4]))];
}
function __radlabPlanMark(gd, i, values) {
  const L = gd._fullLayout || {};
  const full = (gd._fullData || []).find((t) => t.index === i);
  const cd = full && (gd.calcdata || []).find((c) => c && c[0] && c[0].trace === full);
  if (!cd || full.type !== "scatter" || full.visible !== true || !cd[0].node3 || !__radlabMarkModes.includes(full.mode)
      || (full.fill && full.fill !== "none") || (full.mode.includes("lines") && full.line.shape !== "linear")
      || (full.error_x && full.error_x.visible) || (full.error_y && full.error_y.visible)) return null;
  const xa = L["xaxis" + full.xaxis.slice(1)], ya = L["yaxis" + full.yaxis.slice(1)];
  const fixed = (ax) => ax && ax.autorange === false && (ax.type === "linear" || ax.type === "log");
  if (!fixed(xa) || !fixed(ya)) return null;
  const { x: newX, y: newY, text: newText } = values;
  const x = newX === undefined ? full.x : newX, y = newY === undefined ? full.y : newY;
  if (!x || !y || x.length !== cd.length || y.length !== cd.length) return null;
  // new hover texts, or new words and colours of drawn labels: one plain line each (no tags, entities or
  // LaTeX; not empty, or plotly.js would drop its element), written as plotly.js writes them
  const drawn = full.mode.includes("text"), newColour = values["textfont.color"];
  if (newText !== undefined && (!Array.isArray(newText) || newText.length !== cd.length || (drawn && full.texttemplate)
      || !newText.every((t) => typeof t === "string" && (!drawn || __radlabPlainText(t))))) return null;
  if (newColour !== undefined && (!drawn || !Array.isArray(newColour) || newColour.length !== cd.length
      || !newColour.every((c) => typeof c === "string"))) return null;
  // new marker colours, one per point (a split's colour per image): drawn as plotly.js fills a marker
  const newFill = values["marker.color"];
  const fills = newFill === undefined ? null : Array.isArray(newFill) && newFill.length === cd.length
    && full.mode.includes("markers") && !(full.marker.colorscale && full.marker.showscale) ? newFill.map(__radlabFill) : [null];
  if (fills && fills.some((f) => !f)) return null;
  const cx = Array.from(x, (v) => xa.d2c(v)), cy = Array.from(y, (v) => ya.d2c(v));
  const inside = (ax, c) => {   // ax.range is in linearised units (log10 on a log axis)
    const l = ax.c2l(c);
    return Number.isFinite(l) && l >= Math.min(...ax.range) && l <= Math.max(...ax.range);
  };
  if (!cx.every((c) => inside(xa, c)) || !cy.every((c) => inside(ya, c))) return null;
  const group = cd[0].node3.node();
  const lines = group.querySelectorAll("path.js-line"), points = group.querySelectorAll("path.point");
  if (full.mode.includes("lines") && cd.length > 1 && lines.length !== 1) return null;
  if (full.mode.includes("markers") && points.length !== cd.length) return null;
  // a text label sits at its point (its offset, from textposition, is on its group: drawing/index.js)
  const labels = drawn ? group.querySelectorAll("g.textpoint text") : [];
  if (drawn && labels.length !== cd.length) return null;
  // new words only for labels drawn on one line (the line count sets a label's offset from its point)
  if (drawn && (newText !== undefined || newColour !== undefined)
      && [...labels].some((label) => label.querySelector("tspan.line"))) return null;
  return () => {
    if (newX !== undefined) gd.data[i].x = full.x = newX;
    if (newY !== undefined) gd.data[i].y = full.y = newY;
    if (newText !== undefined) {
      gd.data[i].text = full.text = newText;
      cd.forEach((point, j) => { point.tx = newText[j]; });   // what hover and the labels read (scatter/calc.js)
      labels.forEach((label, j) => {   // (only those that change: each write lays the text out again)
        if (label.textContent === newText[j]) return;
        label.textContent = newText[j];
        label.setAttribute("data-unformatted", newText[j]);
      });
    }
    if (fills) {   // as drawing/index.js's singlePointStyle: the fill from calcdata's mc (hover reads it too)
      points.forEach((point, j) => {
        if (cd[j].mc === newFill[j]) return;
        point.style.fill = fills[j][0];
        point.style.fillOpacity = fills[j][1];
      });
      cd.forEach((point, j) => { point.mc = newFill[j]; });
      (gd.data[i].marker ??= {}).color = full.marker.color = newFill;
    }
    if (newColour !== undefined) {   // as drawing/index.js's font(): the fill, per point from calcdata's tc
      (gd.data[i].textfont ??= {}).color = full.textfont.color = newColour;
      labels.forEach((label, j) => { if (cd[j].tc !== newColour[j]) label.style.fill = newColour[j]; });   // drawn from tc
      cd.forEach((point, j) => { point.tc = newColour[j]; });
    }
    const px = cx.map((c) => xa.c2p(c)), py = cy.map((c) => ya.c2p(c));
    cd.forEach((point, j) => { point.x = cx[j]; point.y = cy[j]; });
    if (lines[0] && full.mode.includes("lines")) lines[0].setAttribute("d", "M" + px.map((v, j) => v + "," + py[j]).join("L"));
    points.forEach((point, j) => point.setAttribute("transform", `translate(${px[j]},${py[j]})`));
    labels.forEach((label, j) => {
      if (label.getAttribute("x") === String(px[j]) && label.getAttribute("y") === String(py[j])) return;
      for (const node of [label, ...label.querySelectorAll("tspan.line")]) {
        node.setAttribute("x", px[j]);
        if (node === label) node.setAttribute("y", py[j]);
      }
    });
  };
}
// A restyle that only gives image traces new pictures and scatter traces new mark positions, each
// trace one or the other (plotly.py's batch sends a value per trace, undefined where that trace's is
// unchanged): applied without plotly.js, all or nothing. False: plotly.js must do it.
const __radlabPictureKeys = ["source", "customdata", ...__radlabBoxKeys];
const __radlabMarkKeys = ["x", "y", "text", "textfont.color", "marker.color"];
function __radlabFastRestyle(gd, style, traces) {
  const keys = Object.keys(style || {}).filter(__radlabNotSent);
  if (!keys.length) return false;
  const indexes = traces === undefined || traces === null ? (gd.data || []).map((_, i) => i) : [].concat(traces);
  const plans = [];
  let pictures = 0, marks = 0;
  for (let k = 0; k < indexes.length; k++) {
    const values = {};
    for (const key of keys) {
      const v = Array.isArray(style[key]) ? style[key][k % style[key].length] : style[key];
      if (v !== undefined) values[key] = v;
    }
    const sent = Object.keys(values);
    if (!sent.length) continue;
    let plan = null;
    if (sent.every((key) => __radlabPictureKeys.includes(key))) { plan = __radlabPlanImage(gd, indexes[k], values); pictures++; }
    else if (sent.every((key) => __radlabMarkKeys.includes(key))) { plan = __radlabPlanMark(gd, indexes[k], values); marks++; }
    if (!plan) return false;
    plans.push(plan);
  }
  if (!plans.length) return false;
  plans.forEach((apply) => apply());
  if (pictures) globalThis.__radlabImageSwaps = (globalThis.__radlabImageSwaps || 0) + 1;
  if (marks) globalThis.__radlabMarkMoves = (globalThis.__radlabMarkMoves || 0) + 1;
  return true;
}
const __radlabNotSent = (k) => k !== "_doNotReportToPy";   // the view's marker in the data it passes
const __radlabAnnotationText = /^annotations(?:\.(\d+)|\[(\d+)\])\.text$/;
// text plotly.js draws as it is (no tags, entities or LaTeX, one line)
const __radlabPlainText = (text) => typeof text === "string" && /^[^<>&$\n]+$/.test(text);
// where a title's new text can be written into the drawn one: both plain lines joined by <br>, as many
// lines (plotly.js draws each as a <tspan class="line">, centred like the text); else null
function __radlabTitleLines(element, value, old) {
  const split = (text) => (typeof text === "string" ? text.split(/<br>/i) : []);
  const lines = split(value), before = split(old);
  if (!lines.length || lines.length !== before.length || ![...lines, ...before].every(__radlabPlainText)) return null;
  const spans = element.querySelectorAll("tspan.line");
  if (lines.length === 1) return spans.length <= 1 ? [spans[0] || element] : null;
  return spans.length === lines.length ? [...spans] : null;
}
function __radlabSetTitles(gd, layout) {
  // plain new texts (one line, or as many lines as before) of centred annotations without arrows
  // (subplot titles): plotly.js gives an annotation's text editType "calc+arraydraw", so relayout
  // recomputes and redraws the whole figure
  const rest = {}, plan = [];
  for (const [key, value] of Object.entries(layout || {})) {
    if (key === "title.text") {   // the figure's own title (editType "layoutstyle": relayout redoes the layout)
      const full = gd._fullLayout && gd._fullLayout.title;
      const element = gd.querySelector(".g-gtitle text.gtitle");
      const parts = element && full && __radlabTitleLines(element, value, full.text);
      if (parts && !full.automargin && gd.layout.title && typeof gd.layout.title === "object") {
        plan.push({ title: true, full, element, parts, value });
        continue;
      }
    }
    const m = __radlabAnnotationText.exec(key);
    const i = m ? Number(m[1] ?? m[2]) : -1;
    const full = m && ((gd._fullLayout && gd._fullLayout.annotations) || [])[i];
    const element = full && gd.querySelector(`.annotation[data-index="${i}"] text.annotation-text`);
    const parts = element && __radlabTitleLines(element, value, full.text);
    if (parts && !full.showarrow && full.xanchor === "center" && full.align === "center" && full.visible !== false
        && (gd.layout.annotations || [])[i]) {
      plan.push({ i, full, element, parts, value });
    } else {
      rest[key] = value;
    }
  }
  for (const { title, i, full, element, parts, value } of plan) {
    if (title) gd.layout.title.text = full.text = value;
    else gd.layout.annotations[i].text = full.text = value;
    const lines = value.split(/<br>/i);
    parts.forEach((part, j) => { part.textContent = lines[j]; });
    element.setAttribute("data-unformatted", value);
  }
  if (plan.length) globalThis.__radlabTitleSwaps = (globalThis.__radlabTitleSwaps || 0) + 1;
  return rest;
}
const __radlabShapePath = /^shapes(?:\.(\d+)|\[(\d+)\])\.path$/;
// a path of straight lines (radlab.viz.images.outline_path: "M x,y L x,y ... Z")
const __radlabStraightPath = /^(?:[ML]-?[\d.]+(?:e[-+]?\d+)?,-?[\d.]+(?:e[-+]?\d+)?|Z)+$/;
function __radlabSetShapes(gd, layout) {
  // a new path for a visible path shape on fixed linear axes (a mask's outline on a slice): relayout
  // would recompute the whole layout's defaults and redraw the shape; set the drawn path as plotly.js
  // draws it (components/shapes: each x at xaxis._offset + r2p(x), each y likewise)
  const rest = {}, plan = [];
  const L = gd._fullLayout || {};
  const fixed = (ax) => ax && ax.autorange === false && ax.type === "linear";
  for (const [key, value] of Object.entries(layout || {})) {
    const m = __radlabShapePath.exec(key);
    const i = m ? Number(m[1] ?? m[2]) : -1;
    const full = m && (L.shapes || [])[i];
    const xa = full && L["xaxis" + String(full.xref).slice(1)], ya = full && L["yaxis" + String(full.yref).slice(1)];
    const element = full && gd.querySelector(`.shapelayer path[data-index="${i}"]`);
    if (element && full.type === "path" && full.visible === true && !full.editable && typeof value === "string"
        && __radlabStraightPath.test(value) && /^x\d*$/.test(full.xref) && /^y\d*$/.test(full.yref)
        && fixed(xa) && fixed(ya) && (gd.layout.shapes || [])[i]) {
      plan.push({ i, full, element, value, xa, ya });
    } else {
      rest[key] = value;
    }
  }
  for (const { i, full, element, value, xa, ya } of plan) {
    gd.layout.shapes[i].path = full.path = value;
    element.setAttribute("d", value.replace(/([ML])([^MLZ]+)/g, (_, type, xy) => {
      const [x, y] = xy.split(",");
      return type + (xa._offset + xa.r2p(x)) + "," + (ya._offset + ya.r2p(y));
    }));
  }
  if (plan.length) globalThis.__radlabShapeSwaps = (globalThis.__radlabShapeSwaps || 0) + 1;
  return rest;
}
const __radlabRectKey = /^shapes(?:\.(\d+)|\[(\d+)\])\.(x0|x1|y0|y1|visible)$/;
function __radlabSetRects(gd, layout) {
  // a rectangle (a lesion's box) moved, shown or hidden: new x0/x1/y0/y1 and/or visible of a rect shape on
  // fixed linear axes, drawn where plotly.js draws it (components/shapes/draw.js: "M x0,y0 H x1 V y1 H x0 Z",
  // each x at xaxis._offset + r2p(x)); hidden as not drawn (display none: plotly.js's own redraw leaves it
  // out). A box plotly.js has not drawn yet (never visible) goes through relayout; all or nothing per shape.
  const L = gd._fullLayout || {};
  const fixed = (ax) => ax && ax.autorange === false && ax.type === "linear";
  const byShape = new Map();
  for (const [key, value] of Object.entries(layout || {})) {
    const m = __radlabRectKey.exec(key);
    if (!m) continue;
    const i = Number(m[1] ?? m[2]);
    if (!byShape.has(i)) byShape.set(i, {});
    byShape.get(i)[m[3]] = [key, value];
  }
  const rest = { ...layout }, plan = [];
  for (const [i, keys] of byShape) {
    const full = (L.shapes || [])[i];
    const xa = full && L["xaxis" + String(full.xref).slice(1)], ya = full && L["yaxis" + String(full.yref).slice(1)];
    const element = full && gd.querySelector(`.shapelayer path[data-index="${i}"]`);
    const value = (k) => (k in keys ? keys[k][1] : full[k]);
    const coords = ["x0", "x1", "y0", "y1"].map(value);
    const visible = value("visible");
    if (!element || full.type !== "rect" || full.editable || !/^x\d*$/.test(full.xref) || !/^y\d*$/.test(full.yref)
        || !fixed(xa) || !fixed(ya) || full.xsizemode === "pixel" || full.ysizemode === "pixel"
        || ["x0shift", "x1shift", "y0shift", "y1shift"].some((k) => full[k]) || !(gd.layout.shapes || [])[i]
        || !coords.every((v) => typeof v === "number" && Number.isFinite(v)) || typeof visible !== "boolean") continue;
    for (const [key] of Object.values(keys)) delete rest[key];
    plan.push({ i, full, element, keys, coords, visible, xa, ya });
  }
  for (const { i, full, element, keys, coords, visible, xa, ya } of plan) {
    for (const [k, [, v]] of Object.entries(keys)) gd.layout.shapes[i][k] = full[k] = v;
    const [x0, x1, y0, y1] = [xa, xa, ya, ya].map((ax, j) => ax._offset + ax.r2p(coords[j]));
    element.setAttribute("d", `M${x0},${y0}H${x1}V${y1}H${x0}Z`);
    element.style.display = visible ? "" : "none";
  }
  if (plan.length) globalThis.__radlabShapeSwaps = (globalThis.__radlabShapeSwaps || 0) + 1;
  return rest;
}
function __radlabSwapping(lib) {
  const fast = Object.create(lib);
  const relayoutRest = (gd, layout) => {
    const rest = __radlabSetRects(gd, __radlabSetShapes(gd, __radlabSetTitles(gd, layout)));
    return Object.keys(rest).some(__radlabNotSent) ? lib.relayout(gd, rest) : Promise.resolve(gd);
  };
  const swapped = __radlabFastRestyle;
  fast.restyle = (gd, style, traces) => (swapped(gd, style, traces) ? Promise.resolve(gd) : lib.restyle(gd, style, traces));
  fast.relayout = (gd, layout, ...more) => (typeof layout === "object" && layout !== null && !more.length
    ? relayoutRest(gd, layout) : lib.relayout(gd, layout, ...more));
  fast.update = (gd, style, layout, traces) => {
    const restyled = !Object.keys(style || {}).some(__radlabNotSent) || swapped(gd, style, traces);
    return restyled ? relayoutRest(gd, layout) : lib.update(gd, style, layout, traces);
  };
  return fast;
}
"""


#: What makes the figure module one-way (see :func:`_one_way`): (pattern in plotly's view class, replacement).
_ONE_WAY_EDITS = (
    # every message from the view to the kernel goes through touch(): the computed trace and layout
    # deltas after each draw, plotly_restyle/relayout/update events, hover, click and selection points
    (re.compile(re.escape("touch(){this.model.save_changes()}")), "touch(){}"),
    # and the deltas are not computed at all (a deep merge and diff of plotly.js's full layout and data);
    # the parameter's minified name differs between builds
    (re.compile(r"(_sendLayoutDelta\([\w$]+\)\{)"), r"\1return;"),
    (re.compile(r"(_sendTraceDeltas\([\w$]+\)\{)"), r"\1return;"),
)


def _one_way(view_code: str) -> str:
    """plotly's widget view with nothing sent back to the kernel.

    After every draw plotly's view computes what plotly.js filled in (the full layout and data,
    merged and diffed) and sends it to the kernel, which echoes it and runs plotly's validators
    over it; every hover over an image sends the point. Measured on Lab 1 (2 cores), that is a
    4.8 kB message and ~40 ms of kernel time per slider step, during which the next step waits.
    The labs never read those values back (no ``on_click``/``on_hover``, no computed defaults), so
    :class:`Figure` draws what Python sends and says nothing back.
    """
    return _edit_view(view_code, _ONE_WAY_EDITS)


def _edit_view(view_code: str, edits) -> str:
    """``view_code`` with each (pattern, replacement) of ``edits`` made exactly once, else BundleLayoutError."""
    for pattern, replacement in edits:
        view_code, found = pattern.subn(replacement, view_code)
        if found != 1:
            raise BundleLayoutError(f"{_bundle_path()}: expected {pattern.pattern!r} once in plotly's "
                                    f"widget view, found it {found} times")
    return view_code


#: plotly's anywidget entry point: ``render({el}){let V=new View(model,el);return V.perform_render(),()=>V.remove()}``.
_RENDER = re.compile(r"render\(\{el:(?P<el>[\w$]+)\}\)\{let (?P<view>[\w$]+)=new (?P<cls>[\w$]+)\((?P<model>[\w$]+),"
                     r"(?P=el)\);return (?P=view)\.perform_render\(\),\(\)=>(?P=view)\.remove\(\)\}")
#: The same, once plotly.js has arrived (:data:`_LATE_LIBRARY_JS`; not for a view removed meanwhile), plus a
#: ResizeObserver that fits the figure to its container's width (see _fit_to_container).
_RENDER_FITTED = (
    "async render({{el:{el},signal:__radlabSignal}}){{await __radlabPlotlyReady;"
    "if(__radlabSignal&&__radlabSignal.aborted)return;"
    "let {view}=new {cls}({model},{el});{view}.perform_render();"
    "const fit=()=>{{const asked={view}.model.get(\"_widget_layout\")||{{}},full={el}._fullLayout;"
    "if(asked.width==null&&full&&{el}.clientWidth>0&&Math.abs(full.width-{el}.clientWidth)>1)"
    "__radlabPlotlyLib.Plots.resize({el}).catch(()=>{{}})}};"
    "const observer=new ResizeObserver(fit);observer.observe({el});"
    "return()=>{{observer.disconnect();{view}.remove()}}}}")


def _fit_to_container(view_code: str) -> str:
    """plotly's widget view, resized whenever its container's width changes.

    Under anywidget plotly's view draws as soon as it is rendered, often before its element is in
    the page: plotly.js then falls back to 700 px and nothing resizes it later (the Lumino resize
    messages the older widget handled no longer arrive). Measured on the labs' quick versions
    (2026-12-05), live figures in labs 3, 7, 8, 9 and 11 were drawn 700 px wide in a 1250 px
    column, differently from run to run. The observer resizes a figure whose width was not set
    in Python when its drawn width differs from its element's.
    """
    return _edit_view(view_code, [(_RENDER, lambda m: _RENDER_FITTED.format(**m.groupdict()))])


def _modules() -> tuple[str | None, str | None]:
    try:
        return split_bundle()
    except (OSError, BundleLayoutError) as err:  # pragma: no cover - only with an unexpected plotly
        warnings.warn(f"radlab.widgets.figure: {err}; every figure will carry plotly.js "
                      f"(as plotly's FigureWidget does). Pin plotly to the range in pyproject.toml.",
                      RuntimeWarning, stacklevel=2)
        return None, None


_LIBRARY_ESM, _FIGURE_ESM = _modules()

#: The custom messages between :class:`PlotlyLibrary` and its front end.
REQUEST, REPLY = "radlab-plotly-js-request", "radlab-plotly-js"

#: The library widget's module: plotly.js from the page if it has the right version, else from the kernel.
LOADER_ESM = (_SHARED_JS + """const WANT = __WANT__;
const usable = (P) => !!P && P.version === WANT && typeof P.newPlot === "function";
async function fromPage() {
  // a RadLab page (radlab serve) loads plotly's cartesian bundle itself (static/plotly-draw-once.js)
  if (__radlabShared.bundle) {
    const bundle = await __radlabShared.bundle;
    if (usable(bundle)) { __radlabShared.source = "bundle"; return bundle; }
  }
  if (usable(globalThis.Plotly)) return globalThis.Plotly;
  // JupyterLab and Voila pages load jupyterlab-plotly (the static figures' renderer) at start-up,
  // plotly.js included; the renderer evaluates it on its first figure. Ask it for an empty one.
  try {
    const container = globalThis._JUPYTERLAB && globalThis._JUPYTERLAB["jupyterlab-plotly"];
    if (!container) return null;
    const { RenderedPlotly: R, MIME_TYPE } = (await container.get("./mimeExtension"))();
    if (__radlabShared.fullPlotly) {   // a RadLab page's script has taken over the renderer
      const plotly = await __radlabShared.fullPlotly();
      if (usable(plotly)) return plotly;
    }
    if (!R.Plotly) {
      const empty = new R({ mimeType: MIME_TYPE });
      try { await empty.createGraph({ data: { [MIME_TYPE]: { data: [], layout: {} } } }); }
      finally { empty.dispose(); }
    }
    const plotly = R.Plotly && (R.Plotly.default || R.Plotly);
    return usable(plotly) ? plotly : (usable(globalThis.Plotly) ? globalThis.Plotly : null);
  } catch (err) {
    return null;   // another jupyterlab-plotly: the kernel sends plotly.js instead
  }
}
function fromKernel(model) {
  return new Promise((resolve, reject) => {
    model.on("msg:custom", async (msg, buffers) => {
      if (!msg || msg.type !== __REPLY__) return;
      const url = URL.createObjectURL(new Blob([buffers[0]], { type: "text/javascript" }));
      try { await import(url); resolve(); } catch (err) { reject(err); } finally { URL.revokeObjectURL(url); }
    });
    model.send({ type: __REQUEST__ });
  });
}
async function load(model) {
  __radlabShared.source = "page";
  const plotly = await fromPage();
  if (plotly) { __radlabShared.resolve(plotly); return; }
  __radlabShared.source = "kernel";
  try { await fromKernel(model); }       // the library module resolves the promise itself
  catch (err) { __radlabShared.source = null; console.error("radlab: plotly.js from the kernel:", err); }
}
export default {
  initialize({ model }) {
    // not awaited: anywidget gives initialize 2 s, and the figures wait for the shared promise anyway
    if (!__radlabShared.source) load(model);   // else another notebook of this page is loading it
  },
};
""").replace("__WANT__", json.dumps(get_plotlyjs_version())).replace(
    "__REPLY__", json.dumps(REPLY)).replace("__REQUEST__", json.dumps(REQUEST))


class PlotlyLibrary(anywidget.AnyWidget):
    """A widget that is never displayed: it gives the page's figures plotly.js, once per page.

    Its front end (:data:`LOADER_ESM`) takes plotly.js from the page when ``jupyterlab-plotly``
    has loaded the same version, and otherwise asks for the library module, which this widget
    sends as one binary buffer.
    """

    _esm = LOADER_ESM if _LIBRARY_ESM is not None else "export default {};"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_msg(self._on_request)

    def _on_request(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == REQUEST and _LIBRARY_ESM is not None:
            self.send({"type": REPLY}, buffers=[_library_bytes()])


@functools.lru_cache(maxsize=1)
def _library_bytes() -> bytes:
    """The library module as sent (encoded on the first request: most pages never ask)."""
    return _LIBRARY_ESM.encode("utf-8")


_library: PlotlyLibrary | None = None


def plotly_library() -> PlotlyLibrary:
    """This kernel's one :class:`PlotlyLibrary` (made again if it was closed)."""
    global _library
    if _library is None or getattr(_library, "comm", None) is None:
        _library = PlotlyLibrary()
    return _library


#: Integer types JavaScript has typed arrays for, and what 64-bit integers travel as.
_WIRE_INT = {np.dtype(np.int64): np.int32, np.dtype(np.uint64): np.uint32}


def _rows_to_js(array: np.ndarray) -> list[dict] | None:
    """A 2-D numeric array as one binary buffer per row (a typed array each in the browser), or None.

    plotly's own serializer sends only 1-D arrays as buffers and turns every 2-D array (an
    image's ``z``, its hover ``customdata``) into nested JSON lists: a 512×512 radiograph
    became ~1 MB of text that ipywidgets walked value by value and the browser parsed again.
    plotly.js reads a heatmap's ``z`` as an array of rows, and a typed array is a row.
    """
    if array.ndim != 2 or array.dtype.kind not in "uif" or array.shape[1] == 0:
        return None
    wire = _WIRE_INT.get(array.dtype)
    if wire is not None:
        info = np.iinfo(wire)
        if array.size and (array.min() < info.min or array.max() > info.max):
            return None
        array = array.astype(wire)
    rows = np.ascontiguousarray(array)
    return [{"buffer": memoryview(row), "dtype": str(rows.dtype), "shape": row.shape} for row in rows]


def figure_to_js(value: Any, manager: Any = None) -> Any:
    """plotly's widget serializer, with 2-D numeric arrays sent as binary rows (see :func:`_rows_to_js`)."""
    if isinstance(value, dict):
        return {k: figure_to_js(v, manager) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if all(type(v) in _PLAIN for v in value):   # a list of numbers or words (labels): as it is
            return list(value)
        return [figure_to_js(v, manager) for v in value]
    if isinstance(value, np.ndarray):
        rows = _rows_to_js(value)
        if rows is not None:
            return rows
    return _py_to_js(value, manager)


#: Values plotly's serializer passes on as they are (a list of only these needs no walk).
_PLAIN = frozenset({str, float, int, bool, type(None)})

_SERIALIZERS = {"to_json": figure_to_js, "from_json": _js_to_py}


def _flat(values: dict, prefix: str = "") -> dict:
    """Nested trace values as plotly's dotted keys ({"textfont": {"color": c}} → {"textfont.color": c}); a
    packed array (:func:`radlab.viz.images.plotly_array`: a dict with ``bdata``) is one value."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict) and "bdata" not in value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _same(a: Any, b: Any) -> bool:
    """Whether a new value equals the one the figure holds (arrays by their elements; NaN counts as new)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and bool(np.array_equal(a, b)))
    try:
        return type(a) is type(b) and bool(a == b)
    except (TypeError, ValueError):
        return False


def _held(props: dict, key: str) -> Any:
    """The value a trace's own dict holds at a dotted key (None where it has none)."""
    for part in key.split("."):
        if not isinstance(props, dict):
            return None
        props = props.get(part)
    return props


class Figure(go.FigureWidget):
    """A plotly ``FigureWidget`` whose page gets plotly.js once, from :func:`plotly_library`,
    whose images travel as binary rows (:func:`figure_to_js`), not as JSON text, and whose
    browser side sends nothing back (:func:`_one_way`).

    Use it as ``go.FigureWidget`` for everything Python sends (the FigureWidget rule in
    CONTRIBUTING applies). Trace callbacks (``on_click``, ``on_hover``, ``on_selection``) never
    fire and a zoom is not reported back: a lab lets its own controls choose a pixel or a case.
    """

    if _FIGURE_ESM is not None:
        _esm = _FIGURE_ESM

    # The same synced traits as plotly's BaseFigureWidget, with the binary-rows serializer.
    _widget_layout = Dict().tag(sync=True, **_SERIALIZERS)
    _widget_data = List().tag(sync=True, **_SERIALIZERS)
    _py2js_addTraces = Dict(allow_none=True).tag(sync=True, **_SERIALIZERS)
    _py2js_restyle = Dict(allow_none=True).tag(sync=True, **_SERIALIZERS)
    _py2js_update = Dict(allow_none=True).tag(sync=True, **_SERIALIZERS)
    _py2js_animate = Dict(allow_none=True).tag(sync=True, **_SERIALIZERS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _FIGURE_ESM is not None:
            plotly_library()
        super().__init__(*args, **kwargs)

    def send_changes(self, traces: list[dict], layout: dict | None = None) -> None:
        """Give trace ``i`` the values ``traces[i]`` (nested or dotted keys) and the layout ``layout``
        (plotly's relayout keys, e.g. ``"annotations[1].text"``), as one update message holding only what
        changed: a trace whose value is unchanged gets none (the page's fast paths then leave it alone).

        For values the lab computed itself (maps, pictures, labels), not for a student's input: the keys
        are checked against the figure's traces and layout as plotly.py checks them, but the values are not
        validated one by one, which for Lab 5's ~750 cell labels (words, colours, places) took ~16 ms of
        plotly.py per key press, five times the maps' own computing.
        """
        if len(traces) > len(self.data):
            raise ValueError(f"send_changes: values for {len(traces)} traces; the figure has {len(self.data)}")
        style: dict[str, list] = {}
        for i, values in enumerate(traces):
            for key, value in _flat(values).items():
                if not _same(value, _held(self._data[i], key)):
                    style.setdefault(key, [Undefined] * len(traces))[i] = value
        relayout = {key: value for key, value in (layout or {}).items() if not _same(value, self.layout[key])}
        if style or relayout:
            self.plotly_update(restyle_data=style, relayout_data=relayout, trace_indexes=list(range(len(traces))))
