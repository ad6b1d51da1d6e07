// Canned replies: `/shortcut` in the reply box offers the company's texts, filled in for the
// visitor of the open dialog, to read over before sending.
import { api, el } from "./console.js";
import { state } from "./app-state.js";

const SHOWN = 8;

export async function loadCanned() {
  try {
    state.canned = (await api("GET", "/canned-replies")).canned_replies;
  } catch {
    // The box works without them; the next reconnect asks again.
  }
}

// `{name}` (or `{name|fallback}`) and `{operator}`, as the admin console explains them.
export function fill(body, chat) {
  return body.replace(/\{(name|operator)(?:\|([^{}]*))?\}/g, (_, key, fallback) =>
    key === "operator" ? state.me.name : chat?.visitor?.name || (fallback ?? "there"));
}

// The `/word` typed just before the caret, where it starts.
function typed(area) {
  const before = area.value.slice(0, area.selectionStart);
  const found = /(^|\s)\/([a-z0-9-]*)$/i.exec(before);
  return found ? { start: before.length - found[2].length - 1, word: found[2].toLowerCase() } : null;
}

function matching(word) {
  const starts = state.canned.filter((c) => c.shortcut.startsWith(word));
  const contains = state.canned.filter((c) => !c.shortcut.startsWith(word) && c.shortcut.includes(word));
  return [...starts, ...contains].slice(0, SHOWN);
}

// Wires the menu to the reply box. Returns the menu element and the box's key handler, which
// says whether it took the key (Enter picks a reply instead of sending).
export function cannedMenu(area) {
  const menu = el("ul", { class: "canned-menu", id: "canned-menu", role: "listbox", "aria-label": "Canned replies", hidden: true });
  area.setAttribute("aria-autocomplete", "list");
  area.setAttribute("aria-controls", "canned-menu");
  let options = [];
  let active = 0;
  let at = null;

  const close = () => { menu.hidden = true; options = []; area.removeAttribute("aria-activedescendant"); area.setAttribute("aria-expanded", "false"); };
  const highlight = (index) => {
    active = (index + options.length) % options.length;
    [...menu.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
    area.setAttribute("aria-activedescendant", `canned-${active}`);
  };
  const insert = (reply) => {
    const chat = state.chats.get(state.selected);
    const text = fill(reply.body, chat);
    const end = area.selectionStart;
    area.setRangeText(text, at.start, end, "end");
    close();
    area.focus();
    area.dispatchEvent(new Event("input"));
  };
  const update = () => {
    at = typed(area);
    options = at && state.canned.length ? matching(at.word) : [];
    if (!options.length) { close(); return; }
    menu.replaceChildren(...options.map((reply, i) => el("li", {
      id: `canned-${i}`, role: "option", dataset: { shortcut: reply.shortcut },
      onmousedown: (event) => { event.preventDefault(); insert(reply); },
    }, el("strong", {}, `/${reply.shortcut}`), " ", el("span", { class: "muted" }, fill(reply.body, state.chats.get(state.selected)).slice(0, 90)))));
    menu.hidden = false;
    area.setAttribute("aria-expanded", "true");
    highlight(0);
  };
  area.addEventListener("input", update);
  area.addEventListener("blur", close);

  const onKey = (event) => {
    if (menu.hidden || !options.length) return false;
    // The caret may have moved since the menu opened (arrows, a click): where is `/` now?
    at = typed(area);
    if (!at) { close(); return false; }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") { highlight(active + (event.key === "ArrowDown" ? 1 : -1)); }
    else if (event.key === "Enter" || event.key === "Tab") { insert(options[active]); }
    else if (event.key === "Escape") { close(); }
    else return false;
    event.preventDefault();
    return true;
  };
  return { menu, onKey };
}
