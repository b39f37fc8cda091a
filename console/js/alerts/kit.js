// What the alerts pages (the list and one alert) share: an alert's status, its device's
// link, who did a step. The kind's and severity's words and the district names are every
// device page's too (../fleet.js), so an alert reads the same everywhere.
import { badge, h, link } from "../dom.js";
import { t } from "../i18n.js";

/** Kinds an operator clears by hand after a site visit; the others clear themselves. */
export const CLEARED_BY_HAND = ["fault", "bin_full"];

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

/** Who did a step: a person's id, or the system (null). */
export function who(by) {
  return by ? by : h("span", { class: "muted" }, t("alerts.system"));
}
