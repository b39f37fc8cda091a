// Pieces every area's pages share beyond dom.js: the API's refusals in a person's words, a
// confirmation before anything that moves money or cannot be undone, the "show more"
// button of a cursor-paged list, and a paged table that becomes cards on a phone.
import { ApiError, get } from "./api.js";
import { clear, h, notice, table } from "./dom.js";
import { t } from "./i18n.js";

/** The API's refusal in words: a known code explained, any other the API's own message,
 * with the code beside it either way. */
export function explain(error) {
  if (!(error instanceof ApiError)) return error?.message || String(error);
  const key = `api.why.${error.code}`;
  const phrase = t(key);
  if (phrase !== key) return `${phrase} (${error.code})`;
  return error.code ? `${error.message} (${error.code})` : error.message;
}

/**
 * Ask before doing something that moves money or cannot be undone: a modal dialog with the
 * consequence spelled out; resolves true only on the confirm button.
 */
export function confirmAction(title, lines, confirmLabel) {
  return new Promise((resolve) => {
    const finish = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    const cancel = h("button", { type: "button", onclick: () => finish(false) }, t("app.cancel"));
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title" }, title),
      (Array.isArray(lines) ? lines : [lines]).map((line) => h("p", {}, line)),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", onclick: () => finish(true) }, confirmLabel),
        cancel),
    );
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/**
 * The "show more" button under a cursor-paged list: `next(cursor)` fetches and shows the
 * page after `cursor` and returns that page's next_cursor. The button hides while there is
 * no more; a page that fails is explained in `status` (the list keeps what it showed).
 */
export function pager(next, cursor = null) {
  const button = h("button", { type: "button", class: "more" }, t("app.more"));
  const status = h("span", { class: "form-status", role: "status" });
  const pages = {
    button,
    status,
    get cursor() { return cursor; },
    set(value) {
      cursor = value || null;
      button.hidden = !cursor;
    },
  };
  button.addEventListener("click", async () => {
    button.disabled = true;
    clear(status);
    try {
      pages.set(await next(cursor));
    } catch (error) {
      if (error?.name !== "AbortError") status.append(h("span", { class: "notice notice-error", role: "alert" }, explain(error)));
    } finally {
      button.disabled = false;
    }
  });
  pages.set(cursor);
  return pages;
}

/**
 * A cursor-paged list drawn as a table with a "more" button: `path` and `query` for the API,
 * `key` the list in its answer. Returns the element (it fills itself) and a reload().
 */
export function pagedTable({ caption, columns, path, query = {}, key, signal, empty, onPage }) {
  const box = h("div", { class: "paged" });
  let rows = [];

  async function load(cursor) {
    const page = await get(path, { ...query, cursor: cursor || undefined }, { signal });
    rows = cursor ? rows.concat(page[key]) : page[key];
    onPage?.(page);
    more.set(page.next_cursor);
    clear(box).append(stacked(table(caption, columns, rows, { empty: empty || t("app.none") })), more.status);
    if (more.cursor) box.append(h("div", { class: "actions" }, more.button));
    return page.next_cursor;
  }
  const more = pager(load);

  return {
    element: box,
    reload: async () => {
      clear(more.status);
      await load(null);
    },
  };
}

/**
 * A table that becomes one card per row on a phone (money.css): each cell carries its
 * column's name, shown before it when the header row is hidden.
 */
export function stacked(wrap) {
  const names = [...wrap.querySelectorAll("thead th")].map((th) => th.textContent);
  wrap.classList.add("stacked");
  for (const row of wrap.querySelectorAll("tbody tr")) {
    [...row.children].forEach((cell, i) => {
      if (!cell.classList.contains("empty")) cell.dataset.label = names[i];
    });
  }
  return wrap;
}

/** Draw one part of a page when its data is in (`draw(el, data)`); a failure shows in its
 * place, not over the page. `keep()` true: what `el` shows stays for `draw` to update. */
export async function part(el, promise, draw, { keep = () => false } = {}) {
  try {
    const data = await promise;
    if (!keep()) el.replaceChildren();
    await draw(el, data);
  } catch (error) {
    if (error?.name === "AbortError") return;
    el.replaceChildren(notice(t("app.error", { message: explain(error) }), "error"));
  }
}
