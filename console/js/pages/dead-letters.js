// Dead letters (#/dead-letters): how many messages each dead-letter and on-failure queue
// holds, and a redrive (all, or at most `max`) that moves a dead-letter queue's messages
// back to the queue they failed on, answering how many moved. A stream's on-failure queue
// holds pointers to stream records, which SQS cannot move back: it is shown, not redriven.
import { ApiError, get, post } from "../api.js";
import { can } from "../auth.js";
import { append, clear, field, form, h, table } from "../dom.js";
import { num, t, when, words } from "../i18n.js";

const MAX_REDRIVE = 500;

words({
  ko: {
    "dead.title": "처리 실패 큐",
    "dead.intro": "모든 재시도에 실패한 메시지입니다. 한 건 한 건이 살펴볼 사고입니다. 원인을 고친 뒤 원래 큐로 되돌리세요.",
    "dead.caption": "큐별 메시지 수 ({time} 기준)",
    "dead.col.queue": "큐",
    "dead.col.kind": "종류",
    "dead.col.source": "실패한 곳",
    "dead.col.messages": "메시지",
    "dead.col.inFlight": "처리 중",
    "dead.col.redrive": "되돌리기",
    "dead.kind.dead_letter": "처리 실패 큐",
    "dead.kind.stream_failures": "스트림 실패 기록",
    "dead.max": "{queue} 최대 개수",
    "dead.maxHint": "비우면 전부 (1-500)",
    "dead.redrive": "되돌리기",
    "dead.redrive.label": "{queue} 되돌리기",
    "dead.moved": "{queue}: {moved}건을 원래 큐로 옮겼습니다.",
    "dead.movedAll": "{queue}: {moved}건을 옮기기 시작했습니다 (나머지는 백그라운드에서 옮겨집니다).",
    "dead.empty": "비어 있음",
    "dead.stream": "스트림 실패 기록은 스트림의 기록을 가리킬 뿐이라 SQS로 되돌릴 수 없습니다. 기록은 스트림에 24시간 남아 있습니다: 원인을 고치고, 원장 감사로 맞춘 뒤 큐를 비우세요.",
    "dead.streamShort": "되돌릴 수 없음 (아래 설명)",
    "dead.badMax": "최대 개수는 1에서 500 사이의 정수입니다.",
    "dead.refresh": "새로고침",
  },
  en: {
    "dead.title": "Dead letters",
    "dead.intro": "Messages that failed every retry: each one is an incident to look at. Fix the cause, then move them back to their queue.",
    "dead.caption": "Messages per queue (as of {time})",
    "dead.col.queue": "Queue",
    "dead.col.kind": "Kind",
    "dead.col.source": "Failed in",
    "dead.col.messages": "Messages",
    "dead.col.inFlight": "In flight",
    "dead.col.redrive": "Redrive",
    "dead.kind.dead_letter": "Dead-letter queue",
    "dead.kind.stream_failures": "Stream failures",
    "dead.max": "Most to move from {queue}",
    "dead.maxHint": "Empty: all of them (1-500)",
    "dead.redrive": "Redrive",
    "dead.redrive.label": "Redrive {queue}",
    "dead.moved": "{queue}: {moved} moved back to their queue.",
    "dead.movedAll": "{queue}: {moved} moving back (the rest move in the background).",
    "dead.empty": "Empty",
    "dead.stream": "A stream's failure queue holds pointers to the stream's records, which SQS cannot move back. The records stay in the stream for 24 hours: fix the cause, reconcile with the ledger audit, then purge the queue.",
    "dead.streamShort": "Cannot be redriven (see below)",
    "dead.badMax": "The most to move is a whole number from 1 to 500.",
    "dead.refresh": "Refresh",
  },
});

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
    { errorText: (error) => (error instanceof ApiError ? `${error.message} (${error.code})` : error.message) },
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
