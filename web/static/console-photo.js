// An operator's photo, as the workspace and the admin console show and change it: the photo
// (or the initials visitors see instead), a button to choose an image, one to remove it.
import { api, el } from "./console.js";
import { initialsOf } from "./shared.js";

// The photo or the initials, as visitors see them beside this operator's replies.
export function avatarOf(op, size = 32) {
  if (op.avatar) {
    const img = el("img", { class: "avatar", alt: "", src: `/api/v1/operators/${encodeURIComponent(op.id)}/avatars/${encodeURIComponent(op.avatar)}` });
    img.style.width = img.style.height = `${size}px`;
    return img;
  }
  const { letters, color } = initialsOf(op);
  const badge = el("span", { class: "avatar avatar--initials", "aria-hidden": "true" }, letters);
  badge.style.background = color;
  badge.style.width = badge.style.height = `${size}px`;
  return badge;
}

// Choose / Remove for `op`'s photo; `changed(op)` gets the operator as the server now has them.
// `report(error, text)` says how it went. `compact`: short labels, for a table's row.
export function photoControl(op, changed, report, { compact = false } = {}) {
  const label = op.name;
  const input = el("input", { type: "file", accept: "image/png,image/jpeg,image/gif,image/webp", hidden: true, "aria-label": `Photo of ${label}` });
  const words = compact ? [op.avatar ? "Change" : "Add photo", "Remove"] : [op.avatar ? "Change photo" : "Add photo", "Remove photo"];
  // The spoken name starts with the visible words (and says whose photo).
  const choose = el("button", { class: "button button--quiet photo-choose", type: "button", dataset: { photoOf: op.id }, "aria-label": `${words[0]} (${label})`, onclick: () => input.click() }, words[0]);
  const remove = el("button", { class: "button button--quiet photo-remove", type: "button", hidden: !op.avatar, "aria-label": `${words[1]} (${label})`, onclick: async () => {
    try { done(await api("DELETE", `/operators/${encodeURIComponent(op.id)}/avatar`)); report(null, `${label}: photo removed; visitors see the initials.`); } catch (e) { report(e); }
  } }, words[1]);
  // The caller draws the controls anew: the focus goes back to the new ones.
  const done = (updated) => { changed(updated); document.querySelector(`.photo-choose[data-photo-of="${CSS.escape(op.id)}"]`)?.focus(); };
  input.addEventListener("change", async () => {
    const file = input.files[0];
    input.value = "";
    if (!file) return;
    choose.disabled = true;
    try {
      done(await api("PUT", `/operators/${encodeURIComponent(op.id)}/avatar`, file, { raw: true, contentType: file.type || "application/octet-stream" }));
      report(null, `${label}: photo saved. Visitors see it beside the replies.`);
    } catch (e) { report(e); } finally { choose.disabled = false; }
  });
  return el("span", { class: `photo-control${compact ? " photo-control--compact" : ""}` }, input, choose, remove);
}
