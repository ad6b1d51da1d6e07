// The hosted, full-page chat that the link in an unread-reply email opens: it restores the
// visitor's dialog on this device (the resume token becomes a visitor token kept in
// localStorage), shows the whole history, and continues the chat live over the widget socket.

const key = decodeURIComponent(location.pathname.split("/")[2] || "");
const api = `/api/v1/widget/${encodeURIComponent(key)}`;
const storageKey = `tandem:${key}:visitor_token`;
const texts = {
  en: { send: "Send", label: "Your message", online: "Connected", offline: "Reconnecting…", invalid: "This link has expired. Write to us again from the website.", you: "You", read: "Seen", emailed: "Sent to your email", failed: "Not sent — try again." },
  ru: { send: "Отправить", label: "Ваше сообщение", online: "На связи", offline: "Переподключение…", invalid: "Срок действия ссылки истёк. Напишите нам снова с сайта.", you: "Вы", read: "Прочитано", emailed: "Отправлено на почту", failed: "Не отправлено — попробуйте ещё раз." },
};
let t = texts.en;
let token = localStorage.getItem(storageKey);
const shown = new Map(); // message id -> element
const $ = (id) => document.getElementById(id);

async function call(method, path, body) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(api + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  if (!response.ok) throw Object.assign(new Error(`${response.status}`), { status: response.status });
  return response.status === 204 ? null : response.json();
}

function render(message) {
  let item = shown.get(message.id);
  if (!item) {
    item = document.createElement("li");
    shown.set(message.id, item);
    $("messages").append(item);
  }
  item.className = `msg msg--${message.author}`;
  item.textContent = message.body;
  const meta = document.createElement("span");
  meta.className = "msg__meta";
  const time = new Date(message.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const notes = [time];
  if (message.author === "visitor" && message.read_by_operator_at) notes.push(t.read);
  if (message.emailed_at) notes.push(t.emailed);
  meta.textContent = notes.join(" · ");
  item.append(meta);
  item.dataset.author = message.author;
  $("messages").scrollTop = $("messages").scrollHeight;
}

let newestOperatorMessage = null;
function markRead() {
  if (newestOperatorMessage && document.visibilityState === "visible") {
    call("POST", "/chat/read", { up_to: newestOperatorMessage }).catch(() => {});
    newestOperatorMessage = null;
  }
}

function remember(message) {
  render(message);
  if (message.author !== "visitor" && !message.read_by_visitor_at) newestOperatorMessage = message.id;
}

let delay = 1000;
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}${api}/ws?visitor_token=${encodeURIComponent(token)}`);
  socket.onopen = () => { delay = 1000; $("status").textContent = t.online; reload(); };
  socket.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "message.created" || frame.type === "message.updated") { remember(frame.message); markRead(); }
  };
  socket.onclose = () => {
    $("status").textContent = t.offline;
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 30000);
  };
}

async function reload() {
  const dialog = await call("GET", "/chat");
  dialog.messages.forEach(remember);
  markRead();
}

async function start() {
  const params = new URLSearchParams(location.search);
  const config = await call("GET", "/config");
  t = texts[config.branding.language] || texts.en;
  document.documentElement.lang = config.branding.language;
  document.documentElement.style.setProperty("--brand", config.branding.color);
  document.title = `${config.branding.title} — ${config.tenant.name}`;
  $("title").textContent = config.branding.title;
  if (config.branding.logo_url) { $("logo").src = config.branding.logo_url; $("logo").hidden = false; }
  $("send").textContent = t.send;
  $("body-label").textContent = t.label;
  const resume = params.get("resume_token");
  try {
    const session = await call("POST", "/session", resume ? { resume_token: resume } : token ? { visitor_token: token } : {});
    token = session.visitor_token;
    localStorage.setItem(storageKey, token);
    if (resume) history.replaceState(null, "", location.pathname);
  } catch (error) {
    if (error.status === 401) { $("status").textContent = t.invalid; $("composer").hidden = true; return; }
    throw error;
  }
  await reload();
  connect();
}

// One client id per message typed: a retry after a failure the server did not report resends
// the same id, and the server answers with the message it already has.
let pendingClientId = null;
$("body").addEventListener("input", () => { pendingClientId = null; });
$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = $("body").value.trim();
  if (!body) return;
  $("send").disabled = true;
  pendingClientId = pendingClientId || crypto.randomUUID();
  try {
    const message = await call("POST", "/chat/messages", { body, client_id: pendingClientId });
    render(message);
    $("body").value = "";
    pendingClientId = null;
  } catch {
    $("status").textContent = t.failed;
  } finally {
    $("send").disabled = false;
    $("body").focus();
  }
});
$("body").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("composer").requestSubmit(); }
});
document.addEventListener("visibilitychange", markRead);
start().catch(() => { $("status").textContent = t.failed; });
