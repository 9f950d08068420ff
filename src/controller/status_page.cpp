#include "controller/status_page.h"

#include <string>

namespace aha::controller {

namespace {

// Everything is rendered with textContent / setAttribute (escaped by the DOM), never innerHTML.
constexpr std::string_view kPage = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>agency-ha failover status</title>
<style>
  :root { --ok: #1a7f37; --bad: #cf222e; --warn: #bf8700; --pro: #0969da; --mute: #57606a;
          --bg: #f6f8fa; --line: #d0d7de; }
  * { box-sizing: border-box; }
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
         color: #1f2328; background: #fff; }
  header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px; padding: 12px 20px;
           background: #24292f; color: #fff; }
  header h1 { font-size: 18px; margin: 0 12px 0 0; }
  header .meta { color: #c9d1d9; font-size: 12px; }
  main { padding: 16px 20px; max-width: 1200px; }
  section { margin-bottom: 20px; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  .badge { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 600;
           font-size: 12px; }
  .b-ok { background: #dafbe1; color: var(--ok); }
  .b-bad { background: #ffebe9; color: var(--bad); }
  .b-pro { background: #ddf4ff; color: var(--pro); }
  .b-mute { background: #eaeef2; color: var(--mute); }
  .chips span { margin-right: 6px; }
  #error { display: none; padding: 8px 20px; background: #ffebe9; color: var(--bad);
           border-bottom: 1px solid #ff8182; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line);
           vertical-align: top; }
  th { background: var(--bg); font-size: 12px; color: var(--mute); font-weight: 600; }
  td.reason, td.probe, td.data { color: var(--mute); font-size: 12px; }
  .summary { display: flex; gap: 28px; flex-wrap: wrap; }
  .summary div { min-width: 160px; }
  .label { color: var(--mute); font-size: 12px; display: block; }
  svg { width: 100%; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; }
  svg text { font: 11px system-ui, sans-serif; fill: #1f2328; }
  svg .axis { fill: var(--mute); }
  .legend span { margin-right: 14px; font-size: 12px; color: var(--mute); }
  .sw { display: inline-block; width: 12px; height: 10px; margin-right: 4px; vertical-align: -1px; }
  ol#transitions { padding-left: 20px; margin: 0; max-height: 280px; overflow: auto; }
  ol#transitions li { margin: 2px 0; }
  ol#transitions .t { color: var(--mute); font-family: ui-monospace, monospace; font-size: 12px; }
  ol#transitions .why { color: var(--mute); }
</style>
</head>
<body>
<header>
  <h1>agency-ha failover</h1>
  <span id="panic" class="badge b-mute" data-panic="">loading</span>
  <span id="ready" class="badge b-mute">…</span>
  <span class="meta">generation <b id="generation">–</b></span>
  <span class="meta">state updated <span id="updatedAt">–</span></span>
  <span class="meta">store <span id="store">–</span></span>
  <span class="meta">page refreshed <span id="refreshed">never</span></span>
</header>
<div id="error" role="alert"></div>
<main>
  <section class="summary">
    <div><span class="label">serving</span><span id="serving" class="chips"></span></div>
    <div><span class="label">failed</span><span id="failed" class="chips"></span></div>
    <div><span class="label">last round</span><span id="lastRound">–</span></div>
    <div><span class="label">last write error</span><span id="lastWriteError">none</span></div>
  </section>
  <section>
    <h2>Regions</h2>
    <table>
      <thead><tr><th>region</th><th>role</th><th>status</th><th>serving</th><th>since</th>
        <th>reason</th><th>last probe</th><th>data (lineage, epoch, position)</th></tr></thead>
      <tbody id="regions"></tbody>
    </table>
  </section>
  <section>
    <h2>Timeline</h2>
    <div class="legend">
      <span><i class="sw" style="background:var(--bad)"></i>failed</span>
      <span><i class="sw" style="background:var(--pro)"></i>promoted (passive serving)</span>
      <span><i class="sw" style="background:var(--warn)"></i>drill (simulated outage)</span>
      <span><i class="sw" style="background:#8250df"></i>panic</span>
    </div>
    <svg id="timeline" xmlns="http://www.w3.org/2000/svg" role="img"
         aria-label="failover timeline"></svg>
  </section>
  <section>
    <h2>Recent transitions <span class="label" style="display:inline">(newest first)</span></h2>
    <ol id="transitions"></ol>
  </section>
</main>
<script>
"use strict";
const SVGNS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function sv(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function setText(id, v) { $(id).textContent = v === null || v === undefined ? "–" : String(v); }
function ms(t) { const v = Date.parse(t); return Number.isFinite(v) ? v : null; }
function clock(t) {
  const v = typeof t === "number" ? t : ms(t);
  if (v === null) return "–";
  return new Date(v).toISOString().slice(11, 23) + "Z";
}
function ago(t) {
  const v = ms(t);
  if (v === null) return "";
  const s = (Date.now() - v) / 1000;
  return s < 0 ? "" : " (" + (s < 120 ? s.toFixed(1) + " s" : (s / 60).toFixed(1) + " min") + " ago)";
}
function chips(id, names, cls) {
  const box = $(id);
  box.replaceChildren();
  if (!names || names.length === 0) { box.appendChild(el("span", { class: "badge b-mute" }, "none")); return; }
  for (const n of names) box.appendChild(el("span", { class: "badge " + cls, "data-region": n }, n));
}

// The data position a region's gates report (X-Agency-Data via the controller's probes).
function dataText(d) {
  if (!d || typeof d !== "object") return "not reported";
  const role = typeof d.role === "string" ? d.role : "?";
  let s = role + " of " + (typeof d.lineage === "string" ? d.lineage : "?") + " @ epoch " +
    (Number.isFinite(d.epoch) ? d.epoch : "?");
  if (role === "writer") {
    s += d.ready ? ", data ready" : ", taking over (data not ready)";
  } else if (d.caughtUp) {
    s += ", caught up";
  } else if (Number.isFinite(d.behindSeconds)) {
    s += ", " + d.behindSeconds.toFixed(1) + " s behind head" +
      (Number.isFinite(d.headEpoch) ? " (epoch " + d.headEpoch + ")" : "");
  } else {
    s += ", not caught up";
  }
  if (typeof d.snapshot === "string") s += "; snapshot " + d.snapshot;
  if (d.malformed) s += " (malformed report)";
  if (Array.isArray(d.endpoints)) s += " [" + d.endpoints.length + " endpoints]";
  return s;
}
function dataCell(d) {
  const td = el("td", { class: "data" });
  if (d && typeof d === "object") {
    const role = typeof d.role === "string" ? d.role : "unknown";
    td.setAttribute("data-role", role);
    td.setAttribute("data-fenced", d.fenced ? "true" : "false");
    const cls = d.fenced ? "b-bad" : role === "writer" ? "b-pro" : d.caughtUp ? "b-ok" : "b-mute";
    td.appendChild(el("span", { class: "badge " + cls }, d.fenced ? "FENCED" : role));
    td.appendChild(document.createTextNode(" "));
  }
  td.appendChild(el("span", { class: "position" }, dataText(d)));
  return td;
}

function renderRegions(st) {
  const body = $("regions");
  body.replaceChildren();
  for (const [name, r] of Object.entries(st.regions || {})) {
    const tr = el("tr", { "data-region": name });
    tr.appendChild(el("td", { class: "name" }, name));
    tr.appendChild(el("td", { class: "role" }, r.active ? "active" : "passive"));
    const status = el("td", { class: "status", "data-status": r.status });
    status.appendChild(el("span", { class: "badge " + (r.status === "healthy" ? "b-ok" : "b-bad") }, r.status));
    tr.appendChild(status);
    let serving = r.serving ? "yes" : "no";
    if (r.promoted) serving += " (promoted for " + (r.promotedFor || []).join(", ") + ")";
    const sc = el("td", { class: "serving", "data-serving": r.serving ? "true" : "false" });
    sc.appendChild(el("span", { class: "badge " + (r.serving ? (r.promoted ? "b-pro" : "b-ok") : "b-mute") }, serving));
    tr.appendChild(sc);
    tr.appendChild(el("td", { class: "since" }, clock(r.since) + ago(r.since)));
    tr.appendChild(el("td", { class: "reason" }, r.reason || ""));
    const p = r.lastProbe;
    tr.appendChild(el("td", { class: "probe" }, p ? (p.ok ? "ok" : "failed") + ", " +
      Number(p.latencyMs).toFixed(1) + " ms, " + (p.detail || "") + ago(p.at) : "none yet"));
    tr.appendChild(dataCell(r.data));
    body.appendChild(tr);
  }
}

// Spans [from, to) of a state opened by one transition type and closed by another; a state that
// is still on (per the current status) stays open until now.
function spans(trs, region, open, close, onNow, sinceNow, t0, now) {
  const out = [];
  let start = null;
  for (const t of trs) {
    if (t.region !== region) continue;
    const at = ms(t.at);
    if (at === null) continue;
    if (t.type === open && start === null) start = at;
    else if (t.type === close) { out.push([start === null ? t0 : start, at]); start = null; }
  }
  if (onNow) out.push([start !== null ? start : Math.max(t0, ms(sinceNow) ?? t0), now]);
  return out;
}

function renderTimeline(st) {
  const svg = $("timeline");
  svg.replaceChildren();
  const names = Object.keys(st.regions || {});
  const trs = (st.transitions || []).slice().sort((a, b) => (ms(a.at) ?? 0) - (ms(b.at) ?? 0));
  const drills = Array.isArray(st.simulatedOutages) ? st.simulatedOutages : [];
  const now = Date.now();
  let t0 = now - 30000;
  for (const t of trs) { const v = ms(t.at); if (v !== null) t0 = Math.min(t0, v - 2000); }
  for (const d of drills) { const v = ms(d.startedAt); if (v !== null) t0 = Math.min(t0, v - 2000); }
  t0 = Math.max(t0, now - 15 * 60000);
  const W = 1000, left = 120, right = 12, lane = 26, top = 22;
  const H = top + lane * (names.length + 1) + 22;
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  const x = (t) => left + (Math.min(Math.max(t, t0), now) - t0) / (now - t0) * (W - left - right);
  // Axis: ticks at round intervals.
  const span = now - t0;
  const step = [1, 2, 5, 10, 15, 30, 60, 120, 300].map((s) => s * 1000).find((s) => span / s <= 8) || 600000;
  for (let t = Math.ceil(t0 / step) * step; t <= now; t += step) {
    svg.appendChild(sv("line", { x1: x(t), x2: x(t), y1: top - 6, y2: H - 20, stroke: "#d0d7de" }));
    svg.appendChild(sv("text", { x: x(t), y: H - 6, "text-anchor": "middle", class: "axis" },
      new Date(t).toISOString().slice(11, 19)));
  }
  svg.appendChild(sv("text", { x: W - right, y: 12, "text-anchor": "end", class: "axis" }, "now " + clock(now)));
  const bar = (y, a, b, color, label, kind, region, h = 12) => {
    const w = Math.max(2, x(b) - x(a));
    const r = sv("rect", { x: x(a), y: y, width: w, height: h, rx: 2, fill: color, opacity: 0.85,
      "data-kind": kind, "data-region": region });
    r.appendChild(sv("title", {}, label));
    svg.appendChild(r);
  };
  names.forEach((name, i) => {
    const y = top + lane * i;
    const r = st.regions[name];
    svg.appendChild(sv("text", { x: 6, y: y + 14 }, name));
    svg.appendChild(sv("line", { x1: left, x2: W - right, y1: y + 20, y2: y + 20, stroke: "#eaeef2" }));
    for (const d of drills) {
      if (d.region !== name) continue;
      const a = ms(d.startedAt), b = ms(d.expiresAt);
      if (a === null) continue;
      bar(y - 3, a, b === null ? now : b, "#bf8700", "drill " + (d.id || "") + " " + clock(a) + " → " + clock(b), "drill", name, 5);
    }
    for (const [a, b] of spans(trs, name, "RegionFailed", "RegionRecovered", r.status === "failed", r.since, t0, now)) {
      bar(y + 4, a, b, "#cf222e", name + " failed " + clock(a) + " → " + (b === now && r.status === "failed" ? "now" : clock(b)), "failed", name);
    }
    for (const [a, b] of spans(trs, name, "RegionPromoted", "RegionDemoted", !!r.promoted, r.promotedSince, t0, now)) {
      bar(y + 4, a, b, "#0969da", name + " promoted " + clock(a) + " → " + (b === now && r.promoted ? "now" : clock(b)), "promoted", name);
    }
    for (const t of trs) {
      if (t.region !== name) continue;
      const at = ms(t.at);
      if (at === null || at < t0) continue;
      const c = sv("circle", { cx: x(at), cy: y + 10, r: 3.5, fill: "#24292f", "data-type": t.type });
      c.appendChild(sv("title", {}, clock(at) + " " + t.type + ": " + (t.reason || "")));
      svg.appendChild(c);
    }
  });
  const py = top + lane * names.length;
  svg.appendChild(sv("text", { x: 6, y: py + 14 }, "panic"));
  for (const [a, b] of spans(trs, "", "PanicEntered", "PanicExited", !!st.panic, st.panicSince, t0, now)) {
    bar(py + 4, a, b, "#8250df", "panic " + clock(a) + " → " + clock(b), "panic", "");
  }
}

function renderTransitions(st) {
  const ol = $("transitions");
  ol.replaceChildren();
  const trs = (st.transitions || []).slice().reverse();
  if (trs.length === 0) { ol.appendChild(el("li", {}, "none yet")); return; }
  for (const t of trs) {
    const li = el("li", { "data-type": t.type, "data-region": t.region || "" });
    li.appendChild(el("span", { class: "t" }, clock(t.at)));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(el("b", {}, t.type));
    if (t.region) li.appendChild(document.createTextNode(" " + t.region));
    if (t.reason) li.appendChild(el("span", { class: "why" }, " — " + t.reason));
    ol.appendChild(li);
  }
}

function render(st) {
  const panic = $("panic");
  panic.textContent = st.panic ? "PANIC: serving every region" : "no panic";
  panic.className = "badge " + (st.panic ? "b-bad" : "b-ok");
  panic.setAttribute("data-panic", st.panic ? "true" : "false");
  const ready = $("ready");
  ready.textContent = st.ready ? "ready" : "not ready";
  ready.className = "badge " + (st.ready ? "b-ok" : "b-bad");
  setText("generation", st.generation);
  $("updatedAt").textContent = clock(st.updatedAt) + ago(st.updatedAt);
  setText("store", st.store);
  $("lastRound").textContent = clock(st.lastRound);
  setText("lastWriteError", st.lastWriteError || "none");
  chips("serving", st.servingRegions, "b-ok");
  chips("failed", st.failedRegions, "b-bad");
  renderRegions(st);
  renderTimeline(st);
  renderTransitions(st);
}

let last = null;
async function refresh() {
  try {
    const res = await fetch("v1/status", { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    last = await res.json();
    render(last);
    $("error").style.display = "none";
    $("refreshed").textContent = clock(Date.now());
    document.body.setAttribute("data-refreshes", String(Number(document.body.getAttribute("data-refreshes") || 0) + 1));
  } catch (e) {
    const box = $("error");
    box.textContent = "cannot read /v1/status (" + e.message + "); showing the last state read" +
      (last ? " at " + $("refreshed").textContent : "");
    box.style.display = "block";
  } finally {
    setTimeout(refresh, 1000);
  }
}
refresh();
</script>
</body>
</html>
)HTML";

}  // namespace

std::string_view StatusPageHtml() {
  return kPage;
}

httpd::Response StatusPageResponse() {
  return httpd::Response{200, "text/html; charset=utf-8", std::string(kPage)};
}

}  // namespace aha::controller
