// The fieldbridge status page: renders the picture that /events sends every second (falls back to polling
// /api/view when the stream is not available). Every text from the gateway goes in through textContent.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const ui = { q: "", problems: false, page: 0, size: 50 };
let source = null;
let pollTimer = null;
let lastPicture = 0;

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function ago(iso) {
  if (!iso) return "";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function when(iso) {
  if (!iso) return el("span", { class: "muted" }, "—");
  return el("span", { title: new Date(iso).toLocaleString() }, `${new Date(iso).toLocaleTimeString()} (${ago(iso)})`);
}

function duration(seconds) {
  const s = Math.round(seconds);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

function fmtNum(v, digits = 2) {
  if (typeof v !== "number" || !Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(Math.abs(v) >= 100 ? 1 : digits);
}

function fmtValue(v) {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(Math.abs(v) >= 1000 ? 1 : 3)));
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

function stateBadge(state, good) {
  return el("span", { class: `state ${good ? "ok" : state === "connecting" || state === "waiting" || state === "backoff" ? "warn" : "bad"}` }, state);
}

function dl(rows) {
  const d = el("dl");
  for (const [k, v] of rows) if (v !== undefined) d.append(el("dt", {}, k), el("dd", {}, v));
  return d;
}

function renderHeader(p) {
  const g = p.gateway || {};
  $("gw-name").textContent = `${g.productKey || ""}/${g.deviceName || ""}`;
  $("version").textContent = `fieldbridge ${g.version || ""} · up ${duration(g.uptimeSeconds || 0)}`;
  const h = $("health");
  h.className = `badge ${p.health.ok ? "ok" : "bad"}`;
  h.textContent = p.health.ok ? "healthy" : `unhealthy: ${p.health.reason || "unknown"}`;
}

function renderCloud(p) {
  const c = p.cloud;
  const body = $("cloud").querySelector(".body");
  const rows = [
    ["Platform", c.platform],
    ["State", el("span", {}, stateBadge(c.connected ? "connected" : "disconnected", c.connected), " ", c.connected ? (c.since ? el("span", {}, "since ", when(c.since)) : "") : c.downSince ? el("span", {}, "down since ", when(c.downSince)) : "")],
  ];
  if (c.endpoint) rows.push(["Broker", c.endpoint]);
  const counters = Object.entries(c.counters || {}).map(([k, v]) => `${k} ${v}`).join(" · ");
  if (counters) rows.push(["Counters", counters]);
  if (c.routes) {
    rows.push(["Connections", el("span", {}, `${c.routes.total} `, ...Object.entries(c.routes.byState).map(([s, n]) => el("span", {}, stateBadge(`${s} ${n}`, s === "online"), " ")))]);
    if (c.routes.notOnline.length) rows.push(["Not online", el("span", {}, c.routes.notOnline.map((r) => `${r.route} (${r.state}${r.reason ? `: ${r.reason}` : ""})`).join(", "))]);
  }
  const d = p.devices;
  rows.push(["Devices", `${d.online} of ${d.total} online`]);
  const fw = p.firmware;
  if (fw && fw.version) {
    const up = fw.upgrading ? `, upgrading to ${fw.upgrading.version} (${[fw.upgrading.phase, fw.upgrading.step].filter(Boolean).join(", ")})` : "";
    const inst = fw.installed ? `, ${typeof fw.installed === "object" ? fw.installed.version ?? "" : fw.installed} installed, waiting for the restart` : "";
    rows.push(["Firmware", `${fw.version}${up}${inst}`]);
  }
  body.replaceChildren(dl(rows));
}

function renderOutbox(p) {
  const o = p.outbox || {};
  const body = $("outbox").querySelector(".body");
  body.replaceChildren(dl([
    ["Depth", `${o.depth ?? 0} messages (${Math.round((o.bytes || 0) / 1024)} KiB)`],
    ["Oldest", o.depth ? duration(o.oldestAgeSeconds || 0) : "—"],
    ["In flight", String(o.inFlight ?? 0)],
    ["Disk", o.writable === false ? stateBadge("writes failing", false) : stateBadge("writable", true)],
  ]));
  renderChart(p.history || []);
}

function polyline(points, color) {
  const pl = document.createElementNS(SVG, "polyline");
  pl.setAttribute("points", points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "));
  pl.setAttribute("fill", "none");
  pl.setAttribute("stroke", color);
  pl.setAttribute("stroke-width", "1.5");
  pl.setAttribute("vector-effect", "non-scaling-stroke");
  return pl;
}

/** A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten, at least `floor`. */
function niceMax(v, floor) {
  const m = Math.max(v, floor);
  const p = 10 ** Math.floor(Math.log10(m));
  return [1, 2, 5, 10].map((f) => f * p).find((n) => n >= m);
}

function sparkline(history, read, max, color, span, now) {
  const W = 360, H = 56;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const x = (t) => Math.max(0, W - ((now - t) / span) * W);
  for (const f of [0, 0.5, 1]) {
    const g = document.createElementNS(SVG, "line");
    const y = 1 + f * (H - 2);
    g.setAttribute("x1", "0"); g.setAttribute("x2", String(W)); g.setAttribute("y1", String(y)); g.setAttribute("y2", String(y));
    g.setAttribute("stroke", "#e3e6eb"); g.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(g);
  }
  if (history.length > 1) svg.append(polyline(history.map((h) => [x(h.t), H - 1 - (read(h) / max) * (H - 2)]), color));
  return svg;
}

function renderChart(history) {
  const box = $("chart");
  const now = Date.now();
  // The hour once it is full; before, the time since the first point (at least 5 min), so early data is readable.
  const span = Math.min(3_600_000, Math.max(300_000, history.length ? now - history[0].t : 0));
  const last = history[history.length - 1];
  const depthMax = niceMax(Math.max(0, ...history.map((h) => h.outboxDepth)), 10);
  const rateMax = niceMax(Math.max(0, ...history.map((h) => h.valuesPerSecond)), 1);
  const label = (cls, text, scale) => el("div", { class: "legend" }, el("span", {}, el("i", { class: cls }), text), el("span", { class: "muted" }, `scale 0–${scale}`));
  const minutes = Math.round(span / 60000);
  box.replaceChildren(
    label("rate", `values/s: now ${last ? fmtNum(last.valuesPerSecond, 1) : "—"}`, rateMax),
    sparkline(history, (h) => h.valuesPerSecond, rateMax, "#16a34a", span, now),
    label("depth", `outbox depth: now ${last ? last.outboxDepth : "—"}`, depthMax),
    sparkline(history, (h) => h.outboxDepth, depthMax, "#2563eb", span, now),
    el("div", { class: "axis muted" }, el("span", {}, `−${minutes} min`), el("span", {}, history.length > 2 ? "now" : "now (collecting: a point every 10 s)")));
}

function renderConfig(p) {
  const c = p.config;
  const body = $("config").querySelector(".body");
  const rows = [
    ["Version", c.version ? el("code", { title: c.version }, c.version.length > 16 ? `${c.version.slice(0, 16)}…` : c.version) : el("span", { class: "muted" }, "none applied")],
    ["Applied", c.appliedAt ? el("span", {}, when(c.appliedAt), c.source ? ` (${c.source})` : "") : "—"],
    ["Contents", `${c.channels} channels, ${c.devices} devices`],
  ];
  if (c.warnings.length) rows.push(["Warnings", el("ul", { class: "problems" }, c.warnings.map((w) => el("li", {}, typeof w === "string" ? w : JSON.stringify(w))))]);
  if (c.lastError) {
    const e = c.lastError;
    rows.push([c.rejected ? "Rejected" : "Last rejected", el("div", { "data-testid": "config-error" },
      stateBadge(c.rejected ? "rejected — previous config still runs" : "rejected earlier", false), " ", when(e.at),
      el("div", {}, `${e.stage ? `${e.stage}: ` : ""}${e.message}`),
      e.problems.length ? el("ul", { class: "problems" }, e.problems.map((x) => el("li", {}, x))) : null)]);
  } else rows.push(["Last change", stateBadge("applied", true)]);
  body.replaceChildren(dl(rows));
}

function renderChannels(p) {
  const rows = p.channels.map((c) => el("tr", { "data-server-id": c.serverId },
    el("td", {}, el("div", {}, c.name), el("div", { class: "reason" }, c.serverId)),
    el("td", {}, c.protocol),
    el("td", {}, stateBadge(c.up ? "up" : "down", c.up), c.reason && !c.up ? el("div", { class: "reason" }, c.reason) : null),
    el("td", { class: "num" }, fmtNum(c.requestsPerSecond, 1)),
    el("td", { class: "num" }, fmtNum(c.errorsPerSecond)),
    el("td", { class: "num" }, fmtNum(c.timeoutsPerSecond)),
    el("td", { class: "num" }, c.lastPollMs ? `${Math.round(c.lastPollMs)} ms` : "—"),
    el("td", { class: "num" }, c.protocol === "modbus-rtu" ? `${Math.round(c.busUtilisation * 100)} %` : "—")));
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 8, class: "muted" }, "no channels configured")));
  $("channels").tBodies[0].replaceChildren(...rows);
}

function renderDevices(p) {
  const d = p.devices;
  $("device-counts").replaceChildren(...Object.entries(d.byState).sort().map(([s, n]) => stateBadge(`${s} ${n}`, s === "online")));
  const no = d.notOnline;
  $("not-online").replaceChildren(no.length
    ? el("span", {}, el("b", {}, `Not online (${d.total - d.online}): `), no.map((x) => `${x.deviceName} (${x.state}${x.reason ? `: ${x.reason}` : ""})`).join(", "), d.total - d.online > no.length ? " …" : "")
    : "");
  const rows = d.items.map((x) => el("tr", { "data-device": x.key },
    el("td", {}, el("div", {}, x.deviceName), el("div", { class: "reason" }, x.productKey)),
    el("td", {}, x.serverId || "—"),
    el("td", {}, stateBadge(x.state, x.online), x.since ? el("div", { class: "reason" }, "since ", when(x.since)) : null, x.reason && !x.online ? el("div", { class: "reason" }, x.reason) : null),
    el("td", {}, when(x.lastSampleAt)),
    el("td", {}, el("div", { class: "values" }, x.values.map((v) => el("span", { "data-id": v.id }, el("b", {}, v.id), fmtValue(v.value), v.unit ? ` ${v.unit}` : ""))))));
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 5, class: "muted" }, d.total ? "no device matches" : "no devices configured")));
  $("devices").tBodies[0].replaceChildren(...rows);
  const q = d.query;
  ui.page = q.page;
  const first = d.matches ? q.page * q.size + 1 : 0;
  $("page-info").textContent = `${first}–${Math.min(d.matches, (q.page + 1) * q.size)} of ${d.matches}${d.matches !== d.total ? ` (of ${d.total})` : ""}`;
  $("prev").disabled = q.page <= 0;
  $("next").disabled = q.page >= d.pages - 1;
}

function renderLogs(p) {
  const rows = p.logs.map((l) => el("tr", {},
    el("td", {}, when(l.time)),
    el("td", {}, stateBadge(l.level, false)),
    el("td", {}, l.msg),
    el("td", {}, el("code", {}, Object.keys(l.fields).length ? JSON.stringify(l.fields) : ""))));
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 4, class: "muted" }, "none since the start")));
  $("logs").tBodies[0].replaceChildren(...rows);
}

function render(p) {
  lastPicture = Date.now();
  renderHeader(p);
  renderCloud(p);
  renderOutbox(p);
  renderConfig(p);
  renderChannels(p);
  renderDevices(p);
  renderLogs(p);
  const live = $("live");
  live.className = "live";
  live.textContent = `live · updated ${new Date(p.generatedAt).toLocaleTimeString()}`;
}

function query() {
  const params = new URLSearchParams({ page: String(ui.page), size: String(ui.size) });
  if (ui.q) params.set("q", ui.q);
  if (ui.problems) params.set("state", "problem");
  return params.toString();
}

async function poll() {
  try {
    const r = await fetch(`/api/view?${query()}`, { cache: "no-store", credentials: "same-origin" });
    if (r.status === 401) {
      location.href = "/login";
      return;
    }
    if (r.ok) render(await r.json());
  } catch {
    // shown as stale below
  }
}

function connect() {
  if (source) source.close();
  clearInterval(pollTimer);
  pollTimer = null;
  if (typeof EventSource === "undefined") {
    pollTimer = setInterval(poll, 2000);
    void poll();
    return;
  }
  source = new EventSource(`/events?${query()}`);
  source.onmessage = (ev) => render(JSON.parse(ev.data));
  source.onerror = () => {
    // A refused stream (token expired, too many pages open) does not retry by itself: poll instead.
    if (source.readyState === EventSource.CLOSED && !pollTimer) pollTimer = setInterval(poll, 2000);
  };
}

setInterval(() => {
  if (lastPicture && Date.now() - lastPicture > 5000) {
    const live = $("live");
    live.className = "live stale";
    live.textContent = `no update for ${Math.round((Date.now() - lastPicture) / 1000)} s — gateway unreachable?`;
  }
}, 1000);

document.addEventListener("DOMContentLoaded", () => {
  // The server marks the page when http.token is set: only then is there a session to end.
  $("logout").hidden = document.body.dataset.signin !== "1";
  let debounce = null;
  $("search").addEventListener("input", (e) => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      ui.q = e.target.value.trim();
      ui.page = 0;
      connect();
    }, 250);
  });
  $("problems").addEventListener("change", (e) => {
    ui.problems = e.target.checked;
    ui.page = 0;
    connect();
  });
  $("prev").addEventListener("click", () => {
    ui.page = Math.max(0, ui.page - 1);
    connect();
  });
  $("next").addEventListener("click", () => {
    ui.page += 1;
    connect();
  });
  connect();
});
