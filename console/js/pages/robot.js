// A robot (`#/robots/{id}`): its state (GET /v1/robots/{id}, refreshed every 15 s), its
// bins, its open alerts and the counters fleet health keeps (GET /v1/admin/devices). The
// API keeps no count of recent deposits per robot; what it has is the number of deposits
// that came while the robot was not accepting, shown here.
import { get } from "../api.js";
import { badge, facts, h, notice, table } from "../dom.js";
import { ago, num, t, when, words } from "../i18n.js";
import {
  alertList, backToCity, BIN_FULL, BIN_WARN, card, deviceLine, districtNames, fillBadge, firstAnswer, health,
  HEALTH_EVERY, keepLive, percent, statusBadge,
} from "../city/kit.js";

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

words({
  ko: {
    "robot.title": "회수로봇",
    "robot.state": "상태",
    "robot.bins": "수거함",
    "robot.alerts": "이 로봇의 열린 경보",
    "robot.counts": "투입 기록",
    "robot.connection": "연결",
    "robot.accepting": "투입 받기",
    "robot.accepting.yes": "받는 중",
    "robot.accepting.no": "받지 않음",
    "robot.fault": "고장",
    "robot.noFault": "없음",
    "robot.lastSeen": "마지막 수신",
    "robot.district": "구역",
    "robot.location": "위치 (위도, 경도)",
    "robot.binsCaption": "수거함별 채움 정도 (90% 이상이면 투입을 받지 않음)",
    "robot.material": "품목",
    "robot.material.can": "캔",
    "robot.material.pet": "페트병",
    "robot.material.glass": "유리병",
    "robot.material.paper": "종이",
    "robot.fill": "채움",
    "robot.condition": "상태",
    "robot.meter": "{material} 수거함 채움",
    "robot.notAccepting": "투입을 받지 않는 동안 들어온 투입 (누적)",
    "robot.quarantined": "격리된 메시지 (누적)",
    "robot.noHealth": "이 로봇의 운영 기록이 없습니다.",
    "robot.countsHint": "최근 투입 건수는 API가 제공하지 않습니다. 로봇별 누적 수치만 보여 줍니다.",
  },
  en: {
    "robot.title": "Recycling robot",
    "robot.state": "State",
    "robot.bins": "Bins",
    "robot.alerts": "This robot's open alerts",
    "robot.counts": "Deposits",
    "robot.connection": "Connection",
    "robot.accepting": "Taking deposits",
    "robot.accepting.yes": "Accepting",
    "robot.accepting.no": "Not accepting",
    "robot.fault": "Fault",
    "robot.noFault": "None",
    "robot.lastSeen": "Last heard",
    "robot.district": "District",
    "robot.location": "Location (lat, lon)",
    "robot.binsCaption": "How full each bin is (from 90% the robot takes nothing)",
    "robot.material": "Material",
    "robot.material.can": "Cans",
    "robot.material.pet": "PET bottles",
    "robot.material.glass": "Glass",
    "robot.material.paper": "Paper",
    "robot.fill": "Fill",
    "robot.condition": "Condition",
    "robot.meter": "{material} bin fill",
    "robot.notAccepting": "Deposits that came while not accepting (all time)",
    "robot.quarantined": "Quarantined messages (all time)",
    "robot.noHealth": "No operations record for this robot.",
    "robot.countsHint": "The API keeps no count of recent deposits; these are the robot's running totals.",
  },
});
