// Building the page. Everything shown is put in with text nodes: names, notes and payloads
// that citizens and devices wrote are text, never markup (no innerHTML anywhere).

/** h("a", {href: "#/x", class: "link", onclick: fn}, "text", child, [more]) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (name === "value" || name === "checked" || name === "disabled" || name === "selected") {
      el[name] = value;
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** A table with a caption; columns: [{label, cell: row => node|text, class?}] */
export function table(caption, columns, rows, { empty = "—" } = {}) {
  const head = h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label))));
  const body = h(
    "tbody",
    {},
    rows.length
      ? rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.class }, c.cell(row)))))
      : h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, empty)),
  );
  // The wrapper scrolls sideways on a narrow screen: focusable and named, so a keyboard can
  // scroll it and a screen reader says which table it is.
  return h(
    "div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": caption },
    h("table", {}, h("caption", {}, caption), head, body),
  );
}

/** A definition list from [[term, value], ...] (null values show as a dash). */
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value ?? "—")]),
  );
}

/** A figure card: label above, value below, an optional line under it. */
export function figure(label, value, extra) {
  return h("div", { class: "figure" },
    h("div", { class: "label" }, label), h("div", { class: "value" }, value), extra ? h("div", { class: "extra" }, extra) : null);
}

export function badge(text, kind = "") {
  return h("span", { class: ["badge", kind && `badge-${kind}`] }, text);
}

/** A labelled form control; the control gets an id so the label points at it. */
let nextId = 0;
export function field(label, control, hint) {
  const id = control.id || `f${++nextId}`;
  control.id = id;
  const hintEl = hint ? h("small", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl);
}

export function notice(text, kind = "info") {
  return h("p", { class: ["notice", `notice-${kind}`], role: kind === "error" ? "alert" : "status" }, text);
}

export function toast(text, kind = "info") {
  const box = document.getElementById("toasts");
  const item = h("p", { class: ["toast", `toast-${kind}`] }, text);
  box.append(item);
  // An error stays long enough to be read with a screen reader or on a slow machine (WCAG
  // 2.2.1 asks 20 s of a message that goes by itself); news goes after 6 s.
  setTimeout(() => item.remove(), kind === "error" ? 20000 : 6000);
}

/** A form whose submit runs `action(formData)` once at a time, showing its error in place. */
export function form(attrs, children, action, { errorText } = {}) {
  const status = h("div", { class: "form-status", "aria-live": "polite" });
  const el = h("form", { ...attrs, novalidate: true }, children, status);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (el.dataset.busy) return;
    el.dataset.busy = "1";
    const buttons = el.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    clear(status);
    try {
      await action(new FormData(el), el);
    } catch (error) {
      status.append(notice(errorText ? errorText(error) : error.message, "error"));
    } finally {
      delete el.dataset.busy;
      buttons.forEach((b) => (b.disabled = false));
    }
  });
  return el;
}

export function link(href, text, attrs = {}) {
  return h("a", { href, ...attrs }, text);
}
