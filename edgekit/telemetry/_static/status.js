// edgekit status page: renders /status.json and the /events stream; no framework, no network
// beyond this server. Every value is put in the page as text (textContent), never as HTML.
"use strict";

(function () {
  let SPAN_S = 3600; // the server's history span (history_span_s)
  const SECTIONS = ["health", "queue", "sync", "infer", "state", "mesh", "guard", "recorder"];
  const history = { t: [], queue_depth: [], sync_messages_per_s: [], infer_p50_us: [], infer_p99_us: [] };
  const $ = (id) => document.getElementById(id);

  function num(v) {
    if (Math.abs(v) >= 1e6 || (Math.abs(v) < 0.01 && v !== 0)) return v.toExponential(2);
    return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 10 ? 2 : 1);
  }
  function bytes(v) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
    return (i === 0 ? String(v) : v.toFixed(1)) + " " + units[i];
  }
  function duration(s) {
    if (s < 120) return num(s) + " s";
    if (s < 7200) return (s / 60).toFixed(1) + " min";
    if (s < 172800) return (s / 3600).toFixed(1) + " h";
    return (s / 86400).toFixed(1) + " d";
  }
  function fmt(key, v) {
    if (v === null || v === undefined) return "-";
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (key === "topics" && Array.isArray(v) && v.length === 2) return v[0] + " messages, " + bytes(v[1]);
    if (Array.isArray(v)) return v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(", ");
    if (typeof v === "object") return JSON.stringify(v);
    if (typeof v !== "number") return String(v);
    if (key.endsWith("_bytes")) return bytes(v);
    if (key.endsWith("_percent")) return v.toFixed(1) + " %";
    if (key.endsWith("_per_s")) return num(v) + " /s";
    if (key.endsWith("_us")) return num(v) + " µs";
    if (key.endsWith("_at") || key.endsWith("_seen")) return new Date(v * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
    if (key.endsWith("_c")) return v.toFixed(1) + " °C";
    if (key.endsWith("_s")) return duration(v);
    return num(v);
  }
  function label(key) {
    return key.replace(/_(bytes|percent|per_s|us|at|c|s)$/, "").replace(/_/g, " ");
  }
  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  // One table of a section: a row a field, a row per entry of a dict field; several
  // observed objects of a kind (status.all, a dict of dicts) a sub-heading each.
  const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  function fill(table, prefix, obj) {
    const rows = [];
    function fields(path, o) {
      for (const [k, v] of Object.entries(o)) {
        const entries = isObj(v) ? Object.entries(v) : [[null, v]];
        for (const [kk, vv] of entries) {
          const tr = el("tr");
          tr.dataset.key = path + "." + k + (kk === null ? "" : "." + kk);
          tr.append(el("th", label(k) + (kk === null ? "" : " " + kk)), el("td", fmt(k, vv)));
          rows.push(tr);
        }
      }
    }
    if (isObj(obj) && Object.keys(obj).length && Object.values(obj).every(isObj)) {
      for (const [name, o] of Object.entries(obj)) {
        const tr = el("tr", undefined, "sub");
        const th = el("th", name);
        th.colSpan = 2;
        tr.append(th);
        rows.push(tr);
        fields(prefix + "." + name, o);
      }
    } else if (isObj(obj)) {
      fields(prefix, obj);
    }
    table.replaceChildren(...rows);
    table.closest(".card").classList.toggle("absent", !rows.length);
  }

  const COLUMNS = ["name", "kind", "vendor", "model", "protocols", "ip_addresses", "addresses", "rssi", "last_seen"];
  const FIRST_ROWS = 20;
  let allDevices = false;
  let lastScan = null;
  function devices(scan) {
    lastScan = scan;
    const list = (scan && Array.isArray(scan.devices)) ? scan.devices : [];
    const count = scan && typeof scan.count === "number" ? scan.count : list.length;
    $("device-count").textContent = scan ? "(" + count + ")" : "";
    $("card-scan").classList.toggle("absent", !scan);
    const cols = COLUMNS.filter((c) => list.some((d) => d[c] !== undefined && d[c] !== null));
    const head = el("tr");
    for (const c of cols) head.append(el("th", label(c)));
    const rows = [head];
    for (const d of allDevices ? list : list.slice(0, FIRST_ROWS)) {
      const tr = el("tr");
      for (const c of cols) tr.append(el("td", c === "rssi" && typeof d[c] === "number" ? d[c].toFixed(0) + " dBm" : fmt(c, d[c]), "c-" + c));
      rows.push(tr);
    }
    if (list.length > FIRST_ROWS) {
      const button = el("button", allDevices ? "show the first " + FIRST_ROWS : "show all " + list.length);
      button.type = "button";
      button.addEventListener("click", () => { allDevices = !allDevices; devices(lastScan); });
      const td = el("td");
      td.colSpan = cols.length;
      td.append(button);
      const tr = el("tr", undefined, "more");
      tr.append(td);
      rows.push(tr);
    }
    $("devices").replaceChildren(...(list.length ? rows : [el("tr", "no devices")]));
  }

  function health(s) {
    const badge = $("health-state");
    const hz = s.healthz || {};
    const ok = s.error ? false : hz.healthy;
    badge.textContent = s.error ? "error" : ok ? "healthy" : "unhealthy";
    badge.className = "badge " + (ok ? "ok" : "bad");
    const reasons = s.error ? [s.error] : (hz.reasons || []);
    $("reasons").hidden = !reasons.length;
    $("reasons").textContent = reasons.join("; ");
  }

  function merge(h) {
    if (!h || !Array.isArray(h.t)) return;
    const last = history.t.length ? history.t[history.t.length - 1] : -Infinity;
    h.t.forEach((t, i) => {
      if (t <= last) return;
      for (const k of Object.keys(history)) history[k].push(k === "t" ? t : (h[k] ? h[k][i] : null));
    });
    const newest = history.t.length ? history.t[history.t.length - 1] : 0;
    while (history.t.length && history.t[0] < newest - SPAN_S) for (const k of Object.keys(history)) history[k].shift();
  }

  const NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  // A small line plot of the last hour: x from -60 min to now, y from 0 to the largest value.
  function plot(id, series) {
    const box = $(id);
    const W = 300, H = 90, L = 34, B = 14, T = 6;
    const now = history.t.length ? history.t[history.t.length - 1] : 0;
    let top = 0;
    for (const s of series) for (const v of history[s.key]) if (v !== null && v > top) top = v;
    const ymax = top > 0 ? top * 1.1 : 1;
    const parts = [
      svg("line", { x1: L, y1: H - B, x2: W, y2: H - B, class: "axis" }),
      svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }),
      svg("text", { x: L - 3, y: T + 8, class: "tick", "text-anchor": "end" }, num(ymax)),
      svg("text", { x: L - 3, y: H - B, class: "tick", "text-anchor": "end" }, "0"),
      svg("text", { x: L, y: H - 2, class: "tick" }, "-" + spanText(SPAN_S)),
      svg("text", { x: W, y: H - 2, class: "tick", "text-anchor": "end" }, "now"),
    ];
    let points = 0;
    for (const s of series) {
      const pts = [];
      history.t.forEach((t, i) => {
        const v = history[s.key][i];
        if (v === null || v === undefined) return;
        const x = L + ((t - (now - SPAN_S)) / SPAN_S) * (W - L);
        const y = H - B - (v / ymax) * (H - B - T);
        pts.push(x.toFixed(1) + "," + y.toFixed(1));
      });
      points += pts.length;
      if (pts.length) parts.push(svg("polyline", { points: pts.join(" "), class: "line " + s.cls }));
    }
    if (!points) parts.push(svg("text", { x: (W + L) / 2, y: H / 2, class: "tick", "text-anchor": "middle" }, "no data yet"));
    box.dataset.points = String(points);
    box.replaceChildren(...parts);
  }

  function spanText(s) {
    return s >= 3600 && s % 3600 === 0 ? (s === 3600 ? "1 h" : s / 3600 + " h") : Math.round(s / 60) + " min";
  }

  function render(s) {
    if (typeof s.history_span_s === "number" && s.history_span_s > 0 && s.history_span_s !== SPAN_S) {
      SPAN_S = s.history_span_s;
      const text = SPAN_S === 3600 ? "last hour" : "last " + spanText(SPAN_S);
      for (const node of document.querySelectorAll(".span")) node.textContent = text;
    }
    health(s);
    for (const name of SECTIONS) {
      const every = s.all && s.all[name]; // several objects of a kind: a sub-table each
      fill($(name), name, every && Object.keys(every).length > 1 ? every : s[name]);
    }
    devices(s.scan);
    merge(s.history);
    plot("plot-queue", [{ key: "queue_depth", cls: "a" }]);
    plot("plot-sync", [{ key: "sync_messages_per_s", cls: "a" }]);
    plot("plot-infer", [{ key: "infer_p50_us", cls: "p50" }, { key: "infer_p99_us", cls: "p99" }]);
    const t = typeof s.time === "number" ? new Date(s.time * 1000) : new Date();
    $("updated").textContent = "updated " + t.toISOString().slice(11, 19) + " UTC";
    const updates = Number(document.body.dataset.updates || 0) + 1;
    document.body.dataset.updates = String(updates);
    if (updates === 1 && window.performance && performance.mark) performance.mark("edgekit-first-render");
  }

  function load() {
    fetch("/status.json", { credentials: "same-origin", cache: "no-store" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error("status " + r.status))))
      .then(render)
      .catch((e) => { $("health-state").textContent = "offline"; $("health-state").className = "badge bad"; $("reasons").hidden = false; $("reasons").textContent = String(e.message || e); });
  }

  function start() {
    if (new URLSearchParams(location.search).has("token")) dropTokenFromAddress();
    if (!window.EventSource) { load(); setInterval(load, 2000); return; }
    load();
    const events = new EventSource("/events");
    let opened = false;
    events.onopen = () => { if (opened) load(); opened = true; }; // the whole hour again after a reconnect
    events.onmessage = (m) => render(JSON.parse(m.data));
    events.onerror = () => { $("health-state").textContent = "reconnecting"; $("health-state").className = "badge"; };
  }
  // The token came in the address once (it is now a cookie): keep it out of the address bar.
  function dropTokenFromAddress() { window.history.replaceState(null, "", location.pathname); }

  document.addEventListener("DOMContentLoaded", start);
})();
