// The operator workspace: the queue and the chats in their categories, live, and the dialog.
import { $, api, clock, el, liveSocket, signIn, signOut, since, uuid } from "./console.js";

const root = $("#root");
const CATEGORIES = [
  { id: "waiting", label: "Waiting for reply", match: (c) => c.category === "waiting" },
  { id: "offline", label: "Offline", match: (c) => c.category === "offline" },
  { id: "mine", label: "Active · mine", match: (c) => c.category === "active" && c.operator_id === state.me.id },
  { id: "active", label: "Active · all", match: (c) => c.category === "active" },
  { id: "closed", label: "Closed", match: (c) => c.category === "closed" },
];
const QUEUE = new Set(["waiting", "offline"]);

const state = {
  me: null,
  chats: new Map(), // id -> Chat
  operators: new Map(), // id -> Operator
  tab: "waiting",
  selected: null, // chat id
  messages: new Map(), // of the selected chat: id -> Message
  earlier: new Map(), // message id -> [EarlierText], once asked for
  alerts: localStorage.getItem("tandem:alerts") === "on",
  socket: null,
  draftClientId: null,
};
const ui = {};

const visitorName = (chat) => chat.visitor.name || chat.visitor.email || `Visitor ${chat.visitor.id.slice(-4)}`;
const operatorName = (id) => state.operators.get(id)?.name || "Operator";

async function main() {
  state.me = await signIn(root, "Tandem — operator workspace");
  buildLayout();
  await loadOperators();
  await loadChats();
  state.socket = liveSocket("/ws", {
    onFrame,
    onOpen: () => { ui.connection.textContent = ""; loadChats().then(refreshChat); },
    onClose: () => { ui.connection.textContent = "Reconnecting…"; },
  });
  setInterval(renderLists, 30000); // waiting times
  document.addEventListener("visibilitychange", markRead);
}

function buildLayout() {
  const status = el("select", { id: "my-status", "aria-label": "My status", onchange: () => setStatus(status.value) },
    ...["online", "away", "offline"].map((s) => el("option", { value: s, selected: state.me.status === s }, s[0].toUpperCase() + s.slice(1))));
  const alerts = el("input", { type: "checkbox", id: "alerts", checked: state.alerts, onchange: () => toggleAlerts(alerts.checked) });
  ui.connection = el("span", { role: "status", class: "muted" });
  ui.tabs = el("div", { class: "tabs", role: "tablist", "aria-label": "Chat categories" });
  ui.list = el("ul", { class: "chats", id: "chat-list", "aria-label": "Chats" });
  ui.empty = el("li", { class: "empty" }, "No chats here.");
  ui.dialog = el("section", { class: "dialog", "aria-label": "Dialog" }, el("p", { class: "placeholder" }, "Choose a chat."));
  root.replaceChildren(
    el("header", { class: "top" },
      el("span", { class: "top__brand" }, "Tandem"), el("span", {}, "Workspace"), ui.connection,
      el("span", { class: "top__spacer" }),
      el("label", {}, alerts, "Sound & desktop alerts"),
      el("label", {}, el("span", {}, state.me.name), status),
      state.me.role === "admin" ? el("a", { href: "/admin" }, "Admin console") : null,
      el("button", { class: "button button--quiet", type: "button", onclick: signOut }, "Log out")),
    el("div", { class: "workspace" }, el("nav", { class: "queues", "aria-label": "Queues" }, ui.tabs, ui.list), ui.dialog));
}

async function setStatus(status) {
  try { await api("PUT", "/operators/me/status", { status }); state.me.status = status; } catch (e) { alert(e.message); }
}

async function loadOperators() {
  const { operators } = await api("GET", "/operators");
  for (const operator of operators) state.operators.set(operator.id, operator);
}

async function loadChats() {
  const lists = await Promise.all(["waiting", "offline", "active", "closed"].map((category) => api("GET", `/chats?category=${category}`)));
  state.chats = new Map(lists.flatMap((list) => list.chats).map((chat) => [chat.id, chat]));
  renderLists();
}

// ---- the lists ----
// The lists are live: elements are kept and updated in place, so that a click, the keyboard
// focus and a screen reader's place survive the events that keep arriving.
const listItems = new Map(); // chat id -> <li>
const tabs = new Map(); // category id -> <button>

function renderLists() {
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
  const chats = all.filter(category.match).sort(QUEUE.has(category.id)
    ? (a, b) => a.last_message_at.localeCompare(b.last_message_at) // who waits longest comes first
    : (a, b) => b.last_message_at.localeCompare(a.last_message_at));
  ui.list.dataset.category = category.id;
  const wanted = chats.length ? chats.map(chatItem) : [ui.empty];
  for (const child of [...ui.list.children]) if (!wanted.includes(child)) child.remove();
  wanted.forEach((item, index) => { if (ui.list.children[index] !== item) ui.list.insertBefore(item, ui.list.children[index] || null); });
  for (const id of listItems.keys()) if (!state.chats.has(id)) listItems.delete(id);
  const waiting = all.filter((c) => c.category === "waiting").length;
  document.title = `${waiting ? `(${waiting}) ` : ""}Tandem — Workspace`;
}

function chatItem(chat) {
  let item = listItems.get(chat.id);
  if (!item) {
    item = el("li", {}, el("button", { class: "chat-item", type: "button", onclick: () => openChat(chat.id) }));
    listItems.set(chat.id, item);
  }
  const presence = chat.visitor_online ? "online" : "offline";
  const button = item.firstElementChild;
  Object.assign(button.dataset, { chatId: chat.id, visitor: visitorName(chat), presence });
  button.setAttribute("aria-current", String(state.selected === chat.id));
  button.replaceChildren(
    el("span", { class: `dot${chat.visitor_online ? " dot--online" : ""}`, title: presence, "aria-label": presence }),
    el("span", { class: "chat-item__name" }, visitorName(chat)),
    chat.unanswered && chat.state === "open" ? el("span", { class: "chat-item__wait" }, `waits ${since(chat.last_message_at)}`) : el("span"),
    el("span", { class: "chat-item__meta" },
      `${presence} · ${clock(chat.last_message_at)}${chat.operator_id ? ` · ${operatorName(chat.operator_id)}` : ""}`));
  return item;
}

// ---- the dialog ----
async function openChat(id, { focus = true } = {}) {
  const { chat, messages } = await api("GET", `/chats/${id}`);
  state.chats.set(chat.id, chat);
  if (state.selected !== id) { state.draftClientId = null; state.earlier.clear(); }
  state.selected = id;
  state.messages = new Map(messages.map((m) => [m.id, m]));
  ui.log = el("ol", { class: "dialog__log", "aria-live": "polite", "aria-label": "Messages" });
  ui.typing = el("p", { class: "typing", "aria-live": "polite" });
  ui.head = el("div", { class: "dialog__head" });
  ui.reply = replyForm();
  ui.dialog.replaceChildren(ui.head, ui.log, ui.typing, ui.reply);
  renderHead();
  for (const message of state.messages.values()) renderEntry(message);
  ui.log.scrollTop = ui.log.scrollHeight;
  renderLists();
  markRead();
  if (focus) ui.reply.querySelector("textarea").focus();
}

// After a reconnect: whatever the socket missed, merged into the open dialog (a draft reply and
// the scroll position stay as they are).
async function refreshChat() {
  if (!state.selected) return;
  const { chat, messages } = await api("GET", `/chats/${state.selected}`);
  state.chats.set(chat.id, chat);
  renderHead();
  for (const message of messages) upsert(message);
}

function renderHead() {
  const chat = state.chats.get(state.selected);
  if (!chat || !ui.head) return;
  const mine = chat.operator_id === state.me.id;
  const act = (label, path, body) => el("button", { class: "button button--quiet", type: "button", onclick: () => perform(chat.id, path, body) }, label);
  ui.head.replaceChildren(...[
    el("span", { class: `dot${chat.visitor_online ? " dot--online" : ""}`, "aria-hidden": "true" }),
    el("div", { class: "dialog__who" },
      el("h2", { id: "dialog-title" }, visitorName(chat)),
      el("span", { class: "muted", id: "dialog-state" },
        `${chat.visitor.email || "no email"} · ${chat.visitor_online ? "on the site" : "not on the site"} · ${chat.category}${chat.operator_id ? ` · ${mine ? "yours" : operatorName(chat.operator_id)}` : ""}`)),
    chat.state === "open" && !mine ? act("Take", "assign", {}) : null,
    chat.state === "open" ? assignTo(chat) : null,
    chat.state === "open" && mine ? act("Release", "release") : null,
    chat.state === "open" ? act("Close", "close") : null].filter(Boolean));
}

// Hand the chat to a colleague (only active operators are offered).
function assignTo(chat) {
  const colleagues = [...state.operators.values()].filter((o) => o.active && o.id !== chat.operator_id);
  if (!colleagues.length) return null;
  const select = el("select", { "aria-label": "Assign to", id: "assign-to", onchange: () => { if (select.value) perform(chat.id, "assign", { operator_id: select.value }); } },
    el("option", { value: "" }, "Assign to…"),
    ...colleagues.map((o) => el("option", { value: o.id }, `${o.name} (${o.status})`)));
  return select;
}

async function perform(id, action, body) {
  try {
    const updated = await api("POST", `/chats/${id}/${action}`, body);
    state.chats.set(updated.id, updated);
    renderLists();
    renderHead();
  } catch (e) { alert(e.message); }
}

function replyForm() {
  const area = el("textarea", { name: "reply", id: "reply", "aria-label": "Reply", placeholder: "Reply… (Enter sends, Shift+Enter for a new line)", maxlength: "10000" });
  const error = el("p", { class: "error", role: "alert" });
  const send = el("button", { class: "button", type: "submit" }, "Send");
  const form = el("form", { class: "reply" }, area, send);
  let lastTyping = 0;
  area.addEventListener("input", () => {
    state.draftClientId = null;
    if (Date.now() - lastTyping > 2000) { lastTyping = Date.now(); state.socket?.send({ type: "typing", chat_id: state.selected }); }
  });
  area.addEventListener("keydown", (event) => { if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); form.requestSubmit(); } });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = area.value;
    if (!body.trim()) return;
    // The same client id until it is accepted: a retry after a lost answer cannot double it.
    state.draftClientId = state.draftClientId || uuid();
    send.disabled = true;
    try {
      const message = await api("POST", `/chats/${state.selected}/messages`, { body, client_id: state.draftClientId });
      state.draftClientId = null;
      area.value = "";
      error.textContent = "";
      upsert(message);
    } catch (e) {
      error.textContent = `Not sent: ${e.message}`;
    } finally { send.disabled = false; area.focus(); }
  });
  return el("div", {}, error, form);
}

function upsert(message) {
  if (message.chat_id !== state.selected) return;
  const known = state.messages.get(message.id);
  state.messages.set(message.id, merge(known, message));
  if (message.edited_at && known?.body !== message.body) state.earlier.delete(message.id);
  renderEntry(state.messages.get(message.id));
  if (!known) ui.log.scrollTop = ui.log.scrollHeight;
  markRead();
}

// The same message comes from the reply's answer, the socket and reloads, in any order: read
// marks and the email mark only ever appear, and an older text never replaces a newer edit.
function merge(known, incoming) {
  if (!known) return incoming;
  const merged = { ...known, ...incoming };
  for (const mark of ["read_by_visitor_at", "read_by_operator_at", "emailed_at"]) merged[mark] = incoming[mark] || known[mark];
  if (known.edited_at && (!incoming.edited_at || incoming.edited_at < known.edited_at)) {
    merged.body = known.body;
    merged.edited_at = known.edited_at;
  }
  return merged;
}

function renderEntry(message) {
  let item = ui.log.querySelector(`[data-id="${message.id}"]`);
  const fresh = !item;
  if (fresh) item = el("li", { dataset: { id: message.id, seq: String(message.seq) } });
  const chat = state.chats.get(message.chat_id);
  const who = message.author === "visitor" ? visitorName(chat) : message.author === "operator" ? operatorName(message.operator_id) : "System";
  const meta = el("div", { class: "entry__meta" }, el("time", { datetime: message.created_at }, clock(message.created_at)));
  if (message.edited_at) {
    const shown = state.earlier.get(message.id);
    meta.append(el("button", { class: "link show-earlier", type: "button", "aria-expanded": String(Boolean(shown)), onclick: () => toggleEarlier(message) },
      `edited ${clock(message.edited_at)}${shown ? " · hide earlier text" : " · show earlier text"}`));
  }
  if (message.author === "operator") {
    meta.append(el("span", { class: "read-mark" }, message.read_by_visitor_at ? `Read by visitor ${clock(message.read_by_visitor_at)}` : "Not read yet"));
    if (message.emailed_at) meta.append(el("span", { class: "emailed" }, `Emailed ${clock(message.emailed_at)}`));
  }
  const earlier = state.earlier.get(message.id);
  // Unchanged entries are left alone: a screen reader announces only what is new.
  const signature = [message.body, message.edited_at, message.read_by_visitor_at, message.emailed_at, who, earlier?.length ?? -1].join("\u0000");
  if (item.dataset.signature === signature) return;
  item.dataset.signature = signature;
  item.className = `entry entry--${message.author}`;
  item.replaceChildren(el("div", { class: "entry__who" }, who), el("div", { class: "entry__body" }, message.body), meta);
  if (earlier) {
    item.append(el("ul", { class: "entry__earlier", "aria-label": "Earlier text" },
      ...earlier.map((e) => el("li", {}, `${clock(e.written_at)}: `, el("del", {}, e.body)))));
  }
  if (fresh) {
    const after = [...ui.log.children].find((li) => Number(li.dataset.seq) > message.seq);
    ui.log.insertBefore(item, after || null);
  }
}

async function toggleEarlier(message) {
  if (state.earlier.has(message.id)) state.earlier.delete(message.id);
  else {
    const { edits } = await api("GET", `/chats/${message.chat_id}/messages/${message.id}/edits`);
    state.earlier.set(message.id, edits);
  }
  renderEntry(state.messages.get(message.id));
}

function markRead() {
  if (!state.selected || document.visibilityState !== "visible") return;
  const unread = [...state.messages.values()].filter((m) => m.author === "visitor" && !m.read_by_operator_at);
  if (!unread.length) return;
  const newest = unread.reduce((a, b) => (a.seq > b.seq ? a : b));
  for (const m of unread) m.read_by_operator_at = new Date().toISOString();
  api("POST", `/chats/${state.selected}/read`, { up_to: newest.id }).catch(() => {
    for (const m of unread) { const current = state.messages.get(m.id); if (current) current.read_by_operator_at = null; }
  });
}

// ---- live events ----
let typingTimer = null;
function onFrame(frame) {
  switch (frame.type) {
    case "chat.updated": {
      const before = state.chats.get(frame.chat.id);
      state.chats.set(frame.chat.id, frame.chat);
      if (frame.chat.category === "waiting" && before?.category !== "waiting") alertOperator(`${visitorName(frame.chat)} is waiting for a reply`);
      renderLists();
      if (frame.chat.id === state.selected) renderHead();
      break;
    }
    case "message.created":
    case "message.updated": {
      upsert(frame.message);
      const chat = state.chats.get(frame.message.chat_id);
      if (chat && frame.type === "message.created") {
        chat.last_message_at = frame.message.created_at;
        if (frame.message.author === "visitor" && chat.operator_id && chat.operator_id === state.me.id && frame.message.chat_id !== state.selected) alertOperator(`${visitorName(chat)}: ${frame.message.body.slice(0, 80)}`);
        renderLists();
      }
      if (frame.message.chat_id === state.selected && frame.message.author === "visitor") ui.typing.textContent = "";
      break;
    }
    case "message.read":
      if (frame.by === "visitor" && frame.chat_id === state.selected) {
        const upTo = state.messages.get(frame.up_to);
        for (const m of state.messages.values()) {
          if (m.author === "operator" && !m.read_by_visitor_at && (!upTo || m.seq <= upTo.seq)) { m.read_by_visitor_at = new Date().toISOString(); renderEntry(m); }
        }
      }
      break;
    case "typing":
      if (frame.by === "visitor" && frame.chat_id === state.selected) {
        ui.typing.textContent = `${visitorName(state.chats.get(frame.chat_id))} is typing…`;
        clearTimeout(typingTimer);
        typingTimer = setTimeout(() => { ui.typing.textContent = ""; }, 5000);
      }
      break;
    default:
      break;
  }
}

// ---- alerts (opt-in: a sound and a desktop notification) ----
async function toggleAlerts(on) {
  state.alerts = on;
  localStorage.setItem("tandem:alerts", on ? "on" : "off");
  if (on && "Notification" in window && Notification.permission === "default") await Notification.requestPermission();
}

function alertOperator(text) {
  if (!state.alerts) return;
  try {
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.35);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.35);
  } catch { /* no audio here */ }
  if ("Notification" in window && Notification.permission === "granted" && document.visibilityState !== "visible") {
    new Notification("Tandem", { body: text, tag: "tandem" });
  }
}

main().catch((e) => root.replaceChildren(el("p", { class: "error", role: "alert" }, `The workspace could not start: ${e.message}`)));
