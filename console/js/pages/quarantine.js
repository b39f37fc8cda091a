// Quarantine (#/quarantine?source=): device messages the city refused, newest first, one
// source at a time, each with its reason and the message as it arrived (redacted by the
// API) shown as text in monospace: a payload is whatever a device sent, `<script>` included,
// so it goes in with textContent and never as markup. Operators reprocess (when the entry
// kept its original and its source has a handler) or discard with a note; support reads.
import { get, post } from "../api.js";
import { can } from "../auth.js";
import { append, clear, facts, field, form, h, notice } from "../dom.js";
import { num, t, when } from "../i18n.js";
import { explain, pager } from "../widgets.js";

const SOURCES = ["deposits", "fleet", "rule-errors"];
const PAGE = 25;
const MAX_NOTE = 500;

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
      { errorText: explain }));
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
    { errorText: explain }));
  return box;
}

export default async function render(view, ctx) {
  const source = SOURCES.includes(ctx.query.get("source")) ? ctx.query.get("source") : SOURCES[0];
  const act = can("quarantine_act");
  const first = await get("/v1/admin/quarantine", { source, limit: PAGE }, { signal: ctx.signal });
  const list = h("div", { class: "q-list", role: "region", "aria-label": t("quarantine.list", { source: t(`quarantine.source.${source}`) }) });
  const count = h("p", { class: "muted count" });
  let shown = 0;
  const show = (items) => {
    items.forEach((entry) => list.append(entryCard(entry, act)));
    shown += items.length;
    if (!shown) clear(list).append(h("p", { class: "empty" }, t("quarantine.empty")));
    count.textContent = t("quarantine.shown", { n: num(shown) });
  };
  const more = pager(async (cursor) => {
    const page = await get("/v1/admin/quarantine", { source, limit: PAGE, cursor }, { signal: ctx.signal });
    show(page.items);
    return page.next_cursor;
  }, first.next_cursor);
  append(view, [
    h("h1", {}, t("quarantine.title")),
    h("p", {}, t("quarantine.intro")),
    act ? null : notice(t("quarantine.readOnly")),
    sourceForm(source),
    list,
    h("div", { class: "list-foot" }, count, more.button, more.status),
  ]);
  show(first.items);
}
