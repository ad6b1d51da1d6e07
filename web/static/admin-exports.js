// Admin console: the company's data exported as a JSON Lines archive — everything, or one
// visitor's (asked for from the workspace's visitor panel) — prepared in the background.
import { el } from "./console.js";
import { exportsView } from "./console-exports.js";

export async function exportsPane() {
  return [el("h1", {}, "Data export"),
    el("p", { class: "muted" }, "A gzipped JSON Lines file (.jsonl.gz): the settings, operators, plugins (their names and versions, not their code or settings), visitors and the pages they viewed, chats, ratings, messages with their earlier versions, operators' notes, files' names and sizes, and the delivery log. One visitor's export, asked for from their panel in the workspace, holds only what is about them. An export can be downloaded for 7 days; every request and download is in the audit trail."),
    ...await exportsView("/admin/exports")];
}
