// The project registry (#/projects, DESIGN §4d): the summary and the tables by field and
// year; the projects (filtered by field, status, year) on a map of districts and in a table;
// the flagged overlaps and omissions with their reasons; the live services' KPIs. All public
// reads; names and notes are staff-written text. Filters and period live in the address
// (replaceState: a bookmark, and only the part they change is read again).
import { get } from "../api.js";
import { settings } from "../auth.js";
import { append, badge, field, figure, form, h, table } from "../dom.js";
import { ago, lang, num, seoulToday, t, tOr, when } from "../i18n.js";
import { leaflet } from "../city/kit.js";
import { districtName, districtNames, districtOutlines } from "../fleet.js";
import { kpiCards, kpis, PERIODS } from "../kpis.js";
import { part, stacked } from "../widgets.js";

const STATUSES = ["planned", "in_progress", "done"];
// The map's classes of projects per district; each district also shows its count.
const CLASSES = [[0, 0, "#f1f4f7"], [1, 1, "#c6dbef"], [2, 3, "#8fbcdc"], [4, 5, "#4a8fc4"], [6, Infinity, "#175a9c"]];

/** 618억원 / ₩61.8 bn */
function krw(v) {
  if (typeof v !== "number") return "—";
  if (lang() === "en") return v >= 1e9 ? `₩${num(v / 1e9, { maximumFractionDigits: 2 })} bn` : `₩${num(v / 1e6)} M`;
  return `${num(v / 1e8, { maximumFractionDigits: v < 1e9 ? 2 : 1 })}억원`;
}
const fieldName = (row) => tOr(`projects.field.${row.field}`, row.field_name || row.field);
const sum = (budget) => Object.values(budget || {}).reduce((a, n) => a + (+n || 0), 0);
const services = (p) => (p.services?.length ? t("projects.services", { services: p.services.map((x) => tOr(`kpi.service.${x}`, x)).join(", ") }) : "");
const pct = (x) => `${Math.round(x <= 1 ? x * 100 : x)}%`;
const ok = (value, pattern) => (pattern.test(value || "") ? value : "");

export default async function render(view, ctx) {
  const { signal, query: q } = ctx;
  const state = {
    field: q.get("field") || "", status: ok(q.get("status"), /^(planned|in_progress|done)$/),
    year: ok(q.get("year"), /^\d{4}$/), period: ok(q.get("period"), /^(week|month)$/), date: ok(q.get("date"), /^\d{4}-\d\d-\d\d$/),
  };
  const remember = () => {
    const text = new URLSearchParams(Object.entries(state).filter(([, v]) => v)).toString();
    history.replaceState(null, "", `#/projects${text ? `?${text}` : ""}`);
  };
  const names = districtNames();
  const libraries = Promise.all([leaflet(), districtOutlines()]);
  const slot = () => h("div", {}, h("p", { class: "loading" }, t("app.loading")));
  const section = (id, heading, ...content) => h("section", { "aria-labelledby": id }, h("h2", { id }, heading), ...content);
  const [summaryBox, filterBox, mapBox, listBox, overlapBox, kpiBox] = [slot(), h("div"), slot(), slot(), slot(), slot()];
  const showKpis = () => {
    const period = state.period || "day";
    return part(kpiBox, kpis(period, state.date, signal), (el, a) => el.append(
      h("p", { class: "hint" }, t(period === "day" ? "kpi.ofDay" : "kpi.of", { period: t(`kpi.period.${period}`), date: a.date || state.date || seoulToday() })),
      kpiCards(a.kpis || [])));
  };
  let map = null;
  ctx.onLeave(() => map?.remove());
  const showList = () => {
    const listed = Promise.all([get("/v1/projects", { field: state.field, status: state.status, year: state.year }, { signal }), names]);
    return Promise.all([
      part(listBox, listed, (el, [{ projects = [] }, known]) => el.append(projectTable(projects, known, state.year))),
      part(mapBox, Promise.all([libraries, listed]), (el, [[L, outlines], [{ projects = [] }, known]]) => {
        map?.remove();
        map = drawMap(el, L, outlines, projects, known);
      }),
    ]);
  };

  view.append(
    h("h1", {}, t("projects.title")),
    h("p", { class: "lead" }, t("projects.intro")),
    summaryBox,
    section("projects-list", t("projects.list"), filterBox, mapBox, listBox),
    section("projects-overlaps", t("projects.overlaps"), overlapBox),
    section("projects-kpis", t("projects.kpis"), kpiForm(state, () => (remember(), showKpis())), kpiBox),
  );
  await Promise.all([
    part(summaryBox, get("/v1/projects/summary", {}, { signal }), (el, s) => {
      drawSummary(el, s);
      filterBox.append(filters(s, state, () => (remember(), showList())));
    }),
    showList(),
    part(overlapBox, Promise.all([get("/v1/projects/overlaps", {}, { signal }), names]), drawOverlaps),
    showKpis(),
  ]);
}

function drawSummary(el, s) {
  const of = (list, key, value) => (list || []).find((x) => x[key] === value) || { projects: 0, budget_krw: 0 };
  const card = (label, x) => figure(label, t("projects.count", { n: num(x.projects) }), krw(x.budget_krw));
  const columns = (first, cell) => [
    { label: t(`projects.col.${first}`), cell },
    { label: t("projects.col.projects"), class: "num", cell: (r) => num(r.projects) },
    { label: t("projects.col.budget"), class: "num", cell: (r) => krw(r.budget_krw) },
  ];
  el.append(
    h("div", { class: "cards" },
      figure(t("projects.fig.projects"), num(s.projects), t("projects.fig.fields", { n: (s.by_field || []).length })),
      figure(t("projects.fig.budget"), krw(s.budget_krw)),
      ["national", "city"].map((k) => card(t(`projects.funding.${k}`), of(s.by_funding, "funding", k))),
      card(t("projects.status.in_progress"), of(s.by_status, "status", "in_progress"))),
    h("div", { class: "projects-tables" },
      table(t("projects.byField"), columns("field", fieldName), s.by_field || []),
      table(t("projects.byYear"), columns("year", (r) => r.year), s.by_year || [])),
  );
}

function select(name, options, chosen) {
  return field(t(`projects.col.${name}`), h("select", { name },
    h("option", { value: "" }, t("projects.filter.all")),
    options.map(([value, text]) => h("option", { value, selected: value === chosen }, text))));
}

/** Applied on the button (a keyboard moving through the options does not reload the list
 * under it); a field the summary does not know is dropped. */
function filters(s, state, apply) {
  const fields = (s.by_field || []).map((f) => [String(f.field), fieldName(f)]);
  if (!fields.some(([v]) => v === state.field)) state.field = "";
  return form({ class: "row filters", "aria-label": t("projects.filter") }, [
    select("field", fields, state.field),
    select("status", STATUSES.map((x) => [x, t(`projects.status.${x}`)]), state.status),
    select("year", (s.by_year || []).map((y) => [String(y.year), String(y.year)]), state.year),
    h("button", { type: "submit", class: "primary" }, t("projects.filter.apply")),
  ], async (data) => {
    for (const key of ["field", "status", "year"]) state[key] = String(data.get(key) || "");
    await apply();
  });
}

function kpiForm(state, apply) {
  const today = seoulToday();
  return form({ class: "row filters", "aria-label": t("projects.kpis") }, [
    h("fieldset", { class: "periods" }, h("legend", {}, t("kpi.period")),
      PERIODS.map((p) => h("label", { class: "check" },
        h("input", { type: "radio", name: "period", value: p, checked: p === (state.period || "day") }), t(`kpi.period.${p}`)))),
    field(t("kpi.date"), h("input", { type: "date", name: "date", value: state.date || today, max: today })),
    h("button", { type: "submit", class: "primary" }, t("projects.filter.apply")),
  ], async (data) => {
    state.period = ok(data.get("period"), /^(week|month)$/);
    const date = ok(data.get("date"), /^\d{4}-\d\d-\d\d$/);
    state.date = date === today ? "" : date;
    await apply();
  });
}

// ---------------------------------------------------------------- the projects

/** Each district's projects; one naming no district of the outlines, or all of them, is
 * city-wide: said apart, not counted in every district. */
function byDistrict(projects, known) {
  const counts = new Map([...known.keys()].map((code) => [code, []]));
  const cityWide = [];
  for (const p of projects) {
    const codes = [...new Set(p.districts || [])].filter((c) => counts.has(c));
    if (!codes.length || codes.length === counts.size) cityWide.push(p);
    else codes.forEach((c) => counts.get(c).push(p));
  }
  return { counts, cityWide };
}

function drawMap(el, L, outlines, projects, known) {
  const { counts, cityWide } = byDistrict(projects, known);
  const n = (code) => counts.get(code)?.length || 0;
  const colour = (k) => CLASSES.find(([low, high]) => k >= low && k <= high)[2];
  const tiles = settings().tiles;
  const box = h("div", { class: "projects-map", role: "region", "aria-label": t("projects.map.label"), dataset: { projects: projects.length - cityWide.length } });
  const legend = h("ul", { class: "legend projects-legend", "aria-label": t("city.legend") },
    CLASSES.map(([low, high, fill]) => {
      const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
      swatch.style.background = fill; // the CSSOM: the CSP allows no style attribute
      return h("li", {}, swatch, t(high === Infinity ? "projects.map.atLeast" : low === high ? "projects.map.exact" : "projects.map.range", { n: low, low, high }));
    }));
  el.append(h("p", {}, t("projects.map.intro", { n: num(projects.length), cityWide: num(cityWide.length) })), box, legend,
    h("p", { class: "hint" }, t("city.map.schematic")));
  const map = L.map(box, { attributionControl: !!tiles, zoomSnap: 0.25, minZoom: 9, maxZoom: 15, scrollWheelZoom: false });
  if (tiles) L.tileLayer(tiles.url, { maxZoom: 18, attribution: tiles.attribution || t("city.map.attribution") }).addTo(map);
  const layer = L.geoJSON(outlines, {
    interactive: false,
    style: (f) => ({ color: "#4f5863", weight: 1, fillColor: colour(n(f.properties.code)), fillOpacity: tiles ? 0.6 : 0.9 }),
    // a node, never a string: Leaflet would parse a string as markup
    onEachFeature: (f, shape) => shape.bindTooltip(h("span", {}, String(n(f.properties.code))),
      { permanent: true, direction: "center", className: "district-count" }),
  }).addTo(map);
  // the counts are the table's below (a list of bare numbers would mean nothing read aloud)
  layer.eachLayer((shape) => shape.getTooltip()?.getElement()?.setAttribute("aria-hidden", "true"));
  map.fitBounds(layer.getBounds(), { padding: [8, 8] });
  // the map as a table, for keyboards and screen readers
  const rows = [...counts].filter(([, list]) => list.length).sort((a, b) => b[1].length - a[1].length)
    .map(([code, list]) => ({ name: districtName(code, known), list }));
  if (cityWide.length) rows.push({ name: t("projects.map.cityWide"), list: cityWide });
  el.append(h("details", { class: "device-list" }, h("summary", {}, t("projects.map.asTable")),
    table(t("projects.map.caption"), [
      { label: t("projects.col.district"), cell: (r) => r.name },
      { label: t("projects.col.projects"), class: "num", cell: (r) => num(r.list.length) },
      { label: t("projects.col.name"), cell: (r) => r.list.map((p) => p.name).join(" · ") },
    ], rows)));
  return map;
}

function projectTable(projects, known, year) {
  const sorted = [...projects].sort((a, b) =>
    fieldName(a).localeCompare(fieldName(b), "ko") || String(a.name).localeCompare(String(b.name), "ko"));
  return stacked(table(t("projects.table", { n: num(sorted.length) }), [
    { label: t("projects.col.name"), cell: (p) => [h("span", { class: "project-name" }, p.name),
      p.sample ? [" ", badge(t("projects.sample"))] : null,
      [services(p), p.notes].filter(Boolean).map((line) => h("small", { class: "detail" }, line))] },
    { label: t("projects.col.field"), cell: fieldName },
    { label: t("projects.col.department"), cell: (p) => p.department },
    { label: t("projects.col.funding"), cell: (p) => t(`projects.funding.${p.funding}`) },
    { label: t("projects.col.period"), cell: (p) => `${p.starts_on || "?"} ~ ${p.ends_on || "?"}` },
    { label: t("projects.col.district"), cell: (p) => (p.districts?.length ? p.districts.map((c) => districtName(c, known)).join(", ") : t("projects.map.cityWide")) },
    { label: t("projects.col.status"), cell: (p) => badge(t(`projects.status.${p.status}`), { done: "ok", in_progress: "warn" }[p.status]) },
    { label: year ? t("projects.col.budgetYear", { year }) : t("projects.col.budget"), class: "num",
      cell: (p) => krw(year ? +p.budget_krw?.[year] || 0 : sum(p.budget_krw)) },
  ], sorted, { empty: t("projects.none") }));
}

// ---------------------------------------------------------------- flagged

/** A reason in the console's words (the API's message when the console has none). */
function reason(r, known) {
  return tOr(`projects.reason.${r.code}`, r.message || r.code, { districts: (r.districts || []).map((c) => districtName(c, known)).join(", "),
    from: r.from ?? "?", to: r.to ?? "?", similarity: pct(r.similarity) });
}

function drawOverlaps(el, [o, known]) {
  const group = (items, title, none, mark, kind, head, line) => [
    h("h3", {}, t(title, { n: num(items.length) })),
    items.length
      ? h("ul", { class: "flagged" }, items.map((x) => h("li", { class: "card" },
        h("p", {}, badge(t(mark), kind), " ", head(x)), h("p", { class: "detail" }, line(x)),
        h("ul", { class: "reasons", "aria-label": t("projects.reasons") },
          (x.reasons || []).map((r) => h("li", { dataset: { code: r.code } }, reason(r, known)))))))
      : h("p", {}, t(none)),
  ];
  append(el, [
    h("p", { class: "hint" }, t("projects.overlaps.intro"), " ",
      h("time", { datetime: o.computed_at, title: when(o.computed_at) }, t("kpi.computed", { ago: ago(o.computed_at) }))),
    group(o.pairs || [], "projects.pairs", "projects.pairs.none", "projects.pair.badge", "warn",
      (p) => [h("strong", {}, p.names?.[0]), " ↔ ", h("strong", {}, p.names?.[1])],
      (p) => [p.project_ids.join(" ↔ "), " · ", fieldName(p),
        typeof p.similarity === "number" ? ` · ${t("projects.similarity", { similarity: pct(p.similarity) })}` : ""]),
    group(o.unmeasured || [], "projects.unmeasured", "projects.unmeasured.none", "projects.unmeasured.badge", "error",
      (u) => h("strong", {}, u.name), (u) => [u.project_id, " · ", services(u)]),
  ]);
}
