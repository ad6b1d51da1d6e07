// The open dialog: the whole history with colleagues' notes, marks, earlier texts, and the
// reply box (replies, notes, canned replies).
import { api, clock, el } from "./console.js";
import { mergeMessage, sizeText, uuid } from "./shared.js";
import { dismissAlerts } from "./app-alerts.js";
import { cannedMenu } from "./app-canned.js";
import { addNote, renderNote } from "./app-notes.js";
import { showContext } from "./app-context.js";
import { drawSentWith, queueReply, renderOutbox, settle } from "./app-outbox.js";
import { renderLists, triage } from "./app-lists.js";
import { chatFetched, fetchMark, operatorName, state, ui, visitorName } from "./app-state.js";

// The open dialog's messages by seq, so that drawing one (its pause from the one before) costs
// the same in a dialog of ten messages or of thousands.
const bySeq = new Map();

function remember(message) {
  const merged = mergeMessage(state.messages.get(message.id), message);
  state.messages.set(merged.id, merged);
  bySeq.set(merged.seq, merged);
  return merged;
}

export async function openChat(id, { focus = true } = {}) {
  const mark = fetchMark();
  const { chat, messages, notes, context, has_more } = await api("GET", `/chats/${id}`);
  chatFetched(chat, mark);
  loadingOlder = null; // a page asked for the dialog drawn before is not this one's
  if (state.selected !== id) { state.earlier.clear(); state.pinnedTab = state.tab; }
  state.selected = id;
  dismissAlerts(id);
  state.messages = new Map();
  bySeq.clear();
  for (const message of messages) remember(message);
  ui.log = el("ol", { class: "dialog__log", "aria-live": "polite", "aria-label": "Messages" });
  // A long dialog comes newest first; older pages on demand (the button, or scrolling up).
  ui.older = el("li", { class: "dialog__older", dataset: { seq: "0" }, hidden: !has_more }, olderButton("Earlier messages"));
  ui.log.append(ui.older);
  ui.log.addEventListener("scroll", () => { if (ui.log.scrollTop < 40) loadOlder(); });
  ui.typing = el("p", { class: "typing", "aria-live": "polite" });
  ui.head = el("div", { class: "dialog__head" });
  ui.context = el("div", { class: "dialog__context" });
  ui.reply = replyForm();
  ui.dialog.replaceChildren(ui.head, ui.context, ui.log, ui.typing, ui.reply);
  renderHead();
  showContext(context);
  for (const message of state.messages.values()) renderEntry(message);
  for (const note of notes) renderNote(note);
  renderOutbox();
  ui.log.scrollTop = ui.log.scrollHeight;
  renderLists();
  markRead();
  if (focus) ui.reply.querySelector("textarea").focus();
}

const olderButton = (label) => el("button", { class: "link", type: "button", onclick: () => loadOlder() }, label);

// The page on its way, if one is: a second ask waits for it instead of asking again.
let loadingOlder = null;
// Whether a page came (a failure says so where the button was).
function loadOlder() {
  if (ui.older.hidden || !state.selected) return Promise.resolve(false);
  loadingOlder ??= fetchOlder().finally(() => { loadingOlder = null; });
  return loadingOlder;
}

async function fetchOlder() {
  const id = state.selected;
  // The dialog drawn now: reopened meanwhile (the same chat again), it is another.
  const log = ui.log;
  try {
    const first = Math.min(...bySeq.keys());
    const { messages, notes, has_more } = await api("GET", `/chats/${id}?before=${first}`);
    if (state.selected !== id || ui.log !== log) return false;
    const height = ui.log.scrollHeight;
    // Known first (each entry's pause looks at the one before), then drawn newest first: each
    // goes in at the top.
    const older = messages.map(remember);
    for (const message of older.reverse()) renderEntry(message);
    // The entry that was first may now follow a long pause.
    const formerFirst = bySeq.get(first);
    if (formerFirst) renderEntry(formerFirst);
    for (const note of notes) renderNote(note);
    // What was on screen stays where it was.
    ui.log.scrollTop += ui.log.scrollHeight - height;
    ui.older.hidden = !has_more;
    ui.older.replaceChildren(olderButton("Earlier messages"));
    return true;
  } catch (e) {
    ui.older.replaceChildren(olderButton(`Earlier messages could not be loaded (${e.message}); try again`));
    return false;
  }
}

// Shows the message numbered `seq` (a search hit): older pages are loaded until it is there.
export async function reveal(seq) {
  const id = state.selected;
  while (!bySeq.has(seq) && !ui.older.hidden && state.selected === id) {
    if (!await loadOlder()) return;
  }
  const entry = ui.log.querySelector(`[data-seq="${seq}"]`);
  if (!entry) return;
  entry.scrollIntoView({ block: "center" });
  entry.classList.add("entry--found");
  setTimeout(() => entry.classList.remove("entry--found"), 2500);
}

// After a reconnect: whatever the socket missed, merged into the open dialog (a draft reply and
// the scroll position stay as they are).
export async function refreshChat() {
  if (!state.selected) return;
  const mark = fetchMark();
  const { chat, messages, notes, context } = await api("GET", `/chats/${state.selected}`);
  chatFetched(chat, mark);
  renderHead();
  showContext(context);
  for (const message of messages) upsert(message);
  for (const note of notes) renderNote(note);
}

export function renderHead() {
  const chat = state.chats.get(state.selected);
  if (!chat || !ui.head) return;
  const mine = chat.operator_id === state.me.id;
  const act = (label, path, body) => el("button", { class: "button button--quiet", type: "button", id: `dialog-${path}`, onclick: () => perform(chat.id, path, body) }, label);
  ui.head.replaceChildren(...[
    el("span", { class: `dot${chat.visitor_online ? " dot--online" : ""}`, "aria-hidden": "true" }),
    el("div", { class: "dialog__who" },
      el("h2", { id: "dialog-title" }, visitorName(chat)),
      el("span", { class: "muted", id: "dialog-state" },
        `${chat.visitor.email || "no email"} · ${chat.visitor_online ? "on the site" : "not on the site"} · ${chat.category}${chat.operator_id ? ` · ${mine ? "yours" : operatorName(chat.operator_id)}` : ""}`),
      ratingOf(chat),
      triage(chat)),
    chat.state === "open" && !mine ? act("Take", "assign", {}) : null,
    chat.state === "open" ? assignTo(chat) : null,
    chat.state === "open" && mine ? act("Release", "release") : null,
    chat.state === "open" ? act("Close", "close") : null].filter(Boolean));
}

// How the visitor rated the conversation; a rating of an earlier close says so.
function ratingOf(chat) {
  const rating = chat.rating;
  if (!rating) return null;
  const current = chat.state === "closed" && rating.closed_at === chat.closed_at;
  return el("p", { class: `dialog__rating dialog__rating--${rating.rating}`, id: "dialog-rating" },
    el("strong", {}, rating.rating === "good" ? "Rated good" : "Rated bad"),
    ` ${clock(rating.rated_at)}${current ? "" : " (when it was closed before)"}`,
    rating.comment ? el("q", {}, rating.comment) : null);
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

export async function perform(id, action, body) {
  try {
    const updated = await api("POST", `/chats/${id}/${action}`, body);
    state.chats.set(updated.id, updated);
    renderLists();
    renderHead();
  } catch (e) { alert(e.message); }
}

const REPLY_HINT = "Reply… (Enter sends, Shift+Enter for a new line, / for canned replies)";
const NOTE_HINT = "Internal note for colleagues: the visitor never sees it";

// The reply box. In note mode what is written becomes an internal note instead of a reply.
function replyForm() {
  const area = el("textarea", { name: "reply", id: "reply", "aria-label": "Reply", placeholder: REPLY_HINT, maxlength: "10000" });
  const send = el("button", { class: "button", type: "submit" }, "Send");
  const noteToggle = el("button", { class: "button button--quiet", type: "button", id: "note-mode", "aria-pressed": "false", title: "Write an internal note (i)" }, "Note");
  const status = el("p", { class: "error reply__status", role: "alert" });
  const { menu, onKey } = cannedMenu(area);
  const files = el("input", { type: "file", multiple: true, hidden: true, id: "reply-files", tabindex: "-1" });
  const attach = el("button", { class: "button button--quiet", type: "button", id: "attach", title: "Send a file (or paste or drop one)", onclick: () => files.click() }, "File");
  files.addEventListener("change", () => { sendFiles([...files.files], status); files.value = ""; });
  area.addEventListener("paste", (event) => {
    const pasted = [...(event.clipboardData?.files || [])];
    if (pasted.length && !state.noteMode) { event.preventDefault(); sendFiles(pasted, status); }
  });
  const form = el("form", { class: "reply" }, area, files, attach, noteToggle, send);
  // Each mode keeps its own draft: a note half written never becomes a reply by a switch.
  const drafts = { reply: "", note: "" };
  const setMode = (note) => {
    if (note !== state.noteMode) {
      drafts[state.noteMode ? "note" : "reply"] = area.value;
      area.value = drafts[note ? "note" : "reply"];
    }
    state.noteMode = note;
    form.classList.toggle("reply--note", note);
    noteToggle.setAttribute("aria-pressed", String(note));
    // A file always goes to the visitor: not offered while a note is written.
    attach.hidden = note;
    area.placeholder = note ? NOTE_HINT : REPLY_HINT;
    area.setAttribute("aria-label", note ? "Internal note" : "Reply");
    send.textContent = note ? "Add note" : "Send";
  };
  state.noteMode = false;
  setMode(false);
  noteToggle.addEventListener("click", () => { setMode(!state.noteMode); area.focus(); });
  let lastTyping = 0;
  area.addEventListener("input", () => {
    // A note is not the visitor's business, not even that one is being written.
    if (state.noteMode) return;
    if (Date.now() - lastTyping > 2000) { lastTyping = Date.now(); state.socket?.send({ type: "typing", chat_id: state.selected }); }
  });
  area.addEventListener("keydown", (event) => {
    if (onKey(event)) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); form.requestSubmit(); }
    if (event.key === "Escape") area.blur();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = area.value;
    if (!body.trim()) return;
    area.value = "";
    if (state.noteMode) addNote(body, area, status); else queueReply(body);
    area.focus();
  });
  const box = el("div", { class: "reply-box" }, menu, form, status);
  box.setMode = setMode;
  return box;
}

// Files dropped anywhere on the open dialog are sent to it.
export function acceptDrops(target) {
  // Never while a note is being written: a file always goes to the visitor.
  const carriesFiles = (event) => state.selected && !state.noteMode && [...(event.dataTransfer?.types || [])].includes("Files");
  target.addEventListener("dragover", (event) => { if (carriesFiles(event)) { event.preventDefault(); target.classList.add("dialog--drop"); } });
  target.addEventListener("dragleave", (event) => { if (!target.contains(event.relatedTarget)) target.classList.remove("dialog--drop"); });
  target.addEventListener("drop", (event) => {
    target.classList.remove("dialog--drop");
    if (!carriesFiles(event)) return;
    event.preventDefault();
    sendFiles([...event.dataTransfer.files], ui.reply?.querySelector(".reply__status"));
  });
}

// Each file is sent as a reply of its own, with its progress shown until the server has it.
function sendFiles(list, status) {
  const chat = state.selected;
  for (const file of list) {
    const clientId = uuid();
    const progress = el("progress", { max: 100, value: 0, "aria-label": `Sending ${file.name}` });
    const pending = el("li", { class: "entry entry--operator entry--pending", dataset: { seq: String(Number.MAX_SAFE_INTEGER) } },
      el("div", { class: "entry__body entry__file" }, clip(), `${file.name} · ${sizeText(file.size)}`), progress);
    ui.log.append(pending);
    ui.log.scrollTop = ui.log.scrollHeight;
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1/chats/${encodeURIComponent(chat)}/files?${new URLSearchParams({ name: file.name || "file", client_id: clientId })}`);
    xhr.withCredentials = true;
    xhr.setRequestHeader("content-type", "application/octet-stream");
    xhr.upload.onprogress = (event) => { if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100); };
    xhr.onload = () => {
      pending.remove();
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 201 && body) { upsert(body); return; }
      if (status) status.textContent = `${file.name} was not sent: ${body?.error?.message || `${xhr.status} ${xhr.statusText}`}`;
    };
    xhr.onerror = () => { pending.remove(); if (status) status.textContent = `${file.name} was not sent: no connection`; };
    xhr.send(file);
  }
}


// An image shown small (its thumbnail), opened full size in a new tab; any other file a link
// that saves it. Operators' session cookie reads them.
function fileView(message) {
  const a = message.attachment;
  const url = `/api/v1/files/${encodeURIComponent(a.id)}`;
  if (a.kind === "image" && a.width && a.height) {
    const scale = Math.min(1, 260 / a.width, 260 / a.height);
    return el("a", { class: "entry__body entry__image", href: url, target: "_blank", rel: "noopener", title: `${a.name} (${a.width}×${a.height}, ${sizeText(a.size)})` },
      el("img", { src: a.thumbnail ? `${url}/thumbnail` : url, alt: a.name, width: Math.round(a.width * scale), height: Math.round(a.height * scale), loading: "lazy" }));
  }
  return el("a", { class: "entry__body entry__file", href: url, download: a.name }, clip(), a.name, el("span", { class: "muted" }, ` · ${sizeText(a.size)}`));
}

// A paper clip, drawn: no emoji font needed.
function clip() {
  const icon = el("span", { class: "clip", "aria-hidden": "true" });
  icon.innerHTML = '<svg viewBox="0 0 24 24" width="16" height="16"><path fill="currentColor" d="M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10z"/></svg>';
  return icon;
}

async function deleteFile(message) {
  if (!confirm(`Delete ${message.attachment.name} for everyone?`)) return;
  try { upsert(await api("DELETE", `/chats/${message.chat_id}/messages/${message.id}`)); } catch (e) { alert(e.message); }
}

// Opens the reply box in note mode, or in reply mode (the keyboard's `i` and `r`).
export function focusReply(note) {
  if (!ui.reply) return;
  ui.reply.setMode(note);
  ui.reply.querySelector("textarea").focus();
}

export function upsert(message) {
  settle(message);
  if (message.chat_id !== state.selected) return;
  const known = state.messages.get(message.id);
  remember(message);
  if (message.edited_at && known?.body !== message.body) state.earlier.delete(message.id);
  renderEntry(state.messages.get(message.id));
  if (!known) ui.log.scrollTop = ui.log.scrollHeight;
  markRead();
}

export function renderEntry(message) {
  let item = ui.log.querySelector(`[data-id="${message.id}"]`);
  const fresh = !item;
  if (fresh) item = el("li", { dataset: { id: message.id, seq: String(message.seq) } });
  const chat = state.chats.get(message.chat_id);
  const who = message.author === "visitor" ? visitorName(chat) : message.author === "operator" ? operatorName(message.operator_id) : "Automatic reply";
  const meta = el("div", { class: "entry__meta" }, el("time", { datetime: message.created_at }, clock(message.created_at)));
  if (message.channel === "email") meta.append(el("span", { class: "by-email" }, message.mail_from ? `by email from ${message.mail_from}` : "by email"));
  if (message.channel === "offline_form") meta.append(el("span", { class: "by-email" }, "through the offline form"));
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
  const gap = pause(message);
  // Unchanged entries are left alone: a screen reader announces only what is new.
  const signature = [message.body, message.channel, message.mail_from, message.quoted, message.edited_at, message.read_by_visitor_at, message.emailed_at, who, earlier?.length ?? -1, gap, message.deleted_at, message.attachment?.id].join("\u0000");
  if (item.dataset.signature === signature) return;
  item.dataset.signature = signature;
  item.className = `entry entry--${message.author}`;
  // A reply by email shows its new text; what it quoted opens on demand and stays open.
  const quotedOpen = Boolean(item.querySelector(".entry__quoted")?.open);
  const quoted = message.quoted ? el("details", { class: "entry__quoted", open: quotedOpen }, el("summary", {}, "Quoted text"), el("pre", {}, message.quoted)) : null;
  if (message.attachment && message.author === "operator" && message.operator_id === state.me.id && !message.deleted_at) {
    meta.append(el("button", { class: "link delete-file", type: "button", onclick: () => deleteFile(message) }, "Delete"));
  }
  const body = message.deleted_at ? el("div", { class: "entry__body entry__deleted" }, "File deleted")
    : message.attachment ? fileView(message) : el("div", { class: "entry__body" }, message.body);
  item.replaceChildren(...[el("div", { class: "entry__who" }, who), body, quoted, meta].filter(Boolean));
  if (gap) item.prepend(el("div", { class: "entry__gap" }, gap));
  if (earlier) {
    item.append(el("ul", { class: "entry__earlier", "aria-label": "Earlier text" },
      ...earlier.map((e) => el("li", {}, `${clock(e.written_at)}: `, el("del", {}, e.body)))));
  }
  if (fresh) ui.log.insertBefore(item, placeOf(message.seq));
}

// Where an entry numbered `seq` goes: before the first entry numbered higher. New messages come
// last and older pages first, so the search starts from the nearer end.
export function placeOf(seq) {
  const first = ui.older.nextElementSibling;
  if (!first || Number(first.dataset.seq) > seq) return first;
  let next = null;
  for (let li = ui.log.lastElementChild; li && li !== ui.older && Number(li.dataset.seq) > seq; li = li.previousElementSibling) next = li;
  return next;
}

// A dialog spans visits: a long pause before a message is shown, as "2 h later".
const VISIT_GAP_MS = 30 * 60 * 1000;
function pause(message) {
  const previous = bySeq.get(message.seq - 1);
  if (!previous) return "";
  const ms = new Date(message.created_at) - new Date(previous.created_at);
  if (ms < VISIT_GAP_MS) return "";
  const hours = Math.round(ms / 3600000);
  return hours < 24 ? `${Math.max(1, hours)} h later` : `${Math.round(hours / 24)} d later`;
}

async function toggleEarlier(message) {
  if (state.earlier.has(message.id)) state.earlier.delete(message.id);
  else {
    const { edits } = await api("GET", `/chats/${message.chat_id}/messages/${message.id}/edits`);
    state.earlier.set(message.id, edits);
  }
  renderEntry(state.messages.get(message.id));
}

export function markRead() {
  if (!state.selected || document.visibilityState !== "visible") return;
  const unread = [...state.messages.values()].filter((m) => m.author === "visitor" && !m.read_by_operator_at);
  if (!unread.length) return;
  const newest = unread.reduce((a, b) => (a.seq > b.seq ? a : b));
  for (const m of unread) m.read_by_operator_at = new Date().toISOString();
  api("POST", `/chats/${state.selected}/read`, { up_to: newest.id }).catch(() => {
    for (const m of unread) { const current = state.messages.get(m.id); if (current) current.read_by_operator_at = null; }
  });
}

drawSentWith(upsert);
