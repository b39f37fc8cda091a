// Quarantine (#/quarantine?source=): device messages the city refused, newest first, one
// source at a time, each with its reason and the message as it arrived (redacted by the
// API) shown as text in monospace: a payload is whatever a device sent, `<script>` included,
// so it goes in with textContent and never as markup. Operators reprocess (when the entry
// kept its original and its source has a handler) or discard with a note; support reads.
import { ApiError, get, post } from "../api.js";
import { can } from "../auth.js";
import { append, clear, facts, field, form, h, notice } from "../dom.js";
import { num, t, when, words } from "../i18n.js";

const SOURCES = ["deposits", "fleet", "rule-errors"];
const PAGE = 25;
const MAX_NOTE = 500;

words({
  ko: {
    "quarantine.title": "격리 메시지",
    "quarantine.intro": "도시가 처리하지 못한 장치 메시지입니다. 받은 그대로(개인정보는 가린 채) 글자로 보여 줍니다.",
    "quarantine.readOnly": "상담 역할은 격리 메시지를 볼 수만 있습니다. 재처리와 폐기는 운영자가 합니다.",
    "quarantine.source": "출처",
    "quarantine.source.deposits": "재활용 투입",
    "quarantine.source.fleet": "쉼터·로봇 상태",
    "quarantine.source.rule-errors": "규칙 오류",
    "quarantine.show": "보기",
    "quarantine.list": "{source} 격리 메시지",
    "quarantine.empty": "격리된 메시지가 없습니다.",
    "quarantine.reason": "사유",
    "quarantine.device": "장치",
    "quarantine.received": "받은 시각",
    "quarantine.status": "상태",
    "quarantine.status.open": "열림",
    "quarantine.status.reprocessed": "재처리됨",
    "quarantine.status.discarded": "폐기됨",
    "quarantine.event": "이벤트 번호",
    "quarantine.details": "설명",
    "quarantine.closed": "닫은 사람·시각",
    "quarantine.note": "메모",
    "quarantine.payload": "받은 메시지 (원문)",
    "quarantine.noPayload": "(내용 없음)",
    "quarantine.outcome": "재처리 결과",
    "quarantine.outcome.credited": "적립됨",
    "quarantine.outcome.duplicate": "이미 적립됨 (중복)",
    "quarantine.outcome.rejected": "거절됨",
    "quarantine.outcome.refused": "여전히 처리할 수 없음",
    "quarantine.points": "{points}포인트",
    "quarantine.reprocess": "재처리",
    "quarantine.reprocess.done": "재처리했습니다: {result}",
    "quarantine.notReprocessable": "이 메시지는 재처리할 수 없습니다 (원문을 보관하지 않는 출처). 폐기하세요.",
    "quarantine.discard": "폐기",
    "quarantine.discard.note": "폐기 사유",
    "quarantine.discard.submit": "폐기",
    "quarantine.discard.done": "폐기했습니다.",
    "quarantine.discard.needsNote": "폐기 사유를 적으세요 (1-500자).",
    "quarantine.entry": "{reason} · {device}",
    "quarantine.unknownDevice": "알 수 없는 장치",
    "quarantine.shown": "{n}건 표시",
  },
  en: {
    "quarantine.title": "Quarantine",
    "quarantine.intro": "Device messages the city could not process, shown as they arrived (personal data masked), as plain text.",
    "quarantine.readOnly": "Support reads the quarantine; operators reprocess and discard.",
    "quarantine.source": "Source",
    "quarantine.source.deposits": "Recycling deposits",
    "quarantine.source.fleet": "Shelter and robot reports",
    "quarantine.source.rule-errors": "Rule errors",
    "quarantine.show": "Show",
    "quarantine.list": "Quarantined {source}",
    "quarantine.empty": "Nothing is quarantined.",
    "quarantine.reason": "Reason",
    "quarantine.device": "Device",
    "quarantine.received": "Received",
    "quarantine.status": "Status",
    "quarantine.status.open": "Open",
    "quarantine.status.reprocessed": "Reprocessed",
    "quarantine.status.discarded": "Discarded",
    "quarantine.event": "Event id",
    "quarantine.details": "Details",
    "quarantine.closed": "Closed by, at",
    "quarantine.note": "Note",
    "quarantine.payload": "The message as received",
    "quarantine.noPayload": "(empty)",
    "quarantine.outcome": "Reprocess outcome",
    "quarantine.outcome.credited": "Credited",
    "quarantine.outcome.duplicate": "Credited before (duplicate)",
    "quarantine.outcome.rejected": "Rejected",
    "quarantine.outcome.refused": "Still cannot be processed",
    "quarantine.points": "{points} points",
    "quarantine.reprocess": "Reprocess",
    "quarantine.reprocess.done": "Reprocessed: {result}",
    "quarantine.notReprocessable": "This message cannot be reprocessed (its source keeps no original). Discard it instead.",
    "quarantine.discard": "Discard",
    "quarantine.discard.note": "Why discard it",
    "quarantine.discard.submit": "Discard",
    "quarantine.discard.done": "Discarded.",
    "quarantine.discard.needsNote": "Say why in a note (1-500 characters).",
    "quarantine.entry": "{reason} · {device}",
    "quarantine.unknownDevice": "unknown device",
    "quarantine.shown": "{n} shown",
  },
});

function statusBadge(status) {
  const kind = { open: "warn", reprocessed: "ok", discarded: "" }[status] ?? "";
  return h("span", { class: ["badge", kind && `badge-${kind}`] }, t(`quarantine.status.${status}`));
}

function outcomeText(outcome) {
  const parts = [t(`quarantine.outcome.${outcome.result}`)];
  if (outcome.points !== null && outcome.points !== undefined) parts.push(t("quarantine.points", { points: num(outcome.points) }));
  if (outcome.reason) parts.push(outcome.reason);
  if (outcome.details) parts.push(outcome.details);
  return parts.join(" · ");
}

function sourceForm(source) {
  const control = h(
    "select",
    { name: "source" },
    SOURCES.map((s) => h("option", { value: s, selected: s === source }, t(`quarantine.source.${s}`))),
  );
  const el = h("form", { class: "filters row", "aria-label": t("quarantine.source") },
    field(t("quarantine.source"), control),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("quarantine.show"))));
  el.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/quarantine?source=${encodeURIComponent(control.value)}`;
  });
  return el;
}

/** One entry as a card; `done` is a word about the step just taken on it. */
function entryCard(entry, act, done) {
  const headingId = `q-${entry.quarantine_id}`;
  const card = h("article", { class: ["card", "q-entry", `q-${entry.status}`], "aria-labelledby": headingId, dataset: { entryId: entry.entry_id } });
  const heading = h("h2", { id: headingId, tabindex: "-1" },
    t("quarantine.entry", { reason: entry.reason, device: entry.device_id || t("quarantine.unknownDevice") }));
  append(card, [
    heading,
    done ? notice(done, "ok") : null,
    facts([
      [t("quarantine.status"), statusBadge(entry.status)],
      [t("quarantine.reason"), h("code", {}, entry.reason)],
      [t("quarantine.device"), entry.device_id],
      [t("quarantine.received"), h("time", { datetime: entry.received_at }, when(entry.received_at, { seconds: true }))],
      [t("quarantine.event"), entry.event_id ? h("code", {}, entry.event_id) : null],
      [t("quarantine.details"), entry.details],
      entry.closed_at ? [t("quarantine.closed"), `${entry.closed_by || "—"}, ${when(entry.closed_at, { seconds: true })}`] : null,
      entry.note ? [t("quarantine.note"), entry.note] : null,
      entry.outcome ? [t("quarantine.outcome"), outcomeText(entry.outcome)] : null,
    ].filter(Boolean)),
    h("h3", {}, t("quarantine.payload")),
    // textContent, never markup: the payload is what a device sent.
    h("pre", { class: "payload", tabindex: "0", "aria-label": t("quarantine.payload") }, entry.payload ?? t("quarantine.noPayload")),
  ]);
  if (act && entry.status === "open") card.append(entryActions(entry, card));
  return card;
}

function entryActions(entry, card) {
  // An entry id is `<source>:<id>`; ':' is fine in a path segment, and the API takes it
  // as is (it does not decode %3A back).
  const path = `/v1/admin/quarantine/${encodeURIComponent(entry.entry_id).replace(/%3A/gi, ":")}`;
  const replace = (answered, done) => {
    const fresh = entryCard(answered, true, done);
    card.replaceWith(fresh);
    fresh.querySelector("h2").focus();
  };
  const box = h("div", { class: "q-actions" });
  if (entry.reprocessable) {
    box.append(form({ class: "inline", "aria-label": t("quarantine.reprocess") },
      [h("button", { type: "submit", class: "primary" }, t("quarantine.reprocess"))],
      async () => {
        const answered = await post(`${path}/reprocess`);
        replace(answered, t("quarantine.reprocess.done", { result: outcomeText(answered.outcome) }));
      },
      { errorText: refusal }));
  } else {
    box.append(h("p", { class: "hint" }, t("quarantine.notReprocessable")));
  }
  const note = h("textarea", { name: "note", maxlength: MAX_NOTE, rows: 2, required: true });
  box.append(form({ class: "discard", "aria-label": t("quarantine.discard") },
    [field(t("quarantine.discard.note"), note), h("button", { type: "submit", class: "danger" }, t("quarantine.discard.submit"))],
    async (data) => {
      const text = String(data.get("note") || "").trim();
      if (!text || [...text].length > MAX_NOTE) throw new Error(t("quarantine.discard.needsNote"));
      replace(await post(`${path}/discard`, { note: text }), t("quarantine.discard.done"));
    },
    { errorText: refusal }));
  return box;
}

function refusal(error) {
  return error instanceof ApiError && error.status === 409 ? `${error.message} (${error.code})` : error.message;
}

export default async function render(view, ctx) {
  const source = SOURCES.includes(ctx.query.get("source")) ? ctx.query.get("source") : SOURCES[0];
  const act = can("quarantine_act");
  let page = await get("/v1/admin/quarantine", { source, limit: PAGE }, { signal: ctx.signal });
  const list = h("div", { class: "q-list", role: "region", "aria-label": t("quarantine.list", { source: t(`quarantine.source.${source}`) }) });
  const count = h("p", { class: "muted count" });
  const more = h("button", { type: "button" }, t("app.more"));
  let shown = 0;
  const show = (items) => {
    items.forEach((entry) => list.append(entryCard(entry, act)));
    shown += items.length;
    if (!shown) clear(list).append(h("p", { class: "empty" }, t("quarantine.empty")));
    count.textContent = t("quarantine.shown", { n: num(shown) });
    more.hidden = !page.next_cursor;
  };
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      page = await get("/v1/admin/quarantine", { source, limit: PAGE, cursor: page.next_cursor }, { signal: ctx.signal });
      show(page.items);
    } finally {
      more.disabled = false;
    }
  });
  append(view, [
    h("h1", {}, t("quarantine.title")),
    h("p", {}, t("quarantine.intro")),
    act ? null : notice(t("quarantine.readOnly")),
    sourceForm(source),
    list,
    h("div", { class: "list-foot" }, count, more),
  ]);
  show(page.items);
}
