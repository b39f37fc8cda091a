// One payout run: its figures and where it is (running -> ready -> approved -> settled),
// approval by a second person, the transfer file's download with its recorded SHA-256,
// settlement (paid / failed, failed ones credited back) and the citizens it skipped.
import { download, get, post } from "../api.js";
import { can, person } from "../auth.js";
import { clear, facts, field, form, h, link, notice, toast } from "../dom.js";
import { num, t, when, won } from "../i18n.js";
import { figure, statusBadge } from "../money/kit.js";
import { confirmAction, explain, pagedTable } from "../widgets.js";
import { who } from "./payouts.js";

const STEPS = ["running", "ready", "approved", "settled"];
const SETTLE_LIMIT = 1000;

/** Citizen ids from a textarea: one a line or separated by commas/spaces, each once. */
export function ids(text) {
  return [...new Set(String(text || "").split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))];
}

/** The citizen_id column of a transfer CSV (UTF-8 with a BOM, a header row). */
export function csvCitizens(text) {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).filter((line) => line.trim());
  if (!lines.length) return [];
  const header = lines[0].split(",").map((c) => c.replace(/"/g, "").trim());
  const column = Math.max(0, header.indexOf("citizen_id"));
  return lines.slice(1).map((line) => line.split(",")[column].replace(/"/g, "").trim()).filter(Boolean);
}

function refusal(error) {
  const named = (error.details || []).map((d) => d.citizen_id).filter(Boolean);
  return named.length ? `${explain(error)} ${t("money.run.named", { ids: named.join(", ") })}` : explain(error);
}

export default async function render(view, ctx) {
  const id = ctx.params.id;
  const path = `/v1/admin/payout-runs/${encodeURIComponent(id)}`;
  const run = await get(path, undefined, { signal: ctx.signal });
  const me = person();

  view.append(
    h("p", {}, link("#/payouts", t("money.run.back"))),
    h("h1", {}, t("money.run.title", { period: run.period })),
    h("ol", { class: "steps", "aria-label": t("money.run.steps") },
      STEPS.map((step, i) => h("li", {
        class: [i < STEPS.indexOf(run.status) && "done", step === run.status && "current"],
        "aria-current": step === run.status ? "step" : null,
      }, t(`money.status.${step}`)))),
    h("div", { class: "cards" },
      figure(t("money.run.status"), statusBadge(run.status)),
      figure(t("money.run.citizens"), num(run.citizens)),
      figure(t("money.run.total"), won(run.total_points)),
      figure(t("money.run.pending"), num(run.settlement.pending)),
    ),
    facts([
      [t("money.run.id"), run.run_id],
      [t("money.run.skippedNoAccount"), num(run.skipped.no_account)],
      [t("money.run.skippedBelow"), num(run.skipped.below_threshold)],
      [t("money.run.chunks"), `${num(run.chunks.done)} / ${num(run.chunks.expected)}`],
      [t("money.run.startedBy"), `${who(run.started_by)} · ${when(run.started_at)}`],
      [t("money.run.readyAt"), when(run.ready_at)],
      [t("money.run.approvedBy"), run.approved_by ? `${run.approved_by} · ${when(run.approved_at)}` : null],
      [t("money.run.paid"), `${num(run.settlement.paid)} · ${won(run.settlement.paid_points)}`],
      [t("money.run.failed"), `${num(run.settlement.failed)} · ${won(run.settlement.failed_points)}`],
      [t("money.run.settledAt"), when(run.settled_at)],
    ]),
  );

  if (run.status === "running") {
    view.append(notice(t("money.run.runningNote")));
    const timer = setTimeout(ctx.refresh, 2000);
    ctx.onLeave(() => clearTimeout(timer));
  }

  // Review and approval (maker != checker).
  const review = h("section", { class: "card", "aria-labelledby": "run-review" }, h("h2", { id: "run-review" }, t("money.run.review")));
  view.append(review);
  if (run.approved_by) {
    review.append(h("p", {}, t("money.run.approvedNote", { by: run.approved_by, at: when(run.approved_at) })));
  } else if (run.status !== "ready") {
    review.append(h("p", {}, t("money.run.notReady")));
  } else if (me && run.started_by === me.sub) {
    review.append(
      h("button", { type: "button", class: "primary", disabled: true, "aria-describedby": "self-approve" }, t("money.run.approve")),
      h("p", { class: "hint", id: "self-approve" }, t("money.run.selfApprove")),
    );
  } else {
    review.append(form({}, [h("button", { type: "submit", class: "primary" }, t("money.run.approve"))], async () => {
      const sure = await confirmAction(
        t("money.run.approveTitle", { period: run.period }),
        t("money.run.approveText", { total: won(run.total_points), citizens: num(run.citizens) }),
        t("money.run.approve"),
      );
      if (!sure) return;
      await post(`${path}/approve`);
      toast(t("money.run.approved"), "ok");
      ctx.refresh();
    }, { errorText: explain }));
  }

  // The transfer file.
  const exported = h("section", { class: "card", "aria-labelledby": "run-export" },
    h("h2", { id: "run-export" }, t("money.run.export")), h("p", {}, t("money.run.exportText")));
  view.append(exported);
  const approved = run.status === "approved" || run.status === "settled";
  const shas = h("div", {});
  const drawShas = (exports) => {
    const entries = Object.entries(exports || {});
    clear(shas).append(entries.length
      ? facts(entries.map(([format, record]) => [t("money.run.sha", { format }), h("code", { class: "sha" }, record.sha256)]))
      : h("p", {}, t("money.run.noExport")));
  };
  drawShas(run.exports);
  if (approved) {
    const got = h("p", { role: "status" });
    exported.append(form({}, [h("button", { type: "submit" }, t("money.run.download"))], async () => {
      const file = await download(`${path}/export?format=csv`, `${run.run_id}.csv`);
      got.textContent = t("money.run.downloaded", { name: file.name, bytes: num(file.bytes) });
      drawShas((await get(path, undefined, { signal: ctx.signal })).exports);
    }, { errorText: explain }), got);
  } else {
    exported.append(h("p", {}, t("money.run.exportLater")));
  }
  exported.append(shas);

  // Settlement.
  const settle = h("section", { class: "card", "aria-labelledby": "run-settle" }, h("h2", { id: "run-settle" }, t("money.run.settle")));
  view.append(settle);
  if (!approved) {
    settle.append(h("p", {}, t("money.run.settleLater")));
  } else if (run.settlement.pending === 0) {
    settle.append(h("p", {}, t("money.run.settleDone")));
  } else {
    const paid = h("textarea", { name: "paid", rows: 4, spellcheck: "false", autocomplete: "off" });
    const failed = h("textarea", { name: "failed", rows: 3, spellcheck: "false", autocomplete: "off" });
    const file = h("input", { type: "file", accept: ".csv,text/csv" });
    const filled = h("p", { role: "status", class: "hint" });
    file.addEventListener("change", async () => {
      const chosen = file.files?.[0];
      if (!chosen) return;
      const found = csvCitizens(await chosen.text());
      paid.value = found.join("\n");
      filled.textContent = t("money.run.filled", { n: num(found.length) });
    });
    settle.append(
      h("p", {}, t("money.run.settleText", { limit: num(SETTLE_LIMIT) })),
      field(t("money.run.fromFile"), file, t("money.run.fromFileHint")), filled,
      form({}, [
        field(t("money.run.settlePaid"), paid),
        field(t("money.run.settleFailed"), failed),
        h("button", { type: "submit", class: "primary" }, t("money.run.settleButton")),
      ], async (data, el) => {
        const body = { paid: ids(data.get("paid")), failed: ids(data.get("failed")) };
        const both = body.paid.filter((c) => body.failed.includes(c));
        if (!body.paid.length && !body.failed.length) throw new Error(t("money.run.settleNone"));
        if (both.length) throw new Error(t("money.run.settleBoth", { ids: both.join(", ") }));
        if (body.paid.length > SETTLE_LIMIT || body.failed.length > SETTLE_LIMIT) {
          throw new Error(t("money.run.settleTooMany", { limit: num(SETTLE_LIMIT) }));
        }
        const sure = await confirmAction(t("money.run.settleTitle"),
          t("money.run.settleConfirm", { paid: num(body.paid.length), failed: num(body.failed.length) }), t("money.run.settleButton"));
        if (!sure) return;
        const done = await post(`${path}/settle`, body);
        const message = t("money.run.settled", { paid: num(done.applied.paid), failed: num(done.applied.failed), unchanged: num(done.unchanged) });
        el.reset();
        toast(message, "ok");
        ctx.refresh();
      }, { errorText: refusal }),
    );
  }

  // The citizens skipped, by reason.
  const reason = h("select", { name: "reason" },
    ["all", "no_account", "below_threshold"].map((r) => h("option", { value: r }, t(`money.run.reason.${r}`))));
  const holder = h("div", {});
  const skipped = h("section", { "aria-labelledby": "run-skipped" },
    h("h2", { id: "run-skipped" }, t("money.run.skipped")), h("p", {}, t("money.run.skippedText")),
    h("div", { class: "row" }, field(t("money.run.reason"), reason)), holder);
  view.append(skipped);
  const showSkipped = async () => {
    const list = pagedTable({
      caption: `${t("money.run.skipped")}: ${t(`money.run.reason.${reason.value}`)}`,
      path: `${path}/skipped`,
      query: { reason: reason.value, limit: 50 },
      key: "skipped",
      signal: ctx.signal,
      empty: t("money.run.skippedNone"),
      columns: [
        { label: t("money.run.col.citizen"), cell: (s) => (can("citizens") ? link(`#/citizens/${encodeURIComponent(s.citizen_id)}`, s.citizen_id) : s.citizen_id) },
        { label: t("money.run.col.reason"), cell: (s) => t(`money.run.reason.${s.reason}`) },
      ],
    });
    holder.replaceChildren(list.element);
    await list.reload();
  };
  reason.addEventListener("change", () => showSkipped().catch((error) => holder.replaceChildren(notice(explain(error), "error"))));
  await showSkipped();
}
