// Citizen look-up: exactly one citizen by mobile phone number or citizen id, never a list.
// The phone number is sent to the API and nothing else: not shown back, not kept in the
// address, cleared from the form once sent.
import { get } from "../api.js";
import { append, facts, field, form, h, link, notice } from "../dom.js";
import { t, when, won, words } from "../i18n.js";
import { explain, statusBadge } from "../money.js";

words({
  ko: {
    "money.cit.title": "시민 조회",
    "money.cit.intro": "휴대전화 번호나 시민 ID로 한 사람을 정확히 찾습니다. 목록이나 부분 검색은 없습니다. 전화번호는 조회에만 쓰고 화면이나 주소에 남기지 않습니다.",
    "money.cit.by": "찾는 방법",
    "money.cit.byPhone": "휴대전화 번호",
    "money.cit.byId": "시민 ID",
    "money.cit.value": "찾을 값",
    "money.cit.phoneHint": "예: 010-1234-5678 (하이픈은 있어도 없어도 됩니다)",
    "money.cit.idHint": "시민 ID 전체",
    "money.cit.find": "찾기",
    "money.cit.empty": "찾을 값을 적으세요.",
    "money.cit.result": "조회 결과",
    "money.cit.none": "이 값에 해당하는 시민이 없습니다.",
    "money.cit.searchedPhone": "휴대전화 번호로 조회함 (번호는 표시하지 않음)",
    "money.cit.searchedId": "시민 ID로 조회함: {id}",
    "money.cit.badPhone": "한국 휴대전화 번호가 아닙니다.",
    "money.cit.col.id": "시민 ID",
    "money.cit.col.name": "표시 이름",
    "money.cit.col.district": "행정동",
    "money.cit.col.account": "지급 계좌",
    "money.cit.col.balance": "잔액",
    "money.cit.col.status": "상태",
    "money.cit.noAccount": "등록 안 됨",
    "money.cit.col.joined": "가입",
  },
  en: {
    "money.cit.title": "Citizen look-up",
    "money.cit.intro": "Find exactly one person by mobile phone number or citizen id: no lists, no partial matches. The phone number is used for the look-up only, never shown or kept in the address.",
    "money.cit.by": "Find by",
    "money.cit.byPhone": "Mobile phone number",
    "money.cit.byId": "Citizen id",
    "money.cit.value": "Value",
    "money.cit.phoneHint": "e.g. 010-1234-5678 (with or without hyphens)",
    "money.cit.idHint": "The whole citizen id",
    "money.cit.find": "Find",
    "money.cit.empty": "Enter what to look for.",
    "money.cit.result": "Result",
    "money.cit.none": "No citizen matches.",
    "money.cit.searchedPhone": "Looked up by phone number (not shown)",
    "money.cit.searchedId": "Looked up by citizen id: {id}",
    "money.cit.badPhone": "That is not a Korean mobile number.",
    "money.cit.col.id": "Citizen id",
    "money.cit.col.name": "Display name",
    "money.cit.col.district": "District",
    "money.cit.col.account": "Payout account",
    "money.cit.col.balance": "Balance",
    "money.cit.col.status": "Status",
    "money.cit.noAccount": "None",
    "money.cit.col.joined": "Joined",
  },
});

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
