// Channel router, in JavaScript: the twin of plugins/examples/channel-router, answering alike.
// The team's chat (the first webhook URL the tenant admin allowed) hears what it should, beside
// Tandem's own paths:
// - every batch of unread replies goes to the visitor by email, as usual, and is posted to the
//   team's chat, so the team sees which visitors are waiting on a reply they have not read;
// - an alert for the operators (an offline request, a long wait) goes to them as usual and to
//   the team's chat;
// - a closed dialog is summed up in the team's chat, with its rating.

import { AlertRoute, Delivery, definePlugin, webhook } from "./tandem-plugin.js";

export const hooks = definePlugin({
  name: "channel-router",
  version: "0.2.0",
  hooks: {
    routeNotification(ctx, messages, email) {
      const url = ctx.tenant.webhookUrls[0];
      if (url === undefined) {
        return [Delivery.email(), Delivery.skip("no webhook URL is allowed in the settings")];
      }
      const count = messages.length;
      const text =
        `${who(ctx)} has not read ${count} repl${count === 1 ? "y" : "ies"} in chat ` +
        `${ctx.chatId}; they are being emailed "${email.subject}".`;
      return [Delivery.email(), Delivery.webhook(url, { text, chat_id: ctx.chatId, unread: count })];
    },

    operatorAlert(ctx, alert) {
      const url = ctx.tenant.webhookUrls[0];
      if (url === undefined) return undefined;
      const what =
        alert.kind.tag === "long-wait"
          ? `has waited ${alert.kind.val} minutes for an answer`
          : "left an offline request";
      const text = `${who(ctx)} ${what}: "${alert.preview}" ${alert.workspaceUrl}`;
      return [AlertRoute.operators(), AlertRoute.webhook(url, { text, chat_id: ctx.chatId })];
    },

    chatClosed(ctx, chat) {
      const url = ctx.tenant.webhookUrls[0];
      if (url === undefined) return undefined;
      const rating =
        chat.rating === undefined ? "not rated" : chat.rating.good ? "rated good" : "rated bad";
      const text = `${chat.closedBy} closed chat ${ctx.chatId} after ${chat.messages} messages (${rating}).`;
      return [webhook(url, { text, chat_id: ctx.chatId, messages: chat.messages })];
    },
  },
});

function who(ctx) {
  return ctx.visitor.name ?? "A visitor";
}
