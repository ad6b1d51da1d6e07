// What the operator workspace and the admin console share: calling the API with the session
// cookie, building DOM without innerHTML (every text from the API is user input), the login
// screen, and how times are shown.

import { request } from "./shared.js";

export { ApiError } from "./shared.js";

export function api(method, path, body, { raw = false, contentType } = {}) {
  return request(`/api/v1${path}`, { method, body, raw, contentType, credentials: "same-origin" });
}

/// el("button", {class: "x", onclick: f}, "text", child…): attributes, properties and listeners.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

export function clock(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  const today = new Date().toDateString() === at.toDateString();
  return today
    ? at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : at.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

export function since(iso) {
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "< 1 min";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d`;
}

/// Resolves with the signed-in operator (from the session cookie), showing the login form first
/// when there is none. The tenant's slug is remembered for the next login on this browser.
export async function signIn(root, title) {
  try { return await api("GET", "/auth/me"); } catch (e) { if (e.status !== 401) throw e; }
  return new Promise((resolve) => {
    const error = el("p", { class: "error", role: "alert" });
    const tenant = el("input", { name: "tenant", id: "login-tenant", required: true, autocomplete: "organization", value: localStorage.getItem("tandem:tenant") || "" });
    const email = el("input", { name: "email", id: "login-email", type: "email", required: true, autocomplete: "username" });
    const password = el("input", { name: "password", id: "login-password", type: "password", required: true, autocomplete: "current-password" });
    const submit = el("button", { class: "button", type: "submit" }, "Log in");
    const form = el("form", { class: "login", "aria-labelledby": "login-title" },
      el("h1", { id: "login-title" }, title),
      el("div", { class: "field" }, el("label", { for: "login-tenant" }, "Company (tenant)"), tenant),
      el("div", { class: "field" }, el("label", { for: "login-email" }, "Email"), email),
      el("div", { class: "field" }, el("label", { for: "login-password" }, "Password"), password),
      error, submit);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      error.textContent = "";
      try {
        await api("POST", "/auth/login", { tenant: tenant.value.trim(), email: email.value.trim(), password: password.value });
        localStorage.setItem("tandem:tenant", tenant.value.trim());
        form.remove();
        resolve(await api("GET", "/auth/me"));
      } catch (e) {
        error.textContent = e.message;
        submit.disabled = false;
        password.select();
      }
    });
    root.replaceChildren(form);
    (tenant.value ? email : tenant).focus();
  });
}

export async function signOut() {
  await api("POST", "/auth/logout").catch(() => {});
  location.reload();
}

/// A socket that comes back after a failure, waiting 1 s, 2 s, 4 s… (at most 30 s, with jitter).
export function liveSocket(path, { onFrame, onOpen, onClose }) {
  let delay = 1000;
  let socket = null;
  let retry = null;
  const open = () => {
    socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1${path}`);
    socket.onopen = () => { delay = 1000; onOpen?.(); };
    socket.onmessage = (event) => { try { onFrame(JSON.parse(event.data)); } catch (e) { console.error(e); } };
    socket.onclose = () => {
      socket = null;
      onClose?.();
      retry = setTimeout(open, delay * (0.75 + Math.random() / 2));
      delay = Math.min(delay * 2, 30000);
    };
  };
  // Back online: try now rather than at the end of a long backoff.
  window.addEventListener("online", () => { if (!socket) { clearTimeout(retry); delay = 1000; open(); } });
  open();
  return { send: (frame) => socket?.readyState === WebSocket.OPEN && socket.send(JSON.stringify(frame)) };
}
