// What the city, shelter and robot pages share: the vendored libraries (loaded once, when a
// map or chart is first drawn), and how a device's condition is judged and named (air grade
// for a shelter, the fullest bin for a robot), in words and colour. The districts and the
// alert words every device and alert page shares are in ../fleet.js.
import { get } from "../api.js";
import { badge, h, notice } from "../dom.js";
import { kindName, severityBadge } from "../fleet.js";
import { t } from "../i18n.js";

const here = (path) => new URL(path, import.meta.url).href;
export const VENDOR = {
  leaflet: here("../../vendor/leaflet-1.9.4/leaflet.js"),
  leafletCss: here("../../vendor/leaflet-1.9.4/leaflet.css"),
  cluster: here("../../vendor/leaflet.markercluster-1.5.3/leaflet.markercluster.js"),
  clusterCss: here("../../vendor/leaflet.markercluster-1.5.3/MarkerCluster.css"),
  uplot: here("../../vendor/uplot-1.6.32/uPlot.iife.min.js"),
  uplotCss: here("../../vendor/uplot-1.6.32/uPlot.min.css"),
};

const loading = new Map();

function once(key, make) {
  if (!loading.has(key)) {
    const promise = make();
    promise.catch(() => loading.delete(key)); // a failed load may be tried again
    loading.set(key, promise);
  }
  return loading.get(key);
}

/** A classic script (the UMD builds set window.L / window.uPlot), added once. */
export function script(src) {
  return once(src, () => new Promise((resolve, reject) => {
    const el = document.createElement("script");
    el.src = src;
    el.onload = resolve;
    el.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(el);
  }));
}

/** A stylesheet, added once (before the console's own, so ours win). */
export function stylesheet(href) {
  return once(href, () => new Promise((resolve, reject) => {
    const el = document.createElement("link");
    el.rel = "stylesheet";
    el.href = href;
    el.onload = resolve;
    el.onerror = () => reject(new Error(`could not load ${href}`));
    const first = document.head.querySelector('link[rel="stylesheet"]');
    document.head.insertBefore(el, first);
  }));
}

/** Leaflet, then markercluster (it extends window.L), with their stylesheets. */
export async function leaflet() {
  await Promise.all([
    script(VENDOR.leaflet).then(() => script(VENDOR.cluster)),
    stylesheet(VENDOR.leafletCss),
    stylesheet(VENDOR.clusterCss),
  ]);
  return window.L;
}

export async function uplot() {
  await Promise.all([script(VENDOR.uplot), stylesheet(VENDOR.uplotCss)]);
  return window.uPlot;
}

// ---------------------------------------------------------------- judging a device

// The fullest bin decides a robot: below 0.6 fine, below 0.9 filling, from 0.9 full (the
// robot stops taking items at 0.9: chalicelib/domain/fleet.py BIN_FULL).
export const BIN_WARN = 0.6;
export const BIN_FULL = 0.9;

/** The fullest bin's level (0..1), or null when no bin has reported. */
export function fullest(bins) {
  const levels = Object.values(bins || {}).filter((v) => typeof v === "number");
  return levels.length ? Math.max(...levels) : null;
}

export function fillKind(level) {
  if (level === null || level === undefined) return "unknown";
  if (level >= BIN_FULL) return "full";
  if (level >= BIN_WARN) return "warn";
  return "ok";
}

/**
 * A device's condition: {kind, rank, word}. `kind` names its colour (grade-* for shelters,
 * fill-* for robots, "fault"); `rank` orders conditions across both (higher is worse), so
 * a cluster takes its worst member's colour and word.
 */
export function condition(device) {
  if (device.type === "shelter") {
    const grade = device.air?.grade || "unknown";
    const rank = { unknown: -1, good: 0, moderate: 1, bad: 2, very_bad: 3 }[grade] ?? -1;
    return { kind: `grade-${grade}`, rank, word: t(`city.grade.${grade}`) };
  }
  if (device.fault) return { kind: "fault", rank: 4, word: t("city.fill.fault") };
  const fill = fillKind(fullest(device.bins));
  const rank = { unknown: -1, ok: 0, warn: 1, full: 2.5 }[fill];
  return { kind: `fill-${fill}`, rank, word: t(`city.fill.${fill}`) };
}

export function gradeBadge(grade) {
  const g = grade || "unknown";
  return badge(t(`city.grade.${g}`), g === "unknown" ? "" : g);
}

export function statusBadge(status) {
  return badge(t(`city.status.${status}`), status === "online" ? "ok" : "error");
}

export function fillBadge(level) {
  const kind = fillKind(level);
  return badge(t(`city.fill.${kind}`), { ok: "ok", warn: "warn", full: "error" }[kind] || "");
}

export function percent(level) {
  return level === null || level === undefined ? "—" : `${Math.round(level * 100)}%`;
}

/** The operators' fleet health row for one device (open alerts, counters), or null. */
export async function health(deviceId, signal) {
  const { devices } = await get("/v1/admin/devices", {}, { signal });
  return devices.find((d) => d.device_id === deviceId) || null;
}

// ---------------------------------------------------------------- a device's page

/** The device's first answer, or null once the page says there is no such device (404). */
export async function firstAnswer(view, path, signal, title) {
  try {
    return await get(path, {}, { signal });
  } catch (error) {
    if (error.status !== 404) throw error;
    view.append(h("h1", {}, title), notice(t("city.device.notFound"), "error"), backToCity());
    return null;
  }
}

export function backToCity() {
  return h("p", {}, h("a", { href: "#/city" }, t("city.back")));
}

/** A card of a device's page: a section named by its h2. */
export function card(id, heading, content) {
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, heading), content);
}

/** The line under a device's name: type, district, id and connection. */
export function deviceLine(el, device, type, names) {
  el.replaceChildren(t(`city.type.${type}`), " · ", names.get(device.district) || device.district, " · ",
    device.device_id, " · ", statusBadge(device.status));
}

export const LIVE_EVERY_MS = 15000;
export const HEALTH_EVERY = 4; // fleet health is the whole fleet's: every 4th round (a minute)

/** Keep a device's page live: `round(n)` every 15 s while the tab is in view, until the
 * page is left; a failed round is left for the next (the page keeps what it showed). */
export function keepLive(ctx, round) {
  let n = 0;
  const timer = setInterval(async () => {
    if (document.hidden) return;
    n += 1;
    try {
      await round(n);
    } catch { /* the next round tries again */ }
  }, LIVE_EVERY_MS);
  ctx.onLeave(() => clearInterval(timer));
}

/** A device's open alerts as a list of links to their pages. */
export function alertList(alerts, caption) {
  if (!alerts.length) return h("p", { class: "muted" }, t("city.device.noAlerts"));
  return h(
    "ul", { class: "device-alerts", "aria-label": caption },
    alerts.map((a) => h("li", {},
      severityBadge(a.severity || "minor"), " ",
      a.alert_id ? h("a", { href: `#/alerts/${encodeURIComponent(a.alert_id)}` }, kindName(a.kind)) : kindName(a.kind),
      " — ", a.detail,
    )),
  );
}
