// What the finance and support pages share (payouts, corrections, citizens, audit, reports,
// the action log): their words, a confirmation before anything that moves money, the
// API's refusals explained in a person's words, and a cursor-paged table.
import { ApiError, get } from "./api.js";
import { badge, clear, h, table } from "./dom.js";
import { num, seoulToday, t, won, words } from "./i18n.js";

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

/** The API's refusal in words: the known codes explained, anything else its own message. */
export function explain(error) {
  if (!(error instanceof ApiError)) return error?.message || String(error);
  const key = `money.why.${error.code}`;
  const phrase = t(key);
  return phrase === key ? error.message : `${phrase} (${error.code})`;
}

/**
 * Ask before doing something that moves money: a modal dialog with the consequence spelled
 * out; resolves true only on the confirm button.
 */
export function confirmMoney(title, lines, confirmLabel) {
  return new Promise((resolve) => {
    const finish = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    const cancel = h("button", { type: "button", onclick: () => finish(false) }, t("money.cancel"));
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title" }, title),
      (Array.isArray(lines) ? lines : [lines]).map((line) => h("p", {}, line)),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", onclick: () => finish(true) }, confirmLabel),
        cancel),
    );
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/**
 * A cursor-paged list drawn as a table with a "more" button: `path` and `query` for the API,
 * `key` the list in its answer. Returns the element (it fills itself) and a reload().
 */
export function pagedTable({ caption, columns, path, query = {}, key, signal, empty, onPage }) {
  const box = h("div", { class: "paged" });
  let rows = [];
  let cursor = null;
  const more = h("button", { type: "button", onclick: () => load(false) }, t("app.more"));
  const status = h("p", { class: "form-status", role: "status" });

  function draw() {
    clear(box).append(stacked(table(caption, columns, rows, { empty: empty || t("app.none") })), status);
    if (cursor) box.append(h("div", { class: "actions" }, more));
  }

  async function load(fresh) {
    more.disabled = true;
    clear(status);
    try {
      const page = await get(path, { ...query, cursor: fresh ? undefined : cursor }, { signal });
      rows = fresh ? page[key] : rows.concat(page[key]);
      cursor = page.next_cursor;
      onPage?.(page);
      draw();
    } catch (error) {
      if (error?.name === "AbortError") return;
      if (fresh) throw error;
      status.append(h("span", { class: "notice notice-error", role: "alert" }, explain(error)));
    } finally {
      more.disabled = false;
    }
  }

  return { element: box, reload: () => load(true) };
}

/**
 * A table that becomes one card per row on a phone (money.css): each cell carries its
 * column's name, shown before it when the header row is hidden.
 */
export function stacked(wrap) {
  const names = [...wrap.querySelectorAll("thead th")].map((th) => th.textContent);
  wrap.classList.add("stacked");
  for (const row of wrap.querySelectorAll("tbody tr")) {
    [...row.children].forEach((cell, i) => {
      if (!cell.classList.contains("empty")) cell.dataset.label = names[i];
    });
  }
  return wrap;
}

/** A figure card: label above, value below. */
export function figure(label, value) {
  return h("div", { class: "figure" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
}

export function count(value) {
  return num(value);
}

/** A JSON detail as short text (never markup). */
export function detailText(detail) {
  if (!detail || !Object.keys(detail).length) return "—";
  return Object.entries(detail)
    .map(([name, value]) => `${name}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join(", ");
}

words({
  ko: {
    "money.cancel": "취소",
    "money.refresh": "새로고침",
    "money.yes": "예",
    "money.no": "아니요",
    "money.status.running": "계산 중",
    "money.status.ready": "검토 대기",
    "money.status.approved": "승인됨",
    "money.status.settled": "정산됨",
    "money.status.done": "완료",
    "money.status.pending": "대기",
    "money.status.rejected": "거절됨",
    "money.status.paid": "지급됨",
    "money.status.failed": "실패",
    "money.status.active": "정상",
    "money.why.same_person": "시작하거나 제안한 사람은 승인할 수 없습니다. 다른 사람이 승인해야 합니다",
    "money.why.period_open": "아직 끝나지 않은 달입니다. 지급은 끝난 달에 대해서만 시작할 수 있습니다",
    "money.why.invalid_period": "달은 YYYY-MM 형식이어야 합니다",
    "money.why.run_exists": "이 달의 지급 실행이 이미 있습니다",
    "money.why.not_approved": "승인된 지급 실행만 내려받거나 정산할 수 있습니다",
    "money.why.insufficient_balance": "차감하면 시민의 잔액이 0 아래가 됩니다. 정정은 대기 상태로 남습니다",
    "money.why.own_account": "자신의 포인트는 다룰 수 없습니다",
    "money.why.forbidden_role": "역할이 이 작업을 허용하지 않습니다",
    "money.why.unknown_citizens": "이 지급 실행에 없는 시민이 있습니다. 아무것도 바뀌지 않았습니다",
    "money.why.settlement_conflict": "이미 반대로 정산된 항목이 있습니다. 아무것도 바뀌지 않았습니다",
    "money.why.invalid_query": "입력한 값을 확인하세요",
    "money.why.correction_decided": "이미 결정된 정정입니다",
    "money.why.run_not_ready": "검토 대기 상태의 지급 실행만 승인할 수 있습니다",
    "money.why.nothing_to_settle": "정산할 시민을 한 명 이상 적으세요",
    "money.why.conflicting_outcomes": "같은 시민을 지급됨과 실패 양쪽에 적었습니다",
    "money.why.too_many_citizens": "한 번에 1,000명까지 정산할 수 있습니다",
    "money.why.invalid_points": "포인트는 0이 아닌 정수이고 ±100,000 이내여야 합니다",
    "money.why.no_audit": "아직 감사가 없습니다",
    "money.why.month_in_future": "아직 시작하지 않은 달입니다",
    "money.why.invalid_month": "달은 YYYY-MM 형식이어야 합니다",
    "money.why.validation_failed": "입력한 값을 확인하세요",
  },
  en: {
    "money.cancel": "Cancel",
    "money.refresh": "Refresh",
    "money.yes": "Yes",
    "money.no": "No",
    "money.status.running": "Computing",
    "money.status.ready": "Awaiting review",
    "money.status.approved": "Approved",
    "money.status.settled": "Settled",
    "money.status.done": "Done",
    "money.status.pending": "Pending",
    "money.status.rejected": "Rejected",
    "money.status.paid": "Paid",
    "money.status.failed": "Failed",
    "money.status.active": "Active",
    "money.why.same_person": "Whoever started or proposed it cannot approve it: another person must",
    "money.why.period_open": "That month has not ended: a payout runs only for a month that has ended",
    "money.why.invalid_period": "The month must be YYYY-MM",
    "money.why.run_exists": "That month has a payout run already",
    "money.why.not_approved": "Only an approved run can be exported or settled",
    "money.why.insufficient_balance": "The debit would take the citizen's balance below zero; the correction stays pending",
    "money.why.own_account": "Nobody may act on their own points",
    "money.why.forbidden_role": "Your roles do not allow this",
    "money.why.unknown_citizens": "Some of these citizens were not paid by this run; nothing was changed",
    "money.why.settlement_conflict": "Some items were settled the other way already; nothing was changed",
    "money.why.invalid_query": "Check what you entered",
    "money.why.correction_decided": "That correction has been decided already",
    "money.why.run_not_ready": "Only a run awaiting review can be approved",
    "money.why.nothing_to_settle": "Name at least one citizen to settle",
    "money.why.conflicting_outcomes": "A citizen is named both paid and failed",
    "money.why.too_many_citizens": "At most 1,000 citizens can be settled at once",
    "money.why.invalid_points": "Points must be a non-zero whole number within ±100,000",
    "money.why.no_audit": "There has been no audit yet",
    "money.why.month_in_future": "That month has not begun",
    "money.why.invalid_month": "The month must be YYYY-MM",
    "money.why.validation_failed": "Check what you entered",
  },
});
