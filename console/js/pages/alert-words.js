// What the alerts pages (the list and one alert) share: the words for an alert's status
// and timeline events, the device link; the kind's and severity's words and the district
// names are the city pages' (console/js/city/kit.js), so an alert reads the same everywhere.
import { districtNames, severityBadge } from "../city/kit.js";
import { badge, h, link } from "../dom.js";
import { t, words } from "../i18n.js";

export { severityBadge };

export const KINDS = ["air", "bin_full", "fault", "offline"];
export const SEVERITIES = ["critical", "major", "minor"];
/** Kinds an operator clears by hand after a site visit; the others clear themselves. */
export const CLEARED_BY_HAND = ["fault", "bin_full"];

words({
  ko: {
    "alerts.state.active": "진행 중",
    "alerts.state.cleared": "해제됨",
    "alerts.event.raised": "발생",
    "alerts.event.escalated": "심각도 상승",
    "alerts.event.acknowledged": "확인",
    "alerts.event.assigned": "담당 지정",
    "alerts.event.commented": "의견",
    "alerts.event.cleared": "해제",
    "alerts.system": "시스템",
    "alerts.nobody": "없음",
  },
  en: {
    "alerts.state.active": "Active",
    "alerts.state.cleared": "Cleared",
    "alerts.event.raised": "Raised",
    "alerts.event.escalated": "Escalated",
    "alerts.event.acknowledged": "Acknowledged",
    "alerts.event.assigned": "Assigned",
    "alerts.event.commented": "Comment",
    "alerts.event.cleared": "Cleared",
    "alerts.system": "System",
    "alerts.nobody": "Nobody",
  },
});

export function kindName(kind) {
  return t(`city.kind.${kind}`);
}

export function severityName(severity) {
  return t(`city.severity.${severity}`);
}

export function statusBadge(status) {
  return badge(t(`alerts.state.${status}`), status === "active" ? "warn" : "ok");
}

export function devicePath(alert) {
  return `#/${alert.device_type === "robot" ? "robots" : "shelters"}/${encodeURIComponent(alert.device_id)}`;
}

export function deviceLink(alert) {
  return link(devicePath(alert), alert.device_id);
}

export function alertPath(id) {
  return `#/alerts/${encodeURIComponent(id)}`;
}

/** The city's districts as a Map code -> name in the console's language (from the
 * console's own outlines), in that order. */
export async function districts() {
  const names = await districtNames();
  return new Map([...names].sort((a, b) => a[1].localeCompare(b[1], "ko")));
}

/** A district's name: 내외동 / Naeoe-dong (its code when the outlines do not name it). */
export function districtName(code, known = new Map()) {
  return code ? known.get(code) || code : "—";
}

/** Who did a step: a person's id, or the system (null). */
export function who(by) {
  return by ? by : h("span", { class: "muted" }, t("alerts.system"));
}
