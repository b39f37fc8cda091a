// Points corrections by status; finance approves or rejects (with a note) what support
// proposed, never their own proposal (maker != checker).
import { post } from "../api.js";
import { can, person } from "../auth.js";
import { field, form, h, link, toast } from "../dom.js";
import { t, when, won, words } from "../i18n.js";
import { confirmMoney, explain, pagedTable, signedWon, statusBadge } from "../money.js";

const STATUSES = ["pending", "approved", "rejected"];

words({
  ko: {
    "corr.title": "포인트 정정",
    "corr.intro": "상담 담당자가 제안한 정정을 재무 담당자가 승인하면 시민의 원장에 한 번 기록됩니다. 제안한 사람은 승인하거나 거절할 수 없습니다.",
    "corr.status": "상태",
    "corr.list": "정정: {status}",
    "corr.none": "이 상태의 정정이 없습니다.",
    "corr.col.proposed": "제안",
    "corr.col.citizen": "시민",
    "corr.col.points": "포인트",
    "corr.col.reason": "사유",
    "corr.col.decided": "결정",
    "corr.col.actions": "처리",
    "corr.reference": "참조: {ref}",
    "corr.balanceAfter": "반영 후 잔액 {balance}",
    "corr.approve": "승인",
    "corr.approveTitle": "정정을 승인할까요?",
    "corr.approveText": "{citizen} 시민의 잔액에 {points}이(가) 반영됩니다. 사유: {reason}",
    "corr.approved": "승인했습니다. 시민의 잔액에 반영되었습니다.",
    "corr.reject": "거절",
    "corr.note": "거절 사유 (필수, 500자 이내)",
    "corr.noteMissing": "거절 사유를 적으세요.",
    "corr.rejected": "거절했습니다.",
    "corr.own": "내가 제안한 정정이므로 다른 사람이 결정해야 합니다(작성자 ≠ 승인자).",
  },
  en: {
    "corr.title": "Points corrections",
    "corr.intro": "A correction support proposes is posted once to the citizen's ledger when finance approves it. Whoever proposed it can neither approve nor reject it.",
    "corr.status": "Status",
    "corr.list": "Corrections: {status}",
    "corr.none": "No correction has this status.",
    "corr.col.proposed": "Proposed",
    "corr.col.citizen": "Citizen",
    "corr.col.points": "Points",
    "corr.col.reason": "Reason",
    "corr.col.decided": "Decided",
    "corr.col.actions": "Decision",
    "corr.reference": "Reference: {ref}",
    "corr.balanceAfter": "Balance after: {balance}",
    "corr.approve": "Approve",
    "corr.approveTitle": "Approve this correction?",
    "corr.approveText": "{points} is posted to citizen {citizen}'s balance. Reason: {reason}",
    "corr.approved": "Approved: the citizen's balance has changed.",
    "corr.reject": "Reject",
    "corr.note": "Why it is rejected (required, up to 500 characters)",
    "corr.noteMissing": "Say why it is rejected.",
    "corr.rejected": "Rejected.",
    "corr.own": "You proposed this correction: another person must decide it (maker ≠ checker).",
  },
});

function decide(c, ctx) {
  const me = person();
  if (me && c.proposed_by === me.sub) return h("p", { class: "hint" }, t("corr.own"));
  const approve = form({ class: "inline" }, [h("button", { type: "submit", class: "primary" }, t("corr.approve"))], async () => {
    const sure = await confirmMoney(t("corr.approveTitle"),
      t("corr.approveText", { citizen: c.citizen_id, points: signedWon(c.points), reason: c.reason }), t("corr.approve"));
    if (!sure) return;
    await post(`/v1/admin/corrections/${encodeURIComponent(c.correction_id)}/approve`);
    toast(t("corr.approved"), "ok");
    ctx.refresh();
  }, { errorText: explain });
  const note = h("textarea", { name: "note", rows: 2, maxlength: 500, required: true });
  const reject = h("details", { class: "reject" },
    h("summary", {}, t("corr.reject")),
    form({}, [field(t("corr.note"), note), h("button", { type: "submit", class: "danger" }, t("corr.reject"))], async (data) => {
      const text = String(data.get("note") || "").trim();
      if (!text) throw new Error(t("corr.noteMissing"));
      await post(`/v1/admin/corrections/${encodeURIComponent(c.correction_id)}/reject`, { note: text });
      toast(t("corr.rejected"), "ok");
      ctx.refresh();
    }, { errorText: explain }));
  return h("div", { class: "decide" }, approve, reject);
}

export default async function render(view, ctx) {
  const status = STATUSES.includes(ctx.query.get("status")) ? ctx.query.get("status") : "pending";
  const choose = h("select", { name: "status", onchange: (e) => (location.hash = `#/corrections?status=${e.target.value}`) },
    STATUSES.map((s) => h("option", { value: s, selected: s === status }, t(`status.${s}`))));
  view.append(
    h("h1", {}, t("corr.title")),
    h("p", { class: "lead" }, t("corr.intro")),
    h("div", { class: "row" }, field(t("corr.status"), choose)),
  );
  const deciding = status === "pending" && can("corrections_approve");
  const columns = [
    { label: t("corr.col.proposed"), cell: (c) => [c.proposed_by, h("br"), h("small", {}, when(c.proposed_at))] },
    { label: t("corr.col.citizen"), cell: (c) => (can("citizens") ? link(`#/citizens/${encodeURIComponent(c.citizen_id)}`, c.citizen_id) : c.citizen_id) },
    { label: t("corr.col.points"), class: "num", cell: (c) => signedWon(c.points) },
    { label: t("corr.col.reason"), cell: (c) => [c.reason, c.reference ? [h("br"), h("small", {}, t("corr.reference", { ref: c.reference }))] : null] },
    { label: t("corr.status"), cell: (c) => statusBadge(c.status) },
  ];
  if (status !== "pending") {
    columns.push({ label: t("corr.col.decided"), cell: (c) => [
      c.decided_by, h("br"), h("small", {}, when(c.decided_at)),
      c.note ? [h("br"), c.note] : null,
      c.balance_after !== null && c.balance_after !== undefined ? [h("br"), h("small", {}, t("corr.balanceAfter", { balance: won(c.balance_after) }))] : null,
    ] });
  }
  if (deciding) columns.push({ label: t("corr.col.actions"), cell: (c) => decide(c, ctx) });
  const list = pagedTable({
    caption: t("corr.list", { status: t(`status.${status}`) }),
    path: "/v1/admin/corrections",
    query: { status },
    key: "corrections",
    signal: ctx.signal,
    empty: t("corr.none"),
    columns,
  });
  view.append(list.element);
  await list.reload();
}
