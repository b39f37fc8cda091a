// One alert (#/alerts/{id}): its facts, its timeline and the operator's steps: acknowledge
// (optional note), assign, comment (1-500 characters), and clear by hand for the kinds a
// device cannot clear itself (fault, full bin). Each step answers the alert with its
// timeline, and the page shows that answer.
import { ApiError, get, post } from "../api.js";
import { can, person } from "../auth.js";
import { append, clear, facts, field, form, h, notice, table } from "../dom.js";
import { t, when, words } from "../i18n.js";
import {
  CLEARED_BY_HAND,
  deviceLink,
  districtName,
  districts,
  kindName,
  severityBadge,
  statusBadge,
  who,
} from "./alert-words.js";

const MAX_TEXT = 500;

words({
  ko: {
    "alert.title": "{kind} 경보 · {device}",
    "alert.back": "← 경보 목록",
    "alert.facts": "경보 정보",
    "alert.id": "경보 번호",
    "alert.severity": "심각도",
    "alert.status": "상태",
    "alert.device": "장치",
    "alert.district": "구역",
    "alert.raised": "발생",
    "alert.updated": "마지막 갱신",
    "alert.acknowledged": "확인",
    "alert.acknowledgedBy": "{by}, {at}",
    "alert.notAcknowledged": "아직 확인하지 않았습니다",
    "alert.assignee": "담당자",
    "alert.cleared": "해제",
    "alert.detail": "내용",
    "alert.timeline": "타임라인",
    "alert.col.at": "시각",
    "alert.col.event": "단계",
    "alert.col.by": "누가",
    "alert.col.note": "메모",
    "alert.actions": "조치",
    "alert.acknowledge": "확인",
    "alert.acknowledge.note": "확인 메모 (선택)",
    "alert.acknowledge.submit": "경보 확인",
    "alert.acknowledge.done": "경보를 확인했습니다.",
    "alert.acknowledge.already": "{by}님이 {at}에 확인했습니다.",
    "alert.assign": "담당 지정",
    "alert.assign.who": "담당자 아이디",
    "alert.assign.hint": "비워 두면 담당자를 없앱니다.",
    "alert.assign.me": "나에게 지정",
    "alert.assign.submit": "담당 지정",
    "alert.assign.done": "담당자를 지정했습니다.",
    "alert.comment": "의견 남기기",
    "alert.comment.text": "의견",
    "alert.comment.count": "{n}/{max}자",
    "alert.comment.submit": "의견 추가",
    "alert.comment.done": "의견을 남겼습니다.",
    "alert.comment.empty": "의견을 입력하세요 (1-500자).",
    "alert.clear": "수동 해제",
    "alert.clear.note": "해제 메모 (현장 확인 내용)",
    "alert.clear.submit": "경보 해제",
    "alert.clear.done": "경보를 해제했습니다.",
    "alert.clear.needsNote": "해제하려면 메모를 남기세요.",
    "alert.clearsItself.air": "대기질 경보는 공기가 10분 동안 보통 이상이면 스스로 해제됩니다. 손으로 해제할 수 없습니다.",
    "alert.clearsItself.offline": "연결 끊김 경보는 장치가 다시 메시지를 보내면 스스로 해제됩니다. 손으로 해제할 수 없습니다.",
    "alert.tooLong": "{max}자 이하로 적으세요.",
    "alert.notFound": "이 경보를 찾을 수 없습니다.",
  },
  en: {
    "alert.title": "{kind} alert · {device}",
    "alert.back": "← All alerts",
    "alert.facts": "About this alert",
    "alert.id": "Alert id",
    "alert.severity": "Severity",
    "alert.status": "Status",
    "alert.device": "Device",
    "alert.district": "District",
    "alert.raised": "Raised",
    "alert.updated": "Last updated",
    "alert.acknowledged": "Acknowledged",
    "alert.acknowledgedBy": "{by}, {at}",
    "alert.notAcknowledged": "Not acknowledged yet",
    "alert.assignee": "Assignee",
    "alert.cleared": "Cleared",
    "alert.detail": "Detail",
    "alert.timeline": "Timeline",
    "alert.col.at": "When",
    "alert.col.event": "Step",
    "alert.col.by": "Who",
    "alert.col.note": "Note",
    "alert.actions": "Actions",
    "alert.acknowledge": "Acknowledge",
    "alert.acknowledge.note": "Note (optional)",
    "alert.acknowledge.submit": "Acknowledge the alert",
    "alert.acknowledge.done": "Alert acknowledged.",
    "alert.acknowledge.already": "Acknowledged by {by} at {at}.",
    "alert.assign": "Assign",
    "alert.assign.who": "Assignee's id",
    "alert.assign.hint": "Leave it empty to assign nobody.",
    "alert.assign.me": "Assign to me",
    "alert.assign.submit": "Assign",
    "alert.assign.done": "Assignee set.",
    "alert.comment": "Comment",
    "alert.comment.text": "Comment",
    "alert.comment.count": "{n}/{max} characters",
    "alert.comment.submit": "Add the comment",
    "alert.comment.done": "Comment added.",
    "alert.comment.empty": "Write a comment (1-500 characters).",
    "alert.clear": "Clear by hand",
    "alert.clear.note": "Note (what the site visit found)",
    "alert.clear.submit": "Clear the alert",
    "alert.clear.done": "Alert cleared.",
    "alert.clear.needsNote": "Say why in a note to clear it.",
    "alert.clearsItself.air": "An air alert clears itself once the air has been moderate or better for 10 minutes; it cannot be cleared by hand.",
    "alert.clearsItself.offline": "An offline alert clears itself when the device sends its next message; it cannot be cleared by hand.",
    "alert.tooLong": "Keep it to {max} characters.",
    "alert.notFound": "There is no such alert.",
  },
});

/** A textarea with a live character count (announced only on request: it is a hint). */
function countedText(name, label, { required = false } = {}) {
  const area = h("textarea", { name, maxlength: MAX_TEXT, rows: 3, required });
  const counter = h("small", { class: "hint counter" });
  const show = () => (counter.textContent = t("alert.comment.count", { n: [...area.value].length, max: MAX_TEXT }));
  area.addEventListener("input", show);
  show();
  const wrapper = field(label, area);
  counter.id = `${area.id}-count`;
  area.setAttribute("aria-describedby", counter.id);
  wrapper.append(counter);
  return { wrapper, area };
}

function checkedText(value, { required }) {
  const text = String(value ?? "").trim();
  if (required && !text) return null;
  if ([...text].length > MAX_TEXT) throw new Error(t("alert.tooLong", { max: MAX_TEXT }));
  return text;
}

/** The API's refusal in the person's words where we have them, else its own message. */
function refusal(error) {
  return error instanceof ApiError && error.status === 404 ? t("alert.notFound") : error.message;
}

function timeline(alert) {
  return table(
    t("alert.timeline"),
    [
      { label: t("alert.col.at"), cell: (e) => h("time", { datetime: e.at }, when(e.at, { seconds: true })) },
      { label: t("alert.col.event"), cell: (e) => t(`alerts.event.${e.event}`) },
      { label: t("alert.col.by"), cell: (e) => who(e.by) },
      { label: t("alert.col.note"), class: "note", cell: (e) => e.note ?? "" },
    ],
    alert.timeline || [],
  );
}

function aboutAlert(alert, known) {
  return facts([
    [t("alert.severity"), severityBadge(alert.severity)],
    [t("alert.status"), statusBadge(alert.status)],
    [t("alert.device"), deviceLink(alert)],
    [t("alert.district"), districtName(alert.district, known)],
    [t("alert.raised"), when(alert.raised_at, { seconds: true })],
    [t("alert.acknowledged"), alert.acknowledged
      ? t("alert.acknowledgedBy", { by: alert.acknowledged_by || t("alerts.system"), at: when(alert.acknowledged_at, { seconds: true }) })
      : t("alert.notAcknowledged")],
    [t("alert.assignee"), alert.assignee || t("alerts.nobody")],
    [t("alert.cleared"), alert.cleared_at ? when(alert.cleared_at, { seconds: true }) : null],
    [t("alert.updated"), when(alert.updated_at, { seconds: true })],
    [t("alert.detail"), alert.detail || null],
    [t("alert.id"), h("code", {}, alert.alert_id)],
  ]);
}

export default async function render(view, ctx) {
  const id = ctx.params.id;
  const path = `/v1/admin/alerts/${encodeURIComponent(id)}`;
  const [alert, known] = await Promise.all([
    get(path, undefined, { signal: ctx.signal }),
    districts().catch(() => new Map()),
  ]);
  draw(alert);

  /** Run a step, then show the alert it answers, with a word of what happened. */
  async function step(action, body, done) {
    const answered = await post(`${path}/${action}`, body, { signal: ctx.signal });
    draw(answered, done);
  }

  function draw(current, done) {
    clear(view);
    const heading = h("h1", { tabindex: "-1" }, t("alert.title", { kind: kindName(current.kind), device: current.device_id }));
    append(view, [
      h("p", {}, h("a", { href: "#/alerts" }, t("alert.back"))),
      heading,
      done ? notice(done, "ok") : null,
      h("section", { class: "card", "aria-labelledby": "alert-facts" },
        h("h2", { id: "alert-facts" }, t("alert.facts")),
        aboutAlert(current, known)),
      h("section", { "aria-label": t("alert.timeline"), class: "timeline" }, timeline(current)),
      can("alerts") ? actions(current) : null,
    ]);
    // The word of what happened sits under the heading, which takes the focus: read next.
    if (done) heading.focus();
  }

  /** A card with a counted text and the button that takes the step; `required` is the
   * words for an empty text (none: the text is optional). */
  function textStep({ title, label, submit, name, required, danger, action, body, done }) {
    const text = countedText(name, label, { required: !!required });
    return form({ class: "card", "aria-label": title },
      [h("h3", {}, title), text.wrapper, h("button", { type: "submit", class: danger ? "danger" : "primary" }, submit)],
      async (data) => {
        const value = checkedText(data.get(name), { required: !!required });
        if (required && !value) throw new Error(required);
        await step(action, body(value), done);
      },
      { errorText: refusal });
  }

  function actions(current) {
    const section = h("section", { class: "alert-actions", "aria-labelledby": "alert-actions" },
      h("h2", { id: "alert-actions" }, t("alert.actions")));

    // Acknowledge: once; afterwards, who did and when.
    if (current.acknowledged) {
      section.append(h("p", { class: "card" },
        t("alert.acknowledge.already", { by: current.acknowledged_by || t("alerts.system"), at: when(current.acknowledged_at) })));
    } else {
      section.append(textStep({
        title: t("alert.acknowledge"), label: t("alert.acknowledge.note"), submit: t("alert.acknowledge.submit"),
        name: "note", action: "acknowledge", body: (note) => (note ? { note } : {}), done: t("alert.acknowledge.done"),
      }));
    }

    // Assign: a staff member's id, or nobody.
    const me = person();
    const assignee = h("input", { name: "assignee", value: current.assignee || "", maxlength: 128, autocomplete: "off", spellcheck: "false" });
    section.append(form({ class: "card", "aria-label": t("alert.assign") },
      [h("h3", {}, t("alert.assign")),
        field(t("alert.assign.who"), assignee, t("alert.assign.hint")),
        h("div", { class: "actions" },
          me ? h("button", { type: "button", onclick: () => { assignee.value = me.sub; assignee.focus(); } }, t("alert.assign.me")) : null,
          h("button", { type: "submit", class: "primary" }, t("alert.assign.submit")))],
      async (data) => {
        const value = String(data.get("assignee") || "").trim();
        await step("assign", { assignee: value || null }, t("alert.assign.done"));
      },
      { errorText: refusal }));

    // Comment: 1-500 characters, counted as the person types.
    section.append(textStep({
      title: t("alert.comment"), label: t("alert.comment.text"), submit: t("alert.comment.submit"),
      name: "text", required: t("alert.comment.empty"), action: "comments", body: (text) => ({ text }), done: t("alert.comment.done"),
    }));

    // Clear: by hand only what a device cannot clear itself; say so for the others.
    if (current.status === "active") {
      if (CLEARED_BY_HAND.includes(current.kind)) {
        section.append(textStep({
          title: t("alert.clear"), label: t("alert.clear.note"), submit: t("alert.clear.submit"), danger: true,
          name: "note", required: t("alert.clear.needsNote"), action: "clear", body: (note) => ({ note }), done: t("alert.clear.done"),
        }));
      } else {
        section.append(h("div", { class: "card" }, h("h3", {}, t("alert.clear")),
          h("p", { class: "clears-itself" }, t(`alert.clearsItself.${current.kind}`))));
      }
    }
    return section;
  }
}
