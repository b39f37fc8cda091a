// One alert (#/alerts/{id}): its facts, its timeline and the operator's steps: acknowledge
// (optional note), assign, comment (1-500 characters), and clear by hand for the kinds a
// device cannot clear itself (fault, full bin). Each step answers the alert with its
// timeline, and the page shows that answer.
import { ApiError, get, post } from "../api.js";
import { can, person } from "../auth.js";
import { append, clear, facts, field, form, h, notice, table } from "../dom.js";
import { t, when } from "../i18n.js";
import { explain } from "../widgets.js";
import { CLEARED_BY_HAND, deviceLink, statusBadge, who } from "../alerts/kit.js";
import { districtName, districts, kindName, severityBadge } from "../fleet.js";

const MAX_TEXT = 500;

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
  return error instanceof ApiError && error.status === 404 ? t("alert.notFound") : explain(error);
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
      h("section", { class: "timeline" }, timeline(current)),
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
