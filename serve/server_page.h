// The page `genrenet serve` answers at "/": one self-contained HTML document (CSS and JS
// inline, no CDN, no fonts or images fetched), so it works offline and under a strict CSP.
// It asks GET /api/model for the labels, posts the chosen file to POST /api/predict as a
// multipart upload, plays the file from a blob: URL, and draws the answer with inline SVG:
// a bar per genre and a timeline of the clips (click a clip to hear it). Everything taken from
// a response or a file name is inserted as text, never as HTML.
#pragma once

namespace gn {

inline constexpr const char kServerPage[] = R"GNPAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>GenreNet</title>
<style>
:root {
  --bg: #f5f6f8; --card: #ffffff; --ink: #1c2230; --muted: #667085; --line: #e3e6ec;
  --accent: #4f46e5; --accent-soft: #eef0ff; --bad: #b42318; --bad-soft: #fef3f2;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #10131a; --card: #181c25; --ink: #e8eaf0; --muted: #98a2b3; --line: #2a303c;
          --accent: #8b85ff; --accent-soft: #23254a; --bad: #fda29b; --bad-soft: #3a1c1a; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 760px; margin: 0 auto; padding: 24px 16px 48px; }
header { display: flex; align-items: baseline; justify-content: space-between; gap: 12px; flex-wrap: wrap; }
h1 { font-size: 1.6rem; margin: 0; letter-spacing: -0.02em; }
h1 span { color: var(--accent); }
h2 { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.08em; color: var(--muted); margin: 0 0 10px; }
#model { color: var(--muted); font-size: 0.85rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 14px; padding: 18px; margin-top: 16px;
        box-shadow: 0 1px 2px rgba(16, 24, 40, 0.04); }
#drop { display: block; border: 2px dashed var(--line); border-radius: 12px; padding: 28px 16px; text-align: center;
        cursor: pointer; transition: border-color .15s, background .15s; }
#drop:hover, #drop.over { border-color: var(--accent); background: var(--accent-soft); }
#drop strong { color: var(--accent); }
#drop small { display: block; color: var(--muted); margin-top: 4px; }
#file { position: absolute; width: 1px; height: 1px; opacity: 0; }
#player { width: 100%; margin-top: 14px; display: none; }
#status { margin-top: 12px; color: var(--muted); min-height: 1.5em; display: flex; align-items: center; gap: 8px; }
#status.error { color: var(--bad); background: var(--bad-soft); border-radius: 8px; padding: 8px 12px; }
.spinner { width: 16px; height: 16px; border: 2px solid var(--line); border-top-color: var(--accent); border-radius: 50%;
           animation: spin .8s linear infinite; flex: none; }
@keyframes spin { to { transform: rotate(360deg); } }
#result { display: none; }
.verdict { display: flex; align-items: baseline; gap: 14px; flex-wrap: wrap; }
#genre { font-size: 2.4rem; font-weight: 700; letter-spacing: -0.03em; text-transform: capitalize; line-height: 1.1; }
#confidence { font-size: 1.1rem; color: var(--muted); }
#details { color: var(--muted); font-size: 0.9rem; margin-top: 4px; }
svg { display: block; width: 100%; height: auto; overflow: visible; }
svg text { fill: var(--ink); font: 13px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
svg .muted { fill: var(--muted); font-size: 11px; }
svg .track { fill: var(--line); }
svg .clip { cursor: pointer; }
svg .clip:hover { opacity: 0.8; }
svg .now { stroke: var(--ink); stroke-width: 2; }
#legend { display: flex; flex-wrap: wrap; gap: 6px 14px; margin-top: 10px; font-size: 0.85rem; color: var(--muted); }
#legend i { display: inline-block; width: 10px; height: 10px; border-radius: 3px; margin-right: 5px; vertical-align: -1px; }
footer { margin-top: 20px; color: var(--muted); font-size: 0.8rem; text-align: center; }
code { font-size: 0.85em; }
</style>
</head>
<body>
<main>
  <header>
    <h1>Genre<span>Net</span></h1>
    <div id="model">loading model&hellip;</div>
  </header>

  <section class="card">
    <label id="drop" for="file">
      <strong>Choose a song</strong> or drop it here
      <small>WAV, FLAC, OGG, MP3, AU &middot; the song stays between your browser and this server</small>
    </label>
    <input id="file" type="file" accept="audio/*,.wav,.flac,.ogg,.mp3,.au,.aiff">
    <audio id="player" controls></audio>
    <div id="status" role="status" aria-live="polite"></div>
  </section>

  <section class="card" id="result" aria-live="polite">
    <h2>Predicted genre</h2>
    <div class="verdict"><div id="genre"></div><div id="confidence"></div></div>
    <div id="details"></div>
  </section>

  <section class="card" id="bars-card" style="display:none">
    <h2>All genres</h2>
    <svg id="bars" role="img" aria-label="probability of each genre"></svg>
  </section>

  <section class="card" id="timeline-card" style="display:none">
    <h2>Clip by clip</h2>
    <svg id="timeline" role="img" aria-label="predicted genre of each clip over time"></svg>
    <div id="legend"></div>
  </section>

  <footer>GenreNet &middot; API: <code>POST /api/predict</code>, <code>GET /api/model</code>, <code>GET /api/health</code></footer>
</main>
<script>
"use strict";
const NS = "http://www.w3.org/2000/svg";
const PALETTE = ["#2563eb", "#a855f7", "#d97706", "#db2777", "#059669",
                 "#0891b2", "#475569", "#e11d48", "#65a30d", "#ea580c"];
const $ = (id) => document.getElementById(id);
let labels = [];
let lastClips = [];

function color(label) {
  const i = labels.indexOf(label);
  return PALETTE[(i < 0 ? 0 : i) % PALETTE.length];
}
function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
function pct(p) {
  if (p > 0 && p < 0.001) return "<0.1%";
  return (100 * p).toFixed(p === 0 || p === 1 ? 0 : 1) + "%";
}
function mmss(s) { const m = Math.floor(s / 60); return m + ":" + String(Math.floor(s % 60)).padStart(2, "0"); }

function status(text, kind) {
  const s = $("status");
  clear(s);
  s.className = kind === "error" ? "error" : "";
  if (kind === "busy") { const sp = document.createElement("span"); sp.className = "spinner"; s.appendChild(sp); }
  s.appendChild(document.createTextNode(text));
}

async function loadModel() {
  try {
    const r = await fetch("/api/model");
    const m = await r.json();
    labels = m.labels || [];
    $("model").textContent = m.model + " \u00b7 " + labels.length + " genres \u00b7 clips: " + m.clip_scheme_name;
  } catch (e) {
    $("model").textContent = "model information unavailable";
  }
}

function drawBars(probabilities, best) {
  const svg = $("bars");
  clear(svg);
  $("bars-card").style.display = "block";
  const rows = Object.entries(probabilities).sort((a, b) => b[1] - a[1]);
  // Drawn at the element's own width so text keeps its size on a phone.
  const W = Math.round(svg.getBoundingClientRect().width) || 700, rowH = 30, labelW = 96, valueW = 58, barW = W - labelW - valueW;
  svg.setAttribute("viewBox", "0 0 " + W + " " + rows.length * rowH);
  rows.forEach(([label, p], i) => {
    const y = i * rowH;
    const g = el("g", {});
    g.appendChild(el("text", { x: labelW - 10, y: y + 19, "text-anchor": "end",
                               "font-weight": label === best ? "700" : "400" }, label));
    g.appendChild(el("rect", { class: "track", x: labelW, y: y + 7, width: barW, height: 16, rx: 4 }));
    g.appendChild(el("rect", { x: labelW, y: y + 7, width: Math.max(2, p * barW), height: 16, rx: 4,
                               fill: color(label), opacity: label === best ? 1 : 0.55 }));
    g.appendChild(el("text", { x: W - 4, y: y + 19, "text-anchor": "end" }, pct(p)));
    g.appendChild(el("title", {}, label + ": " + (100 * p).toFixed(2) + "%"));
    svg.appendChild(g);
  });
}

function drawTimeline(clips, seconds) {
  const svg = $("timeline");
  clear(svg);
  lastClips = clips;
  $("timeline-card").style.display = "block";
  const W = Math.round(svg.getBoundingClientRect().width) || 700, top = 6, laneH = 34, axisY = top + laneH + 18;
  const end = Math.max(seconds || 0, ...clips.map((c) => c.end));
  svg.setAttribute("viewBox", "0 0 " + W + " " + (axisY + 6));
  const x = (t) => (t / end) * W;
  svg.appendChild(el("rect", { class: "track", x: 0, y: top, width: W, height: laneH, rx: 6 }));
  // Clips overlap; each is drawn from its start to the next clip's start so every one stays
  // visible, and its full span is in its tooltip.
  clips.forEach((c, i) => {
    const stop = i + 1 < clips.length ? Math.min(clips[i + 1].start, c.end) : c.end;
    const p = c.probabilities[c.genre];
    const r = el("rect", { class: "clip", x: x(c.start), y: top, width: Math.max(1, x(stop) - x(c.start) - 1),
                           height: laneH, fill: color(c.genre), "fill-opacity": 0.35 + 0.65 * p, "data-i": i });
    r.appendChild(el("title", {}, mmss(c.start) + "\u2013" + mmss(c.end) + "  " + c.genre + " " + pct(p)));
    r.addEventListener("click", () => { const a = $("player"); a.currentTime = c.start; a.play(); });
    svg.appendChild(r);
  });
  svg.appendChild(el("line", { id: "playhead", x1: 0, x2: 0, y1: top - 3, y2: top + laneH + 3,
                               class: "now", visibility: "hidden" }));
  const ticks = Math.min(6, Math.max(2, Math.floor(end / 5)));
  for (let k = 0; k <= ticks; k++) {
    const t = (end * k) / ticks;
    svg.appendChild(el("text", { class: "muted", x: x(t), y: axisY,
                                 "text-anchor": k === 0 ? "start" : k === ticks ? "end" : "middle" }, mmss(t)));
  }
  const legend = $("legend");
  clear(legend);
  const counts = {};
  clips.forEach((c) => { counts[c.genre] = (counts[c.genre] || 0) + 1; });
  Object.entries(counts).sort((a, b) => b[1] - a[1]).forEach(([g, n]) => {
    const span = document.createElement("span");
    const sw = document.createElement("i");
    sw.style.background = color(g);
    span.appendChild(sw);
    span.appendChild(document.createTextNode(g + " \u00d7 " + n));
    legend.appendChild(span);
  });
}

$("player").addEventListener("timeupdate", () => {
  const head = document.getElementById("playhead");
  const svg = $("timeline");
  if (!head || !svg.viewBox.baseVal) return;
  const end = Math.max(...lastClips.map((c) => c.end), $("player").duration || 0);
  const xx = (Math.min($("player").currentTime, end) / end) * svg.viewBox.baseVal.width;
  head.setAttribute("x1", xx); head.setAttribute("x2", xx); head.setAttribute("visibility", "visible");
});

let lastJson = null;
function show(json) {
  lastJson = json;
  const best = json.genre;
  $("genre").textContent = best;
  $("genre").style.color = color(best);
  $("confidence").textContent = pct(json.probability) + " confidence";
  const n = json.clips.length;
  let details = json.file + " \u00b7 mean of " + n + " clip" + (n === 1 ? "" : "s");
  if (json.majority_vote !== best) details += " \u00b7 majority vote of the clips: " + json.majority_vote;
  $("details").textContent = details;
  $("result").style.display = "block";
  drawBars(json.probabilities, best);
  drawTimeline(json.clips, $("player").duration);
}

async function classify(file) {
  if (!file) return;
  const player = $("player");
  if (player.src) URL.revokeObjectURL(player.src);
  player.src = URL.createObjectURL(file);
  player.style.display = "block";
  lastJson = null;  // a pending resize must not bring the previous answer back
  clearTimeout(resizeTimer);
  for (const id of ["result", "bars-card", "timeline-card"]) $(id).style.display = "none";
  status("Classifying " + file.name + " \u2026", "busy");
  const body = new FormData();
  body.append("file", file, file.name);
  const t0 = performance.now();
  try {
    const r = await fetch("/api/predict", { method: "POST", body });
    let json = null;
    try { json = await r.json(); } catch (e) { /* not JSON: reported below */ }
    if (!r.ok || !json || json.error) {
      player.style.display = "none";
      status((json && json.error) || ("the server answered " + r.status), "error");
      return;
    }
    status("Classified " + file.name + " in " + ((performance.now() - t0) / 1000).toFixed(1) + " s.");
    show(json);
  } catch (e) {
    status("Could not reach the server: " + e.message, "error");
  }
}

let resizeTimer = 0;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { if (lastJson) show(lastJson); }, 150);
});
$("file").addEventListener("change", (e) => classify(e.target.files[0]));
const drop = $("drop");
["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
drop.addEventListener("drop", (e) => { if (e.dataTransfer.files.length) classify(e.dataTransfer.files[0]); });
document.addEventListener("dragover", (e) => e.preventDefault());
document.addEventListener("drop", (e) => e.preventDefault());
loadModel();
</script>
</body>
</html>
)GNPAGE";

}  // namespace gn
