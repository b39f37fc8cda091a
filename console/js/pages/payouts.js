// Payout runs, newest period first, and the start of a run for a month that has ended.
import { ApiError, post } from "../api.js";
import { can } from "../auth.js";
import { field, form, h, link, notice } from "../dom.js";
import { num, seoulToday, t, when, won } from "../i18n.js";
import { lastMonth, statusBadge } from "../money/kit.js";
import { confirmAction, explain, pagedTable } from "../widgets.js";

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
            if (!(await confirmAction(t("money.payouts.confirmTitle", { period: month }), t("money.payouts.confirmText"), t("money.payouts.startButton")))) return;
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
