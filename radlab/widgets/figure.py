"""The labs' live plotly figure: plotly's ``FigureWidget``, with plotly.js sent once per page.

Plotly's ``FigureWidget`` is an anywidget whose JavaScript module (``_esm``, ~4.9 MB) bundles
plotly.js itself; every figure's widget state carries that module, so a page with five figures
shipped plotly.js five times (measured in ``benchmarks/first_render.py``). :class:`Figure` is
the same Python class (every ``fig.data[i]`` update, ``batch_update`` and callback works as
before, and the same front-end code draws it) with a different ``_esm``: the widget code with
its plotly.js removed, waiting for one :class:`PlotlyLibrary` widget per kernel that carries
plotly.js once and hands it to every figure of the page (``globalThis.__radlabPlotly``).

Both modules are cut out of the installed plotly's own ``widgetbundle.js`` at import, so the
JavaScript is always the version the Python side expects. If a plotly release changes the
bundle's layout so that the cut cannot be made exactly, :class:`Figure` falls back to the
whole bundle (every figure carries plotly.js again, as plain ``FigureWidget`` does) and warns
once; ``tests/test_figure_widget.py`` fails in that case so the project notices.
"""
from __future__ import annotations

import functools
import re
import warnings
from pathlib import Path
from typing import Any

import anywidget
import plotly
import plotly.graph_objects as go

#: The plotly.js factory inside plotly's widget bundle (esbuild output): a CommonJS wrapper
#: ``var A=B((C,D)=>{(function(E,F){typeof D=="object"&&D.exports?D.exports=F():E.moduleName=F()})``
#: that ends ``return window.Plotly=G,G})});``.
_FACTORY_START = re.compile(
    r'var (?P<name>[\w$]+)=[\w$]+\(\((?P<e>[\w$]+),(?P<m>[\w$]+)\)=>\{\(function\((?P<root>[\w$]+),(?P<f>[\w$]+)\)'
    r'\{typeof (?P=m)=="object"&&(?P=m)\.exports\?(?P=m)\.exports=(?P=f)\(\):(?P=root)\.moduleName=(?P=f)\(\)\}\)')
_FACTORY_END = re.compile(r'return window\.Plotly=(?P<v>[\w$]+),(?P=v)\}\)\}\);')

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
    figure = (_SHARED_JS + "const __radlabPlotlyLib = await __radlabShared.promise;\n"
              + helpers + f"var {name}=()=>__radlabPlotlyLib;" + bundle[end:])
    return library, figure


def _modules() -> tuple[str | None, str | None]:
    try:
        return split_bundle()
    except (OSError, BundleLayoutError) as err:  # pragma: no cover - only with an unexpected plotly
        warnings.warn(f"radlab.widgets.figure: {err}; every figure will carry plotly.js "
                      f"(as plotly's FigureWidget does). Pin plotly to the range in pyproject.toml.",
                      RuntimeWarning, stacklevel=2)
        return None, None


_LIBRARY_ESM, _FIGURE_ESM = _modules()


class PlotlyLibrary(anywidget.AnyWidget):
    """A widget that is never displayed: it carries plotly.js to the page once per kernel."""

    _esm = _LIBRARY_ESM or "export default {};"


_library: PlotlyLibrary | None = None


def plotly_library() -> PlotlyLibrary:
    """This kernel's one :class:`PlotlyLibrary` (made again if it was closed)."""
    global _library
    if _library is None or getattr(_library, "comm", None) is None:
        _library = PlotlyLibrary()
    return _library


class Figure(go.FigureWidget):
    """A plotly ``FigureWidget`` whose page gets plotly.js once, from :func:`plotly_library`.

    Use it exactly as ``go.FigureWidget`` (the FigureWidget rule in CONTRIBUTING applies).
    """

    if _FIGURE_ESM is not None:
        _esm = _FIGURE_ESM

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _FIGURE_ESM is not None:
            plotly_library()
        super().__init__(*args, **kwargs)
