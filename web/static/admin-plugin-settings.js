// Admin console: a plugin's settings, as a form built from the JSON Schema the plugin declared.
// The server checks every value against the schema; its refusals land next to their fields.
import { ApiError, api, el } from "./console.js";
import { outcome, report } from "./admin-forms.js";

/// The settings card of `plugin`; `saved` runs after a save the server accepted; `note`, when
/// given, is shown as the card's status (the outcome of the save before it was drawn again).
export function settingsCard(plugin, saved, note) {
  const schema = plugin.settings_schema || {};
  const required = new Set(schema.required || []);
  const inputs = Object.entries(schema.properties || {}).map(([key, property]) =>
    input(key, property, plugin.settings?.[key], required.has(key)));
  const status = outcome();
  if (note) report(status, null, note);
  const form = el("form", { class: "card", id: "plugin-settings", novalidate: true },
    el("h2", {}, `Settings of ${plugin.name}`),
    ...inputs.map((i) => i.node), status,
    el("div", {}, el("button", { class: "button", type: "submit" }, "Save settings")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const i of inputs) mark(i, "");
    // Values the form does not show (no longer in the schema, say) are kept as they are.
    const values = { ...(plugin.settings || {}) };
    for (const i of inputs) delete values[i.key];
    for (const i of inputs) {
      try {
        const value = i.read();
        if (value !== undefined) values[i.key] = value;
      } catch (e) { mark(i, e.message); }
    }
    const wrong = inputs.find((i) => i.node.querySelector("[aria-invalid=true]"));
    if (wrong) { report(status, new Error("Some settings need a look.")); wrong.focus(); return; }
    try {
      await api("PUT", `/admin/plugins/${plugin.id}/settings`, values);
      await saved();
    } catch (e) {
      // "settings: /opens: 30 is greater than the maximum of 23; /colour: …": each by its field.
      const problems = e.message.replace(/^settings: /, "").split("; ")
        .map((p) => p.match(/^\/([^/:]+)[^:]*: (.*)$/)).filter(Boolean);
      const marked = problems.map(([, key, text]) => {
        const target = inputs.find((i) => i.key === key);
        if (target) mark(target, text);
        return target;
      }).filter(Boolean);
      if (marked.length) {
        report(status, new Error("The server refused these settings; each problem is shown by its field."));
        marked[0].focus();
      } else report(status, e instanceof ApiError ? e : new Error(e.message));
    }
  });
  return form;
}

function mark(i, text) {
  i.control.toggleAttribute("aria-invalid", Boolean(text));
  if (text) i.control.setAttribute("aria-invalid", "true");
  i.problem.textContent = text;
  i.problem.hidden = !text;
}

/// One setting: its control, how to read it back, and where its problem shows.
function input(key, property, value, required) {
  const id = `setting-${key}`;
  const label = property.title || key;
  const problemId = `${id}-problem`;
  const problem = el("small", { class: "error", id: problemId, hidden: true });
  const hint = property.description ? el("small", {}, property.description) : null;
  const described = { "aria-describedby": problemId };
  let control;
  let read;
  const choices = property.enum || (property.type === "array" && property.items?.enum);
  if (property.type === "boolean") {
    control = el("input", { id, type: "checkbox", checked: Boolean(value ?? property.default), ...described });
    read = () => control.checked;
  } else if (property.type === "array" && choices) {
    // Choices are told apart by their place, so numbers stay numbers.
    const chosen = (value ?? property.default ?? []).map((v) => JSON.stringify(v));
    const boxes = choices.map((choice, index) => el("label", { class: "row" },
      el("input", { type: "checkbox", value: String(index), checked: chosen.includes(JSON.stringify(choice)) }), String(choice)));
    control = el("div", { id, class: "row", role: "group", "aria-label": label, tabindex: "-1", ...described }, boxes);
    read = () => boxes.map((b) => b.firstChild).filter((b) => b.checked).map((b) => choices[Number(b.value)]);
  } else if (choices) {
    const current = JSON.stringify(value ?? property.default);
    control = el("select", { id, ...described },
      el("option", { value: "" }, required ? "Choose…" : "(none)"),
      ...choices.map((choice, index) => el("option", { value: String(index), selected: JSON.stringify(choice) === current }, String(choice))));
    read = () => {
      if (control.value === "") { if (required) throw new Error("Choose one."); return undefined; }
      return choices[Number(control.value)];
    };
  } else if (property.type === "integer" || property.type === "number") {
    control = el("input", { id, type: "number", step: property.type === "integer" ? "1" : "any", min: property.minimum, max: property.maximum, value: value ?? "", required, ...described });
    read = () => {
      if (control.value === "") { if (required) throw new Error("Enter a number."); return undefined; }
      const number = Number(control.value);
      if (!Number.isFinite(number) || (property.type === "integer" && !Number.isInteger(number))) throw new Error("Enter a whole number.");
      return number;
    };
  } else if (property.type === "string") {
    const long = (property.maxLength || 0) > 254;
    control = el(long ? "textarea" : "input", { id, maxLength: property.maxLength, required, ...described });
    control.value = value ?? "";
    // An optional text left empty is left out, not saved as "".
    read = () => (control.value === "" && !required ? undefined : control.value);
  } else {
    // Anything richer is edited as JSON.
    control = el("textarea", { id, class: "mono", ...described });
    control.value = value === undefined ? "" : JSON.stringify(value, null, 2);
    read = () => {
      if (!control.value.trim()) return undefined;
      try { return JSON.parse(control.value); } catch { throw new Error("This must be JSON."); }
    };
  }
  const node = el("div", { class: "field", dataset: { setting: key } }, el("label", { for: id }, label), control, hint, problem);
  return { key, node, control, problem, read, focus: () => control.focus() };
}
