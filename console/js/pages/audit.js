// The ledger audit: start one and read the latest result against DESIGN §6's invariants 2
// (every balance equals its ledger's sum, never below zero) and 3 (points issued == paid +
// held + pending).
import { ApiError, get, post } from "../api.js";
import { can } from "../auth.js";
import { facts, form, h, notice, table } from "../dom.js";
import { num, t, when, won, words } from "../i18n.js";
import { explain, figure, statusBadge } from "../money.js";

words({
  ko: {
    "audit.title": "원장 감사",
    "audit.intro": "모든 시민의 잔액이 원장 합계와 같고 0 이상인지(불변식 2), 발행된 포인트가 지급 + 보유 + 지급 대기와 같은지(불변식 3) 확인합니다. 매일 자동으로도 실행됩니다.",
    "audit.start": "감사 시작",
    "audit.started": "감사를 시작했습니다.",
    "audit.none": "아직 감사가 없습니다. 감사를 시작하세요.",
    "audit.latest": "최근 감사",
    "audit.id": "감사 ID",
    "audit.status": "상태",
    "audit.startedBy": "시작",
    "audit.finished": "끝남",
    "audit.chunks": "진행",
    "audit.checked": "확인한 시민",
    "audit.running": "감사 중입니다. 이 화면은 몇 초마다 새로 읽습니다.",
    "audit.inv2": "불변식 2: 시민별 잔액 = 원장 합계, 잔액 ≥ 0",
    "audit.inv2ok": "맞음: 모든 시민의 잔액이 원장 합계와 같고 0 이상입니다.",
    "audit.inv2bad": "불일치 {n}건",
    "audit.discrepancies": "불일치 목록",
    "audit.col.citizen": "시민 ID",
    "audit.col.problem": "문제",
    "audit.col.balance": "잔액",
    "audit.col.sum": "원장 합계",
    "audit.col.detail": "내용",
    "audit.inv3": "불변식 3: 발행 = 지급 + 보유 + 지급 대기",
    "audit.inv3ok": "맞음: 시 전체의 포인트가 맞습니다.",
    "audit.inv3bad": "맞지 않음: 차이 {difference}",
    "audit.issued": "발행",
    "audit.paid": "지급",
    "audit.held": "보유",
    "audit.pending": "지급 대기",
    "audit.ledgerPaid": "원장상 지급",
    "audit.statsMatch": "통계 카운터",
    "audit.statsOk": "감사와 같음",
    "audit.statsBad": "감사와 다름: {names}",
    "audit.note": "참고",
    "audit.wait": "감사가 끝나면 결과가 나옵니다.",
  },
  en: {
    "audit.title": "Ledger audit",
    "audit.intro": "Checks that every citizen's balance equals their ledger's sum and is never below zero (invariant 2), and that points issued equal paid + held + pending (invariant 3). It also runs daily.",
    "audit.start": "Start an audit",
    "audit.started": "The audit has started.",
    "audit.none": "There has been no audit yet. Start one.",
    "audit.latest": "Latest audit",
    "audit.id": "Audit id",
    "audit.status": "Status",
    "audit.startedBy": "Started",
    "audit.finished": "Finished",
    "audit.chunks": "Progress",
    "audit.checked": "Citizens checked",
    "audit.running": "The audit is running; this page reads it again every few seconds.",
    "audit.inv2": "Invariant 2: each balance = its ledger's sum, balance ≥ 0",
    "audit.inv2ok": "Holds: every citizen's balance equals their ledger's sum and is not below zero.",
    "audit.inv2bad": "{n} discrepancies",
    "audit.discrepancies": "Discrepancies",
    "audit.col.citizen": "Citizen id",
    "audit.col.problem": "Problem",
    "audit.col.balance": "Balance",
    "audit.col.sum": "Ledger sum",
    "audit.col.detail": "Detail",
    "audit.inv3": "Invariant 3: issued = paid + held + pending",
    "audit.inv3ok": "Holds: the city's points add up.",
    "audit.inv3bad": "Does not hold: off by {difference}",
    "audit.issued": "Issued",
    "audit.paid": "Paid",
    "audit.held": "Held",
    "audit.pending": "Pending payouts",
    "audit.ledgerPaid": "Paid per the ledgers",
    "audit.statsMatch": "Stats counters",
    "audit.statsOk": "match the audit",
    "audit.statsBad": "differ from the audit: {names}",
    "audit.note": "Note",
    "audit.wait": "The result shows once the audit is done.",
  },
});

function result(audit) {
  const parts = [
    h("h2", { id: "audit-latest" }, t("audit.latest")),
    h("div", { class: "cards" },
      figure(t("audit.status"), statusBadge(audit.status)),
      figure(t("audit.checked"), num(audit.citizens_checked))),
    facts([
      [t("audit.id"), audit.audit_id],
      [t("audit.startedBy"), `${audit.started_by} · ${when(audit.started_at)}`],
      [t("audit.finished"), when(audit.finished_at)],
      [t("audit.chunks"), `${num(audit.chunks.done)} / ${num(audit.chunks.expected)}`],
    ]),
  ];
  if (audit.status !== "done") return [...parts, notice(t("audit.running"))];
  const totals = audit.totals;
  parts.push(h("h3", {}, t("audit.inv2")));
  if (audit.discrepancy_count === 0) {
    parts.push(notice(t("audit.inv2ok"), "ok"));
  } else {
    parts.push(notice(t("audit.inv2bad", { n: num(audit.discrepancy_count) }), "error"),
      table(t("audit.discrepancies"), [
        { label: t("audit.col.citizen"), cell: (d) => d.citizen_id },
        { label: t("audit.col.problem"), cell: (d) => d.problem },
        { label: t("audit.col.balance"), class: "num", cell: (d) => won(d.balance) },
        { label: t("audit.col.sum"), class: "num", cell: (d) => won(d.ledger_sum) },
        { label: t("audit.col.detail"), cell: (d) => d.detail },
      ], audit.discrepancies));
  }
  parts.push(h("h3", {}, t("audit.inv3")));
  if (!totals) return [...parts, notice(t("audit.wait"))];
  parts.push(
    notice(totals.balanced ? t("audit.inv3ok") : t("audit.inv3bad", { difference: won(totals.difference) }), totals.balanced ? "ok" : "error"),
    h("div", { class: "cards" },
      figure(t("audit.issued"), won(totals.points_issued)),
      figure(t("audit.paid"), won(totals.points_paid)),
      figure(t("audit.held"), won(totals.points_held)),
      figure(t("audit.pending"), won(totals.points_pending)),
      figure(t("audit.ledgerPaid"), won(totals.ledger_points_paid))),
  );
  if (totals.stats_match !== null && totals.stats_match !== undefined) {
    const names = Object.keys(totals.stats_mismatches || {}).join(", ");
    parts.push(facts([[t("audit.statsMatch"), totals.stats_match ? t("audit.statsOk") : t("audit.statsBad", { names })]]));
  }
  if (totals.note) parts.push(facts([[t("audit.note"), totals.note]]));
  return parts;
}

export default async function render(view, ctx) {
  view.append(h("h1", {}, t("audit.title")), h("p", { class: "lead" }, t("audit.intro")));
  if (can("audit")) {
    view.append(form({}, [h("button", { type: "submit", class: "primary" }, t("audit.start"))], async () => {
      await post("/v1/admin/audit");
      ctx.refresh();
    }, { errorText: explain }));
  }
  let audit = null;
  try {
    audit = await get("/v1/admin/audit", undefined, { signal: ctx.signal });
  } catch (error) {
    if (!(error instanceof ApiError && error.code === "no_audit")) throw error;
  }
  const section = h("section", { "aria-labelledby": "audit-latest" });
  view.append(audit ? section : notice(t("audit.none")));
  if (!audit) return;
  section.append(...result(audit));
  if (audit.status !== "done") {
    const timer = setTimeout(ctx.refresh, 2000);
    ctx.onLeave(() => clearTimeout(timer));
  }
}
