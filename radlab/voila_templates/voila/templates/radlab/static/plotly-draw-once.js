// RadLab, Voila pages only: a small plotly.js, loaded once, when the first figure needs it; and
// jupyterlab-plotly draws each static figure once instead of three times.
//
// plotly.js: jupyterlab-plotly (the renderer of every static plotly figure,
// application/vnd.plotly.v1+json) evaluates its full plotly.js build (4.8 MB, every trace type) on
// the page's first figure, a task of ~0.7 s on 2 cores that held back the kernel's websocket
// handshake. This page instead loads plotly's own cartesian bundle (static/plotly-cartesian.min.js,
// 1.5 MB: the trace types in BUNDLE_TYPES, every type the labs draw) when the first figure
// needs it. The static figures here and the live ones (radlab/widgets/figure.py, through
// globalThis.__radlabPlotly.bundle) draw with it; a static figure with another trace type (a
// table, a 3-D plot) is drawn by jupyterlab-plotly's own plotly.js, as before. The template gives
// the bundle's address in this script's data-plotly attribute; without it nothing changes.
//
// Drawing once: jupyterlab-plotly's RenderedPlotly.createGraph does Plotly.react, then
// this.update() (Plotly.redraw and Plots.resize: a second full draw), then Plotly.toImage (a third,
// off-screen draw, turned into a PNG and written into the output model so that a saved notebook
// shows the figure without plotly.js). A Voila page is never saved, and the node already has its
// size when react draws it, so on a RadLab page createGraph does the react only. Resizing is
// unchanged (onResize and onAfterShow still redraw, with the plotly.js that drew the figure).
// Measured in benchmarks/first_render.py (README, "Speed").
//
// The container's `get` is a getter-only property, so the container itself is wrapped as Voila
// registers it. If jupyterlab-plotly's layout is not what this expects (another version), the
// renderer is left as it is and the page says why on the console; window.__radlabDrawOnce says
// what happened (tests/test_browser.py reads it).
(() => {
  "use strict";
  const KEY = "jupyterlab-plotly";
  const state = (window.__radlabDrawOnce = { wrapped: false, patched: false, reason: null, bundle: "none" });
  const leave = (reason) => {
    state.reason = reason;
    console.warn("radlab: static plotly figures keep jupyterlab-plotly's own drawing:", reason);
  };

  // The trace types of plotly's cartesian bundle (plotly.js lib/index-cartesian.js, and scatter from core).
  const BUNDLE_TYPES = new Set(["scatter", "bar", "box", "heatmap", "histogram", "histogram2d",
    "histogram2dcontour", "contour", "scatterternary", "violin", "image", "pie"]);
  const shared = (globalThis.__radlabPlotly ??= (() => {
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    return { promise, resolve };
  })());
  const src = document.currentScript && document.currentScript.dataset.plotly;
  // The kernel's websocket. Voila creates it before it renders the outputs, and the socket's open
  // handler sends the kernel_info request that starts the widgets' round trips to the server
  // (kernel info, then every widget's state). Evaluating plotly.js is one long task (~0.3 s on 2
  // cores); when it ran first, the open handler, and so every round trip, waited for it. So
  // plotly.js is evaluated once that handler has run (the server then answers while plotly.js is
  // evaluated), or KERNEL_WAIT_MS after the first figure asked, on a page whose socket never opens.
  const KERNEL_WAIT_MS = 1000;
  let kernelSocketOpened;
  const kernelSocketOpen = new Promise((resolve) => { kernelSocketOpened = resolve; });
  state.kernelSocket = "none";
  const NativeWebSocket = window.WebSocket;
  if (src && typeof NativeWebSocket === "function") {
    window.WebSocket = class extends NativeWebSocket {
      constructor(url, protocols) {
        super(url, protocols);
        if (/\/api\/kernels\/[^/]+\/channels/.test(String(url))) {
          state.kernelSocket = "connecting";
          // listeners run in the order they were added and Voila's own is set after this one:
          // a macrotask later, its kernel_info request has been sent
          this.addEventListener("open", () => setTimeout(() => {
            state.kernelSocket = "open";
            kernelSocketOpened();
          }, 0), { once: true });
        }
      }
    };
  }
  // Downloaded at once (a preload), evaluated when a figure first asks for it and the kernel's
  // socket is open: Voila's own start-up (its extensions, the kernel's websocket) goes first, and
  // plotly.js is evaluated while the page waits for the kernel (benchmarks/first_render.py --script-from).
  let loading = null;
  const load = () => (loading ??= Promise.race([
    kernelSocketOpen,
    new Promise((resolve) => setTimeout(resolve, KERNEL_WAIT_MS)),
  ]).then(() => new Promise((resolve) => {
    state.bundle = "loading";
    const script = document.createElement("script");
    script.src = src;
    script.async = true;
    script.onload = () => {
      const P = window.Plotly;
      const ok = !!P && typeof P.newPlot === "function";
      state.bundle = ok ? "loaded" : "unusable";
      resolve(ok ? P : null);
    };
    script.onerror = () => {
      state.bundle = "failed";
      console.warn("radlab: plotly.js bundle not loaded; jupyterlab-plotly's plotly.js draws instead:", src);
      resolve(null);
    };
    document.head.appendChild(script);
  })));
  if (src) {
    state.bundle = "waiting";
    const preload = document.createElement("link");
    preload.rel = "preload";
    preload.as = "script";
    preload.href = src;
    document.head.appendChild(preload);
  }
  // a thenable: awaiting it (the static figures below, the live figures' loader) starts the evaluation
  shared.bundle = !src ? null : { then: (ok, fail) => load().then(ok, fail) };
  const bundleDraws = (data) => (data || []).every((trace) => BUNDLE_TYPES.has((trace && trace.type) || "scatter"));

  function patch(mod) {
    const R = mod && mod.RenderedPlotly;
    if (state.patched || state.reason) return;
    const needed = ["createGraph", "showGraph", "hideImage", "onUpdateRequest", "hasGraphElement"];
    if (!R || !R.prototype || needed.some((m) => typeof R.prototype[m] !== "function")
        || !("Plotly" in R)) {
      return leave("RenderedPlotly is not laid out as expected");
    }
    const original = R.prototype.createGraph;
    let fullLoading = null;
    // jupyterlab-plotly's own plotly.js, loaded by the renderer's own code on an empty figure that
    // is not in the page (its offsetWidth is 0, so it makes no PNG either)
    const fullPlotlyJs = () => (fullLoading ??= (async () => {
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
    // for the live figures' loader (radlab/widgets/figure.py), on a page without the bundle
    shared.fullPlotly = fullPlotlyJs;
    R.prototype.createGraph = async function (model) {
      const { data, layout, frames, config } = model.data[this._mimeType];
      const Plotly = (shared.bundle && bundleDraws(data) && await shared.bundle) || await fullPlotlyJs();
      if (!layout.height) layout.height = 360;   // as upstream does
      this._radlabPlotly = Plotly;
      // the bundle is often ready before Voila has put this output in the page; plotly.js would then
      // draw a figure without a width of its own 700 px wide, so wait (a few frames) until it is
      // there and laid out (a figure in a hidden tab is drawn after 2 s, and again when shown)
      for (let frame = 0; this.node.clientWidth === 0 && frame < 120; frame++) {
        await new Promise((resolve) => requestAnimationFrame(resolve));
      }
      await Plotly.react(this.node, data, layout, config);
      this.showGraph();
      this.hideImage();
      if (frames) Plotly.addFrames(this.node, frames);
    };
    // upstream redraws with its own plotly.js (R.Plotly); a figure redraws with the one that drew it
    R.prototype.onUpdateRequest = function () {
      const Plotly = this._radlabPlotly;
      if (Plotly && this.isVisible && this.hasGraphElement()) {
        Plotly.redraw(this.node).then(() => Plotly.Plots.resize(this.node));
      }
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
