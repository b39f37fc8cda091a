// Citizen look-up: exactly one citizen by mobile phone number or citizen id, never a list.
// The phone number is sent to the API and nothing else: not shown back, not kept in the
// address, cleared from the form once sent.
import { get } from "../api.js";
import { append, facts, field, form, h, link, notice } from "../dom.js";
import { t, when, won, words } from "../i18n.js";
import { explain, statusBadge } from "../money.js";

words({
  ko: {
    "cit.title": "시민 조회",
    "cit.intro": "휴대전화 번호나 시민 ID로 한 사람을 정확히 찾습니다. 목록이나 부분 검색은 없습니다. 전화번호는 조회에만 쓰고 화면이나 주소에 남기지 않습니다.",
    "cit.by": "찾는 방법",
    "cit.byPhone": "휴대전화 번호",
    "cit.byId": "시민 ID",
    "cit.value": "찾을 값",
    "cit.phoneHint": "예: 010-1234-5678 (하이픈은 있어도 없어도 됩니다)",
    "cit.idHint": "시민 ID 전체",
    "cit.find": "찾기",
    "cit.empty": "찾을 값을 적으세요.",
    "cit.result": "조회 결과",
    "cit.none": "이 값에 해당하는 시민이 없습니다.",
    "cit.searchedPhone": "휴대전화 번호로 조회함 (번호는 표시하지 않음)",
    "cit.searchedId": "시민 ID로 조회함: {id}",
    "cit.badPhone": "한국 휴대전화 번호가 아닙니다.",
    "cit.col.id": "시민 ID",
    "cit.col.name": "표시 이름",
    "cit.col.district": "행정동",
    "cit.col.account": "지급 계좌",
    "cit.col.balance": "잔액",
    "cit.col.status": "상태",
    "cit.noAccount": "등록 안 됨",
    "cit.col.joined": "가입",
  },
  en: {
    "cit.title": "Citizen look-up",
    "cit.intro": "Find exactly one person by mobile phone number or citizen id: no lists, no partial matches. The phone number is used for the look-up only, never shown or kept in the address.",
    "cit.by": "Find by",
    "cit.byPhone": "Mobile phone number",
    "cit.byId": "Citizen id",
    "cit.value": "Value",
    "cit.phoneHint": "e.g. 010-1234-5678 (with or without hyphens)",
    "cit.idHint": "The whole citizen id",
    "cit.find": "Find",
    "cit.empty": "Enter what to look for.",
    "cit.result": "Result",
    "cit.none": "No citizen matches.",
    "cit.searchedPhone": "Looked up by phone number (not shown)",
    "cit.searchedId": "Looked up by citizen id: {id}",
    "cit.badPhone": "That is not a Korean mobile number.",
    "cit.col.id": "Citizen id",
    "cit.col.name": "Display name",
    "cit.col.district": "District",
    "cit.col.account": "Payout account",
    "cit.col.balance": "Balance",
    "cit.col.status": "Status",
    "cit.noAccount": "None",
    "cit.col.joined": "Joined",
  },
});

/** A masked payout account in words (the API masks the number; we show it as given). */
export function accountText(account) {
  if (!account) return t("cit.noAccount");
  return `${account.bank_name} ${account.account_number} · ${account.holder}`;
}

export default async function render(view) {
  const by = h("select", { name: "by" },
    h("option", { value: "phone" }, t("cit.byPhone")),
    h("option", { value: "citizen_id" }, t("cit.byId")));
  const value = h("input", { name: "value", type: "tel", autocomplete: "off", maxlength: 40, required: true, spellcheck: "false" });
  const hint = field(t("cit.value"), value, t("cit.phoneHint"));
  by.addEventListener("change", () => {
    value.type = by.value === "phone" ? "tel" : "text";
    value.maxLength = by.value === "phone" ? 40 : 256;
    hint.querySelector(".hint").textContent = by.value === "phone" ? t("cit.phoneHint") : t("cit.idHint");
    value.value = "";
  });
  const results = h("div", { "aria-live": "polite" });
  view.append(
    h("h1", {}, t("cit.title")),
    h("p", { class: "lead" }, t("cit.intro")),
    form({ class: "row lookup", role: "search", "aria-label": t("cit.title") },
      [field(t("cit.by"), by), hint, h("button", { type: "submit", class: "primary" }, t("cit.find"))],
      async (data) => {
        const kind = String(data.get("by"));
        const text = String(data.get("value") || "").trim();
        if (!text) throw new Error(t("cit.empty"));
        if (kind === "phone") value.value = ""; // sent, never kept
        results.replaceChildren();
        let found;
        try {
          found = await get("/v1/admin/citizens", { [kind]: text });
        } catch (error) {
          if (kind === "phone" && error.code === "invalid_query") throw new Error(t("cit.badPhone"));
          throw error;
        }
        append(results, [
          h("p", { class: "hint" }, kind === "phone" ? t("cit.searchedPhone") : t("cit.searchedId", { id: text })),
          found.citizens.length
            ? found.citizens.map((c) => h("section", { class: "card found", "aria-label": t("cit.result") },
              h("h2", {}, link(`#/citizens/${encodeURIComponent(c.citizen_id)}`, c.display_name || c.citizen_id)),
              facts([
                [t("cit.col.id"), c.citizen_id],
                [t("cit.col.district"), c.district],
                [t("cit.col.account"), accountText(c.payout_account)],
                [t("cit.col.balance"), won(c.balance)],
                [t("cit.col.status"), statusBadge(c.status)],
                [t("cit.col.joined"), when(c.created_at)],
              ])))
            : notice(t("cit.none")),
        ]);
      },
      { errorText: explain },
    ),
    results,
  );
}
