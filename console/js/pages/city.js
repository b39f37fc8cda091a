// The city (`#/city`): the map of shelters and robots over the district outlines, the open
// alerts (also the map as a list, for keyboard and screen-reader users), and today's
// figures. Each part is drawn only for the roles that may see it, and as soon as its data
// is in; `performance.mark("city:interactive")` once all of them are on screen.
//
// Fast with a whole city: markers are drawn on one canvas (no element per device), added
// through markercluster's chunked loading; alerts and the device list render 50 / 100 rows
// at a time; popups are built when a marker is clicked.
import { all, get } from "../api.js";
import { can, settings } from "../auth.js";
import { figure, h, notice, table } from "../dom.js";
import { ago, num, t, when } from "../i18n.js";
import { condition, fillBadge, fullest, gradeBadge, leaflet, percent, statusBadge } from "../city/kit.js";
import { districtNames, districtOutlines, SEVERITIES, severityBadge } from "../fleet.js";
import { kpiCards, kpis } from "../kpis.js";
import { part } from "../widgets.js";

const ALERT_PAGE = 50;
const DEVICE_PAGE = 100;
const REFRESH_MS = 60000;
// Today's headline KPIs (all of them when the API names none of these); the rest on #/projects.
const CITY_KPIS = ["items_recycled", "co2_avoided_kg", "active_walkers", "steps", "shelter_good_air_hours", "charger_sessions"];

// Marker colours (fill) by condition; the same names are classes in city.css for the
// legend and the clusters, so a word always stands beside a colour.
const COLOURS = {
  "grade-good": "#1f5fbf",
  "grade-moderate": "#1d7a3a",
  "grade-bad": "#d97400",
  "grade-very_bad": "#b3261e",
  "grade-unknown": "#8a96a3",
  "fill-ok": "#1d7a3a",
  "fill-warn": "#e0a800",
  "fill-full": "#b3261e",
  "fill-unknown": "#8a96a3",
  fault: "#5b2a86",
};

export default async function render(view, ctx) {
  const mayDevices = can("devices");
  const mayAlerts = can("alerts");
  const mayStats = can("stats");
  const { signal } = ctx;

  view.append(
    h("div", { class: "page-head" },
      h("h1", {}, t("city.title")),
      h("button", { type: "button", onclick: ctx.refresh }, t("app.refresh")),
    ),
  );
  const figures = h("div", { class: "cards city-figures" });
  view.append(h("section", { "aria-labelledby": "city-figures" },
    h("h2", { id: "city-figures" }, t("city.figures")), figures));
  // Today's KPIs (public, under the alerts): drawn when they come, never waited for
  // (city:interactive does not wait on them).
  const kpiBox = h("div", {}, h("p", { class: "loading" }, t("app.loading")));
  const showKpis = () => part(kpiBox, kpis("day", "", signal), (el, { kpis: all = [] }) => {
    const some = all.filter((k) => CITY_KPIS.includes(k.kpi_id));
    el.append(kpiCards(some.length ? some : all));
  });
  showKpis();

  // Everything is asked for at once; each part draws when its own answers are in.
  const names = districtNames();
  const ask = () => ({
    fleet: mayDevices
      ? Promise.all([get("/v1/shelters", {}, { signal }), get("/v1/robots", {}, { signal })]).then(
        ([s, r]) => [
          ...s.shelters.map((d) => ({ ...d, type: "shelter" })),
          ...r.robots.map((d) => ({ ...d, type: "robot" })),
        ])
      : null,
    alerts: mayAlerts
      ? all("/v1/admin/alerts", "alerts", { status: "active", limit: 200 }, { signal, max: 2000 })
      : null,
    stats: mayStats ? get("/v1/admin/stats", {}, { signal }) : null,
  });
  const first = ask();
  const libraries = mayDevices ? Promise.all([leaflet(), districtOutlines()]) : null;

  const slot = (kind) => {
    const el = h("div", { class: ["figure-group", kind] }, h("p", { class: "loading" }, t("app.loading")));
    figures.append(el);
    return el;
  };
  const slots = { fleet: mayDevices && slot("devices"), alerts: mayAlerts && slot("alerts"), stats: mayStats && slot("stats") };
  const mapBox = h("div", { class: "city-map-box" }, h("p", { class: "loading" }, t("app.loading")));
  const listBox = h("div", {});
  const alertBox = h("div", {}, h("p", { class: "loading" }, t("app.loading")));
  if (mayDevices) {
    view.append(h("section", { "aria-labelledby": "city-map" },
      h("h2", { id: "city-map" }, t("city.map")), mapBox, legend(), listBox));
  }
  if (mayAlerts) {
    view.append(h("section", { "aria-labelledby": "city-alerts" },
      h("h2", { id: "city-alerts" }, t("city.alerts")), alertBox));
  }
  view.append(h("section", { "aria-labelledby": "city-kpis" },
    h("h2", { id: "city-kpis" }, t("city.kpis")), kpiBox,
    h("p", {}, h("a", { href: "#/projects" }, t("city.kpis.more")))));
  if (!mayDevices && !mayAlerts && !mayStats) view.append(notice(t("city.nothing")));

  let updateMap = null;
  const draw = (answers) => {
    const parts = [];
    if (answers.fleet) parts.push(part(slots.fleet, answers.fleet, deviceFigures));
    if (answers.alerts) parts.push(part(slots.alerts, answers.alerts, alertFigures));
    if (answers.stats) parts.push(part(slots.stats, answers.stats, statFigures));
    if (answers.fleet) {
      parts.push(part(mapBox, Promise.all([libraries, answers.fleet, names]), async (el, [[L, outlines], devices, n]) => {
        if (updateMap) {
          await updateMap(devices);
        } else {
          updateMap = await drawMap(el, L, outlines, devices, n, ctx);
        }
        deviceList(listBox, devices, n);
      }, { keep: () => updateMap !== null }));
    }
    if (answers.alerts) {
      parts.push(part(alertBox, Promise.all([answers.alerts, names, answers.fleet]), (el, [list, n, devices]) =>
        alertList(el, list, n, devices)));
    }
    return Promise.all(parts);
  };

  await draw(first);
  if (signal.aborted) return;
  performance.mark("city:interactive");

  // Kept open all day: the figures, the map and the alerts follow every minute while the
  // tab is in view (the alerts page polls for changes; this page redraws the whole city).
  // A list someone is working in (focus inside) is left as it is until the next round.
  const timer = setInterval(() => {
    if (document.hidden) return;
    const busy = (el) => el.contains(document.activeElement);
    const answers = ask();
    if (busy(alertBox)) answers.alerts = null;
    if (busy(listBox)) answers.fleet = null;
    draw(answers);
    showKpis();
  }, REFRESH_MS);
  ctx.onLeave(() => clearInterval(timer));
}

function deviceFigures(el, devices) {
  const online = devices.filter((d) => d.status === "online").length;
  const count = (type, status) => devices.filter((d) => d.type === type && d.status === status).length;
  el.append(
    figure(t("city.fig.online"), `${num(online)} / ${num(devices.length)}`,
      t("city.fig.byType", { shelters: count("shelter", "online"), robots: count("robot", "online") })),
    figure(t("city.fig.offline"), num(devices.length - online),
      t("city.fig.byType", { shelters: count("shelter", "offline"), robots: count("robot", "offline") })),
  );
}

function alertFigures(el, alerts) {
  for (const severity of SEVERITIES) {
    const n = alerts.filter((a) => a.severity === severity).length;
    el.append(h("div", { class: ["figure", `figure-${severity}`] },
      h("div", { class: "label" }, t("city.fig.alerts"), " ", severityBadge(severity)),
      h("div", { class: "value" }, num(n))));
  }
}

function statFigures(el, stats) {
  const today = stats.today;
  el.append(
    figure(t("city.fig.items"), num(today.items_recycled), t("city.fig.day", { date: today.date })),
    figure(t("city.fig.points"), num(today.points_issued), t("city.fig.day", { date: today.date })),
    figure(t("city.fig.steps"), num(today.steps_synced), t("city.fig.day", { date: today.date })),
    figure(t("city.fig.held"), num(stats.points_held), t("city.fig.allTime")),
  );
}

// ---------------------------------------------------------------- the map

function href(device) {
  return `#/${device.type === "shelter" ? "shelters" : "robots"}/${encodeURIComponent(device.device_id)}`;
}

/** Devices at the very same spot are set apart on a small circle (a few metres), in
 * device-id order, so each has its own marker at the closest zoom (and spiderfies). */
function spread(devices) {
  const spots = new Map();
  for (const d of devices) {
    const key = `${d.location.lat.toFixed(5)},${d.location.lon.toFixed(5)}`;
    if (!spots.has(key)) spots.set(key, []);
    spots.get(key).push(d);
  }
  const placed = new Map();
  for (const group of spots.values()) {
    group.sort((a, b) => (a.device_id < b.device_id ? -1 : 1));
    group.forEach((d, i) => {
      if (group.length === 1) {
        placed.set(d, [d.location.lat, d.location.lon]);
        return;
      }
      const angle = (2 * Math.PI * i) / group.length;
      const metres = 6 + group.length;
      placed.set(d, [
        d.location.lat + (metres / 111320) * Math.sin(angle),
        d.location.lon + (metres / (111320 * Math.cos((d.location.lat * Math.PI) / 180))) * Math.cos(angle),
      ]);
    });
  }
  return placed;
}

async function drawMap(el, L, outlines, devices, names, ctx) {
  const tiles = settings().tiles;
  const box = h("div", { class: "city-map", role: "region", "aria-label": t("city.map.label") });
  el.append(box, h("p", { class: "hint" }, tiles ? t("city.map.tilesNote") : t("city.map.schematic")));
  const renderer = L.canvas({ padding: 0.3 });
  const map = L.map(box, {
    renderer, preferCanvas: true, attributionControl: !!tiles, zoomSnap: 0.5, minZoom: 9, maxZoom: 18,
  });
  ctx.onLeave(() => map.remove());
  if (tiles) L.tileLayer(tiles.url, { maxZoom: 18, attribution: tiles.attribution || t("city.map.attribution") }).addTo(map);
  const districts = L.geoJSON(outlines, {
    interactive: false,
    style: { color: "#4f5863", weight: 1.2, fillColor: "#eef1f4", fillOpacity: tiles ? 0 : 0.8 },
  }).addTo(map);
  // Open on the fleet (the whole city when it spans it; a park's few devices up close), with
  // the districts around it for context.
  const located = devices.filter((d) => d.location);
  const bounds = located.length
    ? L.latLngBounds(located.map((d) => [d.location.lat, d.location.lon])).pad(0.15)
    : districts.getBounds();
  map.fitBounds(bounds, { padding: [16, 16], maxZoom: 15 });

  const Square = L.CircleMarker.extend({
    // A robot is a square on the same canvas (Leaflet's canvas renderer draws circles).
    _updatePath() {
      const r = this._renderer;
      if (!r._drawing || this._empty()) return;
      const p = this._point;
      const s = Math.max(Math.round(this._radius), 1);
      r._ctx.beginPath();
      r._ctx.rect(p.x - s, p.y - s, 2 * s, 2 * s);
      r._fillStroke(r._ctx, this);
    },
  });
  const markersFor = (list) => {
    const at = spread(list);
    return list.map((d) => {
      const c = condition(d);
      const offline = d.status !== "online";
      const options = {
        renderer, radius: d.type === "shelter" ? 7 : 6, weight: offline ? 2 : 1.5,
        color: offline ? "#1b1f24" : "#ffffff", dashArray: offline ? "3 3" : null,
        fillColor: COLOURS[c.kind], fillOpacity: 0.95,
      };
      const marker = d.type === "shelter" ? L.circleMarker(at.get(d), options) : new Square(at.get(d), options);
      marker.device = d;
      marker.condition = c;
      return marker;
    });
  };

  let loaded = null;
  const group = L.markerClusterGroup({
    chunkedLoading: true,
    chunkProgress: (processed, total) => {
      if (processed >= total && loaded) {
        loaded();
        loaded = null;
      }
    },
    animate: false,
    showCoverageOnHover: false,
    spiderfyOnMaxZoom: true,
    maxClusterRadius: 44,
    iconCreateFunction: (cluster) => clusterIcon(L, cluster),
  });
  group.on("click", (event) => {
    const d = event.layer.device;
    if (!d) return;
    L.popup({ autoPanPadding: [24, 24], maxWidth: 260 })
      .setLatLng(event.layer.getLatLng())
      .setContent(popup(d, event.layer.condition, names))
      .openOn(map);
  });
  map.on("popupopen", (event) => event.popup.getElement()?.querySelector("a.open")?.focus({ preventScroll: true }));
  map.addLayer(group);

  /** Put these devices on the map (in place of any before); resolves once all are drawn. */
  const show = async (list) => {
    const markers = markersFor(list);
    group.clearLayers();
    if (markers.length) {
      await new Promise((resolve) => {
        loaded = resolve;
        group.addLayers(markers);
      });
    }
    box.dataset.markers = String(markers.length); // how many devices the map drew (tests, bench)
  };
  await show(devices);
  return show;
}

function clusterIcon(L, cluster) {
  let worst = null;
  for (const m of cluster.getAllChildMarkers()) {
    if (!worst || m.condition.rank > worst.condition.rank) worst = m;
  }
  const count = cluster.getChildCount();
  const size = count < 10 ? 32 : count < 100 ? 38 : 44;
  const inner = h("div", { class: ["cluster", `c-${worst.condition.kind}`] },
    h("span", { "aria-hidden": "true" }, String(count)),
    h("span", { class: "sr-only" }, t("city.cluster", { n: count, worst: worst.condition.word })));
  return L.divIcon({ html: inner, className: "cluster-icon", iconSize: L.point(size, size) });
}

function popup(d, c, names) {
  const level = d.type === "shelter"
    ? [t("city.popup.air"), gradeBadge(d.air?.grade), d.air?.pm10 != null ? ` PM10 ${num(d.air.pm10)} · PM2.5 ${num(d.air.pm25)}` : ""]
    : [t("city.popup.bins"), d.fault ? h("span", {}, c.word, " ") : null, fillBadge(fullest(d.bins)), ` ${percent(fullest(d.bins))}`];
  return h("div", { class: "device-popup" },
    h("p", { class: "popup-name" }, h("strong", {}, d.name)),
    h("p", {}, t(`city.type.${d.type}`), " · ", names.get(d.district) || d.district),
    h("p", {}, level),
    h("p", {}, statusBadge(d.status), " ", t("city.popup.seen", { ago: ago(d.last_seen) })),
    h("p", {}, h("a", { class: "open", href: href(d) }, t("city.popup.open", { name: d.name }))),
  );
}

function legend() {
  const item = (shape, kind, word) =>
    h("li", {}, h("span", { class: ["swatch", shape, `c-${kind}`], "aria-hidden": "true" }), word);
  return h("div", { class: "legend", role: "group", "aria-label": t("city.legend") },
    h("div", {},
      h("h3", {}, t("city.legend.shelters")),
      h("ul", {}, ["good", "moderate", "bad", "very_bad", "unknown"].map((g) =>
        item("round", `grade-${g}`, t(`city.grade.${g}`))))),
    h("div", {},
      h("h3", {}, t("city.legend.robots")),
      h("ul", {},
        item("square", "fill-ok", `${t("city.fill.ok")} (< 60%)`),
        item("square", "fill-warn", `${t("city.fill.warn")} (60–89%)`),
        item("square", "fill-full", `${t("city.fill.full")} (≥ 90%)`),
        item("square", "fault", t("city.fill.fault")),
        item("square", "fill-unknown", t("city.fill.unknown")))),
    h("div", {},
      h("h3", {}, t("city.legend.more")),
      h("ul", {},
        h("li", {}, h("span", { class: "swatch round offline", "aria-hidden": "true" }), t("city.legend.offline")),
        h("li", {}, h("span", { class: "swatch cluster-swatch c-grade-very_bad", "aria-hidden": "true" }, "12"), t("city.legend.cluster")))),
  );
}

/** The map as a list (worst first), drawn when opened, a hundred rows at a time. */
function deviceList(el, devices, names) {
  const wasOpen = el.querySelector("details")?.open;
  const details = h("details", { class: "device-list" }, h("summary", {}, t("city.list", { n: devices.length })));
  el.replaceChildren(details);
  const sorted = [...devices].sort((a, b) => condition(b).rank - condition(a).rank || (a.name < b.name ? -1 : 1));
  let shown = 0;
  let body = null;
  const more = h("button", { type: "button", class: "more", onclick: () => page() });
  const page = () => {
    const rows = sorted.slice(shown, shown + DEVICE_PAGE);
    shown += rows.length;
    body.append(...rows.map((d) => h("tr", {},
      h("td", {}, h("a", { href: href(d) }, d.name)),
      h("td", {}, t(`city.type.${d.type}`)),
      h("td", {}, names.get(d.district) || d.district),
      h("td", {}, d.type === "shelter" ? gradeBadge(d.air?.grade) : [d.fault ? `${t("city.fill.fault")} · ` : "", fillBadge(fullest(d.bins)), ` ${percent(fullest(d.bins))}`]),
      h("td", {}, statusBadge(d.status)),
    )));
    more.textContent = t("city.more", { n: sorted.length - shown });
    more.hidden = shown >= sorted.length;
  };
  details.addEventListener("toggle", () => {
    if (!details.open || body) return;
    const wrap = table(t("city.list.caption"), [
      { label: t("city.col.name"), cell: () => "" },
      { label: t("city.col.type"), cell: () => "" },
      { label: t("city.col.district"), cell: () => "" },
      { label: t("city.col.condition"), cell: () => "" },
      { label: t("city.col.status"), cell: () => "" },
    ], []);
    body = wrap.querySelector("tbody");
    body.replaceChildren();
    details.append(wrap, more);
    page();
  });
  if (wasOpen) details.open = true;
}

// ---------------------------------------------------------------- alerts

function alertList(el, alerts, names, devices) {
  if (!alerts.length) {
    el.append(h("p", {}, t("city.alerts.none")));
    return;
  }
  const byId = new Map((devices || []).map((d) => [d.device_id, d]));
  const sorted = [...alerts].sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at));
  const list = h("ol", { class: "alert-list", "aria-label": t("city.alerts.label", { n: sorted.length }) });
  const more = h("button", { type: "button", class: "more", onclick: () => page() });
  let shown = 0;
  const page = () => {
    const items = sorted.slice(shown, shown + ALERT_PAGE);
    shown += items.length;
    list.append(...items.map((a) => {
      const device = byId.get(a.device_id);
      return h("li", { class: ["alert-item", `alert-${a.severity}`] },
        severityBadge(a.severity), " ",
        h("a", { href: `#/alerts/${encodeURIComponent(a.alert_id)}` }, t(`city.kind.${a.kind}`), ": ", device?.name || a.device_id),
        " ",
        h("span", { class: "meta" },
          names.get(a.district) || a.district, " · ",
          h("time", { datetime: a.raised_at, title: when(a.raised_at) }, ago(a.raised_at)),
          a.acknowledged ? ` · ${t("city.alerts.acked")}` : ""),
        a.detail ? h("span", { class: "detail" }, a.detail) : null,
      );
    }));
    more.textContent = t("city.more", { n: sorted.length - shown });
    more.hidden = shown >= sorted.length;
  };
  el.append(list, more, h("p", {}, h("a", { href: "#/alerts" }, t("city.alerts.all"))));
  page();
}
