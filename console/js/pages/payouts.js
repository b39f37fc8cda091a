// Payout runs, newest period first, and the start of a run for a month that has ended.
import { ApiError, post } from "../api.js";
import { can } from "../auth.js";
import { field, form, h, link, notice } from "../dom.js";
import { num, seoulToday, t, when, won, words } from "../i18n.js";
import { confirmMoney, explain, lastMonth, pagedTable, statusBadge } from "../money.js";

words({
  ko: {
    "payouts.title": "지급 실행",
    "payouts.intro": "달마다 기준(2,000포인트) 이상의 잔액 전부를 시민의 계좌로 지급합니다. 실행은 검토 대기 → 승인 → 내려받기 → 정산 순서로 진행되며, 시작한 사람은 승인할 수 없습니다.",
    "payouts.start": "지급 실행 시작",
    "payouts.period": "지급할 달",
    "payouts.periodHint": "끝난 달만 (예: {example}). 매달 1일 03:00에 지난달 실행이 자동으로 시작됩니다.",
    "payouts.startButton": "실행 시작",
    "payouts.confirmTitle": "{period} 지급 실행을 시작할까요?",
    "payouts.confirmText": "기준 이상의 잔액이 지급 대기로 옮겨집니다. 다른 재무 담당자가 검토하고 승인해야 내려받을 수 있습니다.",
    "payouts.started": "{period} 지급 실행을 시작했습니다.",
    "payouts.exists": "이 달의 실행 보기",
    "payouts.list": "지급 실행 (최근 달부터)",
    "payouts.col.period": "달",
    "payouts.col.status": "상태",
    "payouts.col.citizens": "지급 시민",
    "payouts.col.total": "지급 합계",
    "payouts.col.skipped": "제외",
    "payouts.col.started": "시작",
    "payouts.col.approved": "승인",
    "payouts.none": "아직 지급 실행이 없습니다.",
    "payouts.system": "자동(일정)",
  },
  en: {
    "payouts.title": "Payout runs",
    "payouts.intro": "Each month, every balance at or over the threshold (2,000 points) is paid whole to the citizen's account. A run goes: awaiting review → approved → exported → settled; whoever started it cannot approve it.",
    "payouts.start": "Start a payout run",
    "payouts.period": "Month to pay",
    "payouts.periodHint": "A month that has ended (e.g. {example}). The schedule starts last month's run on the 1st at 03:00.",
    "payouts.startButton": "Start the run",
    "payouts.confirmTitle": "Start the payout run for {period}?",
    "payouts.confirmText": "Balances at or over the threshold move to pending payouts. Another finance person must review and approve it before it can be exported.",
    "payouts.started": "The payout run for {period} has started.",
    "payouts.exists": "Open that month's run",
    "payouts.list": "Payout runs (newest month first)",
    "payouts.col.period": "Month",
    "payouts.col.status": "Status",
    "payouts.col.citizens": "Citizens paid",
    "payouts.col.total": "Total",
    "payouts.col.skipped": "Skipped",
    "payouts.col.started": "Started",
    "payouts.col.approved": "Approved",
    "payouts.none": "There are no payout runs yet.",
    "payouts.system": "Schedule",
  },
});

export function who(sub) {
  return sub === "system" ? t("payouts.system") : sub;
}

export default async function render(view, ctx) {
  view.append(h("h1", {}, t("payouts.title")), h("p", { class: "lead" }, t("payouts.intro")));

  const runs = pagedTable({
    caption: t("payouts.list"),
    path: "/v1/admin/payout-runs",
    key: "runs",
    signal: ctx.signal,
    empty: t("payouts.none"),
    columns: [
      { label: t("payouts.col.period"), cell: (r) => link(`#/payouts/${encodeURIComponent(r.run_id)}`, r.period) },
      { label: t("payouts.col.status"), cell: (r) => statusBadge(r.status) },
      { label: t("payouts.col.citizens"), class: "num", cell: (r) => num(r.citizens) },
      { label: t("payouts.col.total"), class: "num", cell: (r) => won(r.total_points) },
      { label: t("payouts.col.skipped"), class: "num", cell: (r) => num(r.skipped.no_account + r.skipped.below_threshold) },
      { label: t("payouts.col.started"), cell: (r) => [who(r.started_by), h("br"), h("small", {}, when(r.started_at))] },
      { label: t("payouts.col.approved"), cell: (r) => (r.approved_by ? [r.approved_by, h("br"), h("small", {}, when(r.approved_at))] : "—") },
    ],
  });

  if (can("payouts")) {
    const example = lastMonth(seoulToday());
    const period = h("input", { type: "month", name: "period", required: true, value: example, max: example });
    const outcome = h("div", { "aria-live": "polite" });
    view.append(
      h("section", { class: "card", "aria-labelledby": "start-run" },
        h("h2", { id: "start-run" }, t("payouts.start")),
        form({ class: "row" },
          [field(t("payouts.period"), period, t("payouts.periodHint", { example })),
            h("button", { type: "submit", class: "primary" }, t("payouts.startButton"))],
          async (data) => {
            outcome.replaceChildren();
            const month = String(data.get("period") || "").trim();
            if (!(await confirmMoney(t("payouts.confirmTitle", { period: month }), t("payouts.confirmText"), t("payouts.startButton")))) return;
            try {
              const started = await post("/v1/admin/payout-runs", { period: month });
              location.hash = `#/payouts/${encodeURIComponent(started.run_id)}`;
            } catch (error) {
              const existing = error instanceof ApiError && error.code === "run_exists" ? error.details?.[0]?.run_id : null;
              if (existing) {
                outcome.replaceChildren(notice(explain(error), "error"),
                  h("p", {}, link(`#/payouts/${encodeURIComponent(existing)}`, t("payouts.exists"))));
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
