// The live page: one training session per page, updated by server-sent events.
// Plain JavaScript and SVG, no library and nothing from the network.
"use strict";

const $ = (id) => document.getElementById(id);
const SVGNS = "http://www.w3.org/2000/svg";
const COLORS = ["#4c6ef5", "#f76707", "#37b24d", "#ae3ec9", "#1098ad", "#f03e3e", "#fab005",
                "#74b816", "#7048e8", "#d6336c"];
let sid = null, source = null, last = null, history = [], graphVersion = -1;
let walk = null, walkK = 0;

function fmt(v) {
  if (v === null || v === undefined) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return v.toExponential(2);
  return v.toPrecision(3);
}

function showError(text) {
  const e = $("error");
  e.hidden = !text;
  e.textContent = text || "";
}

function showNotice(text) {  // the answer to the user's last command, if it was refused
  const m = $("notice");
  m.hidden = !text;
  m.textContent = text || "";
}

function showMessage(text) {  // what the training thread is doing, from the snapshot
  const m = $("message");
  m.hidden = !text;
  m.textContent = text || "";
}

// The server's token, written into the page it served: every POST carries it (a page of
// another site can neither read it nor send the header), with a JSON body.
const TOKEN = document.querySelector('meta[name="tinygrad-bp-token"]').content;
const POST_HEADERS = {"Content-Type": "application/json", "X-Tinygrad-BP-Token": TOKEN};

async function post(path, body) {
  const r = await fetch(path, {method: "POST", headers: POST_HEADERS,
                               body: JSON.stringify(body || {})});
  const out = await r.json().catch(() => ({error: `HTTP ${r.status}`}));
  if (!r.ok) throw new Error(out.error || `HTTP ${r.status}`);
  return out;
}

// ------------------------------------------------------------------ session
async function startSession(data) {
  stopSession();
  history = []; graphVersion = -1; walk = null; last = null;
  $("walk").hidden = true; $("graph").textContent = ""; $("layers").textContent = "";
  showError(""); showMessage(""); showNotice("");
  setStatus("starting");
  let made;
  try {
    made = await post("/api/sessions", data ? {data} : {});
  } catch (err) {
    setStatus("error");
    showError(err.message);
    return;
  }
  sid = made.id;
  document.body.dataset.session = sid;
  $("title").textContent = made.title;
  source = new EventSource(`/api/sessions/${sid}/events`);
  source.onmessage = (ev) => update(JSON.parse(ev.data));
  source.onerror = () => { if (last && last.status !== "stopped") setStatus("reconnecting"); };
}

function stopSession() {
  if (source) source.close();
  // keepalive: the request outlives the page that is being closed (as a beacon would,
  // but with the token's header)
  if (sid) fetch(`/api/sessions/${sid}/close`, {method: "POST", headers: POST_HEADERS,
                                                body: "{}", keepalive: true}).catch(() => {});
  source = null; sid = null;
}

async function control(command, extra) {
  if (!sid) return;
  try {
    await post(`/api/sessions/${sid}/control`, Object.assign({command}, extra || {}));
    showNotice("");
  } catch (err) {
    showNotice("⚠ " + err.message);
  }
}

// ------------------------------------------------------------------ updates
function setStatus(status) {
  const s = $("status");
  s.textContent = status;
  s.className = "status " + status;
  document.body.dataset.status = status;
  const paused = status === "paused";
  $("pause").textContent = paused ? "resume" : "pause";
  $("pause").disabled = !(status === "running" || paused);
  for (const id of ["step", "lr", "bs", "apply"]) $(id).disabled = !paused;
}

function update(s) {
  const first = last === null;
  last = s;
  setStatus(s.status);
  $("counter").textContent = `step ${s.step} · epoch ${s.epoch} · ${s.optimizer}`;
  if (first || s.status !== "paused") {
    $("lr").value = s.lr;
    $("bs").value = s.batch_size;
    $("bs").max = s.rows;
  }
  if (s.error) showError("Training stopped: " + s.error + "\nThe page stays up: fix the model and restart.");
  showMessage(s.error ? "" : s.message);
  history = history.concat(s.history);
  $("samples").hidden = !s.samples;
  if (s.samples) $("samples").textContent = "sampled: " + s.samples.map((n) => n || "(empty)").join(", ");
  drawCurves();
  $("graph-error").hidden = !s.graph_error;
  $("graph-error").textContent = s.graph_error || "";
  if (s.graph_svg !== undefined && s.graph_version !== graphVersion) {
    graphVersion = s.graph_version;
    drawGraph(s.graph_svg);
  }
  drawLayers(s.layers);
  if (s.boundary) drawBoundary(s.boundary, s.classes);
  if (s.walk && (!walk || walk.id !== s.walk.id)) {
    walk = s.walk; walkK = 0; drawWalk();
  } else if (!s.walk && walk) {
    walk = null; $("walk").hidden = true;
  }
}

// ------------------------------------------------------------------ curves
function el(name, attrs, parent) {
  const e = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function drawCurves() {
  const svg = $("curves");
  svg.textContent = "";
  const W = 420, H = 250, L = 44, R = 40, T = 24, B = 28;
  el("rect", {x: L, y: T, width: W - L - R, height: H - T - B, fill: "#fff", stroke: "#ccc"}, svg);
  const pts = history.filter((p) => p.loss !== null);
  if (pts.length === 0) return;
  const x0 = pts[0].step, x1 = Math.max(pts[pts.length - 1].step, x0 + 1);
  const lmax = Math.max(...pts.map((p) => p.loss)) * 1.05 || 1;
  const sx = (v) => L + (v - x0) / (x1 - x0) * (W - L - R);
  const sl = (v) => T + (1 - v / lmax) * (H - T - B);
  const sa = (v) => T + (1 - v) * (H - T - B);
  const line = (f, color, name) => el("polyline", {
    points: pts.map((p) => `${sx(p.step).toFixed(1)},${f(p).toFixed(1)}`).join(" "),
    fill: "none", stroke: color, "stroke-width": 2, "data-series": name}, svg);
  line((p) => sl(p.loss), "#1c7ed6", "loss");
  line((p) => sa(p.accuracy), "#2f9e44", "accuracy");
  const text = (x, y, s, attrs) => { const t = el("text", Object.assign({x, y, "font-size": 11}, attrs || {}), svg); t.textContent = s; };
  text(4, T + 10, fmt(lmax), {fill: "#1c7ed6"});
  text(4, H - B, "0", {fill: "#1c7ed6"});
  text(W - R + 4, T + 10, "100%", {fill: "#2f9e44"});
  text(W - R + 4, H - B, "0%", {fill: "#2f9e44"});
  text(L, H - 8, `step ${x0}`);
  text(W - R - 60, H - 8, `step ${pts[pts.length - 1].step}`);
  text(L, 14, "loss", {fill: "#1c7ed6", "font-weight": "bold"});
  text(L + 40, 14, "accuracy", {fill: "#2f9e44", "font-weight": "bold"});
  const p = pts[pts.length - 1];
  const r = $("readout");
  r.textContent = `loss ${fmt(p.loss)} · accuracy ${(100 * p.accuracy).toFixed(1)}% at step ${p.step}`;
  r.dataset.loss = p.loss;
  r.dataset.firstLoss = pts[0].loss;
  r.dataset.step = p.step;
}

// ------------------------------------------------------------------ graph
function drawGraph(text) {
  const box = $("graph");
  box.textContent = "";
  if (!text) return;
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = doc.documentElement;
  if (svg.nodeName !== "svg") return;
  svg.removeAttribute("width"); svg.removeAttribute("height");
  box.appendChild(document.importNode(svg, true));
  box.dataset.version = graphVersion;
}

// ------------------------------------------------------------------ layers
function hist(counts, color) {
  const svg = document.createElementNS(SVGNS, "svg");
  svg.setAttribute("viewBox", "0 0 92 24");
  const m = Math.max(1, ...counts), w = 92 / Math.max(1, counts.length);
  counts.forEach((c, i) => {
    const h = 22 * c / m;
    el("rect", {x: i * w + 0.5, y: 23 - h, width: Math.max(1, w - 1), height: h, fill: color}, svg);
  });
  el("line", {x1: 0, y1: 23.5, x2: 92, y2: 23.5, stroke: "#aaa"}, svg);
  return svg;
}

function row(parent, label, st, color) {
  const r = document.createElement("div");
  r.className = "row";
  const a = document.createElement("span"); a.textContent = label;
  const b = document.createElement("span"); b.className = "nums";
  if (!st) { b.textContent = "no gradient yet"; b.classList.add("muted"); }
  else b.textContent = `‖·‖ ${fmt(st.norm)}  mean ${fmt(st.mean)}`;
  if (st) b.title = `std ${fmt(st.std)}, from ${fmt(st.min)} to ${fmt(st.max)}`;
  r.append(a, b, st ? hist(st.hist, color) : document.createElement("span"));
  parent.appendChild(r);
}

function mark(svgId, on) {
  const node = document.querySelector("#graph svg") &&
    Array.from(document.querySelectorAll("#graph svg g")).find((g) => g.id === svgId);
  if (node) node.classList.toggle("hl", on);
}

function drawLayers(layers) {
  const box = $("layers");
  box.textContent = "";
  for (const L of layers || []) {
    const card = document.createElement("div");
    card.className = "layer";
    if (L.svg_id) {  // hovering a card marks its node in the graph (the same module)
      card.dataset.svgId = L.svg_id;
      card.onmouseenter = () => mark(L.svg_id, true);
      card.onmouseleave = () => mark(L.svg_id, false);
    }
    const h = document.createElement("h3");
    h.textContent = `${L.name}  (${L.shape.join(" × ")})`;
    card.appendChild(h);
    row(card, "output", L.activation, "#1c7ed6");
    row(card, "∂L/∂output", L.grad, "#a61c00");
    for (const p of L.params) row(card, `∂L/∂${p.name}`, p.grad, "#e8590c");
    box.appendChild(card);
  }
}

// ------------------------------------------------------------------ decision boundary
function hexRGB(h) { return [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)); }

function drawBoundary(b, classes) {
  $("boundary-box").hidden = false;
  const c = $("boundary"), ctx = c.getContext("2d");
  const n = b.size, img = ctx.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const [r, g, bl] = hexRGB(COLORS[b.cls[i] % COLORS.length]);
    const a = 0.25 + 0.5 * (b.conf[i] - 1 / classes.length) / (1 - 1 / classes.length);
    img.data[4 * i] = Math.round(255 - a * (255 - r));
    img.data[4 * i + 1] = Math.round(255 - a * (255 - g));
    img.data[4 * i + 2] = Math.round(255 - a * (255 - bl));
    img.data[4 * i + 3] = 255;
  }
  const off = document.createElement("canvas");
  off.width = n; off.height = n;
  off.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, c.width, c.height);
  const sx = (v) => (v - b.lo[0]) / (b.hi[0] - b.lo[0]) * c.width;
  const sy = (v) => (1 - (v - b.lo[1]) / (b.hi[1] - b.lo[1])) * c.height;
  b.X.forEach((p, i) => {
    ctx.beginPath();
    ctx.arc(sx(p[0]), sy(p[1]), 2.6, 0, 2 * Math.PI);
    ctx.fillStyle = COLORS[b.y[i] % COLORS.length];
    ctx.fill();
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 0.8;
    ctx.stroke();
  });
  c.dataset.updates = (parseInt(c.dataset.updates || "0") + 1).toString();
}

// ------------------------------------------------------------------ the walk
// A frame shrunk to the page makes its text a few pixels high: a click shows it at its
// actual size in its scrolled box, another fits it again.
$("frame").addEventListener("click", () => $("frame").classList.toggle("fit"));

function drawWalk() {
  const w = walk;
  $("walk").hidden = false;
  $("walk-step").textContent = `(training step ${w.step}, loss ${fmt(w.loss)})`;
  walkK = Math.max(0, Math.min(w.count - 1, walkK));
  $("frame").src = `/api/sessions/${sid}/walk/${w.id}/${walkK}.png`;
  const node = w.nodes[walkK];
  const shape = node.shape.length ? `(${node.shape.join(", ")})` : "scalar";
  const what = node.op ? `${node.op} output` : "leaf";
  $("caption").textContent = `node ${walkK + 1} of ${w.count}: ∂L/∂${w.names[walkK]} is complete · ${what} ${shape}`;
  $("caption").dataset.k = walkK;
  $("caption").dataset.op = node.op || "";
  $("caption").dataset.shape = node.shape.join(",");
  $("prev").disabled = walkK === 0;
  $("next").disabled = walkK === w.count - 1;
  const ol = $("order");
  ol.textContent = "";
  w.names.forEach((n, i) => {
    const li = document.createElement("li");
    li.textContent = `∂L/∂${n}`;
    li.className = i === walkK ? "current" : (i < walkK ? "done" : "");
    ol.appendChild(li);
  });
}

// ------------------------------------------------------------------ wiring
$("pause").onclick = () => control(last && last.status === "paused" ? "resume" : "pause");
$("step").onclick = () => control("step");
$("apply").onclick = () => control("set", {lr: parseFloat($("lr").value),
                                           batch_size: parseInt($("bs").value, 10)});
$("restart").onclick = () => startSession($("data").value);
$("prev").onclick = () => { walkK -= 1; drawWalk(); };
$("next").onclick = () => { walkK += 1; drawWalk(); };
document.addEventListener("keydown", (e) => {
  if (!walk || e.target.tagName === "INPUT") return;
  if (e.key === "ArrowLeft" && walkK > 0) { walkK -= 1; drawWalk(); }
  if (e.key === "ArrowRight" && walkK < walk.count - 1) { walkK += 1; drawWalk(); }
});
window.addEventListener("pagehide", stopSession);

(async () => {
  const cfg = await (await fetch("/api/config")).json();
  const sel = $("data");
  for (const [name, title] of Object.entries(cfg.datasets)) {
    const o = document.createElement("option");
    o.value = name; o.textContent = `${name}: ${title}`;
    sel.appendChild(o);
  }
  const asked = new URLSearchParams(location.search).get("data");
  if (cfg.fixed) {
    sel.disabled = true; $("restart").hidden = true;
    const o = document.createElement("option");
    o.textContent = cfg.data; sel.appendChild(o); sel.value = cfg.data;
  } else {
    sel.value = asked || cfg.data;
  }
  startSession(cfg.fixed ? null : (asked || null));
})();
