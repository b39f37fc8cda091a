// The staff action log (admin): every staff write, newest first, filtered by who, what
// and since when, paged.
import { ApiError } from "../api.js";
import { field, form, h, notice } from "../dom.js";
import { t, when, words } from "../i18n.js";
import { detailText, explain, pagedTable } from "../money.js";

words({
  ko: {
    "money.actions.title": "작업 기록",
    "money.actions.intro": "직원이 한 모든 쓰기 작업이 최근부터 나옵니다. 기록은 바꾸거나 지울 수 없고 5년간 보관됩니다.",
    "money.actions.actor": "한 사람",
    "money.actions.actorHint": "직원 ID (예: fin-1, 일정은 system)",
    "money.actions.target": "대상",
    "money.actions.targetHint": "예: run:payout-2026-11, citizen:…, alert:…",
    "money.actions.since": "이후 (서울 시간)",
    "money.actions.filter": "거르기",
    "money.actions.clear": "모두 보기",
    "money.actions.list": "작업 기록 (최근부터)",
    "money.actions.none": "조건에 맞는 작업이 없습니다.",
    "money.actions.col.at": "시각",
    "money.actions.col.actor": "한 사람",
    "money.actions.col.action": "작업",
    "money.actions.col.target": "대상",
    "money.actions.col.detail": "내용",
  },
  en: {
    "money.actions.title": "Action log",
    "money.actions.intro": "Every staff write, newest first. Entries can be neither changed nor deleted; they are kept five years.",
    "money.actions.actor": "Actor",
    "money.actions.actorHint": "A staff id (e.g. fin-1; schedules act as system)",
    "money.actions.target": "Target",
    "money.actions.targetHint": "e.g. run:payout-2026-11, citizen:…, alert:…",
    "money.actions.since": "Since (Seoul time)",
    "money.actions.filter": "Filter",
    "money.actions.clear": "Show all",
    "money.actions.list": "Action log (newest first)",
    "money.actions.none": "No action matches.",
    "money.actions.col.at": "When",
    "money.actions.col.actor": "Actor",
    "money.actions.col.action": "Action",
    "money.actions.col.target": "Target",
    "money.actions.col.detail": "Detail",
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
    h("h1", {}, t("money.actions.title")),
    h("p", { class: "lead" }, t("money.actions.intro")),
    form({ class: "row filters", role: "search", "aria-label": t("money.actions.filter") }, [
      field(t("money.actions.actor"), inputs.actor, t("money.actions.actorHint")),
      field(t("money.actions.target"), inputs.target, t("money.actions.targetHint")),
      field(t("money.actions.since"), inputs.since),
      h("button", { type: "submit", class: "primary" }, t("money.actions.filter")),
      h("a", { href: "#/actions", class: "button" }, t("money.actions.clear")),
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
    caption: t("money.actions.list"),
    path: "/v1/admin/actions",
    query: { actor, target, since: since ? `${since}:00+09:00` : undefined },
    key: "actions",
    signal: ctx.signal,
    empty: t("money.actions.none"),
    columns: [
      { label: t("money.actions.col.at"), cell: (a) => when(a.at, { seconds: true }) },
      { label: t("money.actions.col.actor"), cell: (a) => [a.actor, a.roles.length ? [h("br"), h("small", {}, a.roles.map((r) => t(`role.${r}`)).join(" · "))] : null] },
      { label: t("money.actions.col.action"), cell: (a) => h("code", {}, a.action) },
      { label: t("money.actions.col.target"), cell: (a) => a.target },
      { label: t("money.actions.col.detail"), cell: (a) => h("span", { class: "detail" }, detailText(a.detail)) },
    ],
  });
  view.append(list.element);
  try {
    await list.reload();
  } catch (error) {
    // A filter the API refuses (a bookmarked address, say) is shown beside the filters.
    if (!(error instanceof ApiError) || ![400, 422].includes(error.status)) throw error;
    list.element.before(notice(explain(error), "error"));
  }
}
