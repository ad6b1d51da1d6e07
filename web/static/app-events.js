// What the operator socket says, applied to the lists and the open dialog.
import { alertOperator, dismissAlerts, onAlert } from "./app-alerts.js";
import { renderEntry, renderHead, upsert } from "./app-dialog.js";
import { renderNote } from "./app-notes.js";
import { showContext } from "./app-context.js";
import { renderLists } from "./app-lists.js";
import { chatFromSocket, chatTouched, state, ui, visitorName } from "./app-state.js";

let typingTimer = null;

// As the server cuts a preview: 160 characters, and an ellipsis when there were more.
function lastMessage(message) {
  const chars = [...message.body];
  const preview = chars.length > 160 ? `${chars.slice(0, 160).join("")}…` : message.body;
  return { seq: message.seq, author: message.author, preview };
}

export function onFrame(frame) {
  switch (frame.type) {
    case "chat.updated": {
      const before = state.chats.get(frame.chat.id);
      chatFromSocket(frame.chat);
      if (frame.chat.category === "waiting" && before?.category !== "waiting") alertOperator(`${visitorName(frame.chat)} is waiting for a reply`, frame.chat.id);
      // Answered or closed by anyone: its alert needs nobody any more.
      if (!frame.chat.unanswered || frame.chat.state === "closed") dismissAlerts(frame.chat.id);
      renderLists();
      if (frame.chat.id === state.selected) {
        renderHead();
        // Gone from the site: no page is theirs now.
        if (state.context && state.context.online !== frame.chat.visitor_online) {
          showContext({ ...state.context, online: frame.chat.visitor_online, current_page: null });
        }
      }
      break;
    }
    case "message.created":
    case "message.updated": {
      upsert(frame.message);
      const chat = state.chats.get(frame.message.chat_id);
      // A chat the server sent with this message already in it (a new or reopened chat's
      // chat.updated comes first) has counted it.
      const newer = chat && (!chat.last_message || frame.message.seq > chat.last_message.seq);
      if (newer && frame.type === "message.created") {
        chatTouched(chat.id);
        chat.last_message_at = frame.message.created_at;
        chat.last_message = lastMessage(frame.message);
        // Counted here until a read says otherwise; the open dialog is read as it arrives.
        const seen = frame.message.chat_id === state.selected && document.visibilityState === "visible";
        if (frame.message.author === "visitor" && !seen) chat.unread = (chat.unread || 0) + 1;
        if (frame.message.author === "visitor" && chat.operator_id && chat.operator_id === state.me.id && frame.message.chat_id !== state.selected) alertOperator(`${visitorName(chat)}: ${frame.message.body.slice(0, 80)}`, chat.id);
        renderLists();
      }
      if (chat && frame.type === "message.updated" && chat.last_message?.seq === frame.message.seq) {
        chatTouched(chat.id);
        chat.last_message = lastMessage(frame.message);
        renderLists();
      }
      if (frame.message.chat_id === state.selected && frame.message.author === "visitor") ui.typing.textContent = "";
      break;
    }
    case "note.added":
      renderNote(frame.note);
      break;
    case "visitor.context":
      if (frame.chat_id === state.selected) showContext(frame.context);
      break;
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
    case "operator.status": {
      const operator = state.operators.get(frame.user_id);
      if (operator) operator.status = frame.status;
      // Changed in another tab or device, or by an admin: the menu says what is true.
      if (frame.user_id === state.me.id) {
        state.me.status = frame.status;
        const menu = document.querySelector("#my-status");
        if (menu && menu.value !== frame.status) menu.value = frame.status;
      }
      break;
    }
    case "operator.alert":
      onAlert(frame.alert);
      break;
    default:
      break;
  }
}
