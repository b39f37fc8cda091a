// Points corrections by status; finance approves or rejects (with a note) what support
// proposed, never their own proposal (maker != checker).
import { post } from "../api.js";
import { can, person } from "../auth.js";
import { field, form, h, link, toast } from "../dom.js";
import { t, when, won } from "../i18n.js";
import { signedWon, statusBadge } from "../money/kit.js";
import { confirmAction, explain, pagedTable } from "../widgets.js";

const STATUSES = ["pending", "approved", "rejected"];

function decide(c, ctx) {
  const me = person();
  if (me && c.proposed_by === me.sub) return h("p", { class: "hint" }, t("money.corr.own"));
  const approve = form({ class: "inline" }, [h("button", { type: "submit", class: "primary" }, t("money.corr.approve"))], async () => {
    const sure = await confirmAction(t("money.corr.approveTitle"),
      t("money.corr.approveText", { citizen: c.citizen_id, points: signedWon(c.points), reason: c.reason }), t("money.corr.approve"));
    if (!sure) return;
    await post(`/v1/admin/corrections/${encodeURIComponent(c.correction_id)}/approve`);
    toast(t("money.corr.approved"), "ok");
    ctx.refresh();
  }, { errorText: explain });
  const note = h("textarea", { name: "note", rows: 2, maxlength: 500, required: true });
  const reject = h("details", { class: "reject" },
    h("summary", {}, t("money.corr.reject")),
    form({}, [field(t("money.corr.note"), note), h("button", { type: "submit", class: "danger" }, t("money.corr.reject"))], async (data) => {
      const text = String(data.get("note") || "").trim();
      if (!text) throw new Error(t("money.corr.noteMissing"));
      await post(`/v1/admin/corrections/${encodeURIComponent(c.correction_id)}/reject`, { note: text });
      toast(t("money.corr.rejected"), "ok");
      ctx.refresh();
    }, { errorText: explain }));
  return h("div", { class: "decide" }, approve, reject);
}

export default async function render(view, ctx) {
  const status = STATUSES.includes(ctx.query.get("status")) ? ctx.query.get("status") : "pending";
  const choose = h("select", { name: "status", onchange: (e) => (location.hash = `#/corrections?status=${e.target.value}`) },
    STATUSES.map((s) => h("option", { value: s, selected: s === status }, t(`money.status.${s}`))));
  view.append(
    h("h1", {}, t("money.corr.title")),
    h("p", { class: "lead" }, t("money.corr.intro")),
    h("div", { class: "row" }, field(t("money.corr.status"), choose)),
  );
  const deciding = status === "pending" && can("corrections_approve");
  const columns = [
    { label: t("money.corr.col.proposed"), cell: (c) => [c.proposed_by, h("br"), h("small", {}, when(c.proposed_at))] },
    { label: t("money.corr.col.citizen"), cell: (c) => (can("citizens") ? link(`#/citizens/${encodeURIComponent(c.citizen_id)}`, c.citizen_id) : c.citizen_id) },
    { label: t("money.corr.col.points"), class: "num", cell: (c) => signedWon(c.points) },
    { label: t("money.corr.col.reason"), cell: (c) => [c.reason, c.reference ? [h("br"), h("small", {}, t("money.corr.reference", { ref: c.reference }))] : null] },
    { label: t("money.corr.status"), cell: (c) => statusBadge(c.status) },
  ];
  if (status !== "pending") {
    columns.push({ label: t("money.corr.col.decided"), cell: (c) => [
      c.decided_by, h("br"), h("small", {}, when(c.decided_at)),
      c.note ? [h("br"), c.note] : null,
      c.balance_after !== null && c.balance_after !== undefined ? [h("br"), h("small", {}, t("money.corr.balanceAfter", { balance: won(c.balance_after) }))] : null,
    ] });
  }
  if (deciding) columns.push({ label: t("money.corr.col.actions"), cell: (c) => decide(c, ctx) });
  const list = pagedTable({
    caption: t("money.corr.list", { status: t(`money.status.${status}`) }),
    path: "/v1/admin/corrections",
    query: { status },
    key: "corrections",
    signal: ctx.signal,
    empty: t("money.corr.none"),
    columns,
  });
  view.append(list.element);
  await list.reload();
}
