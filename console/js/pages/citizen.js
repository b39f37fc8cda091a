// One citizen as support sees them: profile, masked payout account, balance, the ledger
// (paged), and a correction proposal (decided later by finance, another person).
import { get, post } from "../api.js";
import { can } from "../auth.js";
import { append, clear, facts, field, form, h, link, notice } from "../dom.js";
import { t, when, won } from "../i18n.js";
import { detailText, figure, signedWon, statusBadge } from "../money/kit.js";
import { explain, pagedTable } from "../widgets.js";
import { accountText } from "./citizens.js";

const MAX_POINTS = 100000;
const REASON_MAX = 200;
const REFERENCE_MAX = 100;

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
