"""Lab 1 — Data collection: real DICOM (HU, windows, de-identification), phantoms, dataset cards.

One widget with four tabs:

* **DICOM viewer** — pydicom's sample files (CT, MR, chest and tibia radiographs, a
  multi-frame CT) and a CT phantom. Level/width sliders and the radiologists' presets
  window the image; hovering shows the original value (HU for CT).
* **De-identification** — what the de-identification removed or replaced in the shown
  file's header, tag by tag (DICOM PS3.15 Annex E, basic profile subset).
* **Phantoms** — synthetic patients with exact ground truth: lesion outline and box.
* **Dataset cards** — what each dataset is, where it comes from, its license and citation.

Controls are attributes (``source``, ``preset``, ``level_slider``, ``width_slider``,
``frame_slider``, ``phantom_kind``, ``phantom_index``, ``show_truth``, ``card``) so tests
can set them from Python. Widget values are only ever keys of fixed tables, never paths.
"""
from __future__ import annotations

import contextlib
import html
from collections import OrderedDict
from dataclasses import dataclass, field

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
from IPython.display import Markdown, display

from radlab.course.lab01_data_collection import exercises as lab_exercises
from radlab.data.deid import PROFILE_EDITION, load_profile, mask, profile_rows
from radlab.data.dicom import WINDOW_PRESETS, DicomImage, auto_window, read_dicom, sample_files
from radlab.data.phantoms import LESION_TYPES, PhantomSet, make_phantoms
from radlab.errors import DataError
from radlab.viz.images import display_pixels, grey_levels, image_figure, image_source, image_trace
from radlab.widgets.figure import Figure

#: viewer label -> pydicom sample file name (shown when installed; never a user-typed path)
DICOM_SAMPLES: dict[str, str] = {
    "CT slice — CT_small.dcm": "CT_small.dcm",
    "Chest radiograph (CR, MONOCHROME1) — RG1_UNCI.dcm": "RG1_UNCI.dcm",
    "Tibia radiograph (CR) — RG3_UNCI.dcm": "RG3_UNCI.dcm",
    "MR slice — MR_small.dcm": "MR_small.dcm",
    "Shoulder MR — MR2_UNCI.dcm": "MR2_UNCI.dcm",
    "Enhanced multi-frame CT — eCT_Supplemental.dcm": "eCT_Supplemental.dcm",
}
PHANTOM_SOURCE = "CT phantom with a nodule (synthetic, HU)"
#: Display-size frames the viewer keeps (each at most MAX_DISPLAY² float32, ~1 MB).
SHOWN_FRAMES = 16
PHANTOM_KINDS = {"chest radiograph": "chest", "CT slice": "ct"}
AUTO, FILE, CUSTOM = "auto (1–99 % of pixels)", "file's own window", "custom"
PRESET_LABELS = {"lung": "lung (−600 / 1500)", "mediastinum": "mediastinum (50 / 350)",
                 "bone": "bone (400 / 1800)", "brain": "brain (40 / 80)",
                 "soft_tissue": "soft tissue (40 / 400)"}


@dataclass
class ViewerImage:
    """What the viewer shows for one source: pixels, units, header notes and the de-id report."""

    pixels: np.ndarray                     # (H, W) or (frames, H, W), float32
    units: str                             # "HU" or "raw"
    title: str
    notes: list[str] = field(default_factory=list)
    file_window: tuple[float, float] | None = None
    deid_rows: list[dict[str, str]] = field(default_factory=list)
    deid_summary: str = ""
    auto_window: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        self.auto_window = auto_window(self.pixels)  # once: percentiles of a big radiograph take a moment

    @classmethod
    def from_dicom(cls, image: DicomImage, title: str) -> ViewerImage:
        report = image.deid_report
        rows = report.rows(include_kept=True)
        summary = (f"{len(report)} header elements changed: {report.count('X')} removed (X), "
                   f"{report.count('Z')} emptied (Z), {report.count('D')} replaced by a "
                   f"dummy (D), {report.count('U')} UIDs replaced (U), {report.count('C')} cleaned (C); "
                   f"{report.count('K')} kept (K: not in the profile's table). PS3.15 Table E.1-1, edition "
                   f"{report.edition}. PatientIdentityRemoved = {image.dataset.get('PatientIdentityRemoved', '?')}."
                   + "".join(f" WARNING: {w}." for w in report.warnings))
        info = [f"modality {image.modality or '?'}, {image.photometric}, shape {image.pixels.shape}, units {image.units}"]
        if image.pixel_spacing:
            info.append(f"pixel spacing {image.pixel_spacing[0]:.3g} × {image.pixel_spacing[1]:.3g} mm")
        return cls(image.pixels, image.units, title, info + image.notes, image.file_window, rows, summary)


def deid_table_html(rows: list[dict[str, str]], summary: str, *, max_private: int = 5, masked: bool = True) -> str:
    """What happened to each attribute of a file, as an HTML table (action, before → after).

    Private tags are summarised after a few examples. With ``masked`` the old value of every
    attribute the profile changed is shown masked (``S••••^J•••``): identifying values never
    reach the screen, even in a lesson; kept attributes (K) are shown as they are.
    """
    public = [r for r in rows if not r["keyword"].endswith("private tag")]
    private = [r for r in rows if r["keyword"].endswith("private tag")]
    shown = public + private[:max_private]

    def before(r: dict[str, str]) -> str:
        return mask(r["old"]) if masked and r["action"] != "K" else r["old"]

    body = "".join(
        f"<tr><td><code>{html.escape(r['tag'])}</code></td><td>{html.escape(r['keyword'])}</td>"
        f"<td style='text-align:center'><b>{html.escape(r['action'])}</b></td>"
        f"<td style='text-align:center'>{html.escape(r.get('rule', ''))}</td>"
        f"<td>{html.escape(before(r))}</td><td>{html.escape(r['new'])}</td></tr>" for r in shown)
    more = (f"<tr><td colspan=6><i>… and {len(private) - max_private} more private tags removed</i></td></tr>"
            if len(private) > max_private else "")
    return (f"<p>{html.escape(summary)}</p>"
            "<p>Actions: <b>D</b> dummy value, <b>Z</b> emptied, <b>X</b> removed, <b>U</b> new UID "
            "(the same old UID always maps to the same new one, so a series stays together), <b>C</b> cleaned, "
            "<b>K</b> kept. <i>rule</i>: the table's action when it offers a choice (X/Z/D: RadLab removes). "
            "Old values of changed attributes are masked.</p>"
            "<div style='max-height:360px;overflow:auto'><table style='border-collapse:collapse;font-size:90%'>"
            "<tr><th>tag</th><th>attribute</th><th>action</th><th>rule</th><th>before</th><th>after</th></tr>"
            f"{body}{more}</table></div>")


#: Profile-table filter choices: label -> the table actions shown.
PROFILE_FILTERS: dict[str, tuple[str, ...]] = {
    "all actions": (), "D (dummy)": ("D",), "Z (empty)": ("Z",), "X (remove)": ("X",), "U (new UID)": ("U",),
    "combinations (X/Z, X/D, Z/D, X/Z/D, X/Z/U*)": ("X/Z", "X/D", "Z/D", "X/Z/D", "X/Z/U*"),
}


def profile_table_html(rows: list[dict[str, str]], actions: tuple[str, ...] = ()) -> str:
    """DICOM PS3.15 Table E.1-1 (the rows of :func:`radlab.data.deid.profile_rows`) as an HTML table."""
    shown = [r for r in rows if not actions or r["action"] in actions]
    body = "".join(
        f"<tr><td><code>{html.escape(r['tag'])}</code></td><td>{html.escape(r['name'])}</td>"
        f"<td style='text-align:center'><b>{html.escape(r['action'])}</b></td>"
        f"<td>{html.escape(r['options'])}</td></tr>" for r in shown)
    return (f"<p>{len(shown)} of the table's {len(rows)} rows. <i>options</i>: what each profile option "
            "(K keep, C clean) does instead.</p>"
            "<div style='max-height:300px;overflow:auto'><table style='border-collapse:collapse;font-size:85%'>"
            f"<tr><th>tag</th><th>attribute</th><th>basic profile</th><th>options</th></tr>{body}</table></div>")


def card_markdown(card) -> str:
    """A dataset card as Markdown: the facts first, then the card's own text."""
    classes = ", ".join(f"{k} = {v}" for k, v in card.classes.items()) or "—"
    splits = ", ".join(f"{k} {v}" for k, v in card.splits.items()) or "—"
    return (f"### {card.title}\n\n"
            f"| | |\n|---|---|\n| modality | {card.modality} |\n| task | {card.task} |\n"
            f"| classes | {classes} |\n| image size | {card.image_size} |\n| splits | {splits} |\n"
            f"| license | {card.license} |\n| source | {card.url or 'generated or installed locally'} |\n\n"
            f"**Cite as:** {card.citation.strip()}\n\n{card.description}")


class DataCollectionLab(W.VBox):
    """The Lab 1 widget: DICOM viewer with windowing, de-identification table, phantoms, cards."""

    def __init__(self, *, n_patients: int = 20, size: int = 64, seed: int = 0):
        self.seed = int(seed)
        self.exercises = lab_exercises(self)  # the lab's ExerciseSet; the notebook shows exercise_panel(lab.exercises)
        self.phantoms: dict[str, PhantomSet] = {
            kind: make_phantoms(kind, n_patients=n_patients, images_per_patient=3, size=size, seed=seed)
            for kind in PHANTOM_KINDS.values()}
        self.available = {label: path for label, name in DICOM_SAMPLES.items()
                          if (path := sample_files([name]).get(name)) is not None}
        self._cache: dict[str, ViewerImage] = {}
        self._syncing = False  # True while the lab itself moves sliders (no feedback loops)
        # display-size frames by (image, frame), most recent last (see _shown_pixels)
        self._shown: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()

        # --- DICOM viewer ------------------------------------------------------------
        self.source = W.Dropdown(options=list(self.available) + [PHANTOM_SOURCE], description="image",
                                 layout=W.Layout(width="480px"))
        self.frame_slider = W.IntSlider(value=0, min=0, max=0, description="frame", continuous_update=False)
        self.preset = W.Dropdown(description="window", layout=W.Layout(width="320px"))
        self.level_slider = W.FloatSlider(description="level", continuous_update=False, readout_format=".0f",
                                          layout=W.Layout(width="420px"))
        self.width_slider = W.FloatSlider(description="width", continuous_update=False, readout_format=".0f",
                                          layout=W.Layout(width="420px"))
        self.info = W.HTML()
        self.deid_html = W.HTML()
        self.profile_rows = profile_rows()
        self.profile_filter = W.Dropdown(options=list(PROFILE_FILTERS), description="show",
                                         layout=W.Layout(width="480px"))
        self.profile_html = W.HTML(profile_table_html(self.profile_rows))
        self.profile_filter.observe(lambda _c: self._show_profile(), names="value")
        self.image = self._load(self.source.value)
        self._configure_controls()
        # FigureWidgets are built in their final state: changes made before display may not reach the page
        level, width = self.window
        self.figure = Figure(image_figure(self._frame(), level=level, width=width, title=self._title(),
                                                   units=self._units(), height=460))

        # --- phantom browser -----------------------------------------------------------
        self.phantom_kind = W.ToggleButtons(options=list(PHANTOM_KINDS.items()), value="chest",
                                            description="phantom")
        self.phantom_index = W.IntSlider(value=0, min=0, max=len(self.phantoms["chest"]) - 1,
                                         description="image", continuous_update=False)
        self.show_truth = W.Checkbox(value=True, description="show lesion outline and box")
        self.phantom_info = W.HTML()
        self.phantom_figure = Figure(self.phantom_view())
        self._redraw_phantom()

        # --- dataset cards ----------------------------------------------------------------
        self.cards = self._load_cards()
        self.card = W.Dropdown(options=[(c.title, name) for name, c in self.cards.items()],
                               description="dataset", layout=W.Layout(width="520px"))
        self.card_output = W.Output()
        self.card_text = ""
        self._show_card()

        self.source.observe(lambda _c: self._on_source(), names="value")
        self.frame_slider.observe(lambda _c: self._redraw_image(new_pixels=True), names="value")
        self.preset.observe(lambda _c: self._on_preset(), names="value")
        self.level_slider.observe(lambda _c: self._on_slider(), names="value")
        self.width_slider.observe(lambda _c: self._on_slider(), names="value")
        for control in (self.phantom_kind, self.phantom_index, self.show_truth):
            control.observe(lambda _c: self._redraw_phantom(), names="value")
        self.card.observe(lambda _c: self._show_card(), names="value")

        viewer = W.VBox([self.source, W.HBox([self.preset, self.frame_slider]),
                         W.HBox([self.level_slider, self.width_slider]), self.figure, self.info])
        phantoms = W.VBox([W.HBox([self.phantom_kind, self.show_truth]), self.phantom_index,
                           self.phantom_figure, self.phantom_info])
        cards = W.VBox([self.card, self.card_output])
        profile = load_profile()
        deid = W.VBox([self.deid_html, W.HTML(
            f"<b>The profile: DICOM PS3.15 Table E.1-1, edition {PROFILE_EDITION}</b> ({len(profile)} rows, "
            f"from {html.escape(profile.source)})"), self.profile_filter, self.profile_html])
        self.tabs = W.Tab(children=[viewer, deid, phantoms, cards])
        for i, title in enumerate(("DICOM viewer", "De-identification", "Phantoms", "Dataset cards")):
            self.tabs.set_title(i, title)
        super().__init__([self.tabs])

    # --- loading ---------------------------------------------------------------------------
    def _load(self, label: str) -> ViewerImage:
        """The viewer image for a dropdown label (read once, then cached)."""
        if label not in self._cache:
            if label == PHANTOM_SOURCE:
                ct = make_phantoms("ct", n_patients=1, images_per_patient=1, size=256, lesion_fraction=1.0,
                                   seed=self.seed)
                self._cache[label] = ViewerImage(
                    ct.images[0], "HU", "CT phantom (synthetic)",
                    ["synthetic CT slice in HU: air −1000, lung ≈ −850, fat ≈ −100, soft tissue ≈ +40, "
                     f"bone +700…+1100; a {LESION_TYPES[int(ct.lesion_type[0])]} nodule in one lung"],
                    deid_summary="A phantom has no header: nothing to de-identify.")
            elif label in self.available:
                self._cache[label] = ViewerImage.from_dicom(read_dicom(self.available[label]), label)
            else:
                raise DataError(f"unknown image source {label!r}", fix=f"choose one of {list(self.source.options)}")
        return self._cache[label]

    def _load_cards(self) -> dict:
        try:
            from radlab.data.catalog import load_catalog  # noqa: PLC0415  (only this tab needs it)

            return load_catalog()
        except DataError as err:
            self.card_error = str(err)
            return {}

    def _frame(self) -> np.ndarray:
        pixels = self.image.pixels
        return pixels if pixels.ndim == 2 else pixels[int(np.clip(self.frame_slider.value, 0, len(pixels) - 1))]

    # --- window controls ---------------------------------------------------------------------
    def window_options(self) -> list[tuple[str, str]]:
        """The window choices for the current image: HU presets for CT, auto/file for the rest."""
        options = [(AUTO, "auto")]
        if self.image.file_window is not None:
            options.append((FILE, "file"))
        if self.image.units == "HU":
            options += [(label, name) for name, label in PRESET_LABELS.items()]
        return options + [(CUSTOM, "custom")]

    def window_for(self, preset: str) -> tuple[float, float]:
        """(level, width) of a preset key for the current image."""
        if preset in WINDOW_PRESETS and self.image.units == "HU":
            return WINDOW_PRESETS[preset]
        if preset == "file" and self.image.file_window is not None:
            return self.image.file_window
        if preset == "auto":
            return self.image.auto_window
        return float(self.level_slider.value), float(self.width_slider.value)

    def _configure_controls(self) -> None:
        """Slider ranges and preset choices for the current image; start at a sensible window."""
        self._syncing = True
        try:
            pixels = self.image.pixels
            if self.image.units == "HU":
                low, high = -1200.0, 3000.0
                max_width, step = 4000.0, 1.0
            else:
                low, high = float(pixels.min()), float(pixels.max())
                max_width, step = max(2.0 * (high - low), 1.0), max((high - low) / 1000.0, 1e-3)
            for slider, lo, hi in ((self.level_slider, low, high), (self.width_slider, step, max_width)):
                slider.min, slider.max = -1e9, 1e9  # widen first so the new range is always valid
                slider.min, slider.max, slider.step = lo, hi, step
            n_frames = 1 if pixels.ndim == 2 else pixels.shape[0]
            self.frame_slider.value = 0
            self.frame_slider.max = n_frames - 1
            self.frame_slider.disabled = n_frames == 1
            self.preset.options = self.window_options()
            start = "lung" if self.image.units == "HU" and self.source.value == PHANTOM_SOURCE else \
                ("file" if self.image.file_window is not None else "auto")
            if self.image.units == "HU" and start == "auto":
                start = "soft_tissue"
            self.preset.value = start
            self.level_slider.value, self.width_slider.value = self.window_for(start)
        finally:
            self._syncing = False
        self.info.value = "<br>".join(html.escape(n) for n in self.image.notes) + (
            "<br><i>Hover over the image to read pixel values"
            + (" in HU.</i>" if self.image.units == "HU" else ".</i>"))
        self.deid_html.value = (deid_table_html(self.image.deid_rows, self.image.deid_summary)
                                if self.image.deid_rows else f"<p>{html.escape(self.image.deid_summary)}</p>")

    def _show_profile(self) -> None:
        actions = PROFILE_FILTERS.get(self.profile_filter.value, ())
        self.profile_html.value = profile_table_html(self.profile_rows, actions)

    def _on_source(self) -> None:
        if self.source.value not in self.source.options:
            return
        self.image = self._load(self.source.value)
        # the controls' new ranges, choices and values go to the page in one message per control, and
        # after the new picture: the figure is drawn first, not after ~20 control updates
        with contextlib.ExitStack() as held:
            for control in (self.frame_slider, self.preset, self.level_slider, self.width_slider,
                            self.info, self.deid_html):
                held.enter_context(control.hold_sync())
            self._configure_controls()
            self._redraw_image(new_pixels=True, new_shape=True)

    def _on_preset(self) -> None:
        if self._syncing or self.preset.value == "custom":
            return
        level, width = self.window_for(self.preset.value)
        self._syncing = True
        try:
            self.level_slider.value, self.width_slider.value = level, width
        finally:
            self._syncing = False
        self._redraw_image()

    def _on_slider(self) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:  # a hand-moved slider no longer matches a preset
            if self.window_for(self.preset.value) != (self.level_slider.value, self.width_slider.value):
                self.preset.value = "custom"
        finally:
            self._syncing = False
        self._redraw_image()

    # --- drawing ---------------------------------------------------------------------------------
    @property
    def window(self) -> tuple[float, float]:
        """The (level, width) the sliders show (width at least the slider's minimum)."""
        return float(self.level_slider.value), max(float(self.width_slider.value), 1e-6)

    def _units(self) -> str:
        return "HU" if self.image.units == "HU" else ""

    def _title(self) -> str:
        level, width = self.window
        return f"{self.image.title} — level {level:.0f}, width {width:.0f} {self._units()}".rstrip()

    def _shown_pixels(self) -> np.ndarray:
        """The shown frame at display size, block-averaged once per image and frame (the last
        SHOWN_FRAMES kept), not per window step nor when a student goes back to an image."""
        key = (id(self.image), int(self.frame_slider.value))  # images stay in self._cache: ids are not reused
        if key in self._shown:
            self._shown.move_to_end(key)
        else:
            self._shown[key] = display_pixels(self._frame())
            while len(self._shown) > SHOWN_FRAMES:
                self._shown.popitem(last=False)
        return self._shown[key]

    def _redraw_image(self, *, new_pixels: bool = False, new_shape: bool = False) -> None:
        """Re-window the shown frame (only the picture changes); new pixels/shape also update hover values and axes."""
        level, width = self.window
        with self.figure.batch_update():
            trace = self.figure.data[0]
            if new_pixels or new_shape:
                fresh = image_trace(self._frame(), level=level, width=width, units=self._units(),
                                    shown=self._shown_pixels())
                trace.source = fresh.source
                trace.customdata, trace.hovertemplate = fresh.customdata, fresh.hovertemplate
            else:   # what image_trace(...).source is
                trace.source = image_source(grey_levels(self._shown_pixels(), level, width))
            if new_shape:
                trace.x0, trace.dx, trace.y0, trace.dy = fresh.x0, fresh.dx, fresh.y0, fresh.dy
                h, w = self._frame().shape
                self.figure.layout.xaxis.range = [-0.5, w - 0.5]
                self.figure.layout.yaxis.range = [h - 0.5, -0.5]
            self.figure.layout.title = self._title()

    def _phantom(self) -> tuple[PhantomSet, int]:
        """The phantom set the toggle selects and the (clipped) image index."""
        ps = self.phantoms.get(self.phantom_kind.value, self.phantoms["chest"])
        return ps, int(np.clip(self.phantom_index.value, 0, len(ps) - 1))

    def phantom_view(self) -> go.Figure:
        """The figure of the selected phantom image: lung window for CT, lesion outline and box if shown."""
        ps, i = self._phantom()
        ct = ps.units == "HU"
        level, width = WINDOW_PRESETS["lung"] if ct else (0.5, 1.0)
        show = bool(self.show_truth.value)
        window = "lung window" if ct else "detector units 0…1"
        return image_figure(ps.images[i], level=level, width=width, units="HU" if ct else "",
                            mask=ps.masks[i] if show else np.zeros_like(ps.masks[i]),
                            box=ps.boxes[i] if show else [np.nan] * 4, height=420,
                            title=f"{ps.patient_ids[i]}, image {i} ({window})")

    def _redraw_phantom(self) -> None:
        ps, i = self._phantom()
        self.phantom_index.max = len(ps) - 1
        fresh = self.phantom_view()
        with self.phantom_figure.batch_update():
            image = self.phantom_figure.data[0]
            image.source, image.customdata = fresh.data[0].source, fresh.data[0].customdata
            image.hovertemplate = fresh.data[0].hovertemplate
            self.phantom_figure.data[1].z = fresh.data[1].z
            self.phantom_figure.layout.shapes[0].update(fresh.layout.shapes[0].to_plotly_json())
            self.phantom_figure.layout.title = fresh.layout.title.text
        kind = LESION_TYPES[int(ps.lesion_type[i])]
        box = ps.boxes[i]
        where = (f"box x {box[0]:.0f}–{box[2]:.0f}, y {box[1]:.0f}–{box[3]:.0f}, {int(ps.masks[i].sum())} pixels"
                 if ps.labels[i] else "no lesion")
        same = int(np.sum(ps.patient_ids == ps.patient_ids[i]))
        self.phantom_info.value = (f"<b>{ps.patient_ids[i]}</b> ({same} images of this patient) — label "
                                   f"<b>{int(ps.labels[i])}</b> ({kind}); {where}. Modality {ps.modality}, "
                                   f"units {ps.units}.")

    def _show_card(self) -> None:
        if not self.cards:
            self.card_text = f"No dataset cards found: {getattr(self, 'card_error', '')}"
        elif self.card.value in self.cards:
            self.card_text = card_markdown(self.cards[self.card.value])
        self.card_output.clear_output()
        with self.card_output:
            display(Markdown(self.card_text))

    def show(self) -> DataCollectionLab:
        """Display the lab (for notebooks that prefer ``lab.show()`` to ``display(lab)``)."""
        display(self)
        return self
