// twitchmon live signal view: Server-Sent Events from /api/live drawn with
// uPlot (vendored, MIT), one small plot a sensor, the last WINDOW_S seconds.
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root || typeof uPlot === "undefined") { return; }
  var WINDOW_S = 10;
  var names = (root.dataset.names || "").split("|");
  var stateEl = document.getElementById("live-state");
  var plots = [], xs = [], ys = [];
  var state = window.twitchmonLive = { messages: 0, lastT: null, points: 0, plots: plots };
  var FONT = "13px system-ui, sans-serif";  // axis labels: as legible as the page's small text

  // the canvas cannot use CSS: its colours are the page's own variables, read
  // again when the theme changes (the phone's day/night setting)
  var colors = state.colors = {};
  function readColors() {
    var cs = getComputedStyle(document.documentElement);
    ["grid", "muted", "accent", "bg"].forEach(function (k) { colors[k] = cs.getPropertyValue("--" + k).trim(); });
  }
  readColors();
  function c(k) { return function () { return colors[k]; }; }

  function width(el) { return Math.max(240, el.clientWidth || 320); }

  root.querySelectorAll(".plot").forEach(function (el, i) {
    xs[i] = []; ys[i] = [];
    var opts = {
      width: width(el), height: 120,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: false } },
      axes: [{ stroke: c("muted"), font: FONT, grid: { stroke: c("grid") }, ticks: { stroke: c("grid") },
               values: function (u, v) { return v.map(function (s) { return s.toFixed(0) + " s"; }); } },
             { stroke: c("muted"), font: FONT, grid: { stroke: c("grid") }, ticks: { stroke: c("grid") }, size: 50 }],
      series: [{}, { label: names[i] || ("channel " + i), stroke: c("accent"), width: 1.25 }]
    };
    plots[i] = new uPlot(opts, [[], []], el);
  });

  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: light)").addEventListener("change", function () {
      readColors();
      plots.forEach(function (u) { u.redraw(false, true); });
    });
  }

  function waiting(text) {  // the boxes say why they are empty until the first frame
    root.classList.toggle("has-signal", !text);
    if (text) { root.querySelectorAll(".plot .waiting").forEach(function (p) { p.textContent = text; }); }
  }

  window.addEventListener("resize", function () {
    root.querySelectorAll(".plot").forEach(function (el, i) {
      if (plots[i]) { plots[i].setSize({ width: width(el), height: 120 }); }
    });
  });

  var pending = false;
  function draw() {
    pending = false;
    for (var i = 0; i < plots.length; i++) { plots[i].setData([xs[i], ys[i]]); }
  }

  function setStatus(list) {
    list.forEach(function (s, i) {
      var el = root.querySelector('.status[data-channel="' + i + '"]');
      if (el && el.textContent !== s) { el.textContent = s; el.className = "status status-" + s.replace(/ /g, "-"); }
    });
  }

  var src = new EventSource(root.dataset.src);
  src.onmessage = function (e) {
    var m = JSON.parse(e.data);
    var dt = 1 / m.hz;
    for (var i = 0; i < plots.length && i < m.y.length; i++) {
      var col = m.y[i];
      if (xs[i].length && m.t0 < xs[i][xs[i].length - 1]) { xs[i] = []; ys[i] = []; }  // a new ring
      for (var k = 0; k < col.length; k++) { xs[i].push(m.t0 + k * dt); ys[i].push(col[k]); }
      var keepFrom = 0, tEnd = xs[i][xs[i].length - 1];
      while (keepFrom < xs[i].length && xs[i][keepFrom] < tEnd - WINDOW_S) { keepFrom++; }
      if (keepFrom) { xs[i] = xs[i].slice(keepFrom); ys[i] = ys[i].slice(keepFrom); }
    }
    if (m.status) { setStatus(m.status); }
    if (m.night) {  // counts so far, while a night is recorded
      var tot = document.getElementById("tonight-total"), word = document.getElementById("tonight-twitches");
      if (tot) { tot.textContent = m.night.total; }
      if (word) { word.textContent = m.night.total === 1 ? "twitch" : "twitches"; }
      m.night.per_channel.forEach(function (c, i) {
        var td = document.querySelector('[data-site-count="' + i + '"]');
        if (td) { td.textContent = c; }
      });
      var rest = document.getElementById("tonight-rest"), mv = document.getElementById("tonight-movements");
      var s = m.night.rest_s || 0;  // as the page's dur filter: "2.3 h", "26 min", "40 s"
      if (rest) {
        rest.textContent = s >= 3600 ? (s / 3600).toFixed(1) + " h" : s >= 59.5 ? Math.round(s / 60) + " min" : Math.round(s) + " s";
      }
      if (mv) { mv.textContent = m.night.movements + (m.night.movements === 1 ? " movement" : " movements"); }
      var note = document.getElementById("tonight-counting");
      if (note) { note.hidden = m.night.counted_s !== null && m.night.counted_s !== undefined; }
      state.nightTotal = m.night.total;
    }
    if (!state.messages) { waiting(null); }
    state.messages += 1;
    state.lastT = xs[0] && xs[0].length ? xs[0][xs[0].length - 1] : null;
    state.points = xs[0] ? xs[0].length : 0;
    if (stateEl) { stateEl.textContent = "Live signal: " + m.hz.toFixed(0) + " samples/s a sensor, last " + WINDOW_S + " s."; }
    if (!pending) { pending = true; window.requestAnimationFrame(draw); }
  };
  src.addEventListener("nosignal", function () {
    if (stateEl) { stateEl.textContent = "No live signal: is the twitchmon service running?"; }
    setStatus(names.map(function () { return "no signal"; }));
    waiting("No signal yet");
  });
  src.onerror = function () {
    if (stateEl) { stateEl.textContent = "Live signal: reconnecting…"; }
  };
})();
