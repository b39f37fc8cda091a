// The live services' figures (DESIGN §4d, GET /v1/kpis), as cards the projects page and
// the city page share. The API says what each figure is (name, unit, formula, when it was
// computed), so a new KPI needs no change here.
import { get } from "./api.js";
import { h, notice } from "./dom.js";
import { ago, lang, num, t, tOr, when } from "./i18n.js";

export const PERIODS = ["day", "week", "month"];

/** `{kpis: [...]}` for a period (and a date in it, or the API's today). */
export function kpis(period, date, signal) {
  return get("/v1/kpis", { period, date }, { signal });
}

/** One card: the figure's name, its value with its unit, how it is computed (the caption),
 * and how long ago. Every word of it is the API's text, put in as text. */
export function kpiCard(kpi) {
  const name = lang() === "en" && kpi.name_en ? kpi.name_en : kpi.name;
  const value = typeof kpi.value === "number" ? num(kpi.value, { maximumFractionDigits: 2 }) : "—";
  return h("figure", { class: "figure kpi", dataset: { kpi: kpi.kpi_id } },
    h("div", { class: "label" }, name),
    h("div", { class: "value" }, value, kpi.unit ? h("span", { class: "unit" }, " ", tOr(`kpi.unit.${kpi.unit}`, kpi.unit)) : null),
    h("figcaption", {},
      h("span", { class: "service" }, tOr(`kpi.service.${kpi.service}`, kpi.service)), " · ", kpi.formula || "—",
      h("br"),
      h("time", { datetime: kpi.computed_at, title: when(kpi.computed_at) }, t("kpi.computed", { ago: ago(kpi.computed_at) }))),
  );
}

/** The cards of an answer, in its order; a period with none computed yet says so. */
export function kpiCards(list) {
  return list.length ? h("div", { class: "cards kpi-cards" }, list.map(kpiCard)) : notice(t("kpi.none"));
}
