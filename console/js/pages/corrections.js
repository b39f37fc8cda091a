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
    "money.corr.title": "포인트 정정",
    "money.corr.intro": "상담 담당자가 제안한 정정을 재무 담당자가 승인하면 시민의 원장에 한 번 기록됩니다. 제안한 사람은 승인하거나 거절할 수 없습니다.",
    "money.corr.status": "상태",
    "money.corr.list": "정정: {status}",
    "money.corr.none": "이 상태의 정정이 없습니다.",
    "money.corr.col.proposed": "제안",
    "money.corr.col.citizen": "시민",
    "money.corr.col.points": "포인트",
    "money.corr.col.reason": "사유",
    "money.corr.col.decided": "결정",
    "money.corr.col.actions": "처리",
    "money.corr.reference": "참조: {ref}",
    "money.corr.balanceAfter": "반영 후 잔액 {balance}",
    "money.corr.approve": "승인",
    "money.corr.approveTitle": "정정을 승인할까요?",
    "money.corr.approveText": "{citizen} 시민의 잔액에 {points}이(가) 반영됩니다. 사유: {reason}",
    "money.corr.approved": "승인했습니다. 시민의 잔액에 반영되었습니다.",
    "money.corr.reject": "거절",
    "money.corr.note": "거절 사유 (필수, 500자 이내)",
    "money.corr.noteMissing": "거절 사유를 적으세요.",
    "money.corr.rejected": "거절했습니다.",
    "money.corr.own": "내가 제안한 정정이므로 다른 사람이 결정해야 합니다(작성자 ≠ 승인자).",
  },
  en: {
    "money.corr.title": "Points corrections",
    "money.corr.intro": "A correction support proposes is posted once to the citizen's ledger when finance approves it. Whoever proposed it can neither approve nor reject it.",
    "money.corr.status": "Status",
    "money.corr.list": "Corrections: {status}",
    "money.corr.none": "No correction has this status.",
    "money.corr.col.proposed": "Proposed",
    "money.corr.col.citizen": "Citizen",
    "money.corr.col.points": "Points",
    "money.corr.col.reason": "Reason",
    "money.corr.col.decided": "Decided",
    "money.corr.col.actions": "Decision",
    "money.corr.reference": "Reference: {ref}",
    "money.corr.balanceAfter": "Balance after: {balance}",
    "money.corr.approve": "Approve",
    "money.corr.approveTitle": "Approve this correction?",
    "money.corr.approveText": "{points} is posted to citizen {citizen}'s balance. Reason: {reason}",
    "money.corr.approved": "Approved: the citizen's balance has changed.",
    "money.corr.reject": "Reject",
    "money.corr.note": "Why it is rejected (required, up to 500 characters)",
    "money.corr.noteMissing": "Say why it is rejected.",
    "money.corr.rejected": "Rejected.",
    "money.corr.own": "You proposed this correction: another person must decide it (maker ≠ checker).",
  },
});

function decide(c, ctx) {
  const me = person();
  if (me && c.proposed_by === me.sub) return h("p", { class: "hint" }, t("money.corr.own"));
  const approve = form({ class: "inline" }, [h("button", { type: "submit", class: "primary" }, t("money.corr.approve"))], async () => {
    const sure = await confirmMoney(t("money.corr.approveTitle"),
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
