// Recycling reports: a month's totals by district and material, and the per-citizen CSV.
import { download, get } from "../api.js";
import { append, field, form, h, notice, table } from "../dom.js";
import { num, seoulToday, t, words } from "../i18n.js";
import { explain, figure, lastMonth } from "../money.js";

words({
  ko: {
    "money.reports.title": "재활용 보고서",
    "money.reports.intro": "한 달 동안 시민이 재활용한 품목을 행정동과 재질별로 봅니다(시민의 행정동 기준, 서울 시간).",
    "money.reports.month": "달",
    "money.reports.show": "보기",
    "money.reports.open": "{month}은(는) 아직 끝나지 않은 달입니다. 지금까지 집계된 값입니다.",
    "money.reports.citizens": "재활용한 시민",
    "money.reports.items": "품목 합계",
    "money.reports.table": "{month} 행정동별 재활용 품목",
    "money.reports.col.district": "행정동",
    "money.reports.col.citizens": "시민",
    "money.reports.col.total": "합계",
    "money.reports.city": "시 전체",
    "money.reports.none": "이 달에는 재활용 기록이 없습니다.",
    "money.reports.csv": "시민별 CSV 내려받기",
    "money.reports.csvText": "시민별 파일: month, citizen_id, district, 재질별 개수, items_total (UTF-8, BOM).",
    "money.reports.downloaded": "내려받음: {name} ({bytes}바이트)",
    "money.material.can": "캔",
    "money.material.pet": "페트병",
  },
  en: {
    "money.reports.title": "Recycling reports",
    "money.reports.intro": "A month's recycled items by district and material (the citizens' districts, Seoul time).",
    "money.reports.month": "Month",
    "money.reports.show": "Show",
    "money.reports.open": "{month} has not ended: these are the figures so far.",
    "money.reports.citizens": "Citizens who recycled",
    "money.reports.items": "Items in all",
    "money.reports.table": "Items recycled in {month} by district",
    "money.reports.col.district": "District",
    "money.reports.col.citizens": "Citizens",
    "money.reports.col.total": "Total",
    "money.reports.city": "Whole city",
    "money.reports.none": "Nothing was recycled in this month.",
    "money.reports.csv": "Download the per-citizen CSV",
    "money.reports.csvText": "One row per citizen: month, citizen_id, district, a count per material, items_total (UTF-8 with a BOM).",
    "money.reports.downloaded": "Downloaded: {name} ({bytes} bytes)",
    "money.material.can": "Cans",
    "money.material.pet": "PET bottles",
  },
});

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
