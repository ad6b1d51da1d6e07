// Keyboard shortcuts for a day in the queue; `?` shows them. Single keys act only outside a
// text field (Escape leaves the reply box), so they never eat what an operator types.
import { el } from "./console.js";
import { focusReply, openChat, perform } from "./app-dialog.js";
import { renderLists } from "./app-lists.js";
import { focusSearch } from "./app-search.js";
import { QUEUE, state } from "./app-state.js";

const KEYS = [
  ["n", "Next waiting chat (the one waiting longest)", nextWaiting],
  ["j", "Next chat in the list", () => step(1)],
  ["k", "Previous chat in the list", () => step(-1)],
  ["r", "Reply box", () => focusReply(false)],
  ["i", "Internal note", () => focusReply(true)],
  ["/", "Canned reply", cannedReply],
  ["f", "Search dialogs", focusSearch],
  ["t", "Take the chat", () => act("assign", {})],
  ["a", "Assign to…", () => document.querySelector("#assign-to")?.focus()],
  ["c", "Close the chat (asks first)", closeChat],
  ["?", "These shortcuts", toggleHelp],
];

let help = null;

export function listenForKeys() {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
    const key = KEYS.find(([k]) => k === event.key);
    if (!key) return;
    // Behind the open list of shortcuts nothing acts; `?` closes it.
    if (help?.open && key[0] !== "?") return;
    event.preventDefault();
    key[2]();
  });
}

export function helpButton() {
  return el("button", { class: "button button--quiet", type: "button", id: "shortcuts-button", "aria-keyshortcuts": "?", onclick: toggleHelp }, "Shortcuts (?)");
}

function toggleHelp() {
  if (!help) {
    help = el("dialog", { class: "shortcuts", id: "shortcuts", "aria-labelledby": "shortcuts-title" },
      el("h2", { id: "shortcuts-title" }, "Keyboard shortcuts"),
      el("table", {}, el("tbody", {}, ...KEYS.map(([key, what]) => el("tr", {}, el("td", {}, el("kbd", {}, key)), el("td", {}, what))),
        el("tr", {}, el("td", {}, el("kbd", {}, "Esc")), el("td", {}, "Leave the reply box")))),
      el("form", { method: "dialog" }, el("button", { class: "button" }, "Close")));
    document.body.append(help);
  }
  if (help.open) help.close(); else help.showModal();
}

// The chat whose visitor has waited longest for an answer (the queue: waiting, then offline),
// other than the one open.
async function nextWaiting() {
  const queue = [...state.chats.values()]
    .filter((c) => c.state === "open" && c.unanswered && QUEUE.has(c.category) && c.id !== state.selected)
    .sort((a, b) => (a.category === b.category ? 0 : a.category === "waiting" ? -1 : 1) || a.last_message_at.localeCompare(b.last_message_at));
  const next = queue[0];
  if (!next) return;
  state.tab = next.category;
  await openChat(next.id);
  state.pinnedTab = next.category;
  renderLists();
}

async function step(by) {
  const buttons = [...document.querySelectorAll("#chat-list .chat-item")];
  if (!buttons.length) return;
  const at = buttons.findIndex((b) => b.dataset.chatId === state.selected);
  const next = buttons[Math.min(buttons.length - 1, Math.max(0, at < 0 ? 0 : at + by))];
  await openChat(next.dataset.chatId, { focus: false });
  next.focus();
}

// In the box as it is, reply or note: a canned text may go into either.
function cannedReply() {
  focusReply(state.noteMode);
  const area = document.querySelector("#reply");
  if (!area) return;
  area.setRangeText("/", area.selectionStart, area.selectionEnd, "end");
  area.dispatchEvent(new Event("input"));
}

function closeChat() {
  const chat = state.chats.get(state.selected);
  if (chat?.state === "open" && confirm("Close this chat? It opens again when the visitor writes.")) perform(chat.id, "close");
}

function act(action, body) {
  const chat = state.chats.get(state.selected);
  if (chat?.state === "open") perform(chat.id, action, body);
}
