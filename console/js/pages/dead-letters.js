// Dead letters (#/dead-letters): how many messages each dead-letter and on-failure queue
// holds, and a redrive (all, or at most `max`) that moves a dead-letter queue's messages
// back to the queue they failed on, answering how many moved. A stream's on-failure queue
// holds pointers to stream records, which SQS cannot move back: it is shown, not redriven.
import { get, post } from "../api.js";
import { can } from "../auth.js";
import { append, clear, field, form, h, table } from "../dom.js";
import { num, t, when } from "../i18n.js";
import { explain } from "../widgets.js";

const MAX_REDRIVE = 500;

function redriveCell(queue, act, after) {
  if (queue.kind !== "dead_letter") return h("span", { class: "hint" }, t("dead.streamShort"));
  if (!act) return "—";
  if (!queue.messages && !queue.in_flight) return h("span", { class: "muted" }, t("dead.empty"));
  const max = h("input", { name: "max", type: "number", min: 1, max: MAX_REDRIVE, step: 1, inputmode: "numeric", class: "max" });
  const box = field(t("dead.max", { queue: queue.queue }), max, t("dead.maxHint"));
  box.querySelector("label").classList.add("visually-hidden");
  return form(
    { class: "redrive row", "aria-label": t("dead.redrive.label", { queue: queue.queue }) },
    [box, h("button", { type: "submit", class: "primary", "aria-label": t("dead.redrive.label", { queue: queue.queue }) }, t("dead.redrive"))],
    async (data) => {
      const raw = String(data.get("max") || "").trim();
      let body = {};
      if (raw) {
        const n = Number(raw);
        if (!Number.isInteger(n) || n < 1 || n > MAX_REDRIVE) throw new Error(t("dead.badMax"));
        body = { max: n };
      }
      const answer = await post(`/v1/admin/dead-letters/${encodeURIComponent(queue.queue)}/redrive`, body);
      await after(t(raw ? "dead.moved" : "dead.movedAll", { queue: answer.queue, moved: num(answer.moved) }));
    },
    { errorText: explain },
  );
}

function tableOf(...args) {
  const wrap = table(...args);
  wrap.classList.add("dead-letters");
  return wrap;
}

export default async function render(view, ctx) {
  const act = can("dead_letters");
  const result = h("div", { class: "redrive-result", role: "status", "aria-live": "polite" });
  const holder = h("div");
  const refresh = h("button", { type: "button" }, t("dead.refresh"));

  async function load(done) {
    const { queues } = await get("/v1/admin/dead-letters", undefined, { signal: ctx.signal });
    const at = when(new Date().toISOString(), { seconds: true });
    append(clear(holder), [tableOf(
      t("dead.caption", { time: at }),
      [
        // What an operator acts on first, so a phone shows it without scrolling sideways.
        { label: t("dead.col.queue"), cell: (q) => h("code", {}, q.queue) },
        { label: t("dead.col.messages"), class: "num", cell: (q) => h("span", { class: q.messages ? "depth nonzero" : "depth" }, num(q.messages)) },
        { label: t("dead.col.redrive"), cell: (q) => redriveCell(q, act, load) },
        { label: t("dead.col.inFlight"), class: "num", cell: (q) => num(q.in_flight) },
        { label: t("dead.col.kind"), cell: (q) => t(`dead.kind.${q.kind}`) },
        { label: t("dead.col.source"), cell: (q) => h("code", {}, q.source) },
      ],
      queues,
    ), queues.some((q) => q.kind !== "dead_letter") ? h("p", { class: "hint" }, t("dead.stream")) : null]);
    // A plain paragraph in the live region that is already there: announced once.
    if (done) clear(result).append(h("p", { class: "notice notice-ok" }, done));
  }

  refresh.addEventListener("click", async () => {
    refresh.disabled = true;
    try {
      clear(result);
      await load();
    } finally {
      refresh.disabled = false;
    }
  });
  view.append(
    h("h1", {}, t("dead.title")),
    h("p", {}, t("dead.intro")),
    h("div", { class: "actions" }, refresh),
    result,
    holder,
  );
  await load();
}
