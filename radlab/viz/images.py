"""Medical images as plotly figures: square pixels, a window, a lesion outline and its box.

``image_figure`` shows one image; ``images_grid`` several. Both window the image first
(level ± width/2 → black…white, :func:`radlab.data.dicom.apply_window`) and keep the
original values for the hover text, so a student can point at a pixel and read its HU.
Large images (a 1955 × 1841 radiograph) are block-averaged to at most ``max_size`` pixels
a side to keep the figure light; coordinates stay those of the full image.
"""
from __future__ import annotations

import base64
import functools
import io
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.colors import get_colorscale, sample_colorscale, unlabel_rgb
from plotly.subplots import make_subplots

from radlab.data.dicom import apply_window, auto_window
from radlab.viz.style import plotly_white

MAX_DISPLAY = 512          # longest side shown, in pixels
MASK_COLOR = "#ff3b30"
BOX_COLOR = "#ffd60a"


def display_step(shape: Sequence[int], max_size: int = MAX_DISPLAY) -> int:
    """The integer downsampling factor that brings the longest side to at most ``max_size``."""
    return max(1, int(np.ceil(max(shape[-2:]) / max_size)))


def downsample(image: np.ndarray, step: int, *, reduce: str = "mean") -> np.ndarray:
    """Block-reduce a 2-D image by ``step`` (mean for images, max for masks so small lesions survive)."""
    image = np.asarray(image)
    if step == 1:
        return image
    h, w = (image.shape[0] // step) * step, (image.shape[1] // step) * step
    blocks = image[:h, :w].reshape(h // step, step, w // step, step)
    return blocks.max(axis=(1, 3)) if reduce == "max" else blocks.mean(axis=(1, 3), dtype=np.float64)


def windowed(image: np.ndarray, level: float | None = None, width: float | None = None) -> np.ndarray:
    """Grey levels in [0, 1]: the given window, or a 1–99 % percentile window when none is given."""
    if level is None or width is None:
        level, width = auto_window(image)
    return apply_window(image, level, width)


def grey_levels(image: np.ndarray, level: float | None = None, width: float | None = None) -> np.ndarray:
    """The windowed image as 0…255 grey levels (uint8): what a screen shows, and 4× lighter than floats."""
    return np.round(windowed(image, level, width) * 255).astype(np.uint8)


@functools.lru_cache(maxsize=32)
def _palette(colorscale: str) -> np.ndarray | None:
    """The 256 colours of a plotly colour scale as an RGB lookup table (None for plain grey)."""
    if colorscale.lower() in ("gray", "grey", "greys_r"):
        return None
    colors = sample_colorscale(get_colorscale(colorscale), np.linspace(0.0, 1.0, 256), colortype="rgb")
    return np.array([unlabel_rgb(c) for c in colors], dtype=np.float64).round().clip(0, 255).astype(np.uint8)


def palette(colorscale: str) -> np.ndarray:
    """The 256 RGB colours (256 × 3 uint8) :func:`image_source` gives grey levels 0…255 through ``colorscale``."""
    table = _palette(colorscale)
    return np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1) if table is None else table


def image_source(grey: np.ndarray, colorscale: str = "gray", *, blank: np.ndarray | None = None) -> str:
    """0…255 grey levels (a 2-D uint8 array) as a data URI, through ``colorscale``: an image trace's ``source``.

    The browser decodes the picture natively, so a new window or slice is drawn without plotly.js
    re-colouring every pixel in JavaScript (a heatmap's z: ~40–50 ms a 460² frame on 2 cores; an
    image ``source``: ~10 ms). BMP, not PNG: it is written in under 1 ms where PNG's compression
    takes ~12 ms (460² pixels), for about twice the bytes (~280 kB as base64). A colour scale's
    picture is 8 bits a pixel with the scale's 256 colours as its palette (a third of the bytes of
    24-bit colour, the same colours). Pixels where ``blank`` is true are white.
    """
    grey = np.asarray(grey)
    if grey.ndim != 2 or grey.dtype != np.uint8:
        raise ValueError(f"image_source takes a 2-D uint8 array of grey levels; got {grey.dtype} {grey.shape} "
                         "(pass grey_levels(image, level, width))")
    palette = _palette(colorscale)
    blank = None if blank is None or not np.any(blank) else np.asarray(blank, dtype=bool)
    if palette is None:
        pixels = grey
        if blank is not None:   # e.g. the gaps between a mosaic's tiles: white, as the page
            pixels = pixels.copy()
            pixels[blank] = 255
        picture = Image.fromarray(pixels, "L")
    else:   # 8 bits a pixel through the scale's 256 colours: a third of an RGB picture's bytes, same colours
        indices, table = grey, palette
        if blank is not None:   # white needs an entry: a level no other pixel uses (else 255 joins 254)
            unused = np.flatnonzero(np.bincount(grey[~blank], minlength=256) == 0)
            white = int(unused[-1]) if unused.size else 255
            indices = grey.copy() if unused.size else np.minimum(grey, 254)
            indices[blank] = white
            table = palette.copy()
            table[white] = 255
        picture = Image.fromarray(indices, "P")
        picture.putpalette(table.ravel().tolist())
    buffer = io.BytesIO()
    picture.save(buffer, format="BMP")
    return "data:image/bmp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def rgba_source(rgba: np.ndarray) -> str:
    """An H × W × 4 uint8 RGBA array as a PNG data URI (see-through where alpha < 255; BMP keeps no
    alpha in every browser): an overlay's ``source``. Compression level 1: ~1 ms for 128² pixels."""
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"rgba_source takes an H × W × 4 uint8 array; got {rgba.dtype} {rgba.shape}")
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_source(source: str) -> np.ndarray:
    """The pixels of an :func:`image_source` data URI (uint8: H × W grey or H × W × 3 colour)."""
    header, _, payload = str(source).partition(",")
    if not header.startswith("data:image/") or not header.endswith(";base64"):
        raise ValueError(f"not a base64 image data URI: {str(source)[:40]!r}...")
    picture = Image.open(io.BytesIO(base64.b64decode(payload)))
    if picture.mode == "P":   # 8 bits a pixel through a palette: grey levels, or a colour scale's colours
        rgb = np.asarray(picture.convert("RGB"))
        grey = (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
        return rgb[..., 0].copy() if grey else rgb
    return np.asarray(picture.convert("L" if picture.mode == "L" else "RGB"))


def compact_values(values: np.ndarray) -> np.ndarray:
    """Pixel values for the hover text, as integers (int16/int32) when that loses nothing visible.

    Integral values, or values spanning over 1000 units (one unit < 0.1 % of the range), are
    rounded; small-range floats (detector units in [0, 1]) stay float32.
    """
    values = np.asarray(values, dtype=np.float32)
    if np.ptp(values) > 1000 or np.all(np.abs(values - np.round(values)) < 1e-3):
        for dtype in (np.int16, np.int32):
            info = np.iinfo(dtype)
            if values.min() >= info.min and values.max() <= info.max:
                return np.round(values).astype(dtype)
    return values


def pixel_axes(shape: Sequence[int], step: int) -> tuple[np.ndarray, np.ndarray]:
    """Column and row coordinates (in full-image pixels) of the centres of the shown pixels."""
    h, w = shape[-2] // step, shape[-1] // step
    return np.arange(w) * step + (step - 1) / 2, np.arange(h) * step + (step - 1) / 2


def display_pixels(image: np.ndarray, max_size: int = MAX_DISPLAY) -> np.ndarray:
    """The image as a figure shows it: block-averaged to at most ``max_size`` a side (float32).

    A widget that re-windows the same image keeps this and passes it as ``image_trace(...,
    shown=...)``: a 1955 × 1841 radiograph takes ~16 ms to block-average, every time.
    """
    image = np.asarray(image, dtype=np.float32)
    return downsample(image, display_step(image.shape, max_size)).astype(np.float32)


def image_trace(image: np.ndarray, *, level: float | None = None, width: float | None = None,
                colorscale: str = "gray", units: str = "", max_size: int = MAX_DISPLAY,
                name: str = "image", shown: np.ndarray | None = None) -> go.Image:
    """One windowed image as a picture (``source``: :func:`image_source` of its grey levels); hover
    shows the original value (HU for CT), from ``customdata``. Pixel centres sit at full-image
    coordinates (``x0 + i·dx``), so boxes and outlines drawn in full-image pixels line up.

    ``shown``: ``display_pixels(image, max_size)`` when the caller already has it (not recomputed).
    """
    image = np.asarray(image)
    step = display_step(image.shape, max_size)
    small = display_pixels(image, max_size) if shown is None else shown
    expected = tuple(n // step for n in image.shape[-2:])
    if np.shape(small) != expected:
        raise ValueError(f"image_trace: shown has shape {np.shape(small)}, but display_pixels of a "
                         f"{image.shape} image at max_size {max_size} has {expected}; pass "
                         "display_pixels(image, max_size) or nothing")
    x, y = pixel_axes(image.shape, step)
    unit = f" {units}" if units else ""
    return go.Image(source=image_source(grey_levels(small, level, width), colorscale),
                    x0=float(x[0]), dx=float(step), y0=float(y[0]), dy=float(step),
                    customdata=compact_values(small), name=name,
                    hovertemplate=f"x %{{x:.0f}}, y %{{y:.0f}}: %{{customdata:.4g}}{unit}<extra></extra>")


#: What differs between two pictures of one figure panel: the picture, its hover values, its placement.
PICTURE_KEYS = ("source", "customdata", "x0", "dx", "y0", "dy")


def picture_values(trace: go.Image) -> dict:
    """An image trace's :data:`PICTURE_KEYS`: what a widget sends to show another picture in its panel."""
    return {k: trace[k] for k in PICTURE_KEYS}


def value_range(values: np.ndarray, zmid: float | None = None) -> tuple[float, float]:
    """The range plotly's heatmap colours ``values`` over by default: their min…max (NaN left out),
    or, with ``zmid``, the smallest range centred on it that holds them all."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if zmid is not None:
        half = max(abs(lo - zmid), abs(hi - zmid))
        lo, hi = zmid - half, zmid + half
    return (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)


def value_picture(values: np.ndarray, *, colorscale: str = "Viridis", zmid: float | None = None,
                  customdata: np.ndarray | None = None) -> dict:
    """``source`` and ``customdata`` of an image trace that colours a 2-D array as plotly's heatmap
    of it does (``colorscale`` over :func:`value_range`; NaN cells white, the page behind a heatmap).
    ``"gray"`` is linear grey levels, as a window shows an image (plotly's heatmap "gray" is
    cmocean's, slightly curved).

    For maps and kernels whose size stays while a control changes them: a live figure swaps the
    picture in place (:data:`radlab.widgets.figure.IMAGE_SWAP_JS`) where a heatmap's new z
    recomputes and redraws the whole figure. ``customdata`` (default: the values, float32) is
    what the hover text reads.
    """
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"value_picture takes a 2-D array; got shape {values.shape}")
    lo, hi = value_range(values, zmid)
    blank = ~np.isfinite(values)
    grey = grey_levels(np.where(blank, lo, values), (lo + hi) / 2, hi - lo)
    return dict(source=image_source(grey, colorscale, blank=blank),
                customdata=values if customdata is None else customdata)


def plotly_array(a: np.ndarray) -> dict:
    """A 2-D array in plotly.js's binary form: ``{"dtype", "bdata" (base64), "shape"}``.

    A ``FigureWidget`` otherwise sends 2-D arrays as nested lists: slow to serialise
    (about 150 ms for a few 64×64 mosaics) and NaN (a gap) is not valid JSON.
    """
    a = np.ascontiguousarray(a, dtype=np.int32 if np.issubdtype(np.asarray(a).dtype, np.integer) else np.float32)
    dtype = "i4" if a.dtype == np.int32 else "f4"
    return {"dtype": dtype, "bdata": base64.b64encode(a.tobytes()).decode("ascii"),
            "shape": ", ".join(str(n) for n in a.shape)}


def from_plotly_array(v: dict | np.ndarray | list) -> np.ndarray:
    """Back from :func:`plotly_array` (or an ordinary array) to a NumPy array."""
    if isinstance(v, dict) and "bdata" in v:
        shape = tuple(int(n) for n in str(v["shape"]).split(","))
        dtype = {"i4": np.int32, "f4": np.float32}[v["dtype"]]
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=dtype).reshape(shape)
    return np.asarray(v)


def box_placement(shape: tuple[int, ...], extent: float | None = None) -> dict:
    """``x0``, ``dx``, ``y0``, ``dy`` of an image trace whose picture of ``shape`` (rows, cols) spans
    ``extent`` axis units along its longer side, from -0.5 (as a heatmap ``extent`` pixels wide would);
    without ``extent``, one unit per pixel (pixel (col, row) at x = col, y = row).

    A panel whose picture changes pixel size (a deeper layer's maps, another dataset's images) then keeps
    its box, and a live figure swaps the picture in place (:data:`radlab.widgets.figure.IMAGE_SWAP_JS`)
    instead of redrawing the whole figure. Its axis coordinates are then no pixel indices: hover the
    pixel's (row, col) from :func:`indexed_values` instead of ``%{x}``/``%{y}``.
    """
    step = 1.0 if extent is None else float(extent) / max(shape[-2:])
    start = (step - 1.0) / 2     # the first pixel's left (top) edge at -0.5
    return dict(x0=start, dx=step, y0=start, dy=step)


def indexed_values(values: np.ndarray) -> np.ndarray:
    """(row, col, value) per pixel (float32): hover values that name the pixel whatever its placement."""
    values = np.asarray(values, dtype=np.float32)
    rows, cols = np.indices(values.shape, dtype=np.float32)
    return np.stack([rows, cols, values], axis=-1)


def map_picture(z: np.ndarray, *, colorscale: str, zmid: float | None = None,
                tile: np.ndarray | None = None, extent: float | None = None) -> dict:
    """A map, image or mosaic as an image trace's picture (:func:`value_picture`:
    coloured as its heatmap, gaps white) at heatmap coordinates (pixel (col, row) at x = col, y = row).

    The hover values (``customdata``, packed as :func:`plotly_array`) are each pixel's
    value, or (tile, value) for a mosaic's ``tile`` index.

    With ``extent``, the picture spans ``extent`` axis units along its longer side, whatever its pixel
    count (:func:`box_placement`): a deeper layer's smaller maps (Lab 6) and Lab 5's panels keep their box
    and are swapped in place. A map without ``tile`` then hovers (row, col, value) (:func:`indexed_values`).
    """
    z = np.asarray(z, dtype=np.float32)
    if tile is not None:
        hover = np.stack([np.asarray(tile, dtype=np.float32), z], axis=-1)
    else:
        hover = z if extent is None else indexed_values(z)
    picture = value_picture(z, colorscale=colorscale, zmid=zmid, customdata=hover)
    return dict(picture, customdata=plotly_array(picture["customdata"]), **box_placement(z.shape, extent))


def label_colours(values: np.ndarray, colorscale: str, zmid: float | None = None) -> np.ndarray:
    """The colour a number written in each cell of :func:`value_picture` takes, as plotly's heatmap picks
    its cell texts' colour (``Color.contrast``): white on a dark cell (brightness (299 R + 587 G + 114 B)
    / 1000 below 128), plotly's dark grey ``#444`` on a light one. NaN cells count as white (blank)."""
    values = np.asarray(values, dtype=np.float32)
    lo, hi = value_range(values, zmid)
    finite = np.isfinite(values)
    rgb = palette(colorscale)[grey_levels(np.where(finite, values, lo), (lo + hi) / 2, hi - lo)].astype(np.float64)
    rgb[~finite] = 255.0
    brightness = rgb @ np.array([299.0, 587.0, 114.0]) / 1000.0
    return np.where(brightness < 128.0, "#fff", "#444")


#: What a blank cell of :func:`cell_labels` writes: a space (plotly.js drops an empty text's element,
#: and a live figure rewrites the words of a trace whose number of drawn labels stays the same).
BLANK_LABEL = " "


def cell_labels(values: np.ndarray, texts: np.ndarray | None, *, colorscale: str, zmid: float | None = None,
                extent: float, capacity: int) -> dict:
    """``x``, ``y``, ``text`` and ``textfont.color`` of a text scatter trace that writes ``texts`` (one string
    per cell of ``values``; None: no numbers, e.g. a map too large to read them) in the cells of a picture
    placed with :func:`box_placement` (``extent``), coloured as a heatmap's cell texts
    (:func:`label_colours`).

    Always ``capacity`` labels (at least the cell count when ``texts`` is given): the cells first, then
    blanks (:data:`BLANK_LABEL`) at the box's centre. So a map of another size, or one without numbers,
    keeps the trace's length, and a live figure rewrites the labels in place
    (:data:`radlab.widgets.figure.IMAGE_SWAP_JS`) instead of redrawing the whole figure.
    """
    values = np.asarray(values, dtype=np.float32)
    centre = (float(extent) - 1.0) / 2
    x = np.full(capacity, centre)
    y = np.full(capacity, centre)
    text = np.full(capacity, BLANK_LABEL, dtype=object)
    colour = np.full(capacity, "#444", dtype=object)
    if texts is not None:
        texts = np.asarray(texts, dtype=object)
        if texts.shape != values.shape or values.size > capacity:
            raise ValueError(f"cell_labels: {texts.shape} texts for values of shape {values.shape}, "
                             f"room for {capacity} labels")
        box = box_placement(values.shape, extent)
        rows, cols = np.indices(values.shape)
        n = values.size
        x[:n] = box["x0"] + cols.ravel() * box["dx"]
        y[:n] = box["y0"] + rows.ravel() * box["dy"]
        text[:n] = [t if t else BLANK_LABEL for t in texts.ravel()]
        colour[:n] = label_colours(values, colorscale, zmid).ravel()
    return dict(x=x.tolist(), y=y.tolist(), text=text.tolist(), textfont=dict(color=colour.tolist()))


def colour_bar_trace(colorscale, zmin: float, zmax: float, *, name: str = "colour bar", **colorbar) -> go.Heatmap:
    """A colour bar for a picture (which has none): a heatmap with nothing to draw, never updated, so it
    costs a live figure nothing when the picture changes. ``colorbar``: plotly's colour-bar settings."""
    return go.Heatmap(z=[[None]], zmin=zmin, zmax=zmax, colorscale=colorscale, showscale=True, hoverinfo="skip",
                      colorbar=colorbar, name=name)


def mask_trace(mask: np.ndarray, *, max_size: int = MAX_DISPLAY, color: str = MASK_COLOR) -> go.Contour:
    """The outline of a lesion mask (drawn at the 0.5 level); an empty mask draws nothing."""
    step = display_step(np.shape(mask), max_size)
    x, y = pixel_axes(np.shape(mask), step)
    return go.Contour(z=downsample(np.asarray(mask, dtype=np.uint8), step, reduce="max"), x=x, y=y,
                      contours=dict(start=0.5, end=0.5, size=1, coloring="lines"),
                      line=dict(color=color, width=2), colorscale=[[0, color], [1, color]],
                      showscale=False, hoverinfo="skip", name="lesion mask")


#: Marching squares on a 2×2 block of pixel centres (top-left, top-right, bottom-right, bottom-left:
#: bits 8, 4, 2, 1 when inside the mask): the outline's segments between the block's edge midpoints
#: (T top, R right, B bottom, L left). A saddle (5, 10: two diagonal pixels inside) keeps them apart, as
#: ``skimage.measure.find_contours`` does by default (``fully_connected="low"``).
_SQUARE_SEGMENTS = {1: ("LB",), 2: ("BR",), 3: ("LR",), 4: ("TR",), 5: ("TR", "LB"), 6: ("TB",), 7: ("LT",),
                    8: ("LT",), 9: ("TB",), 10: ("LT", "BR"), 11: ("TR",), 12: ("LR",), 13: ("BR",), 14: ("LB",)}
#: Each edge midpoint of the block whose top-left pixel is (row, col), in half pixels (2·row, 2·col).
_MIDPOINTS = {"T": (0, 1), "R": (1, 2), "B": (2, 1), "L": (1, 0)}


def outline_path(mask: np.ndarray, *, x0: float = 0.0, dx: float = 1.0, y0: float = 0.0, dy: float = 1.0) -> str:
    """A mask's outline as an SVG path in data coordinates (pixel (row, col) centred at
    (x0 + col·dx, y0 + row·dy)): the contour at level 0.5 that plotly's contour trace of the mask
    draws (marching squares; the same line as ``skimage.measure.find_contours(mask, 0.5)``), as
    straight segments. "" for an empty mask.

    For a ``layout.shapes`` path (:func:`outline_shape`): a new outline redraws that shape alone,
    where a contour trace's new z recomputes and redraws the whole figure.
    """
    inside = np.asarray(mask, dtype=np.float64) > 0.5
    if inside.ndim != 2:
        raise ValueError(f"outline_path takes a 2-D mask; got shape {inside.shape}")
    if not inside.any() or min(inside.shape) < 2:
        return ""
    case = (inside[:-1, :-1] * 8 + inside[:-1, 1:] * 4 + inside[1:, 1:] * 2 + inside[1:, :-1]).astype(np.int8)
    neighbours: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for row, col in zip(*np.nonzero((case > 0) & (case < 15))):
        for segment in _SQUARE_SEGMENTS[int(case[row, col])]:
            a, b = ((2 * row + _MIDPOINTS[e][0], 2 * col + _MIDPOINTS[e][1]) for e in segment)
            neighbours.setdefault(a, []).append(b)
            neighbours.setdefault(b, []).append(a)
    # chain the segments into lines: open ones (ending at the image's edge) from an end, then closed loops
    starts = sorted(neighbours, key=lambda point: (len(neighbours[point]) != 1, point))
    seen: set[frozenset] = set()
    parts = []
    for start in starts:
        for first in neighbours[start]:
            if frozenset((start, first)) in seen:
                continue
            line, previous, point = [start], start, first
            seen.add(frozenset((start, first)))
            while True:
                line.append(point)
                following = [n for n in neighbours[point] if n != previous and frozenset((point, n)) not in seen]
                if not following:
                    break
                seen.add(frozenset((point, following[0])))
                previous, point = point, following[0]
            closed = len(line) > 2 and line[-1] == line[0]
            coords = [f"{x0 + c / 2 * dx:.6g},{y0 + r / 2 * dy:.6g}" for r, c in (line[:-1] if closed else line)]
            parts.append("M" + "L".join(coords) + ("Z" if closed else ""))
    return "".join(parts)


#: The path of an outline with nothing to draw (an empty mask): a point, which draws nothing.
NO_OUTLINE = "M0,0"


def outline_shape(mask: np.ndarray | None, *, xref: str = "x", yref: str = "y", color: str = MASK_COLOR,
                  x0: float = 0.0, dx: float = 1.0, y0: float = 0.0, dy: float = 1.0) -> dict:
    """A mask's outline (:func:`outline_path`) as a ``layout.shapes`` entry, 2 px wide (as a contour
    trace's line); :data:`NO_OUTLINE` when the mask is empty or None. The shape stays visible, so a
    widget only ever sends a new ``path``, which the page draws without plotly.js
    (:data:`radlab.widgets.figure.IMAGE_SWAP_JS`) when the axes' ranges are fixed."""
    path = "" if mask is None else outline_path(mask, x0=x0, dx=dx, y0=y0, dy=dy)
    return dict(type="path", xref=xref, yref=yref, path=path or NO_OUTLINE, line=dict(color=color, width=2),
                layer="above")


def mask_outline(mask: np.ndarray | None, *, max_size: int = MAX_DISPLAY, color: str = MASK_COLOR,
                 xref: str = "x", yref: str = "y", name: str | None = None) -> dict:
    """A lesion mask's outline as a path shape (:func:`outline_shape`) where :func:`mask_trace` draws it:
    on the mask block-reduced (max) to at most ``max_size`` a side, at full-image coordinates.

    For live figures: a new mask is a new ``path`` alone, which the page draws without plotly.js
    (a contour trace's new z recomputes and redraws the whole figure)."""
    if mask is None:
        return dict(outline_shape(None, xref=xref, yref=yref, color=color), name=name)
    step = display_step(np.shape(mask), max_size)
    shown = downsample(np.asarray(mask, dtype=np.uint8), step, reduce="max")
    offset = (step - 1) / 2
    return dict(outline_shape(shown, xref=xref, yref=yref, color=color, x0=offset, dx=step, y0=offset, dy=step),
                name=name)


def box_shape(box: Sequence[float] | None, *, color: str = BOX_COLOR) -> dict:
    """A rectangle around pixel-edge box (x0, y0, x1, y1); invisible for None or NaN boxes."""
    ok = box is not None and np.all(np.isfinite(np.asarray(box, dtype=float)))
    x0, y0, x1, y1 = (float(b) - 0.5 for b in box) if ok else (0.0, 0.0, 0.0, 0.0)
    return dict(type="rect", xref="x", yref="y", x0=x0, y0=y0, x1=x1, y1=y1, visible=bool(ok),
                line=dict(color=color, width=2, dash="dot"))


def square_axes(fig: go.Figure, shape: Sequence[int]) -> None:
    h, w = shape[-2:]
    fig.update_xaxes(visible=False, range=[-0.5, w - 0.5], constrain="domain")
    fig.update_yaxes(visible=False, range=[h - 0.5, -0.5], scaleanchor="x", scaleratio=1, constrain="domain")


def image_figure(image: np.ndarray, *, level: float | None = None, width: float | None = None,
                 title: str | None = None, mask: np.ndarray | None = None,
                 box: Sequence[float] | None = None, colorscale: str = "gray", units: str = "",
                 max_size: int = MAX_DISPLAY, height: int = 420) -> go.Figure:
    """One image, windowed (level/width in the image's units; none = 1–99 % percentiles).

    Trace 0 is the image; trace 1 (when ``mask`` is given, even empty) the mask outline;
    ``box`` adds a dotted rectangle as the figure's first shape. Widgets update these in place.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"image_figure shows one 2-D image; got shape {image.shape} (pick a frame)")
    data = [image_trace(image, level=level, width=width, colorscale=colorscale, units=units, max_size=max_size)]
    if mask is not None:
        data.append(mask_trace(mask, max_size=max_size))
    fig = go.Figure(data=data)
    if box is not None:
        fig.add_shape(**box_shape(box))
    square_axes(fig, image.shape)
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      plot_bgcolor="black", showlegend=False)
    return fig


def images_grid(images: Sequence[np.ndarray] | np.ndarray, *, titles: Sequence[str] | None = None,
                ncols: int = 4, level: float | None = None, width: float | None = None,
                masks: Sequence[np.ndarray] | np.ndarray | None = None,
                boxes: Sequence[Sequence[float]] | np.ndarray | None = None,
                windows: Sequence[tuple[float, float]] | None = None, colorscale: str = "gray",
                units: str = "", max_size: int = 256, tile_px: int = 200) -> go.Figure:
    """Several images in a grid with optional lesion outlines and boxes.

    Each image is windowed by ``level``/``width``, or by its own entry of ``windows``
    (one (level, width) per image, e.g. the same slice in three presets), or by its own percentiles.
    """
    images = [np.asarray(im, dtype=np.float32) for im in images]
    if not images:
        raise ValueError("images_grid needs at least one image")
    ncols = max(1, min(int(ncols), len(images)))
    nrows = int(np.ceil(len(images) / ncols))
    fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=list(titles) if titles else None,
                        horizontal_spacing=0.01, vertical_spacing=0.06 if titles else 0.01)
    for i, image in enumerate(images):
        row, col = divmod(i, ncols)
        lev, wid = windows[i] if windows is not None else (level, width)
        fig.add_trace(image_trace(image, level=lev, width=wid, colorscale=colorscale, units=units,
                                  max_size=max_size), row=row + 1, col=col + 1)
        if masks is not None:
            fig.add_trace(mask_trace(masks[i], max_size=max_size), row=row + 1, col=col + 1)
        axis = "" if i == 0 else str(i + 1)
        h, w = image.shape
        fig.update_layout({f"xaxis{axis}": dict(visible=False, range=[-0.5, w - 0.5], constrain="domain"),
                           f"yaxis{axis}": dict(visible=False, range=[h - 0.5, -0.5], scaleanchor=f"x{axis}",
                                                scaleratio=1, constrain="domain")})
        if boxes is not None:
            fig.add_shape(**{**box_shape(boxes[i]), "xref": f"x{axis}", "yref": f"y{axis}"})
    fig.update_annotations(font_size=11)
    fig.update_layout(height=tile_px * nrows + 40, width=tile_px * ncols + 20, showlegend=False,
                      margin=dict(l=10, r=10, t=40 if titles else 10, b=10), plot_bgcolor="black")
    return fig


#: Axis units every picture of :func:`augmentation_preview_figure` spans, whatever its pixel count.
PREVIEW_EXTENT = 64


def preview_picture(image: np.ndarray) -> dict:
    """One image in [0, 1] as a picture of :func:`augmentation_preview_figure`: linear grey (0 black,
    1 white), spanning :data:`PREVIEW_EXTENT` axis units (:func:`box_placement`), hovering (row, col, value).
    A widget updates a panel with these keys, so another dataset's image size is swapped in place."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"preview_picture takes a 2-D image; got shape {image.shape}")
    return dict(source=image_source(grey_levels(image, 0.5, 1.0)), customdata=plotly_array(indexed_values(image)),
                **box_placement(image.shape, PREVIEW_EXTENT))


def augmentation_preview_figure(original: np.ndarray, augmented: Sequence[np.ndarray]) -> go.Figure:
    """One training image and random augmentations of it, side by side (what the model sees; Lab 3).

    Images are in [0, 1], drawn as pictures (:func:`preview_picture`); traces are named ``original``,
    ``augmented 1``, ... so a widget can give them new pictures in place.
    """
    images = [original, *augmented]
    titles = ["original"] + [f"augmented {i}" for i in range(1, len(images))]
    fig = make_subplots(rows=1, cols=len(images), horizontal_spacing=0.01, subplot_titles=titles)
    for i, (img, title) in enumerate(zip(images, titles), start=1):
        fig.add_trace(go.Image(**preview_picture(img), name=title,
                               hovertemplate="x %{customdata[1]}, y %{customdata[0]}: %{customdata[2]:.2f}<extra></extra>"),
                      row=1, col=i)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, autorange="reversed", scaleanchor="x")
    plotly_white(fig)
    fig.update_layout(height=200, margin=dict(l=10, r=10, t=30, b=10))
    return fig
