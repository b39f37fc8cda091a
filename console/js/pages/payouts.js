// Payout runs, newest period first, and the start of a run for a month that has ended.
import { ApiError, post } from "../api.js";
import { can } from "../auth.js";
import { field, form, h, link, notice } from "../dom.js";
import { num, seoulToday, t, when, won, words } from "../i18n.js";
import { confirmMoney, explain, lastMonth, pagedTable, statusBadge } from "../money.js";

words({
  ko: {
    "money.payouts.title": "지급 실행",
    "money.payouts.intro": "달마다 기준(2,000포인트) 이상의 잔액 전부를 시민의 계좌로 지급합니다. 실행은 검토 대기 → 승인 → 내려받기 → 정산 순서로 진행되며, 시작한 사람은 승인할 수 없습니다.",
    "money.payouts.start": "지급 실행 시작",
    "money.payouts.period": "지급할 달",
    "money.payouts.periodHint": "끝난 달만 (예: {example}). 매달 1일 03:00에 지난달 실행이 자동으로 시작됩니다.",
    "money.payouts.startButton": "실행 시작",
    "money.payouts.confirmTitle": "{period} 지급 실행을 시작할까요?",
    "money.payouts.confirmText": "기준 이상의 잔액이 지급 대기로 옮겨집니다. 다른 재무 담당자가 검토하고 승인해야 내려받을 수 있습니다.",
    "money.payouts.started": "{period} 지급 실행을 시작했습니다.",
    "money.payouts.exists": "이 달의 실행 보기",
    "money.payouts.list": "지급 실행 (최근 달부터)",
    "money.payouts.col.period": "달",
    "money.payouts.col.status": "상태",
    "money.payouts.col.citizens": "지급 시민",
    "money.payouts.col.total": "지급 합계",
    "money.payouts.col.skipped": "제외",
    "money.payouts.col.started": "시작",
    "money.payouts.col.approved": "승인",
    "money.payouts.none": "아직 지급 실행이 없습니다.",
    "money.payouts.system": "자동(일정)",
  },
  en: {
    "money.payouts.title": "Payout runs",
    "money.payouts.intro": "Each month, every balance at or over the threshold (2,000 points) is paid whole to the citizen's account. A run goes: awaiting review → approved → exported → settled; whoever started it cannot approve it.",
    "money.payouts.start": "Start a payout run",
    "money.payouts.period": "Month to pay",
    "money.payouts.periodHint": "A month that has ended (e.g. {example}). The schedule starts last month's run on the 1st at 03:00.",
    "money.payouts.startButton": "Start the run",
    "money.payouts.confirmTitle": "Start the payout run for {period}?",
    "money.payouts.confirmText": "Balances at or over the threshold move to pending payouts. Another finance person must review and approve it before it can be exported.",
    "money.payouts.started": "The payout run for {period} has started.",
    "money.payouts.exists": "Open that month's run",
    "money.payouts.list": "Payout runs (newest month first)",
    "money.payouts.col.period": "Month",
    "money.payouts.col.status": "Status",
    "money.payouts.col.citizens": "Citizens paid",
    "money.payouts.col.total": "Total",
    "money.payouts.col.skipped": "Skipped",
    "money.payouts.col.started": "Started",
    "money.payouts.col.approved": "Approved",
    "money.payouts.none": "There are no payout runs yet.",
    "money.payouts.system": "Schedule",
  },
});

export function who(sub) {
  return sub === "system" ? t("money.payouts.system") : sub;
}

export default async function render(view, ctx) {
  view.append(h("h1", {}, t("money.payouts.title")), h("p", { class: "lead" }, t("money.payouts.intro")));

  const runs = pagedTable({
    caption: t("money.payouts.list"),
    path: "/v1/admin/payout-runs",
    key: "runs",
    signal: ctx.signal,
    empty: t("money.payouts.none"),
    columns: [
      { label: t("money.payouts.col.period"), cell: (r) => link(`#/payouts/${encodeURIComponent(r.run_id)}`, r.period) },
      { label: t("money.payouts.col.status"), cell: (r) => statusBadge(r.status) },
      { label: t("money.payouts.col.citizens"), class: "num", cell: (r) => num(r.citizens) },
      { label: t("money.payouts.col.total"), class: "num", cell: (r) => won(r.total_points) },
      { label: t("money.payouts.col.skipped"), class: "num", cell: (r) => num(r.skipped.no_account + r.skipped.below_threshold) },
      { label: t("money.payouts.col.started"), cell: (r) => [who(r.started_by), h("br"), h("small", {}, when(r.started_at))] },
      { label: t("money.payouts.col.approved"), cell: (r) => (r.approved_by ? [r.approved_by, h("br"), h("small", {}, when(r.approved_at))] : "—") },
    ],
  });

  if (can("payouts")) {
    const example = lastMonth(seoulToday());
    const period = h("input", { type: "month", name: "period", required: true, value: example, max: example });
    const outcome = h("div", { "aria-live": "polite" });
    view.append(
      h("section", { class: "card", "aria-labelledby": "start-run" },
        h("h2", { id: "start-run" }, t("money.payouts.start")),
        form({ class: "row" },
          [field(t("money.payouts.period"), period, t("money.payouts.periodHint", { example })),
            h("button", { type: "submit", class: "primary" }, t("money.payouts.startButton"))],
          async (data) => {
            outcome.replaceChildren();
            const month = String(data.get("period") || "").trim();
            if (!(await confirmMoney(t("money.payouts.confirmTitle", { period: month }), t("money.payouts.confirmText"), t("money.payouts.startButton")))) return;
            try {
              const started = await post("/v1/admin/payout-runs", { period: month });
              location.hash = `#/payouts/${encodeURIComponent(started.run_id)}`;
            } catch (error) {
              const existing = error instanceof ApiError && error.code === "run_exists" ? error.details?.[0]?.run_id : null;
              if (existing) {
                outcome.replaceChildren(notice(explain(error), "error"),
                  h("p", {}, link(`#/payouts/${encodeURIComponent(existing)}`, t("money.payouts.exists"))));
                return;
              }
              throw error;
            }
          },
          { errorText: explain },
        ),
        outcome,
      ),
    );
  }
  view.append(runs.element);
  await runs.reload();
}
