// The staff action log (admin): every staff write, newest first, filtered by who, what
// and since when, paged.
import { ApiError } from "../api.js";
import { field, form, h, notice } from "../dom.js";
import { t, when } from "../i18n.js";
import { detailText } from "../money/kit.js";
import { explain, pagedTable } from "../widgets.js";

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
