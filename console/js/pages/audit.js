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
    "money.audit.title": "원장 감사",
    "money.audit.intro": "모든 시민의 잔액이 원장 합계와 같고 0 이상인지(불변식 2), 발행된 포인트가 지급 + 보유 + 지급 대기와 같은지(불변식 3) 확인합니다. 매일 자동으로도 실행됩니다.",
    "money.audit.start": "감사 시작",
    "money.audit.started": "감사를 시작했습니다.",
    "money.audit.none": "아직 감사가 없습니다. 감사를 시작하세요.",
    "money.audit.latest": "최근 감사",
    "money.audit.id": "감사 ID",
    "money.audit.status": "상태",
    "money.audit.startedBy": "시작",
    "money.audit.finished": "끝남",
    "money.audit.chunks": "진행",
    "money.audit.checked": "확인한 시민",
    "money.audit.running": "감사 중입니다. 이 화면은 몇 초마다 새로 읽습니다.",
    "money.audit.inv2": "불변식 2: 시민별 잔액 = 원장 합계, 잔액 ≥ 0",
    "money.audit.inv2ok": "맞음: 모든 시민의 잔액이 원장 합계와 같고 0 이상입니다.",
    "money.audit.inv2bad": "불일치 {n}건",
    "money.audit.discrepancies": "불일치 목록",
    "money.audit.col.citizen": "시민 ID",
    "money.audit.col.problem": "문제",
    "money.audit.col.balance": "잔액",
    "money.audit.col.sum": "원장 합계",
    "money.audit.col.detail": "내용",
    "money.audit.inv3": "불변식 3: 발행 = 지급 + 보유 + 지급 대기",
    "money.audit.inv3ok": "맞음: 시 전체의 포인트가 맞습니다.",
    "money.audit.inv3bad": "맞지 않음: 차이 {difference}",
    "money.audit.issued": "발행",
    "money.audit.paid": "지급",
    "money.audit.held": "보유",
    "money.audit.pending": "지급 대기",
    "money.audit.ledgerPaid": "원장상 지급",
    "money.audit.statsMatch": "통계 카운터",
    "money.audit.statsOk": "감사와 같음",
    "money.audit.statsBad": "감사와 다름: {names}",
    "money.audit.note": "참고",
    "money.audit.wait": "감사가 끝나면 결과가 나옵니다.",
  },
  en: {
    "money.audit.title": "Ledger audit",
    "money.audit.intro": "Checks that every citizen's balance equals their ledger's sum and is never below zero (invariant 2), and that points issued equal paid + held + pending (invariant 3). It also runs daily.",
    "money.audit.start": "Start an audit",
    "money.audit.started": "The audit has started.",
    "money.audit.none": "There has been no audit yet. Start one.",
    "money.audit.latest": "Latest audit",
    "money.audit.id": "Audit id",
    "money.audit.status": "Status",
    "money.audit.startedBy": "Started",
    "money.audit.finished": "Finished",
    "money.audit.chunks": "Progress",
    "money.audit.checked": "Citizens checked",
    "money.audit.running": "The audit is running; this page reads it again every few seconds.",
    "money.audit.inv2": "Invariant 2: each balance = its ledger's sum, balance ≥ 0",
    "money.audit.inv2ok": "Holds: every citizen's balance equals their ledger's sum and is not below zero.",
    "money.audit.inv2bad": "{n} discrepancies",
    "money.audit.discrepancies": "Discrepancies",
    "money.audit.col.citizen": "Citizen id",
    "money.audit.col.problem": "Problem",
    "money.audit.col.balance": "Balance",
    "money.audit.col.sum": "Ledger sum",
    "money.audit.col.detail": "Detail",
    "money.audit.inv3": "Invariant 3: issued = paid + held + pending",
    "money.audit.inv3ok": "Holds: the city's points add up.",
    "money.audit.inv3bad": "Does not hold: off by {difference}",
    "money.audit.issued": "Issued",
    "money.audit.paid": "Paid",
    "money.audit.held": "Held",
    "money.audit.pending": "Pending payouts",
    "money.audit.ledgerPaid": "Paid per the ledgers",
    "money.audit.statsMatch": "Stats counters",
    "money.audit.statsOk": "match the audit",
    "money.audit.statsBad": "differ from the audit: {names}",
    "money.audit.note": "Note",
    "money.audit.wait": "The result shows once the audit is done.",
  },
});

function result(audit) {
  const parts = [
    h("h2", { id: "audit-latest" }, t("money.audit.latest")),
    h("div", { class: "cards" },
      figure(t("money.audit.status"), statusBadge(audit.status)),
      figure(t("money.audit.checked"), num(audit.citizens_checked))),
    facts([
      [t("money.audit.id"), audit.audit_id],
      [t("money.audit.startedBy"), `${audit.started_by} · ${when(audit.started_at)}`],
      [t("money.audit.finished"), when(audit.finished_at)],
      [t("money.audit.chunks"), `${num(audit.chunks.done)} / ${num(audit.chunks.expected)}`],
    ]),
  ];
  if (audit.status !== "done") return [...parts, notice(t("money.audit.running"))];
  const totals = audit.totals;
  parts.push(h("h3", {}, t("money.audit.inv2")));
  if (audit.discrepancy_count === 0) {
    parts.push(notice(t("money.audit.inv2ok"), "ok"));
  } else {
    parts.push(notice(t("money.audit.inv2bad", { n: num(audit.discrepancy_count) }), "error"),
      table(t("money.audit.discrepancies"), [
        { label: t("money.audit.col.citizen"), cell: (d) => d.citizen_id },
        { label: t("money.audit.col.problem"), cell: (d) => d.problem },
        { label: t("money.audit.col.balance"), class: "num", cell: (d) => won(d.balance) },
        { label: t("money.audit.col.sum"), class: "num", cell: (d) => won(d.ledger_sum) },
        { label: t("money.audit.col.detail"), cell: (d) => d.detail },
      ], audit.discrepancies));
  }
  parts.push(h("h3", {}, t("money.audit.inv3")));
  if (!totals) return [...parts, notice(t("money.audit.wait"))];
  parts.push(
    notice(totals.balanced ? t("money.audit.inv3ok") : t("money.audit.inv3bad", { difference: won(totals.difference) }), totals.balanced ? "ok" : "error"),
    h("div", { class: "cards" },
      figure(t("money.audit.issued"), won(totals.points_issued)),
      figure(t("money.audit.paid"), won(totals.points_paid)),
      figure(t("money.audit.held"), won(totals.points_held)),
      figure(t("money.audit.pending"), won(totals.points_pending)),
      figure(t("money.audit.ledgerPaid"), won(totals.ledger_points_paid))),
  );
  if (totals.stats_match !== null && totals.stats_match !== undefined) {
    const names = Object.keys(totals.stats_mismatches || {}).join(", ");
    parts.push(facts([[t("money.audit.statsMatch"), totals.stats_match ? t("money.audit.statsOk") : t("money.audit.statsBad", { names })]]));
  }
  if (totals.note) parts.push(facts([[t("money.audit.note"), totals.note]]));
  return parts;
}

export default async function render(view, ctx) {
  view.append(h("h1", {}, t("money.audit.title")), h("p", { class: "lead" }, t("money.audit.intro")));
  if (can("audit")) {
    view.append(form({}, [h("button", { type: "submit", class: "primary" }, t("money.audit.start"))], async () => {
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
  view.append(audit ? section : notice(t("money.audit.none")));
  if (!audit) return;
  section.append(...result(audit));
  if (audit.status !== "done") {
    const timer = setTimeout(ctx.refresh, 2000);
    ctx.onLeave(() => clearTimeout(timer));
  }
}
