// Citizen look-up: exactly one citizen by mobile phone number or citizen id, never a list.
// The phone number is sent to the API and nothing else: not shown back, not kept in the
// address, cleared from the form once sent.
import { get } from "../api.js";
import { append, facts, field, form, h, link, notice } from "../dom.js";
import { t, when, won } from "../i18n.js";
import { statusBadge } from "../money/kit.js";
import { explain } from "../widgets.js";

/** A masked payout account in words (the API masks the number; we show it as given). */
export function accountText(account) {
  if (!account) return t("money.cit.noAccount");
  return `${account.bank_name} ${account.account_number} · ${account.holder}`;
}

export default async function render(view) {
  const by = h("select", { name: "by" },
    h("option", { value: "phone" }, t("money.cit.byPhone")),
    h("option", { value: "citizen_id" }, t("money.cit.byId")));
  const value = h("input", { name: "value", type: "tel", autocomplete: "off", maxlength: 40, required: true, spellcheck: "false" });
  const hint = field(t("money.cit.value"), value, t("money.cit.phoneHint"));
  by.addEventListener("change", () => {
    value.type = by.value === "phone" ? "tel" : "text";
    value.maxLength = by.value === "phone" ? 40 : 256;
    hint.querySelector(".hint").textContent = by.value === "phone" ? t("money.cit.phoneHint") : t("money.cit.idHint");
    value.value = "";
  });
  const results = h("div", { "aria-live": "polite" });
  view.append(
    h("h1", {}, t("money.cit.title")),
    h("p", { class: "lead" }, t("money.cit.intro")),
    form({ class: "row lookup", role: "search", "aria-label": t("money.cit.title") },
      [field(t("money.cit.by"), by), hint, h("button", { type: "submit", class: "primary" }, t("money.cit.find"))],
      async (data) => {
        const kind = String(data.get("by"));
        const text = String(data.get("value") || "").trim();
        if (!text) throw new Error(t("money.cit.empty"));
        if (kind === "phone") value.value = ""; // sent, never kept
        results.replaceChildren();
        let found;
        try {
          found = await get("/v1/admin/citizens", { [kind]: text });
        } catch (error) {
          if (kind === "phone" && error.code === "invalid_query") throw new Error(t("money.cit.badPhone"));
          throw error;
        }
        append(results, [
          h("p", { class: "hint" }, kind === "phone" ? t("money.cit.searchedPhone") : t("money.cit.searchedId", { id: text })),
          found.citizens.length
            ? found.citizens.map((c) => h("section", { class: "card found", "aria-label": t("money.cit.result") },
              h("h2", {}, link(`#/citizens/${encodeURIComponent(c.citizen_id)}`, c.display_name || c.citizen_id)),
              facts([
                [t("money.cit.col.id"), c.citizen_id],
                [t("money.cit.col.district"), c.district],
                [t("money.cit.col.account"), accountText(c.payout_account)],
                [t("money.cit.col.balance"), won(c.balance)],
                [t("money.cit.col.status"), statusBadge(c.status)],
                [t("money.cit.col.joined"), when(c.created_at)],
              ])))
            : notice(t("money.cit.none")),
        ]);
      },
      { errorText: explain },
    ),
    results,
  );
}
