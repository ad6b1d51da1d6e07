// Admin console: the unread-reply email template, with a rendered preview and its errors.
import { api, el } from "./console.js";
import { field, outcome, report } from "./admin-forms.js";

export async function templatePane(ctx) {
  const template = await api("GET", "/admin/templates/unread-reply");
  const subject = el("input", { id: "tpl-subject", value: template.subject });
  const html = el("textarea", { id: "tpl-html", rows: 14, spellcheck: "false" }, template.html);
  const text = el("textarea", { id: "tpl-text", rows: 8, spellcheck: "false" }, template.text);
  const result = outcome();
  const shown = el("div", { class: "card", id: "tpl-preview", hidden: true });
  const sources = () => ({ subject: subject.value, html: html.value, text: text.value });
  const preview = async ({ quiet = false } = {}) => {
    try {
      const rendered = await api("POST", "/admin/templates/unread-reply/preview", sources());
      shown.replaceChildren(el("h2", {}, "Preview"), el("p", {}, el("strong", {}, "Subject: "), el("span", { id: "tpl-preview-subject" }, rendered.subject)),
        el("iframe", { class: "email", title: "HTML email preview", sandbox: "", srcdoc: rendered.html }), el("pre", { class: "text" }, rendered.text));
      shown.hidden = false;
      if (!quiet) report(result, null, "Rendered with sample data.");
    } catch (e) { shown.hidden = true; report(result, e); }
  };
  const form = el("form", { class: "card", id: "template-form" },
    el("p", { class: "muted" }, "Handlebars. Variables: {{tenant_name}}, {{visitor_name}}, {{operator_name}}, {{brand_color}}, {{resume_url}}, {{unsubscribe_url}}, {{#each replies}}{{this.body}}{{/each}}, {{#each earlier}}{{this.author}}: {{this.body}}{{/each}}."),
    field("Subject", subject), field("HTML body", html), field("Text body", text), result,
    el("div", { class: "row" },
      el("button", { class: "button button--quiet", type: "button", id: "tpl-preview-button", onclick: () => preview() }, "Preview"),
      el("button", { class: "button", type: "submit" }, "Save template"),
      template.custom ? el("button", { class: "button button--quiet", type: "button", onclick: async () => {
        if (!confirm("Go back to Tandem's default email?")) return;
        await api("DELETE", "/admin/templates/unread-reply"); ctx.reload();
      } }, "Reset to default") : el("span", { class: "muted" }, "(Tandem's default)")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try { await api("PUT", "/admin/templates/unread-reply", sources()); report(result, null, "Saved: the next emails use it."); await preview({ quiet: true }); } catch (e) { report(result, e); }
  });
  return [el("h1", {}, "Unread-reply email"), form, shown];
}
