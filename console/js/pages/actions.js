// The staff action log (admin): every staff write, newest first, filtered by who, what
// and since when, paged.
import { field, form, h } from "../dom.js";
import { t, when, words } from "../i18n.js";
import { detailText, pagedTable } from "../money.js";

words({
  ko: {
    "actions.title": "작업 기록",
    "actions.intro": "직원이 한 모든 쓰기 작업이 최근부터 나옵니다. 기록은 바꾸거나 지울 수 없고 5년간 보관됩니다.",
    "actions.actor": "한 사람",
    "actions.actorHint": "직원 ID (예: fin-1, 일정은 system)",
    "actions.target": "대상",
    "actions.targetHint": "예: run:payout-2026-11, citizen:…, alert:…",
    "actions.since": "이후 (서울 시간)",
    "actions.filter": "거르기",
    "actions.clear": "모두 보기",
    "actions.list": "작업 기록 (최근부터)",
    "actions.none": "조건에 맞는 작업이 없습니다.",
    "actions.col.at": "시각",
    "actions.col.actor": "한 사람",
    "actions.col.action": "작업",
    "actions.col.target": "대상",
    "actions.col.detail": "내용",
  },
  en: {
    "actions.title": "Action log",
    "actions.intro": "Every staff write, newest first. Entries can be neither changed nor deleted; they are kept five years.",
    "actions.actor": "Actor",
    "actions.actorHint": "A staff id (e.g. fin-1; schedules act as system)",
    "actions.target": "Target",
    "actions.targetHint": "e.g. run:payout-2026-11, citizen:…, alert:…",
    "actions.since": "Since (Seoul time)",
    "actions.filter": "Filter",
    "actions.clear": "Show all",
    "actions.list": "Action log (newest first)",
    "actions.none": "No action matches.",
    "actions.col.at": "When",
    "actions.col.actor": "Actor",
    "actions.col.action": "Action",
    "actions.col.target": "Target",
    "actions.col.detail": "Detail",
  },
});

const LOCAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/;

export default async function render(view, ctx) {
  const actor = ctx.query.get("actor") || "";
  const target = ctx.query.get("target") || "";
  const since = LOCAL_TIME.test(ctx.query.get("since") || "") ? ctx.query.get("since") : "";
  const inputs = {
    actor: h("input", { name: "actor", value: actor, maxlength: 128, autocomplete: "off", spellcheck: "false" }),
    target: h("input", { name: "target", value: target, maxlength: 200, autocomplete: "off", spellcheck: "false" }),
    since: h("input", { name: "since", type: "datetime-local", value: since }),
  };
  view.append(
    h("h1", {}, t("actions.title")),
    h("p", { class: "lead" }, t("actions.intro")),
    form({ class: "row filters", role: "search", "aria-label": t("actions.filter") }, [
      field(t("actions.actor"), inputs.actor, t("actions.actorHint")),
      field(t("actions.target"), inputs.target, t("actions.targetHint")),
      field(t("actions.since"), inputs.since),
      h("button", { type: "submit", class: "primary" }, t("actions.filter")),
      h("a", { href: "#/actions", class: "button" }, t("actions.clear")),
    ], async (data) => {
      const query = new URLSearchParams();
      for (const name of ["actor", "target", "since"]) {
        const value = String(data.get(name) || "").trim();
        if (value) query.set(name, value);
      }
      const text = query.toString();
      const next = text ? `#/actions?${text}` : "#/actions";
      if (location.hash === next) ctx.refresh();
      else location.hash = next;
    }),
  );
  const list = pagedTable({
    caption: t("actions.list"),
    path: "/v1/admin/actions",
    query: { actor, target, since: since ? `${since}:00+09:00` : undefined },
    key: "actions",
    signal: ctx.signal,
    empty: t("actions.none"),
    columns: [
      { label: t("actions.col.at"), cell: (a) => when(a.at, { seconds: true }) },
      { label: t("actions.col.actor"), cell: (a) => [a.actor, a.roles.length ? [h("br"), h("small", {}, a.roles.map((r) => t(`role.${r}`)).join(" · "))] : null] },
      { label: t("actions.col.action"), cell: (a) => h("code", {}, a.action) },
      { label: t("actions.col.target"), cell: (a) => a.target },
      { label: t("actions.col.detail"), cell: (a) => h("span", { class: "detail" }, detailText(a.detail)) },
    ],
  });
  view.append(list.element);
  await list.reload();
}
