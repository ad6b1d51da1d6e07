// Search across the company's dialogs: by words of any visit's messages, and by the visitor's
// name or address. Results stand in for the lists while the box holds text; one opens its
// dialog at the message found.
import { api, clock, el } from "./console.js";
import { openChat, reveal } from "./app-dialog.js";
import { state, ui, visitorName } from "./app-state.js";

const WAIT_MS = 250;
let timer = null;
let asked = 0; // the newest search sent: an older answer arriving late is dropped

export function searchBox() {
  ui.search = el("input", { type: "search", id: "search", placeholder: "Search dialogs (f)", "aria-label": "Search dialogs", maxlength: "200", autocomplete: "off" });
  ui.results = el("ul", { class: "chats results", id: "search-results", "aria-label": "Search results", hidden: true });
  ui.search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(run, WAIT_MS); });
  ui.search.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { ui.search.value = ""; run(); ui.search.blur(); }
    if (event.key === "Enter") { clearTimeout(timer); run(); }
  });
  return el("div", { class: "search", role: "search" }, ui.search);
}

async function run() {
  const q = ui.search.value.trim();
  const mine = ++asked;
  if (!q) { show(false); return; }
  try {
    const { hits } = await api("GET", `/search?q=${encodeURIComponent(q)}&limit=30`);
    if (mine !== asked) return;
    ui.results.replaceChildren(...(hits.length ? hits.map(hitItem) : [el("li", { class: "empty" }, `Nothing found for “${q}”.`)]));
  } catch (e) {
    if (mine !== asked) return;
    ui.results.replaceChildren(el("li", { class: "error", role: "alert" }, `Search failed: ${e.message}`));
  }
  show(true);
}

function show(searching) {
  ui.results.hidden = !searching;
  ui.list.hidden = searching;
  ui.tabs.hidden = searching;
}

function hitItem(hit) {
  const found = hit.message;
  const open = async () => {
    await openChat(hit.chat.id, { focus: false });
    if (found) await reveal(found.seq);
  };
  return el("li", {}, el("button", { class: "chat-item hit", type: "button", dataset: { chatId: hit.chat.id, seq: found ? String(found.seq) : "" }, onclick: open },
    el("span", { class: `dot${hit.chat.visitor_online ? " dot--online" : ""}`, "aria-hidden": "true" }),
    el("span", { class: "chat-item__name" }, visitorName(hit.chat)),
    el("span", { class: "chat-item__meta hit__when" }, found ? clock(found.created_at) : "visitor"),
    found ? el("span", { class: "chat-item__preview hit__snippet" }, ...marked(found)) : el("span", { class: "chat-item__preview" }, [hit.chat.visitor.email, hit.chat.category].filter(Boolean).join(" · "))));
}

// The snippet with its matching words in <mark>: text nodes only, whatever the message says.
function marked({ snippet, highlights }) {
  const chars = [...snippet];
  const parts = [];
  let at = 0;
  for (const [from, to] of highlights) {
    if (from > at) parts.push(chars.slice(at, from).join(""));
    parts.push(el("mark", {}, chars.slice(from, to).join("")));
    at = to;
  }
  parts.push(chars.slice(at).join(""));
  return parts;
}

export function focusSearch() {
  ui.search?.focus();
  ui.search?.select();
}

