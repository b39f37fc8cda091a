// The login page: the local stack's dev login (choose a person and roles), or, in AWS,
// a button to Cognito's hosted login.
import { devLogin, ROLES, settings, startHostedLogin } from "../auth.js";
import { field, form, h, notice } from "../dom.js";
import { t } from "../i18n.js";

export default async function render(view, ctx) {
  const config = settings();
  view.append(h("h1", {}, t("login.title")));
  if (ctx?.sessionEnded) view.append(notice(t("app.sessionEnded"), "error"));
  if (config.auth.mode === "cognito") {
    view.append(h("button", { type: "button", class: "primary", onclick: startHostedLogin }, t("login.hosted")));
    return;
  }
  const person = h("input", { name: "sub", autocomplete: "username", required: true, maxlength: 64, value: "ops-1" });
  const roles = h(
    "fieldset", { class: "roles" },
    h("legend", {}, t("login.roles")),
    ROLES.map((role) =>
      h("label", { class: "check" },
        h("input", { type: "checkbox", name: "roles", value: role, checked: role === "operator" }),
        t(`role.${role}`)),
    ),
  );
  view.append(
    h("p", {}, t("login.dev")),
    form({ class: "login", "aria-label": t("login.title") },
      [field(t("login.person"), person), roles, h("button", { type: "submit", class: "primary" }, t("login.submit"))],
      async (data) => {
        const chosen = data.getAll("roles");
        if (!chosen.length) throw new Error(t("login.noRole"));
        await devLogin(String(data.get("sub")).trim(), chosen);
        location.hash = "#/";
      },
      { errorText: (error) => t("login.failed", { message: error.message }) },
    ),
  );
}
