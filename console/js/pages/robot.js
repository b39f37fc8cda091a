// A robot (`#/robots/{id}`): its state (GET /v1/robots/{id}, refreshed every 15 s), its
// bins, its open alerts and the counters fleet health keeps (GET /v1/admin/devices). The
// API keeps no count of recent deposits per robot; what it has is the number of deposits
// that came while the robot was not accepting, shown here.
import { get } from "../api.js";
import { badge, facts, h, notice, table } from "../dom.js";
import { ago, num, t, when } from "../i18n.js";
import {
  alertList, backToCity, BIN_FULL, BIN_WARN, card, deviceLine, fillBadge, firstAnswer, health,
  HEALTH_EVERY, keepLive, percent, statusBadge,
} from "../city/kit.js";
import { districtNames } from "../fleet.js";

export default async function render(view, ctx) {
  const id = ctx.params.id;
  const path = `/v1/robots/${encodeURIComponent(id)}`;
  const { signal } = ctx;
  const robot = await firstAnswer(view, path, signal, t("robot.title"));
  if (!robot) return;
  const names = await districtNames();
  const title = h("h1", {}, robot.name);
  const sub = h("p", { class: "sub" });
  const state = h("div", {});
  const bins = h("div", {});
  const alerts = h("div", {}, h("p", { class: "loading" }, t("app.loading")));
  const counters = h("div", {}, h("p", { class: "loading" }, t("app.loading")));
  view.append(
    h("div", { class: "device-head" }, backToCity(), title, sub),
    h("div", { class: "device-grid" },
      card("robot-state", t("robot.state"), state),
      card("robot-bins", t("robot.bins"), bins),
      card("robot-alerts", t("robot.alerts"), alerts),
      card("robot-counts", t("robot.counts"), counters),
    ),
  );

  const draw = (r) => {
    title.textContent = r.name;
    deviceLine(sub, r, "robot", names);
    state.replaceChildren(facts([
      [t("robot.connection"), statusBadge(r.status)],
      [t("robot.accepting"), r.accepting ? badge(t("robot.accepting.yes"), "ok") : badge(t("robot.accepting.no"), "error")],
      [t("robot.fault"), r.fault ? h("span", { class: "fault" }, r.fault) : t("robot.noFault")],
      [t("robot.lastSeen"), r.last_seen ? `${when(r.last_seen)} (${ago(r.last_seen)})` : null],
      [t("robot.district"), names.get(r.district) || r.district],
      [t("robot.location"), `${r.location.lat.toFixed(5)}, ${r.location.lon.toFixed(5)}`],
    ]));
    const rows = Object.entries(r.bins).map(([material, level]) => ({ material, level }));
    bins.replaceChildren(
      table(t("robot.binsCaption"), [
        { label: t("robot.material"), cell: (row) => material(row.material) },
        {
          label: t("robot.fill"),
          cell: (row) => row.level === null ? "—" : [
            h("meter", { min: 0, max: 1, low: BIN_WARN, high: BIN_FULL, optimum: 0, value: row.level, "aria-label": t("robot.meter", { material: material(row.material) }) }),
            " ", percent(row.level),
          ],
        },
        { label: t("robot.condition"), cell: (row) => fillBadge(row.level) },
      ], rows),
    );
  };
  draw(robot);

  const counts = (row) => {
    alerts.replaceChildren(alertList(row?.open_alerts || [], t("robot.alerts")));
    counters.replaceChildren(row ? facts([
      [t("robot.notAccepting"), num(row.deposits_while_not_accepting)],
      [t("robot.quarantined"), num(row.quarantined_messages)],
    ]) : notice(t("robot.noHealth")), h("p", { class: "hint" }, t("robot.countsHint")));
  };
  const refreshHealth = () => health(id, signal).then(counts, (error) => {
    if (error.name !== "AbortError") alerts.replaceChildren(notice(error.message, "error"));
  });
  await refreshHealth();

  keepLive(ctx, async (round) => {
    draw(await get(path, {}, { signal }));
    if (round % HEALTH_EVERY === 0) await refreshHealth();
  });
}

/** A bin's material in words; a material the console does not know shows as the robot named it. */
function material(name) {
  const key = `robot.material.${name}`;
  const word = t(key);
  return word === key ? name : word;
}
