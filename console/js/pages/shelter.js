// A shelter (`#/shelters/{id}`): its live state as staff see it (GET /v1/admin/shelters/{id},
// refreshed every 15 s), its open alerts, the purifier with the override form (only with
// the `purifier` power), and the air history: PM10 and PM2.5 hourly means, each on its own
// chart with its grade bands shaded, and the same numbers as a table.
import { del, get, put } from "../api.js";
import { can } from "../auth.js";
import { badge, facts, field, form, h, notice, table, toast } from "../dom.js";
import { ago, lang, num, t, when } from "../i18n.js";
import {
  alertList, backToCity, card, deviceLine, firstAnswer, gradeBadge, health, HEALTH_EVERY, keepLive, uplot,
} from "../city/kit.js";
import { districtNames } from "../fleet.js";

const HOURS = [6, 24, 72, 168];
// The Korean grade bands, upper bounds in µg/m³ (chalicelib/domain/air.py PM10_BANDS,
// PM25_BANDS): good, moderate, bad; above the last is very bad.
const BANDS = { pm10: [30, 80, 150], pm25: [15, 35, 75] };
const BAND_FILLS = ["rgba(31,95,191,0.13)", "rgba(29,122,58,0.13)", "rgba(217,116,0,0.16)", "rgba(179,38,30,0.16)"];
const GRADES = ["good", "moderate", "bad", "very_bad"];
const LINE = { pm10: "#14324f", pm25: "#8a3ffc" };

export default async function render(view, ctx) {
  const id = ctx.params.id;
  const path = `/v1/admin/shelters/${encodeURIComponent(id)}`;
  const { signal } = ctx;
  const shelter = await firstAnswer(view, path, signal, t("shelter.title"));
  if (!shelter) return;
  const names = await districtNames();
  const title = h("h1", {}, shelter.name);
  const sub = h("p", { class: "sub" });
  const live = h("div", {});
  const purifier = h("div", {});
  const alerts = h("div", {}, h("p", { class: "loading" }, t("app.loading")));
  view.append(
    h("div", { class: "device-head" }, backToCity(), title, sub),
    h("div", { class: "device-grid" },
      card("shelter-live", t("shelter.live"), live),
      card("shelter-purifier", t("shelter.purifier"),
        [purifier, can("purifier") ? overrideForm(path, (answer) => draw(answer)) : null]),
      card("shelter-alerts", t("shelter.alerts"), alerts),
    ),
  );

  // An answer to the person's own step redraws all; a live round leaves the purifier's part
  // alone while the focus is in it (its button would be lost under the keyboard).
  function draw(s, { own = true } = {}) {
    title.textContent = s.name;
    deviceLine(sub, s, "shelter", names);
    live.replaceChildren(liveFacts(s));
    if (own || !purifier.contains(document.activeElement)) purifier.replaceChildren(purifierState(s, path, draw));
  }
  draw(shelter);

  const refreshHealth = () => health(id, signal).then(
    (row) => alerts.replaceChildren(alertList(row?.open_alerts || [], t("shelter.alerts"))),
    (error) => error.name !== "AbortError" && alerts.replaceChildren(notice(error.message, "error")),
  );
  refreshHealth();
  keepLive(ctx, async (round) => {
    draw(await get(path, {}, { signal }), { own: false });
    if (round % HEALTH_EVERY === 0) await refreshHealth();
  });

  await airHistory(view, id, ctx);
}

function liveFacts(s) {
  const unit = (v, u) => (v === null || v === undefined ? null : `${num(v)} ${u}`);
  return facts([
    [t("shelter.grade"), gradeBadge(s.air.grade)],
    ["PM10", unit(s.air.pm10, "µg/m³")],
    ["PM2.5", unit(s.air.pm25, "µg/m³")],
    [t("shelter.airAt"), s.air.updated_at ? `${when(s.air.updated_at)} (${ago(s.air.updated_at)})` : null],
    [t("shelter.chargers"), s.chargers.total === null ? null : t("shelter.chargersInUse", { n: s.chargers.in_use ?? 0, total: s.chargers.total })],
    [t("shelter.occupancy"), s.occupancy === null ? null : t("shelter.people", { n: s.occupancy })],
    [t("shelter.temp"), unit(s.climate.temp_c, "°C")],
    [t("shelter.humidity"), unit(s.climate.humidity, "%")],
    ["CO₂", unit(s.climate.co2_ppm, "ppm")],
    [t("shelter.lastSeen"), s.last_seen ? `${when(s.last_seen)} (${ago(s.last_seen)})` : null],
  ]);
}

function inFuture(iso) {
  const minutes = Math.max(0, Math.round((Date.parse(iso) - Date.now()) / 60000));
  const format = new Intl.RelativeTimeFormat(lang(), { numeric: "auto", style: "short" });
  return minutes < 90 ? format.format(minutes, "minute") : format.format(Math.round(minutes / 60), "hour");
}

function mode(value) {
  return value ? t(`shelter.mode.${value}`) : "—";
}

function purifierState(s, path, draw) {
  const o = s.override;
  const state = facts([
    [t("shelter.reported"), mode(s.purifier.reported)],
    [t("shelter.desired"), mode(s.purifier.desired)],
    [t("shelter.shadow"), s.purifier.shadow_desired ? mode(s.purifier.shadow_desired) : null],
  ]);
  const now = o
    ? h("p", { class: "override-now", "data-override": o.mode, tabindex: -1 },
      badge(t("shelter.overridden"), "warn"), " ",
      t("shelter.overrideText", { mode: mode(o.mode), until: when(o.until), left: inFuture(o.until), by: o.by }))
    : h("p", { class: "override-now", tabindex: -1 }, badge(t("shelter.automatic"), "ok"), " ", t("shelter.automaticText"));
  const resume = o && can("purifier")
    ? h("button", {
      type: "button",
      onclick: async (event) => {
        event.target.disabled = true;
        try {
          draw(await del(`${path}/purifier`));
          document.querySelector(".override-now")?.focus(); // the button is gone: the news has the focus
          toast(t("shelter.resumed"), "ok");
        } catch (error) {
          toast(error.message, "error");
          event.target.disabled = false;
        }
      },
    }, t("shelter.resume"))
    : null;
  return h("div", {}, now, resume, state);
}

function overrideForm(path, draw) {
  const select = h("select", { name: "mode" },
    ["high", "auto", "off"].map((m) => h("option", { value: m }, mode(m))));
  const minutes = h("input", { name: "minutes", type: "number", min: 1, max: 1440, step: 1, value: 30, inputmode: "numeric", required: true });
  return form({ class: "override-form", "aria-label": t("shelter.overrideForm") }, [
    h("h3", {}, t("shelter.overrideForm")),
    h("div", { class: "row" },
      field(t("shelter.mode"), select),
      field(t("shelter.minutes"), minutes, t("shelter.minutesHint")),
      h("button", { type: "submit", class: "primary" }, t("shelter.hold"))),
  ], async (data) => {
    const value = Number(data.get("minutes"));
    if (!Number.isInteger(value) || value < 1 || value > 1440) throw new Error(t("shelter.minutesHint"));
    draw(await put(`${path}/purifier`, { mode: data.get("mode"), minutes: value }));
    toast(t("shelter.held"), "ok");
  });
}

// ---------------------------------------------------------------- air history

async function airHistory(view, id, ctx) {
  const hours = h("select", { name: "hours" },
    HOURS.map((n) => h("option", { value: n, selected: n === 24 }, t("shelter.hours", { n }))));
  const body = h("div", {}, h("p", { class: "loading" }, t("app.loading")));
  view.append(h("section", { "aria-labelledby": "shelter-air" },
    h("h2", { id: "shelter-air" }, t("shelter.air")),
    h("div", { class: "row" }, field(t("shelter.period"), hours)),
    body));
  let charts = [];
  const observer = new ResizeObserver(() => {
    const width = Math.max(Math.floor(body.clientWidth), 280);
    charts.forEach((c) => c.width !== width && c.setSize({ width, height: c.height }));
  });
  observer.observe(body);
  ctx.onLeave(() => {
    observer.disconnect();
    charts.forEach((c) => c.destroy());
  });
  const load = async () => {
    const [U, history] = await Promise.all([uplot(), get(`/v1/shelters/${encodeURIComponent(id)}/air`, { hours: hours.value }, { signal: ctx.signal })]);
    charts.forEach((c) => c.destroy());
    charts = [];
    body.replaceChildren();
    if (!history.air.length) {
      body.append(h("p", {}, t("shelter.noHistory")));
      return;
    }
    const xs = history.air.map((row) => Date.parse(row.hour) / 1000);
    const end = Math.ceil(Date.now() / 3600000) * 3600;
    const span = [end - history.hours * 3600, end];
    const box = h("div", { class: "air-charts" });
    body.append(box);
    for (const key of ["pm10", "pm25"]) {
      const label = key === "pm10" ? "PM10" : "PM2.5";
      const el = h("div", { class: "air-chart", role: "img", "aria-label": t("shelter.chartLabel", { what: label, hours: history.hours }) });
      const key2 = bandKey(key, label);
      box.append(h("div", {}, el, key2));
      charts.push(chart(U, el, label, [xs, history.air.map((row) => row[key])], span, BANDS[key], LINE[key], body.clientWidth));
    }
    body.append(h("details", {}, h("summary", {}, t("shelter.asTable")),
      table(t("shelter.tableCaption", { hours: history.hours }), [
        { label: t("shelter.hour"), cell: (row) => when(row.hour) },
        { label: "PM10 (µg/m³)", cell: (row) => num(row.pm10, { maximumFractionDigits: 1 }), class: "num" },
        { label: "PM2.5 (µg/m³)", cell: (row) => num(row.pm25, { maximumFractionDigits: 1 }), class: "num" },
        { label: t("shelter.grade"), cell: (row) => gradeBadge(row.grade) },
        { label: t("shelter.samples"), cell: (row) => num(row.samples), class: "num" },
      ], [...history.air].reverse())));
  };
  hours.addEventListener("change", () => load().catch((error) => body.replaceChildren(notice(error.message, "error"))));
  await load();
}

function bandKey(key, label) {
  const bands = BANDS[key];
  const ranges = [`0–${bands[0]}`, `${bands[0] + 1}–${bands[1]}`, `${bands[1] + 1}–${bands[2]}`, `> ${bands[2]}`];
  return h("ul", { class: "band-key", "aria-label": t("shelter.bands", { what: label }) },
    GRADES.map((g, i) => h("li", {}, h("span", { class: ["swatch", `c-grade-${g}`], "aria-hidden": "true" }), `${t(`city.grade.${g}`)} ${ranges[i]}`)));
}

const SEOUL_PARTS = new Intl.DateTimeFormat("en-CA", {
  timeZone: "Asia/Seoul", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
});

/** The time axis in Seoul's 24-hour clock: hours, and the date at midnight or over days. */
function timeLabels(u, splits) {
  const days = (u.scales.x.max - u.scales.x.min) > 2 * 86400;
  return splits.map((ts) => {
    const parts = Object.fromEntries(SEOUL_PARTS.formatToParts(new Date(ts * 1000)).map((p) => [p.type, p.value]));
    return days || parts.hour === "00" ? `${parts.month}/${parts.day}` : `${parts.hour}:${parts.minute}`;
  });
}

function chart(U, el, label, data, span, bands, colour, width) {
  const shade = (u) => {
    const { ctx, bbox } = u;
    const top = u.scales.y.max;
    ctx.save();
    let low = 0;
    [...bands, Infinity].forEach((high, i) => {
      if (low >= top) return;
      const y0 = u.valToPos(low, "y", true);
      const y1 = u.valToPos(Math.min(high, top), "y", true);
      ctx.fillStyle = BAND_FILLS[i];
      ctx.fillRect(bbox.left, y1, bbox.width, y0 - y1);
      low = high;
    });
    ctx.restore();
  };
  return new U({
    title: `${label} (µg/m³)`,
    width: Math.max(Math.floor(width), 280),
    height: 220,
    tzDate: (ts) => U.tzDate(new Date(ts * 1000), "Asia/Seoul"),
    legend: { show: false },
    cursor: { sync: { key: "shelter-air" } },
    scales: { x: { time: true, range: () => span }, y: { range: (u, min, max) => [0, Math.max(max || 0, bands[1]) * 1.15] } },
    series: [{}, { label, stroke: colour, width: 2, spanGaps: false, points: { show: true, size: 5 } }],
    axes: [{ values: timeLabels }, { size: 48 }],
    hooks: { drawClear: [shade] },
  }, data, el);
}
