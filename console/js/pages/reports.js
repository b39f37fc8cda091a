// Recycling reports: a month's totals by district and material, and the per-citizen CSV.
import { download, get } from "../api.js";
import { append, field, form, h, notice, table } from "../dom.js";
import { num, seoulToday, t } from "../i18n.js";
import { figure, lastMonth } from "../money/kit.js";
import { explain } from "../widgets.js";

const MONTH = /^[0-9]{4}-(0[1-9]|1[0-2])$/;

export default async function render(view, ctx) {
  const asked = ctx.query.get("month");
  const month = asked && MONTH.test(asked) ? asked : lastMonth(seoulToday());
  const input = h("input", { type: "month", name: "month", required: true, value: month, max: seoulToday().slice(0, 7) });
  view.append(
    h("h1", {}, t("money.reports.title")),
    h("p", { class: "lead" }, t("money.reports.intro")),
    form({ class: "row" }, [field(t("money.reports.month"), input), h("button", { type: "submit", class: "primary" }, t("money.reports.show"))],
      async (data) => {
        const next = `#/reports?month=${encodeURIComponent(String(data.get("month") || ""))}`;
        if (location.hash === next) ctx.refresh();
        else location.hash = next;
      }),
  );
  let totals;
  try {
    totals = await get("/v1/admin/reports/recycling", { month }, { signal: ctx.signal });
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    view.append(notice(explain(error), "error"));
    return;
  }
  const materials = [...new Set([...Object.keys(totals.items), ...totals.districts.flatMap((d) => Object.keys(d.items))])].sort();
  const materialName = (m) => (t(`money.material.${m}`) === `money.material.${m}` ? m : t(`money.material.${m}`));
  const rows = [
    { city: true, name: t("money.reports.city"), citizens: totals.citizens, items: totals.items, items_total: totals.items_total },
    ...totals.districts.map((d) => ({ name: d.name || d.district, citizens: d.citizens, items: d.items, items_total: d.items_total })),
  ];
  const got = h("p", { role: "status" });
  append(view, [
    totals.closed ? null : notice(t("money.reports.open", { month })),
    h("div", { class: "cards" },
      figure(t("money.reports.citizens"), num(totals.citizens)),
      figure(t("money.reports.items"), num(totals.items_total))),
    totals.districts.length
      ? table(t("money.reports.table", { month }), [
        { label: t("money.reports.col.district"), cell: (r) => (r.city ? h("strong", {}, r.name) : r.name) },
        { label: t("money.reports.col.citizens"), class: "num", cell: (r) => num(r.citizens) },
        ...materials.map((m) => ({ label: materialName(m), class: "num", cell: (r) => num(r.items[m] || 0) })),
        { label: t("money.reports.col.total"), class: "num", cell: (r) => num(r.items_total) },
      ], rows)
      : notice(t("money.reports.none")),
    h("section", { class: "card", "aria-labelledby": "reports-csv" },
      h("h2", { id: "reports-csv" }, t("money.reports.csv")),
      h("p", {}, t("money.reports.csvText")),
      form({}, [h("button", { type: "submit" }, t("money.reports.csv"))], async () => {
        const file = await download(`/v1/admin/reports/recycling/${month}.csv`, `recycling-${month}.csv`);
        got.textContent = t("money.reports.downloaded", { name: file.name, bytes: num(file.bytes) });
      }, { errorText: explain }),
      got),
  ]);
}
