// The workspace's lists: categories with counts, chats with presence, waiting time, the last
// message and how many of the visitor's messages nobody has read.
import { clock, el, since } from "./console.js";
import { openChat } from "./app-dialog.js";
import { CATEGORIES, QUEUE, operatorName, state, ui, visitorName } from "./app-state.js";

// The lists are live: elements are kept and updated in place, so that a click, the keyboard
// focus and a screen reader's place survive the events that keep arriving.
const listItems = new Map(); // chat id -> <li>
const tabs = new Map(); // category id -> <button>

export function renderLists() {
  const all = [...state.chats.values()];
  for (const category of CATEGORIES) {
    let tab = tabs.get(category.id);
    if (!tab) {
      tab = el("button", {
        class: "tab", role: "tab", id: `tab-${category.id}`, type: "button", "aria-controls": "chat-list",
        onclick: () => { state.tab = category.id; renderLists(); },
      }, category.label, el("span", { class: "count", dataset: { count: category.id } }));
      tabs.set(category.id, tab);
      ui.tabs.append(tab);
    }
    tab.setAttribute("aria-selected", String(state.tab === category.id));
    tab.querySelector(".count").textContent = String(all.filter(category.match).length);
  }
  const category = CATEGORIES.find((c) => c.id === state.tab);
  const kept = (c) => c.id === state.selected && state.pinnedTab === category.id;
  const chats = all.filter((c) => category.match(c) || kept(c)).sort(QUEUE.has(category.id)
    ? (a, b) => a.last_message_at.localeCompare(b.last_message_at) // who waits longest comes first
    : (a, b) => b.last_message_at.localeCompare(a.last_message_at));
  ui.list.dataset.category = category.id;
  const wanted = chats.length ? chats.map((chat) => chatItem(chat, category)) : [ui.empty];
  for (const child of [...ui.list.children]) if (!wanted.includes(child)) child.remove();
  wanted.forEach((item, index) => { if (ui.list.children[index] !== item) ui.list.insertBefore(item, ui.list.children[index] || null); });
  for (const id of listItems.keys()) if (!state.chats.has(id)) listItems.delete(id);
  const waiting = all.filter((c) => c.category === "waiting").length;
  document.title = `${waiting ? `(${waiting}) ` : ""}Tandem — Workspace`;
}

// What the tenant's plugins said of the chat: how urgent, and its tags.
export function triage(chat) {
  const tags = chat.tags || [];
  if (!chat.priority && !tags.length) return el("span", { hidden: true });
  return el("span", { class: "triage" },
    chat.priority ? el("span", { class: `tag tag--${chat.priority}` }, chat.priority) : "",
    ...tags.map((tag) => el("span", { class: "tag" }, tag)));
}

// The newest message, with who wrote it unless it was the visitor.
function preview(chat) {
  const last = chat.last_message;
  if (!last) return "";
  const by = { operator: "Operator: ", system: "Automatic: " }[last.author] || "";
  return by + last.preview.replace(/\s+/g, " ");
}

// The categories a chat is in now, named for a chat kept in a list it has left.
function movedTo(chat) {
  const now = CATEGORIES.filter((c) => c.id !== "active" && c.match(chat)).map((c) => c.label);
  return now.length ? now.join(", ") : CATEGORIES.find((c) => c.match(chat))?.label || chat.category;
}

function chatItem(chat, category) {
  let item = listItems.get(chat.id);
  if (!item) {
    item = el("li", {}, el("button", { class: "chat-item", type: "button", onclick: () => openChat(chat.id) }));
    listItems.set(chat.id, item);
  }
  const presence = chat.visitor_online ? "online" : "offline";
  const button = item.firstElementChild;
  const moved = !category.match(chat);
  Object.assign(button.dataset, { chatId: chat.id, visitor: visitorName(chat), presence });
  if (moved) button.dataset.movedTo = movedTo(chat); else delete button.dataset.movedTo;
  button.setAttribute("aria-current", String(state.selected === chat.id));
  button.replaceChildren(
    el("span", { class: `dot${chat.visitor_online ? " dot--online" : ""}`, title: presence, "aria-label": presence }),
    el("span", { class: "chat-item__name" }, visitorName(chat)),
    chat.unanswered && chat.state === "open" ? el("span", { class: "chat-item__wait" }, `waits ${since(chat.last_message_at)}`) : el("span"),
    el("span", { class: "chat-item__preview" }, preview(chat)),
    chat.unread ? el("span", { class: "unread", title: `${chat.unread} unread`, "aria-label": `${chat.unread} unread` }, String(chat.unread)) : el("span"),
    el("span", { class: "chat-item__meta" },
      `${presence} · ${clock(chat.last_message_at)}${chat.operator_id ? ` · ${operatorName(chat.operator_id)}` : ""}${chat.rating ? ` · rated ${chat.rating.rating}` : ""}`),
    triage(chat),
    moved ? el("span", { class: "chat-item__moved" }, `Now in ${movedTo(chat)}`) : el("span", { hidden: true }));
  return item;
}
