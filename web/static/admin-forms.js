// The admin console's form pieces: a labelled field, a status line and what it reports.
import { el } from "./console.js";

export const field = (label, input, hint) => el("div", { class: "field" }, el("label", { for: input.id }, label), input, hint ? el("small", {}, hint) : null);

/// The non-empty lines of a textarea (lists of origins and URLs).
export const lines = (text) => text.split("\n").map((l) => l.trim()).filter(Boolean);

/// A status line a screen reader announces.
export function outcome() { return el("p", { role: "status", "aria-live": "polite" }); }

export function report(target, error, okText) {
  target.className = error ? "error" : "ok";
  target.textContent = error ? error.message : okText;
}
