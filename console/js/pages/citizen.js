// One citizen as support sees them: profile, masked payout account, balance, the ledger
// (paged), and a correction proposal (decided later by finance, another person).
import { get, post } from "../api.js";
import { can } from "../auth.js";
import { append, clear, facts, field, form, h, link, notice } from "../dom.js";
import { t, when, won, words } from "../i18n.js";
import { detailText, explain, figure, pagedTable, signedWon, statusBadge } from "../money.js";
import { accountText } from "./citizens.js";

const MAX_POINTS = 100000;
const REASON_MAX = 200;
const REFERENCE_MAX = 100;

words({
  ko: {
    "money.citizen.back": "← 시민 조회",
    "money.citizen.profile": "시민 정보",
    "money.citizen.id": "시민 ID",
    "money.citizen.district": "행정동",
    "money.citizen.phone": "휴대전화 연결",
    "money.citizen.account": "지급 계좌",
    "money.citizen.balance": "잔액",
    "money.citizen.earned": "누적 적립",
    "money.citizen.paid": "누적 지급",
    "money.citizen.joined": "가입",
    "money.citizen.status": "상태",
    "money.citizen.ledger": "원장 (최근부터)",
    "money.citizen.col.at": "시각",
    "money.citizen.col.kind": "종류",
    "money.citizen.col.points": "포인트",
    "money.citizen.col.after": "잔액",
    "money.citizen.col.detail": "내용",
    "money.citizen.noEntries": "원장 기록이 없습니다.",
    "money.kind.recycling": "재활용",
    "money.kind.challenge_prize": "챌린지 상금",
    "money.kind.payout": "지급",
    "money.kind.payout_reversal": "지급 실패 환급",
    "money.kind.correction": "정정",
    "money.citizen.propose": "포인트 정정 제안",
    "money.citizen.proposeText": "재무 담당자가 승인해야 잔액에 반영됩니다. 차감은 음수로 적으세요.",
    "money.citizen.points": "포인트",
    "money.citizen.pointsHint": "0이 아닌 정수, −100,000 ~ 100,000",
    "money.citizen.reason": "사유",
    "money.citizen.reasonHint": "1~200자. 시민의 원장에 남습니다.",
    "money.citizen.reference": "참조 (선택)",
    "money.citizen.referenceHint": "상담 번호 등, 100자 이내",
    "money.citizen.proposeButton": "정정 제안",
    "money.citizen.badPoints": "포인트는 0이 아닌 정수이고 −100,000 ~ 100,000 사이여야 합니다.",
    "money.citizen.badReason": "사유는 1~200자로 적으세요.",
    "money.citizen.badReference": "참조는 100자 이내로 적으세요.",
    "money.citizen.proposed": "정정을 제안했습니다({points}). 재무 담당자의 승인을 기다립니다.",
    "money.citizen.queue": "대기 중인 정정 보기",
  },
  en: {
    "money.citizen.back": "← Citizen look-up",
    "money.citizen.profile": "Profile",
    "money.citizen.id": "Citizen id",
    "money.citizen.district": "District",
    "money.citizen.phone": "Phone linked",
    "money.citizen.account": "Payout account",
    "money.citizen.balance": "Balance",
    "money.citizen.earned": "Earned in all",
    "money.citizen.paid": "Paid out in all",
    "money.citizen.joined": "Joined",
    "money.citizen.status": "Status",
    "money.citizen.ledger": "Ledger (newest first)",
    "money.citizen.col.at": "When",
    "money.citizen.col.kind": "Kind",
    "money.citizen.col.points": "Points",
    "money.citizen.col.after": "Balance",
    "money.citizen.col.detail": "Detail",
    "money.citizen.noEntries": "No ledger entries.",
    "money.kind.recycling": "Recycling",
    "money.kind.challenge_prize": "Challenge prize",
    "money.kind.payout": "Payout",
    "money.kind.payout_reversal": "Failed payout credited back",
    "money.kind.correction": "Correction",
    "money.citizen.propose": "Propose a points correction",
    "money.citizen.proposeText": "It reaches the balance once a finance person approves it. Write a debit as a negative number.",
    "money.citizen.points": "Points",
    "money.citizen.pointsHint": "A non-zero whole number, −100,000 to 100,000",
    "money.citizen.reason": "Reason",
    "money.citizen.reasonHint": "1-200 characters; it stays in the citizen's ledger.",
    "money.citizen.reference": "Reference (optional)",
    "money.citizen.referenceHint": "A ticket number or the like, up to 100 characters",
    "money.citizen.proposeButton": "Propose",
    "money.citizen.badPoints": "Points must be a non-zero whole number from −100,000 to 100,000.",
    "money.citizen.badReason": "Write a reason of 1-200 characters.",
    "money.citizen.badReference": "Keep the reference within 100 characters.",
    "money.citizen.proposed": "Correction proposed ({points}); it awaits a finance person's approval.",
    "money.citizen.queue": "Open the pending corrections",
  },
});

/** The proposal as the API takes it, or an Error naming what is wrong (checked here too). */
export function proposal(data) {
  const raw = String(data.get("points") || "").trim();
  const points = /^[+-]?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(points) || points === 0 || Math.abs(points) > MAX_POINTS) throw new Error(t("money.citizen.badPoints"));
  const reason = String(data.get("reason") || "").trim();
  if (!reason || [...reason].length > REASON_MAX) throw new Error(t("money.citizen.badReason"));
  const reference = String(data.get("reference") || "").trim();
  if ([...reference].length > REFERENCE_MAX) throw new Error(t("money.citizen.badReference"));
  return reference ? { points, reason, reference } : { points, reason };
}

export default async function render(view, ctx) {
  const id = ctx.params.id;
  const path = `/v1/admin/citizens/${encodeURIComponent(id)}`;
  const citizen = await get(path, undefined, { signal: ctx.signal });
  view.append(
    h("p", {}, link("#/citizens", t("money.citizen.back"))),
    h("h1", {}, citizen.display_name || citizen.citizen_id),
    h("div", { class: "cards" },
      figure(t("money.citizen.balance"), h("span", { class: "balance" }, won(citizen.balance))),
      figure(t("money.citizen.earned"), won(citizen.lifetime_earned)),
      figure(t("money.citizen.paid"), won(citizen.lifetime_paid)),
    ),
    h("section", { "aria-labelledby": "citizen-profile" },
      h("h2", { id: "citizen-profile" }, t("money.citizen.profile")),
      facts([
        [t("money.citizen.id"), citizen.citizen_id],
        [t("money.citizen.district"), citizen.district],
        [t("money.citizen.phone"), citizen.phone_linked ? t("money.yes") : t("money.no")],
        [t("money.citizen.account"), accountText(citizen.payout_account)],
        [t("money.citizen.status"), statusBadge(citizen.status)],
        [t("money.citizen.joined"), when(citizen.created_at)],
      ])),
  );

  if (can("corrections_propose")) {
    const outcome = h("div", { "aria-live": "polite" });
    const points = h("input", { name: "points", type: "number", step: 1, min: -MAX_POINTS, max: MAX_POINTS, required: true, inputmode: "numeric" });
    const reason = h("input", { name: "reason", type: "text", maxlength: REASON_MAX, required: true });
    const reference = h("input", { name: "reference", type: "text", maxlength: REFERENCE_MAX });
    view.append(h("section", { class: "card", "aria-labelledby": "citizen-propose" },
      h("h2", { id: "citizen-propose" }, t("money.citizen.propose")),
      h("p", {}, t("money.citizen.proposeText")),
      form({ class: "propose" }, [
        field(t("money.citizen.points"), points, t("money.citizen.pointsHint")),
        field(t("money.citizen.reason"), reason, t("money.citizen.reasonHint")),
        field(t("money.citizen.reference"), reference, t("money.citizen.referenceHint")),
        h("button", { type: "submit", class: "primary" }, t("money.citizen.proposeButton")),
      ], async (data, el) => {
        outcome.replaceChildren();
        const body = proposal(data);
        const answer = await post(`${path}/corrections`, body);
        el.reset();
        append(clear(outcome), [notice(t("money.citizen.proposed", { points: signedWon(answer.points) }), "ok"),
          can("corrections_read") ? h("p", {}, link("#/corrections?status=pending", t("money.citizen.queue"))) : null]);
      }, { errorText: explain }),
      outcome));
  }

  const ledger = pagedTable({
    caption: t("money.citizen.ledger"),
    path: `${path}/ledger`,
    key: "entries",
    signal: ctx.signal,
    empty: t("money.citizen.noEntries"),
    columns: [
      { label: t("money.citizen.col.at"), cell: (e) => when(e.created_at) },
      { label: t("money.citizen.col.kind"), cell: (e) => t(`money.kind.${e.kind}`) },
      { label: t("money.citizen.col.points"), class: "num", cell: (e) => signedWon(e.points) },
      { label: t("money.citizen.col.after"), class: "num", cell: (e) => won(e.balance_after) },
      { label: t("money.citizen.col.detail"), cell: (e) => h("span", { class: "detail" }, detailText(e.detail)) },
    ],
  });
  view.append(ledger.element);
  await ledger.reload();
}
