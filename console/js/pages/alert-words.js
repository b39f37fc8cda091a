// What the alerts pages (the list and one alert) share: the words for an alert's kind,
// severity, status and timeline events, the device link and the district names.
import { get } from "../api.js";
import { badge, h, link } from "../dom.js";
import { lang, t, words } from "../i18n.js";

export const KINDS = ["air", "bin_full", "fault", "offline"];
export const SEVERITIES = ["critical", "major", "minor"];
/** Kinds an operator clears by hand after a site visit; the others clear themselves. */
export const CLEARED_BY_HAND = ["fault", "bin_full"];

words({
  ko: {
    "kind.air": "공기질 나쁨",
    "kind.bin_full": "수거함 가득",
    "kind.fault": "고장",
    "kind.offline": "연결 끊김",
    "severity.critical": "심각",
    "severity.major": "주의",
    "severity.minor": "경미",
    "alertStatus.active": "진행 중",
    "alertStatus.cleared": "해제됨",
    "event.raised": "발생",
    "event.escalated": "심각도 상승",
    "event.acknowledged": "확인",
    "event.assigned": "담당 지정",
    "event.commented": "의견",
    "event.cleared": "해제",
    "alerts.system": "시스템",
    "alerts.nobody": "없음",
  },
  en: {
    "kind.air": "Bad air",
    "kind.bin_full": "Bin full",
    "kind.fault": "Fault",
    "kind.offline": "Offline",
    "severity.critical": "Critical",
    "severity.major": "Major",
    "severity.minor": "Minor",
    "alertStatus.active": "Active",
    "alertStatus.cleared": "Cleared",
    "event.raised": "Raised",
    "event.escalated": "Escalated",
    "event.acknowledged": "Acknowledged",
    "event.assigned": "Assigned",
    "event.commented": "Comment",
    "event.cleared": "Cleared",
    "alerts.system": "System",
    "alerts.nobody": "Nobody",
  },
});

/** The severity as a word on its colour (colour is never the only signal). */
export function severityBadge(severity) {
  return badge(t(`severity.${severity}`), severity);
}

export function statusBadge(status) {
  return badge(t(`alertStatus.${status}`), status === "active" ? "warn" : "ok");
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

let districtNames = null;

/** The city's districts [{code, name}] in Korean order, from the API's own list (the
 * district board names every district, with or without steps). */
export function districts() {
  districtNames ??= get("/v1/leaderboards/districts", { period: "day" })
    .then((board) =>
      board.entries
        .map((e) => ({ code: e.district, name: e.name }))
        .sort((a, b) => a.name.localeCompare(b.name, "ko")),
    )
    .catch((error) => {
      districtNames = null;
      throw error;
    });
  return districtNames;
}

/** A district's name in the console's language: 내외동 / Naeoe-dong. */
export function districtName(code, known = []) {
  if (!code) return "—";
  if (lang() === "en") return code.charAt(0).toUpperCase() + code.slice(1);
  return known.find((d) => d.code === code)?.name || code;
}

/** Who did a step: a person's id, or the system (null). */
export function who(by) {
  return by ? by : h("span", { class: "muted" }, t("alerts.system"));
}
