// The operator's replies on their way: each keeps its client id until the server has it, so a
// reply written while the network or the server is down waits, marked "sending", and goes out
// once when it is back (on a timer and when the socket reconnects); a reply the server refuses
// (too long, the chat given to someone else) says why and can be taken back into the reply box.
// Kept in the tab's session storage, so a reload does not lose them.
import { api, el } from "./console.js";
import { uuid } from "./shared.js";
import { state, ui } from "./app-state.js";

const outbox = new Map(); // client id -> { chat_id, body, client_id, failed?, inFlight? }
let retryTimer = null;
let retryDelay = 1000;
// Draws a reply the server has (the dialog's upsert, given by app-dialog.js).
let draw = () => {};

export function drawSentWith(upsert) { draw = upsert; }

function storageKey() { return `tandem:outbox:${state.me.id}`; }

export function restoreOutbox() {
  try {
    for (const entry of JSON.parse(sessionStorage.getItem(storageKey()) || "[]")) outbox.set(entry.client_id, entry);
  } catch { /* nothing kept, or not readable: nothing to restore */ }
  flushOutbox();
}

function save() {
  const kept = [...outbox.values()].map(({ chat_id, body, client_id, failed }) => ({ chat_id, body, client_id, failed }));
  try { sessionStorage.setItem(storageKey(), JSON.stringify(kept)); } catch { /* storage full or off */ }
}

/// A reply to the open chat: shown at once as sending, then sent.
export function queueReply(body) {
  const entry = { chat_id: state.selected, body, client_id: uuid() };
  outbox.set(entry.client_id, entry);
  save();
  renderPending(entry);
  deliver(entry);
}

async function deliver(entry) {
  // One request at a time per reply (the timer, a reconnect and a reload may all flush).
  if (entry.inFlight) return;
  entry.inFlight = true;
  try {
    const message = await api("POST", `/chats/${entry.chat_id}/messages`, { body: entry.body, client_id: entry.client_id });
    retryDelay = 1000;
    // Drawn at once (the socket may still be reconnecting); drawing settles it.
    draw(message);
    settle(message);
  } catch (e) {
    if (!outbox.has(entry.client_id)) return;
    // Refusals wait for the operator; network trouble and server errors are tried again.
    if (e.status && e.status < 500 && e.status !== 408 && e.status !== 429) entry.failed = e.message;
    else scheduleRetry();
    save();
    renderPending(entry);
  } finally { entry.inFlight = false; }
}

/// The server has the reply (its answer, or the socket said so first): no longer pending.
/// Returns whether it was one of ours.
export function settle(message) {
  if (!message.client_id || !outbox.has(message.client_id)) return false;
  outbox.delete(message.client_id);
  save();
  ui.log?.querySelector(`[data-client-id="${message.client_id}"]`)?.remove();
  return true;
}

export function flushOutbox() {
  clearTimeout(retryTimer);
  retryTimer = null;
  for (const entry of outbox.values()) if (!entry.failed) deliver(entry);
}

function scheduleRetry() {
  if (retryTimer) return;
  retryTimer = setTimeout(flushOutbox, retryDelay);
  retryDelay = Math.min(retryDelay * 2, 15000);
}

/// The open chat's pending replies, after its dialog was drawn.
export function renderOutbox() {
  for (const entry of outbox.values()) if (entry.chat_id === state.selected) renderPending(entry);
}

function renderPending(entry) {
  if (entry.chat_id !== state.selected || !ui.log) return;
  let item = ui.log.querySelector(`[data-client-id="${entry.client_id}"]`);
  if (!item) {
    // After every message: their seq is always smaller.
    item = el("li", { dataset: { clientId: entry.client_id, seq: "Infinity" } });
    ui.log.append(item);
    ui.log.scrollTop = ui.log.scrollHeight;
  }
  item.className = `entry entry--operator ${entry.failed ? "entry--failed" : "entry--pending"}`;
  const meta = entry.failed
    ? el("div", { class: "entry__meta" }, el("span", { class: "error" }, `Not sent: ${entry.failed}`),
      el("button", { class: "link", type: "button", onclick: () => takeBack(entry) }, "Edit"),
      el("button", { class: "link", type: "button", onclick: () => discard(entry) }, "Discard"))
    : el("div", { class: "entry__meta" }, el("span", { class: "sending" }, "Sending…"));
  item.replaceChildren(el("div", { class: "entry__who" }, "You"), el("div", { class: "entry__body" }, entry.body), meta);
}

function discard(entry) {
  outbox.delete(entry.client_id);
  save();
  ui.log?.querySelector(`[data-client-id="${entry.client_id}"]`)?.remove();
}

function takeBack(entry) {
  discard(entry);
  const area = document.querySelector("#reply");
  if (area) { area.value = area.value ? `${entry.body}\n${area.value}` : entry.body; area.focus(); }
}
