"""radlab.viz.images: an image is drawn as a picture (an image trace's ``source``), hover shows its values.

The picture is written by Pillow and decoded here by Pillow, and drawn and hovered by plotly.js in
chromium, so both ends are checked against the libraries that read it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from plotly.colors import sample_colorscale, unlabel_rgb

from radlab.viz.images import (decode_source, display_pixels, grey_levels, image_figure, image_source,
                               image_trace, pixel_axes, value_picture)


def test_the_picture_holds_exactly_the_windowed_grey_levels():
    rng = np.random.default_rng(0)
    for shape in ((1, 1), (7, 5), (128, 128), (151, 333)):     # odd widths: BMP pads every row
        grey = rng.integers(0, 256, shape, dtype=np.uint8)
        assert np.array_equal(decode_source(image_source(grey)), grey), shape


def test_a_colour_scale_maps_each_grey_level_to_plotlys_colour():
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    rgb = decode_source(image_source(grey, "Viridis"))
    expected = np.array([unlabel_rgb(c) for c in sample_colorscale("Viridis", np.linspace(0, 1, 256))])
    assert rgb.shape == (16, 16, 3)
    assert np.abs(rgb.reshape(256, 3).astype(float) - expected).max() <= 0.5


@pytest.mark.parametrize("colorscale, zmid", [("Viridis", None), ("RdBu_r", 0.0), ("gray", None), ("RdBu", 0.5)])
def test_value_picture_colours_values_as_plotlys_heatmap_does_with_gaps_white(colorscale, zmid):
    from figures import assert_heatmap_colours

    rng = np.random.default_rng(1)
    values = rng.normal(0.3, 2.0, size=(9, 13)).astype(np.float32)
    values[4, :] = np.nan                                   # a gap between tiles
    data = value_picture(values, colorscale=colorscale, zmid=zmid)
    assert_heatmap_colours(data["source"], values, colorscale, zmid)
    np.testing.assert_array_equal(data["customdata"], values)
    flat = value_picture(np.ones((3, 4)))                  # one value: a colour, no division by zero
    assert decode_source(flat["source"]).shape == (3, 4, 3)


def test_a_colour_picture_is_8_bits_a_pixel_with_the_scales_colours_and_white_gaps():
    """A third of a 24-bit picture's bytes, the same colours; a gap is white whether or not some grey level
    is free for it (all 256 used: level 255 is drawn as 254, one step of the scale)."""
    import base64

    from radlab.viz.images import palette

    grey = np.arange(256, dtype=np.uint8).reshape(16, 16).repeat(2, axis=0)   # every level, twice
    blank = np.zeros(grey.shape, dtype=bool)
    blank[20, 3] = True                                  # its level (163) is still used in row 21
    for gaps in (None, blank):
        source = image_source(grey, "Viridis", blank=gaps)
        raw = base64.b64decode(source.split(",", 1)[1])
        assert raw[28] == 8, "8 bits a pixel (the BMP header's bit count)"
        assert len(raw) < grey.size + 1100                   # pixels + a 1 kB palette, not 3 bytes a pixel
        rgb = decode_source(source)
        expected = palette("Viridis")[grey if gaps is None else np.minimum(grey, 254)]
        if gaps is not None:
            expected[gaps] = 255
        np.testing.assert_array_equal(rgb, expected)
    free = grey.copy()
    free[free == 200] = 201                              # level 200 unused: the gap takes it, colours exact
    rgb = decode_source(image_source(free, "RdBu_r", blank=blank))
    expected = palette("RdBu_r")[free]
    expected[blank] = 255
    np.testing.assert_array_equal(rgb, expected)


def test_image_trace_draws_the_window_and_keeps_the_values_and_full_image_coordinates():
    image = np.arange(1030 * 700, dtype=np.float32).reshape(1030, 700)   # shown at a third of its size
    trace = image_trace(image, level=300_000, width=200_000, units="HU")
    shown = display_pixels(image)
    assert isinstance(trace, go.Image)
    assert np.array_equal(decode_source(trace.source), grey_levels(shown, 300_000, 200_000))
    assert np.array_equal(np.asarray(trace.customdata), np.round(shown).astype(np.int32))
    x, y = pixel_axes(image.shape, 3)
    assert (trace.x0, trace.dx, trace.y0, trace.dy) == (x[0], 3, y[0], 3)


def test_bad_grey_levels_get_an_error_that_names_the_fix():
    with pytest.raises(ValueError, match=r"grey_levels\(image, level, width\)"):
        image_source(np.zeros((4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="not a base64 image data URI"):
        decode_source("https://example.org/x.png")


def test_plotly_js_draws_the_picture_and_hover_reads_the_original_value_at_full_image_coordinates():
    import plotly

    from browser import chromium_browser

    image = np.arange(90 * 60, dtype=np.float32).reshape(90, 60) * 3 - 1000    # HU-like, shown at 1/1
    bigger = np.kron(image, np.ones((7, 7), dtype=np.float32))                  # 630 × 420: shown at 1/2
    for img, row, col in ((image, 20, 30), (bigger, 41, 61)):
        fig = image_figure(img, level=0, width=2000, units="HU", height=760)   # a shown pixel: >= 2 screen px
        step = 2 if img is bigger else 1
        value = img[row * step:(row + 1) * step, col * step:(col + 1) * step].mean()
        with chromium_browser() as browser:
            page = browser.new_page(viewport={"width": 700, "height": 800})
            page.set_content("<div id='plot'></div>")
            page.add_script_tag(path=str(Path(plotly.__file__).parent / "package_data" / "plotly.min.js"))
            page.evaluate("async (fig) => { await Plotly.newPlot('plot', fig.data, fig.layout); }",
                          json.loads(fig.to_json()))
            href = page.locator("#plot .imagelayer image").first.get_attribute("href")
            assert href == fig.data[0].source
            cx, cy = col * step + (step - 1) / 2, row * step + (step - 1) / 2
            x, y = page.evaluate("""([cx, cy]) => {
              const gd = document.getElementById('plot'), L = gd._fullLayout, box = gd.getBoundingClientRect();
              return [box.left + L.xaxis._offset + L.xaxis.d2p(cx), box.top + L.yaxis._offset + L.yaxis.d2p(cy)];
            }""", [cx, cy])
            page.mouse.move(x, y)
            page.wait_for_selector("#plot .hovertext", timeout=5000)
            text = page.locator("#plot .hovertext").text_content().strip()
            x_label, y_label = int(np.floor(cx + 0.5)), int(np.floor(cy + 0.5))   # d3 rounds halves up
            assert text == f"x {x_label}, y {y_label}: {value:.4g} HU", (img.shape, text)


def _segments(lines) -> set:
    """Undirected segments of polylines [(x, y), ...], rounded to half pixels."""
    out = set()
    for line in lines:
        points = [(round(2 * x) / 2, round(2 * y) / 2) for x, y in line]
        out |= {frozenset((a, b)) for a, b in zip(points, points[1:]) if a != b}
    return out


def _path_lines(path: str) -> list[list[tuple[float, float]]]:
    lines = []
    for part in filter(None, path.split("M")):
        closed = part.endswith("Z")
        points = [tuple(float(v) for v in xy.split(",")) for xy in part.rstrip("Z").split("L")]
        lines.append(points + points[:1] if closed else points)
    return lines


@pytest.mark.parametrize("seed", range(6))
def test_outline_path_is_the_contour_skimage_finds(seed):
    """The outline drawn as a shape is the level-0.5 contour of the mask (skimage's find_contours):
    blobs, holes, diagonal touches (saddles) and masks running off the image's edge."""
    from skimage.measure import find_contours

    from radlab.viz.images import outline_path

    rng = np.random.default_rng(seed)
    mask = rng.random((12, 15)) < (0.2 + 0.1 * seed)
    mask[0, :3] = True                                          # touches the edge: an open line
    expected = _segments([[(c, r) for r, c in line] for line in find_contours(mask.astype(float), 0.5)])
    path = outline_path(mask)
    assert _segments(_path_lines(path)) == expected
    placed = outline_path(mask, x0=10, dx=2, y0=-3, dy=3)        # pixel (r, c) centred at (10 + 2c, -3 + 3r)
    assert _segments(_path_lines(placed)) == {frozenset((10 + 2 * x, -3 + 3 * y) for x, y in s) for s in expected}
    assert outline_path(np.zeros((5, 5))) == ""
