// Recycling reports: a month's totals by district and material, and the per-citizen CSV.
import { download, get } from "../api.js";
import { append, field, form, h, notice, table } from "../dom.js";
import { num, seoulToday, t, words } from "../i18n.js";
import { explain, figure, lastMonth } from "../money.js";

words({
  ko: {
    "reports.title": "재활용 보고서",
    "reports.intro": "한 달 동안 시민이 재활용한 품목을 행정동과 재질별로 봅니다(시민의 행정동 기준, 서울 시간).",
    "reports.month": "달",
    "reports.show": "보기",
    "reports.open": "{month}은(는) 아직 끝나지 않은 달입니다. 지금까지 집계된 값입니다.",
    "reports.citizens": "재활용한 시민",
    "reports.items": "품목 합계",
    "reports.table": "{month} 행정동별 재활용 품목",
    "reports.col.district": "행정동",
    "reports.col.citizens": "시민",
    "reports.col.total": "합계",
    "reports.city": "시 전체",
    "reports.none": "이 달에는 재활용 기록이 없습니다.",
    "reports.csv": "시민별 CSV 내려받기",
    "reports.csvText": "시민별 파일: month, citizen_id, district, 재질별 개수, items_total (UTF-8, BOM).",
    "reports.downloaded": "내려받음: {name} ({bytes}바이트)",
    "material.can": "캔",
    "material.pet": "페트병",
  },
  en: {
    "reports.title": "Recycling reports",
    "reports.intro": "A month's recycled items by district and material (the citizens' districts, Seoul time).",
    "reports.month": "Month",
    "reports.show": "Show",
    "reports.open": "{month} has not ended: these are the figures so far.",
    "reports.citizens": "Citizens who recycled",
    "reports.items": "Items in all",
    "reports.table": "Items recycled in {month} by district",
    "reports.col.district": "District",
    "reports.col.citizens": "Citizens",
    "reports.col.total": "Total",
    "reports.city": "Whole city",
    "reports.none": "Nothing was recycled in this month.",
    "reports.csv": "Download the per-citizen CSV",
    "reports.csvText": "One row per citizen: month, citizen_id, district, a count per material, items_total (UTF-8 with a BOM).",
    "reports.downloaded": "Downloaded: {name} ({bytes} bytes)",
    "material.can": "Cans",
    "material.pet": "PET bottles",
  },
});

const MONTH = /^[0-9]{4}-(0[1-9]|1[0-2])$/;

export default async function render(view, ctx) {
  const asked = ctx.query.get("month");
  const month = asked && MONTH.test(asked) ? asked : lastMonth(seoulToday());
  const input = h("input", { type: "month", name: "month", required: true, value: month, max: seoulToday().slice(0, 7) });
  view.append(
    h("h1", {}, t("reports.title")),
    h("p", { class: "lead" }, t("reports.intro")),
    form({ class: "row" }, [field(t("reports.month"), input), h("button", { type: "submit", class: "primary" }, t("reports.show"))],
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
  const materialName = (m) => (t(`material.${m}`) === `material.${m}` ? m : t(`material.${m}`));
  const rows = [
    { city: true, name: t("reports.city"), citizens: totals.citizens, items: totals.items, items_total: totals.items_total },
    ...totals.districts.map((d) => ({ name: d.name || d.district, citizens: d.citizens, items: d.items, items_total: d.items_total })),
  ];
  const got = h("p", { role: "status" });
  append(view, [
    totals.closed ? null : notice(t("reports.open", { month })),
    h("div", { class: "cards" },
      figure(t("reports.citizens"), num(totals.citizens)),
      figure(t("reports.items"), num(totals.items_total))),
    totals.districts.length
      ? table(t("reports.table", { month }), [
        { label: t("reports.col.district"), cell: (r) => (r.city ? h("strong", {}, r.name) : r.name) },
        { label: t("reports.col.citizens"), class: "num", cell: (r) => num(r.citizens) },
        ...materials.map((m) => ({ label: materialName(m), class: "num", cell: (r) => num(r.items[m] || 0) })),
        { label: t("reports.col.total"), class: "num", cell: (r) => num(r.items_total) },
      ], rows)
      : notice(t("reports.none")),
    h("section", { class: "card", "aria-labelledby": "reports-csv" },
      h("h2", { id: "reports-csv" }, t("reports.csv")),
      h("p", {}, t("reports.csvText")),
      form({}, [h("button", { type: "submit" }, t("reports.csv"))], async () => {
        const file = await download(`/v1/admin/reports/recycling/${month}.csv`, `recycling-${month}.csv`);
        got.textContent = t("reports.downloaded", { name: file.name, bytes: num(file.bytes) });
      }, { errorText: explain }),
      got),
  ]);
}
