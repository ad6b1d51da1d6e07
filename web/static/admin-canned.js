// Admin console: the company's canned replies, which operators insert with `/shortcut`.
import { api, el } from "./console.js";
import { field, outcome, report } from "./admin-forms.js";

const HINT = "{name} is the visitor's name (\"there\" when it is not known; {name|friend} picks another word), {operator} the operator's.";

export async function cannedPane(ctx) {
  const { canned_replies: replies } = await api("GET", "/canned-replies");
  const result = outcome();
  const rows = replies.map((reply) => {
    const shortcut = el("input", { value: reply.shortcut, maxlength: "33", "aria-label": `Shortcut of /${reply.shortcut}` });
    const body = el("textarea", { rows: "3", "aria-label": `Text of /${reply.shortcut}` });
    body.value = reply.body;
    const save = el("button", { class: "button button--quiet", type: "button", onclick: async () => {
      try {
        const saved = await api("PUT", `/admin/canned-replies/${reply.id}`, { shortcut: shortcut.value, body: body.value });
        shortcut.value = saved.shortcut;
        report(result, null, `/${saved.shortcut} saved.`);
      } catch (e) { report(result, e); }
    } }, "Save");
    const remove = el("button", { class: "button button--danger", type: "button", onclick: async () => {
      if (!confirm(`Delete /${reply.shortcut}?`)) return;
      try { await api("DELETE", `/admin/canned-replies/${reply.id}`); ctx.reload(); } catch (e) { report(result, e); }
    } }, "Delete");
    return el("tr", { dataset: { shortcut: reply.shortcut } }, el("td", {}, shortcut), el("td", { class: "wide" }, body), el("td", {}, el("div", { class: "row" }, save, remove)));
  });
  const shortcut = el("input", { id: "new-shortcut", required: true, maxlength: "33", placeholder: "hello" });
  const body = el("textarea", { id: "new-canned-body", required: true, rows: "3", placeholder: "Hi {name}, thanks for writing! I'm {operator} and I'll help you." });
  const added = outcome();
  const form = el("form", { class: "card", id: "new-canned" }, el("h2", {}, "Add a canned reply"),
    field("Shortcut", shortcut, "Letters a-z, digits and '-'; operators type it after / in the reply box."),
    field("Text", body, HINT), added,
    el("div", {}, el("button", { class: "button", type: "submit" }, "Add canned reply")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const saved = await api("POST", "/admin/canned-replies", { shortcut: shortcut.value, body: body.value });
      await ctx.reload();
      report(document.querySelector("#new-canned [role=status]"), null, `/${saved.shortcut} added.`);
    } catch (e) { report(added, e); }
  });
  const table = replies.length
    ? el("table", { id: "canned-replies" }, el("thead", {}, el("tr", {}, ...["Shortcut", "Text", ""].map((h) => el("th", {}, h)))), el("tbody", {}, rows))
    : el("p", { class: "muted", id: "canned-replies" }, "No canned replies yet.");
  return [el("h1", {}, "Canned replies"), el("p", { class: "muted" }, `Operators type / and the shortcut in the reply box to insert one. ${HINT}`), table, result, form];
}
