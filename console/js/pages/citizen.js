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
    "citizen.back": "← 시민 조회",
    "citizen.profile": "시민 정보",
    "citizen.id": "시민 ID",
    "citizen.district": "행정동",
    "citizen.phone": "휴대전화 연결",
    "citizen.account": "지급 계좌",
    "citizen.balance": "잔액",
    "citizen.earned": "누적 적립",
    "citizen.paid": "누적 지급",
    "citizen.joined": "가입",
    "citizen.status": "상태",
    "citizen.ledger": "원장 (최근부터)",
    "citizen.col.at": "시각",
    "citizen.col.kind": "종류",
    "citizen.col.points": "포인트",
    "citizen.col.after": "잔액",
    "citizen.col.detail": "내용",
    "citizen.noEntries": "원장 기록이 없습니다.",
    "kind.recycling": "재활용",
    "kind.challenge_prize": "챌린지 상금",
    "kind.payout": "지급",
    "kind.payout_reversal": "지급 실패 환급",
    "kind.correction": "정정",
    "citizen.propose": "포인트 정정 제안",
    "citizen.proposeText": "재무 담당자가 승인해야 잔액에 반영됩니다. 차감은 음수로 적으세요.",
    "citizen.points": "포인트",
    "citizen.pointsHint": "0이 아닌 정수, −100,000 ~ 100,000",
    "citizen.reason": "사유",
    "citizen.reasonHint": "1~200자. 시민의 원장에 남습니다.",
    "citizen.reference": "참조 (선택)",
    "citizen.referenceHint": "상담 번호 등, 100자 이내",
    "citizen.proposeButton": "정정 제안",
    "citizen.badPoints": "포인트는 0이 아닌 정수이고 −100,000 ~ 100,000 사이여야 합니다.",
    "citizen.badReason": "사유는 1~200자로 적으세요.",
    "citizen.badReference": "참조는 100자 이내로 적으세요.",
    "citizen.proposed": "정정을 제안했습니다({points}). 재무 담당자의 승인을 기다립니다.",
    "citizen.queue": "대기 중인 정정 보기",
  },
  en: {
    "citizen.back": "← Citizen look-up",
    "citizen.profile": "Profile",
    "citizen.id": "Citizen id",
    "citizen.district": "District",
    "citizen.phone": "Phone linked",
    "citizen.account": "Payout account",
    "citizen.balance": "Balance",
    "citizen.earned": "Earned in all",
    "citizen.paid": "Paid out in all",
    "citizen.joined": "Joined",
    "citizen.status": "Status",
    "citizen.ledger": "Ledger (newest first)",
    "citizen.col.at": "When",
    "citizen.col.kind": "Kind",
    "citizen.col.points": "Points",
    "citizen.col.after": "Balance",
    "citizen.col.detail": "Detail",
    "citizen.noEntries": "No ledger entries.",
    "kind.recycling": "Recycling",
    "kind.challenge_prize": "Challenge prize",
    "kind.payout": "Payout",
    "kind.payout_reversal": "Failed payout credited back",
    "kind.correction": "Correction",
    "citizen.propose": "Propose a points correction",
    "citizen.proposeText": "It reaches the balance once a finance person approves it. Write a debit as a negative number.",
    "citizen.points": "Points",
    "citizen.pointsHint": "A non-zero whole number, −100,000 to 100,000",
    "citizen.reason": "Reason",
    "citizen.reasonHint": "1-200 characters; it stays in the citizen's ledger.",
    "citizen.reference": "Reference (optional)",
    "citizen.referenceHint": "A ticket number or the like, up to 100 characters",
    "citizen.proposeButton": "Propose",
    "citizen.badPoints": "Points must be a non-zero whole number from −100,000 to 100,000.",
    "citizen.badReason": "Write a reason of 1-200 characters.",
    "citizen.badReference": "Keep the reference within 100 characters.",
    "citizen.proposed": "Correction proposed ({points}); it awaits a finance person's approval.",
    "citizen.queue": "Open the pending corrections",
  },
});

/** The proposal as the API takes it, or an Error naming what is wrong (checked here too). */
export function proposal(data) {
  const raw = String(data.get("points") || "").trim();
  const points = /^[+-]?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(points) || points === 0 || Math.abs(points) > MAX_POINTS) throw new Error(t("citizen.badPoints"));
  const reason = String(data.get("reason") || "").trim();
  if (!reason || [...reason].length > REASON_MAX) throw new Error(t("citizen.badReason"));
  const reference = String(data.get("reference") || "").trim();
  if ([...reference].length > REFERENCE_MAX) throw new Error(t("citizen.badReference"));
  return reference ? { points, reason, reference } : { points, reason };
}

export default async function render(view, ctx) {
  const id = ctx.params.id;
  const path = `/v1/admin/citizens/${encodeURIComponent(id)}`;
  const citizen = await get(path, undefined, { signal: ctx.signal });
  view.append(
    h("p", {}, link("#/citizens", t("citizen.back"))),
    h("h1", {}, citizen.display_name || citizen.citizen_id),
    h("div", { class: "cards" },
      figure(t("citizen.balance"), h("span", { class: "balance" }, won(citizen.balance))),
      figure(t("citizen.earned"), won(citizen.lifetime_earned)),
      figure(t("citizen.paid"), won(citizen.lifetime_paid)),
    ),
    h("section", { "aria-labelledby": "citizen-profile" },
      h("h2", { id: "citizen-profile" }, t("citizen.profile")),
      facts([
        [t("citizen.id"), citizen.citizen_id],
        [t("citizen.district"), citizen.district],
        [t("citizen.phone"), citizen.phone_linked ? t("money.yes") : t("money.no")],
        [t("citizen.account"), accountText(citizen.payout_account)],
        [t("citizen.status"), statusBadge(citizen.status)],
        [t("citizen.joined"), when(citizen.created_at)],
      ])),
  );

  if (can("corrections_propose")) {
    const outcome = h("div", { "aria-live": "polite" });
    const points = h("input", { name: "points", type: "number", step: 1, min: -MAX_POINTS, max: MAX_POINTS, required: true, inputmode: "numeric" });
    const reason = h("input", { name: "reason", type: "text", maxlength: REASON_MAX, required: true });
    const reference = h("input", { name: "reference", type: "text", maxlength: REFERENCE_MAX });
    view.append(h("section", { class: "card", "aria-labelledby": "citizen-propose" },
      h("h2", { id: "citizen-propose" }, t("citizen.propose")),
      h("p", {}, t("citizen.proposeText")),
      form({ class: "propose" }, [
        field(t("citizen.points"), points, t("citizen.pointsHint")),
        field(t("citizen.reason"), reason, t("citizen.reasonHint")),
        field(t("citizen.reference"), reference, t("citizen.referenceHint")),
        h("button", { type: "submit", class: "primary" }, t("citizen.proposeButton")),
      ], async (data, el) => {
        outcome.replaceChildren();
        const body = proposal(data);
        const answer = await post(`${path}/corrections`, body);
        el.reset();
        append(clear(outcome), [notice(t("citizen.proposed", { points: signedWon(answer.points) }), "ok"),
          can("corrections_read") ? h("p", {}, link("#/corrections?status=pending", t("citizen.queue"))) : null]);
      }, { errorText: explain }),
      outcome));
  }

  const ledger = pagedTable({
    caption: t("citizen.ledger"),
    path: `${path}/ledger`,
    key: "entries",
    signal: ctx.signal,
    empty: t("citizen.noEntries"),
    columns: [
      { label: t("citizen.col.at"), cell: (e) => when(e.created_at) },
      { label: t("citizen.col.kind"), cell: (e) => t(`kind.${e.kind}`) },
      { label: t("citizen.col.points"), class: "num", cell: (e) => signedWon(e.points) },
      { label: t("citizen.col.after"), class: "num", cell: (e) => won(e.balance_after) },
      { label: t("citizen.col.detail"), cell: (e) => h("span", { class: "detail" }, detailText(e.detail)) },
    ],
  });
  view.append(ledger.element);
  await ledger.reload();
}
