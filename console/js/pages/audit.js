// The ledger audit: start one and read the latest result against DESIGN §6's invariants 2
// (every balance equals its ledger's sum, never below zero) and 3 (points issued == paid +
// held + pending).
import { ApiError, get, post } from "../api.js";
import { can } from "../auth.js";
import { facts, form, h, notice, table } from "../dom.js";
import { num, t, when, won } from "../i18n.js";
import { figure, statusBadge } from "../money/kit.js";
import { explain } from "../widgets.js";

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
