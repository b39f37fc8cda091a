// What the finance and support pages share (payouts, corrections, citizens, audit, reports,
// the action log): money and months in words, a money status's badge, a figure card, a
// JSON detail as text. The confirmation, the API's refusals in words and the paged table
// are every area's (../widgets.js).
import { badge } from "../dom.js";
import { seoulToday, t, won } from "../i18n.js";

/** Signed points as money: "+1,000원" / "−500원". */
export function signedWon(points) {
  if (points === null || points === undefined) return "—";
  return points > 0 ? `+${won(points)}` : points < 0 ? `−${won(-points)}` : won(0);
}

/** The month before this one in Seoul, YYYY-MM (the month a payout run or report closes). */
export function lastMonth(today = seoulToday()) {
  const [year, month] = today.split("-").map(Number);
  return month === 1 ? `${year - 1}-12` : `${year}-${String(month - 1).padStart(2, "0")}`;
}

const KINDS = {
  running: "warn", ready: "warn", approved: "ok", settled: "ok", done: "ok",
  pending: "warn", rejected: "error", paid: "ok", failed: "error",
};

/** A status as a word in a badge (the word carries the meaning; the colour only repeats it). */
export function statusBadge(status) {
  return badge(t(`money.status.${status}`), KINDS[status] || "");
}

export { figure } from "../dom.js";

/** A JSON detail as short text (never markup). */
export function detailText(detail) {
  if (!detail || !Object.keys(detail).length) return "—";
  return Object.entries(detail)
    .map(([name, value]) => `${name}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join(", ");
}
