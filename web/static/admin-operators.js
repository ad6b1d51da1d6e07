// Admin console: the tenant's operators — add, photo, role, capacity, deactivate and reactivate.
import { $, api, el } from "./console.js";
import { field, outcome, report } from "./admin-forms.js";
import { avatarOf, photoControl } from "./console-photo.js";

export async function operatorsPane(ctx) {
  const { operators } = await api("GET", "/admin/operators");
  const result = outcome();
  const rows = operators.map((op) => {
    const role = el("select", { "aria-label": `Role of ${op.name}` }, ...["operator", "admin"].map((r) => el("option", { value: r, selected: op.role === r }, r)));
    const capacity = el("input", { type: "number", min: "1", max: "100", value: String(op.capacity), "aria-label": `Capacity of ${op.name}` });
    const save = el("button", { class: "button button--quiet", type: "button", onclick: async () => {
      try { await api("PATCH", `/admin/operators/${op.id}`, { role: role.value, capacity: Number(capacity.value) }); report(result, null, `${op.name} saved.`); } catch (e) { report(result, e); }
    } }, "Save");
    const toggle = el("button", { class: `button ${op.active ? "button--danger deactivate" : "button--quiet reactivate"}`, type: "button", onclick: async () => {
      try {
        if (op.active) await api("DELETE", `/admin/operators/${op.id}`); else await api("PATCH", `/admin/operators/${op.id}`, { active: true });
        ctx.reload();
      } catch (e) { report(result, e); }
    } }, op.active ? "Deactivate" : "Reactivate");
    // The photo visitors see beside this operator's replies (their initials without one).
    const photo = el("td", { class: "photo" });
    const drawPhoto = (current) => photo.replaceChildren(el("span", { class: "photo-cell" }, avatarOf(current), photoControl(current, drawPhoto, (e, text) => report(result, e, text), { compact: true })));
    drawPhoto(op);
    return el("tr", { dataset: { operator: op.email } }, photo, el("td", {}, op.name), el("td", {}, op.email), el("td", {}, role), el("td", {}, capacity),
      el("td", {}, op.status), el("td", {}, op.active ? "active" : "deactivated"), el("td", { class: "row" }, save, toggle));
  });
  const name = el("input", { id: "new-name", required: true, maxlength: "200" });
  const email = el("input", { id: "new-email", type: "email", required: true });
  const role = el("select", { id: "new-role" }, el("option", { value: "operator" }, "operator"), el("option", { value: "admin" }, "admin"));
  const capacity = el("input", { id: "new-capacity", type: "number", min: "1", max: "100", value: "5" });
  const password = el("input", { id: "new-password", type: "password", autocomplete: "new-password" });
  const created = outcome();
  const form = el("form", { class: "card", id: "new-operator" }, el("h2", {}, "Add an operator"),
    el("div", { class: "row" }, field("Name", name), field("Email", email), field("Role", role), field("Capacity (chats at once)", capacity)),
    field("Password", password, "Leave empty to have one generated and shown once."), created,
    el("div", {}, el("button", { class: "button", type: "submit" }, "Add operator")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const body = { name: name.value.trim(), email: email.value.trim(), role: role.value, capacity: Number(capacity.value) };
      if (password.value) body.password = password.value;
      const answer = await api("POST", "/admin/operators", body);
      await ctx.reload();
      const note = $("#new-operator [role=status]");
      report(note, null, answer.password ? `${answer.operator.name} added. Their password (shown only now): ${answer.password}` : `${answer.operator.name} added.`);
    } catch (e) { report(created, e); }
  });
  return [el("h1", {}, "Operators"), el("table", { id: "operators" },
    el("thead", {}, el("tr", {}, ...["Photo", "Name", "Email", "Role", "Capacity", "Status", "Account", ""].map((h) => el("th", {}, h)))), el("tbody", {}, rows)), result, form];
}
