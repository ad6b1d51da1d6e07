// Internal notes in the open dialog: written for colleagues, never shown to the visitor.
import { api, clock, el } from "./console.js";
import { placeOf } from "./app-dialog.js";
import { operatorName, state, ui } from "./app-state.js";

// A note stands after the message it followed (and after earlier notes there): among the
// entries, which are ordered by `data-seq`, it counts as that message's seq and a half.
const placeSeq = (note) => note.after_seq + 0.5;

export function renderNote(note) {
  if (note.chat_id !== state.selected || !ui.log) return;
  if (ui.log.querySelector(`[data-note-id="${note.id}"]`)) return;
  const item = el("li", { class: "entry entry--note", dataset: { noteId: note.id, seq: String(placeSeq(note)) } },
    el("div", { class: "entry__who" }, `${operatorName(note.author_id)} · internal note`),
    el("div", { class: "entry__body" }, note.body),
    el("div", { class: "entry__meta" }, el("time", { datetime: note.created_at }, clock(note.created_at)), el("span", {}, "Only operators see this")));
  const atBottom = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
  ui.log.insertBefore(item, placeOf(placeSeq(note)));
  if (atBottom) ui.log.scrollTop = ui.log.scrollHeight;
}

// Writes the note; its text comes back to the box if the server refused it.
export async function addNote(body, area, status) {
  const chatId = state.selected;
  status.textContent = "";
  try {
    renderNote(await api("POST", `/chats/${chatId}/notes`, { body }));
  } catch (e) {
    if (state.selected === chatId && !area.value) area.value = body;
    status.textContent = `Note not added: ${e.message}`;
  }
}
