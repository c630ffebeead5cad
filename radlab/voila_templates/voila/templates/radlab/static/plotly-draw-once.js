// RadLab, Voila pages only: jupyterlab-plotly draws each static figure once instead of three times.
//
// jupyterlab-plotly's RenderedPlotly.createGraph (the renderer of every static plotly figure,
// application/vnd.plotly.v1+json) does Plotly.react, then this.update() (Plotly.redraw and
// Plots.resize: a second full draw), then Plotly.toImage (a third, off-screen draw, turned into a
// PNG and written into the output model so that a saved notebook shows the figure without
// plotly.js). A Voila page is never saved, and the node already has its size when react draws it,
// so on a RadLab page createGraph does the react only. Resizing is unchanged (onResize and
// onAfterShow still redraw). Measured in benchmarks/first_render.py (README, "Speed").
//
// The container's `get` is a getter-only property, so the container itself is wrapped as Voila
// registers it. If jupyterlab-plotly's layout is not what this expects (another version), the
// renderer is left as it is and the page says why on the console; window.__radlabDrawOnce says
// what happened (tests/test_browser.py reads it).
(() => {
  "use strict";
  const KEY = "jupyterlab-plotly";
  const state = (window.__radlabDrawOnce = { wrapped: false, patched: false, reason: null });
  const leave = (reason) => {
    state.reason = reason;
    console.warn("radlab: static plotly figures keep jupyterlab-plotly's own drawing:", reason);
  };

  function patch(mod) {
    const R = mod && mod.RenderedPlotly;
    if (state.patched || state.reason) return;
    const needed = ["createGraph", "showGraph", "hideImage"];
    if (!R || !R.prototype || needed.some((m) => typeof R.prototype[m] !== "function")
        || !("Plotly" in R)) {
      return leave("RenderedPlotly is not laid out as expected");
    }
    const original = R.prototype.createGraph;
    let loading = null;
    // plotly.js is loaded by the renderer's own code, on an empty figure that is not in the page
    // (its offsetWidth is 0, so it makes no PNG either)
    const plotlyJs = () => (loading ??= (async () => {
      if (!R.Plotly) {
        const empty = new R({ mimeType: mod.MIME_TYPE });
        try {
          await original.call(empty, { data: { [mod.MIME_TYPE]: { data: [], layout: {} } }, setData() {} });
        } finally {
          empty.dispose();
        }
      }
      return R.Plotly.default || R.Plotly;
    })());
    R.prototype.createGraph = async function (model) {
      const Plotly = await plotlyJs();
      const { data, layout, frames, config } = model.data[this._mimeType];
      if (!layout.height) layout.height = 360;   // as upstream does
      await Plotly.react(this.node, data, layout, config);
      this.showGraph();
      this.hideImage();
      if (frames) Plotly.addFrames(this.node, frames);
    };
    state.patched = true;
  }

  const J = (window._JUPYTERLAB ??= {});
  if (Object.prototype.hasOwnProperty.call(J, KEY)) {
    return leave("the page loaded jupyterlab-plotly before this script");
  }
  let container;
  Object.defineProperty(J, KEY, {
    configurable: true,
    enumerable: true,
    get() { return container; },
    set(upstream) {
      container = {
        init: (...args) => upstream.init(...args),
        get: async (name) => {
          const factory = await upstream.get(name);
          if (name !== "./mimeExtension") return factory;
          return () => {
            const mod = factory();
            try { patch(mod); } catch (err) { leave(String(err)); }
            return mod;
          };
        },
      };
      state.wrapped = true;
    },
  });
})();
