// Tandem's visitor widget. One snippet on any site:
//   <script src="https://tandem.example/static/widget.js" data-key="WIDGET_KEY" async></script>
// It draws itself inside a shadow root (the page's CSS and ours never meet), keeps the visitor's
// token in localStorage, holds a WebSocket open while the page is open (that is what makes the
// visitor "on the site"), and never loses or doubles a message: every message carries a client
// id, unsent ones wait in localStorage and are sent again with the same id after a reconnect.
// The hosted page /c/{key} loads the same script with data-mode="page" (full page, no launcher).
(() => {
  "use strict";
  const script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  if (!script || window.__tandemWidget) return;
  window.__tandemWidget = true;

  const origin = new URL(script.src, location.href).origin;
  const pageMode = script.dataset.mode === "page";
  const key = script.dataset.key || (pageMode ? decodeURIComponent(location.pathname.split("/")[2] || "") : "");
  if (!key) { console.warn("tandem: the widget script needs data-key"); return; }
  const api = `${origin}/api/v1/widget/${encodeURIComponent(key)}`;

  const TEXTS = {
    en: {
      open: "Open chat", close: "Close chat", unread: (n) => `${n} unread`, send: "Send", yourMessage: "Your message",
      placeholder: "Write a message…", you: "You", operator: "Support", automatic: "Automatic reply", seen: "Seen", sending: "Sending…",
      notSent: "Not sent.", retry: "Retry", edit: "Edit", edited: "edited", save: "Save", cancel: "Cancel",
      emailed: "Also sent to your email", byEmail: "by email", typing: (who) => `${who} is typing…`, connected: "We reply here",
      reconnecting: "Reconnecting…", offlineIntro: "No one is online right now. Leave a message and we will answer by email — and here, when you come back.",
      name: "Name", email: "Email", message: "Message", submit: "Send message", details: "Your details", detailsSaved: "Saved",
      leaveEmail: "No one is online right now. Leave your email so our answer reaches you.",
      askEmail: "Get the answer by email if you leave.",
      expired: "This link has expired. Write to us again from the website.", unavailable: "Chat is not available right now.",
      error: "Something went wrong. Please try again.", chatWith: "Chat",
      continueOn: (site) => `Continue on ${site}`,
      requestSent: (email) => `Thank you! We will answer here and at ${email}. You can keep writing or edit your message.`,
      otherDialog: "This link opens a different conversation from the one on this device. Open it here instead?",
      older: "Earlier messages",
      openLinked: "Open the link's conversation", keepMine: "Keep this device's",
      ended: "The conversation has ended. Write again any time: it goes on here.",
      tooLong: (max) => `Too long: at most ${max} characters. Shorten it or send it in parts.`,
      attach: "Attach a file", dropHere: "Drop files here to send them", fileDeleted: "File deleted", delete: "Delete",
      save_file: "Download", openImage: "open full size", dismiss: "Dismiss", uploading: (p) => `Sending… ${p}%`,
      offline: "No connection. It is sent again when you are back online.", uploadFailed: "Not sent: the connection was lost.", serverDown: "The chat is not answering just now. Please try again in a minute.",
      errors: {
        file_too_large: "This file is too large", file_type_not_allowed: "Files of this type cannot be sent here.",
        file_disguised: "This file's content does not match its name, so it cannot be sent.", file_unreadable: "This image is damaged or too large to show.",
        too_many_files: "That is the most files you can send today. Try again tomorrow.", storage_full: "Files cannot be received just now.",
        files_off: "Files cannot be sent in this chat.", file_empty: "This file is empty.", files_unavailable: "Files cannot be sent just now. Try again in a minute.",
        rate_limited: "Too many messages at once. Wait a moment and try again.", tenant_suspended: "Chat is not available right now.",
        invalid_input: "This message cannot be sent as it is.",
      },
      atMost: (size) => `at most ${size}.`,
      required: "Please fill this in.", badEmail: "Check the email address: it should look like name@example.com.",
      badName: "Check the name: at most 200 characters, no special characters.", badMessage: "Check the message: it cannot be empty or too long.",
      checkField: "Check this field.", unreachable: "We could not reach the chat. Check your connection and try again.",
      online: "Online now", away: "Away — we answer by email",
      replies: (secs) => {
        if (secs < 60) return "Typically replies in under a minute";
        if (secs < 3600) { const m = Math.round(secs / 60); return `Typically replies in ${m} minute${m === 1 ? "" : "s"}`; }
        if (secs < 86400) { const h = Math.round(secs / 3600); return `Typically replies in about ${h} hour${h === 1 ? "" : "s"}`; }
        return "Typically replies within a day";
      },
      team: "Our team",
      newMessage: "New message", soundOn: "Sound on for new replies", soundOff: "Sound off for new replies",
    },
    ru: {
      open: "Открыть чат", close: "Закрыть чат", unread: (n) => `Непрочитанных: ${n}`, send: "Отправить", yourMessage: "Ваше сообщение",
      placeholder: "Напишите сообщение…", you: "Вы", operator: "Поддержка", automatic: "Автоматический ответ", seen: "Прочитано", sending: "Отправка…",
      notSent: "Не отправлено.", retry: "Повторить", edit: "Изменить", edited: "изменено", save: "Сохранить", cancel: "Отмена",
      emailed: "Отправлено и на вашу почту", byEmail: "по почте", typing: (who) => `${who} печатает…`, connected: "Мы ответим здесь",
      reconnecting: "Переподключение…", offlineIntro: "Сейчас никого нет на месте. Оставьте сообщение — мы ответим на почту и здесь, когда вы вернётесь.",
      name: "Имя", email: "Эл. почта", message: "Сообщение", submit: "Отправить сообщение", details: "Ваши данные", detailsSaved: "Сохранено",
      leaveEmail: "Сейчас никого нет на месте. Оставьте почту, чтобы получить наш ответ.",
      askEmail: "Получите ответ на почту, если уйдёте.",
      expired: "Срок действия ссылки истёк. Напишите нам снова с сайта.", unavailable: "Чат сейчас недоступен.",
      error: "Что-то пошло не так. Попробуйте ещё раз.", chatWith: "Чат",
      continueOn: (site) => `Продолжить на ${site}`,
      requestSent: (email) => `Спасибо! Мы ответим здесь и на ${email}. Можно дописать или изменить сообщение.`,
      otherDialog: "Эта ссылка открывает другой разговор, не тот, что на этом устройстве. Открыть его вместо текущего?",
      older: "Ранние сообщения",
      openLinked: "Открыть разговор по ссылке", keepMine: "Оставить текущий",
      ended: "Разговор завершён. Напишите снова в любое время — он продолжится здесь.",
      tooLong: (max) => `Слишком длинно: не больше ${max} символов. Сократите или отправьте частями.`,
      attach: "Прикрепить файл", dropHere: "Отпустите файлы, чтобы отправить", fileDeleted: "Файл удалён", delete: "Удалить",
      save_file: "Скачать", openImage: "открыть целиком", dismiss: "Убрать", uploading: (p) => `Отправка… ${p}%`,
      offline: "Нет соединения. Отправим снова, когда связь вернётся.", uploadFailed: "Не отправлено: связь прервалась.", serverDown: "Чат сейчас не отвечает. Попробуйте через минуту.",
      errors: {
        file_too_large: "Файл слишком большой", file_type_not_allowed: "Файлы такого типа сюда отправить нельзя.",
        file_disguised: "Содержимое файла не совпадает с его названием, поэтому его нельзя отправить.", file_unreadable: "Изображение повреждено или слишком велико.",
        too_many_files: "Сегодня больше файлов отправить нельзя. Попробуйте завтра.", storage_full: "Сейчас файлы не принимаются.",
        files_off: "В этом чате нельзя отправлять файлы.", file_empty: "Файл пустой.", files_unavailable: "Сейчас файлы не отправляются. Попробуйте через минуту.",
        rate_limited: "Слишком много сообщений сразу. Подождите немного и попробуйте снова.", tenant_suspended: "Чат сейчас недоступен.",
        invalid_input: "Это сообщение нельзя отправить в таком виде.",
      },
      atMost: (size) => `не больше ${size}.`,
      required: "Заполните это поле.", badEmail: "Проверьте адрес почты: он должен выглядеть как name@example.com.",
      badName: "Проверьте имя: не больше 200 символов, без специальных знаков.", badMessage: "Проверьте сообщение: оно не может быть пустым или слишком длинным.",
      checkField: "Проверьте это поле.", unreachable: "Не удалось связаться с чатом. Проверьте соединение и попробуйте ещё раз.",
      online: "Сейчас на связи", away: "Нет на месте — ответим на почту",
      replies: (secs) => {
        const forms = (n, one, few, many) => ({ one, few, many })[new Intl.PluralRules("ru").select(n)] || many;
        if (secs < 60) return "Обычно отвечаем меньше чем за минуту";
        if (secs < 3600) { const m = Math.round(secs / 60); return `Обычно отвечаем за ${m} ${forms(m, "минуту", "минуты", "минут")}`; }
        if (secs < 86400) { const h = Math.round(secs / 3600); return `Обычно отвечаем примерно за ${h} ${forms(h, "час", "часа", "часов")}`; }
        return "Обычно отвечаем в течение дня";
      },
      team: "Наша команда",
      newMessage: "Новое сообщение", soundOn: "Звук новых ответов включён", soundOff: "Звук новых ответов выключен",
    },
  };
  let t = TEXTS.en;

  // ---- storage (a page may forbid it: the widget then works for this page view only) ----
  const store = {
    get(name) { try { return localStorage.getItem(`tandem:${key}:${name}`); } catch { return null; } },
    set(name, value) { try { localStorage.setItem(`tandem:${key}:${name}`, value); } catch { /* private mode */ } },
    drop(name) { try { localStorage.removeItem(`tandem:${key}:${name}`); } catch { /* private mode */ } },
  };

  /* shared.js */

  const state = {
    config: null, token: store.get("visitor_token"), chat: null, visitorId: null,
    messages: new Map(), operators: new Map(), outbox: new Map(), open: pageMode,
    available: true, socket: null, connected: false, retryDelay: 1000, retryTimer: null, editing: null,
  };
  try { for (const item of JSON.parse(store.get("outbox") || "[]")) state.outbox.set(item.client_id, item); } catch { /* ignore */ }
  const saveOutbox = () => store.set("outbox", JSON.stringify([...state.outbox.values()].map(({ client_id, body }) => ({ client_id, body }))));

  function call(method, path, body) {
    const headers = state.token ? { authorization: `Bearer ${state.token}` } : {};
    return request(api + path, { method, body, headers });
  }

  // ---- DOM ----
  const host = document.createElement("div");
  host.id = "tandem-widget";
  host.hidden = true;
  const shadow = host.attachShadow({ mode: "open" });
  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name in node && typeof value !== "string") node[name] = value;
      else node.setAttribute(name, value);
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  };
  const style = el("link", { rel: "stylesheet", href: `${origin}/static/widget.css` });
  const ui = {};
  ui.root = el("div", { class: `root${pageMode ? " root--page" : ""}` });
  ui.badge = el("span", { class: "badge", hidden: true, "aria-hidden": "true" });
  ui.launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false", onclick: () => toggle() });
  ui.launcher.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';
  ui.launcher.append(ui.badge);
  ui.logo = el("img", { class: "logo", alt: "", hidden: true });
  ui.title = el("h2", { class: "title", id: "tandem-title" });
  ui.status = el("p", { class: "status", role: "status" });
  // Who answers (their photos or initials) and how fast they typically do.
  ui.team = el("div", { class: "team", hidden: true });
  ui.pace = el("p", { class: "pace", hidden: true });
  ui.close = el("button", { class: "close", type: "button", onclick: () => toggle(false) }, "×");
  ui.sound = el("button", { class: "sound", type: "button", "aria-pressed": "true", onclick: () => setSound(!soundOn()) });
  ui.handOver = el("button", { class: "link handover", type: "button", hidden: true, onclick: () => handOver() });
  ui.greeting = el("p", { class: "greeting" });
  ui.log = el("ol", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions text" });
  ui.older = el("button", { class: "link older", type: "button", hidden: true, onclick: () => loadOlder() });
  ui.typing = el("p", { class: "typing", "aria-live": "polite" });
  ui.ended = el("div", { class: "ended", hidden: true });
  ui.body = el("div", { class: "body" }, ui.greeting, ui.older, ui.log, ui.ended, ui.typing);
  ui.body.addEventListener("scroll", () => { if (ui.body.scrollTop < 40) loadOlder(); });
  ui.notice = el("p", { class: "notice", hidden: true, role: "alert" });
  ui.info = el("p", { class: "info", hidden: true, role: "status" });
  // Asked when a link would swap this device's conversation for someone else's.
  ui.choiceText = el("p", { id: "tandem-choice" });
  ui.openLinked = el("button", { class: "button", type: "button" });
  ui.keepMine = el("button", { class: "button button--quiet", type: "button" });
  ui.choice = el("div", { class: "choice", hidden: true, role: "alertdialog", "aria-labelledby": "tandem-choice" },
    ui.choiceText, el("div", { class: "choice-buttons" }, ui.openLinked, ui.keepMine));
  // No maxlength: a browser would cut a long paste silently; the counter refuses it instead.
  ui.input = el("textarea", { name: "body", rows: 1, id: "tandem-body", "aria-describedby": "tandem-limit" });
  ui.limit = el("p", { class: "limit", id: "tandem-limit", role: "status", hidden: true });
  ui.inputLabel = el("label", { class: "visually-hidden", for: "tandem-body" });
  ui.sendButton = el("button", { class: "button", type: "submit" });
  ui.fileInput = el("input", { type: "file", multiple: true, hidden: true, tabindex: "-1" });
  ui.attach = el("button", { class: "attach", type: "button", hidden: true, onclick: () => ui.fileInput.click() });
  ui.attach.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10z"/></svg>';
  ui.composer = el("form", { class: "composer", hidden: true }, ui.inputLabel, ui.attach, ui.fileInput, ui.input, ui.sendButton);
  ui.form = el("form", { class: "form offline-form", hidden: true, novalidate: true });
  ui.details = el("form", { class: "form details-form", hidden: true, novalidate: true });
  ui.panel = el("section", { class: "panel", role: pageMode ? "main" : "dialog", "aria-labelledby": "tandem-title", hidden: !pageMode },
    el("header", { class: "header" }, ui.logo, ui.team, el("div", { class: "heading" }, ui.title, ui.status, ui.pace), ui.sound, pageMode ? ui.handOver : ui.close),
    ui.body, ui.info, ui.notice, ui.choice, ui.details, ui.form, ui.limit, ui.composer);
  ui.root.append(...(pageMode ? [ui.panel] : [ui.panel, ui.launcher]));
  shadow.append(style, ui.root);

  // ---- branding and language ----
  function applyConfig(config) {
    state.config = config;
    const branding = config.branding;
    t = TEXTS[branding.language] || TEXTS.en;
    host.style.setProperty("--brand", branding.color);
    host.style.setProperty("--brand-text", readableOn(branding.color));
    ui.root.classList.toggle("root--left", branding.position === "left");
    ui.root.classList.toggle("root--right", branding.position !== "left");
    ui.root.lang = branding.language;
    ui.title.textContent = branding.title;
    ui.greeting.textContent = branding.greeting;
    ui.greeting.hidden = !branding.greeting;
    if (branding.logo_url) { ui.logo.src = branding.logo_url; ui.logo.referrerPolicy = "no-referrer"; ui.logo.hidden = false; } else ui.logo.hidden = true;
    ui.launcher.setAttribute("aria-label", t.open);
    ui.close.setAttribute("aria-label", t.close);
    setSound(soundOn());
    ui.inputLabel.textContent = t.yourMessage;
    ui.input.placeholder = t.placeholder;
    ui.sendButton.textContent = t.send;
    ui.older.textContent = t.older;
    ui.attach.setAttribute("aria-label", t.attach);
    ui.attach.title = t.attach;
    ui.attach.hidden = !config.files?.enabled;
    ui.panel.dataset.drop = t.dropHere;
    if (pageMode) document.title = `${branding.title} — ${config.tenant.name}`;
    if (pageMode && config.site_url) {
      let site = config.site_url;
      try { site = new URL(config.site_url).host; } catch { /* shown as given */ }
      ui.handOver.textContent = t.continueOn(site);
    }
    for (const op of config.team || []) state.operators.set(op.id, op);
    ui.team.setAttribute("aria-label", `${t.team}: ${(config.team || []).map((op) => op.name).join(", ")}`);
    ui.team.setAttribute("role", "img");
    ui.team.replaceChildren(...(config.team || []).map((op) => avatar(op)));
    ui.team.hidden = !config.team?.length;
    buildOfflineForm(config.offline_form.fields);
    state.maxChars = config.offline_form.fields.find((f) => f.name === "message")?.max_length || 10000;
    followAvailability(config);
  }

  // When the tenant's plugins decide whether the chat is offered (business hours), their answer
  // changes with the time of day: the widget asks again as the server says.
  function followAvailability(config) {
    state.available = config.operators_available;
    state.config.typical_reply = config.typical_reply;
    ui.formIntro.textContent = config.availability_message || t.offlineIntro;
    state.config.recheck_after_secs = config.recheck_after_secs;
    clearTimeout(state.recheckTimer);
    if (config.recheck_after_secs) state.recheckTimer = setTimeout(recheckAvailability, config.recheck_after_secs * 1000);
  }

  async function recheckAvailability() {
    try {
      followAvailability(await call("GET", "/config"));
      showMode();
    } catch {
      clearTimeout(state.recheckTimer);
      state.recheckTimer = setTimeout(recheckAvailability, 120 * 1000);
    }
  }

  // White or near-black text, whichever reads better on the brand colour.
  function readableOn(hex) {
    const n = parseInt(hex.slice(1), 16);
    const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.4 ? "#111" : "#fff";
  }

  function field(name, kind, label, required, maxLength, value = "") {
    const id = `tandem-${name}-${Math.random().toString(36).slice(2, 9)}`;
    const input = kind === "textarea" ? el("textarea", { id, name }) : el("input", { id, name, type: kind === "email" ? "email" : "text", autocomplete: kind === "email" ? "email" : "name" });
    input.required = required;
    if (maxLength) input.maxLength = maxLength;
    input.value = value;
    return el("div", { class: "field" }, el("label", { for: id }, label), input);
  }

  // The page the visitor is on, for the tenant's plugins: without its query and fragment,
  // which may carry the visitor's tokens or address, and left out if it is very long.
  function pageUrl() {
    const page = `${location.origin}${location.pathname}`;
    return /^https?:/.test(page) && page.length <= 2000 ? page : undefined;
  }

  // A form's wrong field is marked where it is — aria-invalid, the reason beside it in the
  // visitor's language, the focus on it — whether the browser or the server found it.
  function markField(form, name, message) {
    const input = form.elements[name];
    if (!input) return false;
    input.setAttribute("aria-invalid", "true");
    const box = input.closest(".field");
    let note = box.querySelector(".field__error");
    if (!note) {
      note = el("p", { class: "field__error", id: `${input.id}-error` });
      box.append(note);
      input.setAttribute("aria-describedby", note.id);
    }
    note.textContent = message;
    input.focus();
    return true;
  }

  function clearMarks(form) {
    for (const input of form.querySelectorAll("[aria-invalid]")) { input.removeAttribute("aria-invalid"); input.removeAttribute("aria-describedby"); }
    for (const note of form.querySelectorAll(".field__error")) note.remove();
  }

  // The first field the browser finds wrong, marked; false when all are right.
  function markInvalid(form) {
    const input = [...form.elements].find((i) => i.willValidate && !i.checkValidity());
    if (!input) return false;
    const v = input.validity;
    const reason = v.valueMissing ? t.required : v.typeMismatch && input.type === "email" ? t.badEmail : v.tooLong ? t.tooLong(input.maxLength) : t.checkField;
    return markField(form, input.name, reason);
  }

  // The server's refusal of a form: an `invalid_input` naming a field ("email: …") marks it;
  // anything else is said in the form's line. Never the server's English in another language.
  function refuseForm(form, line, e) {
    const name = e.code === "invalid_input" && /^([a-z_]+):/.exec(e.message || "")?.[1];
    const reasons = { email: t.badEmail, name: t.badName, message: t.badMessage };
    if (name && reasons[name] && markField(form, name, reasons[name])) return;
    line.textContent = e.status ? explain(e) : t.unreachable;
    line.hidden = false;
  }


  function buildOfflineForm(fields) {
    const error = el("p", { class: "error", role: "alert", hidden: true });
    const submit = el("button", { class: "button", type: "submit" }, t.submit);
    ui.formIntro = el("p", { class: "form__intro" }, t.offlineIntro);
    ui.form.replaceChildren(ui.formIntro,
      ...fields.map((f) => field(f.name, f.kind, t[f.name] || f.name, f.required, f.max_length)), error, submit);
    ui.form.onsubmit = async (event) => {
      event.preventDefault();
      const data = Object.fromEntries(new FormData(ui.form));
      clearMarks(ui.form);
      error.hidden = true;
      if (markInvalid(ui.form)) return;
      submit.disabled = true;
      try {
        await ensureSession();
        const created = await call("POST", "/offline-requests", { name: data.name.trim(), email: data.email.trim(), message: data.message, page_url: pageUrl() });
        state.chat = created.chat;
        upsert(created.message);
        ui.form.reset();
        error.hidden = true;
        showMode();
        showInfo(t.requestSent(created.chat.visitor.email || data.email.trim()));
        ui.input.focus();
      } catch (e) {
        refuseForm(ui.form, error, e);
      } finally { submit.disabled = false; }
    };
  }

  function buildDetailsForm() {
    const visitor = state.chat?.visitor || {};
    const note = el("p", { class: "error", role: "status" });
    const save = el("button", { class: "button", type: "submit" }, t.save);
    const cancel = el("button", { class: "button button--quiet", type: "button", onclick: () => { ui.details.hidden = true; } }, t.cancel);
    const intro = !state.available ? t.leaveEmail : visitor.email ? t.details : t.askEmail;
    ui.details.replaceChildren(el("p", { class: "form__intro" }, intro),
      field("name", "text", t.name, false, 200, visitor.name || ""), field("email", "email", t.email, true, 254, visitor.email || ""),
      note, el("div", { class: "editor__actions" }, cancel, save));
    ui.details.onsubmit = async (event) => {
      event.preventDefault();
      const data = Object.fromEntries(new FormData(ui.details));
      clearMarks(ui.details);
      note.textContent = "";
      if (markInvalid(ui.details)) return;
      try {
        await ensureSession();
        const body = { email: data.email.trim() };
        if (data.name.trim()) body.name = data.name.trim();
        await call("PUT", "/visitor", body);
        if (state.chat) state.chat.visitor = { ...state.chat.visitor, ...body };
        note.textContent = t.detailsSaved;
        setTimeout(() => { ui.details.hidden = true; showMode(); }, 600);
      } catch (e) { refuseForm(ui.details, note, e); }
    };
  }

  // The ordinary chat once there is one, or while operators are available; the offline form
  // for a first contact when nobody can answer.
  function showMode() {
    // A form the visitor has begun stays, even if an operator comes online meanwhile.
    const begun = !ui.form.hidden && [...ui.form.elements].some((input) => input.value);
    const chatting = Boolean(state.chat) || state.messages.size > 0 || state.outbox.size > 0 || (state.available && !begun);
    ui.form.hidden = chatting;
    ui.composer.hidden = !chatting;
    ui.log.hidden = !chatting;
    const noEmail = chatting && !(state.chat?.visitor?.email);
    // Nobody online: asked at once, on every visit. Someone online: asked once per device,
    // after the visitor's first message, so an answer reaches them if they leave.
    const wrote = state.outbox.size > 0 || [...state.messages.values()].some((m) => m.author === "visitor");
    const offline = noEmail && !state.available;
    const inline = noEmail && state.available && wrote && !store.get("email_asked");
    if ((offline || inline) && ui.details.hidden && !ui.details.dataset.dismissed) {
      buildDetailsForm();
      ui.details.hidden = false;
      ui.details.dataset.dismissed = "1";
      if (inline) store.set("email_asked", "1");
    }
    renderEnded();
    renderStatus();
  }

  // A conversation an operator closed says so, and its visitor may rate it (once per close).
  // Writing again reopens it.
  function renderEnded() {
    const chat = state.chat;
    const closed = chat?.state === "closed" && chat.closed_at;
    ui.ended.hidden = !closed;
    if (!closed) { delete ui.ended.dataset.shown; return; }
    const rated = chat.rating?.closed_at === chat.closed_at;
    const shown = `${chat.closed_at} ${rated ? chat.rating.rating : ""}`;
    if (ui.ended.dataset.shown === shown) return; // a comment being written stays
    ui.ended.dataset.shown = shown;
    // The rating just sent from the form: the focus goes to the thanks that take its place.
    const inForm = ui.ended.contains(shadow.activeElement);
    ui.ended.replaceChildren(el("p", { class: "ended__title", role: "status" }, t.ended));
    scrollDown();
    // The rating form and the transcript button are loaded when a conversation first ends.
    more().then((m) => {
      if (ui.ended.dataset.shown !== shown) return; // changed meanwhile
      ui.ended.append(...m.ending(widget(), rated, inForm));
      scrollDown();
    }, () => {});
  }

  // What the widget needs only now and then (the end of a conversation, the image viewer),
  // fetched once, the first time: a visitor who never gets there never downloads it.
  let moreLoading = null;
  function more() {
    moreLoading ??= import(`${origin}/static/widget-more.js`).catch((e) => { moreLoading = null; throw e; });
    return moreLoading;
  }

  // The widget's parts the seldom-needed module works with.
  function widget() {
    return { lang: language(), t, el, call, state, shadow, ui, showMode, reload, buildDetailsForm, fileUrl, saveFile, sizeText, showNotice };
  }

  // The hosted page hands the dialog over to the company's own site (another origin, another
  // storage): a short-lived resume token in the link lets the widget there pick it up.
  async function handOver() {
    try {
      const { url } = await call("POST", "/hand-over");
      location.assign(url);
    } catch (e) { showNotice(e.message || t.error); }
  }

  function renderStatus() {
    ui.handOver.hidden = !(pageMode && state.config?.site_url && state.chat);
    if (!state.connected && state.token) ui.status.textContent = t.reconnecting;
    else {
      // Where the answer goes, and whether someone is there to give it now.
      const parts = state.chat?.visitor?.email ? [t.connected] : [];
      parts.push(state.available ? t.online : t.away);
      ui.status.textContent = parts.join(" · ");
    }
    // How fast the team answers says something only while someone is there to answer.
    const typical = state.config?.typical_reply;
    ui.pace.hidden = !(state.available && typical);
    if (!ui.pace.hidden) ui.pace.textContent = t.replies(typical.seconds);
    if (state.chat?.visitor?.email && !ui.status.querySelector("button")) {
      ui.status.append(" · ", el("button", { class: "link", type: "button", onclick: () => { buildDetailsForm(); ui.details.hidden = false; ui.details.querySelector("input").focus(); } }, t.details));
    }
  }

  // ---- messages ----
  const items = new Map(); // message id or client id -> <li>
  const language = () => state.config?.branding.language || "en";
  const time = (iso) => new Date(iso).toLocaleTimeString(language(), { hour: "2-digit", minute: "2-digit" });

  function upsert(message) {
    const known = state.messages.get(message.id);
    state.messages.set(message.id, mergeMessage(known, message));
    if (message.client_id && (state.outbox.has(message.client_id) || uploads.has(message.client_id))) {
      if (state.outbox.delete(message.client_id)) saveOutbox();
      uploads.delete(message.client_id);
      items.get(message.client_id)?.remove();
      items.delete(message.client_id);
    }
    if (message.author === "operator" && message.operator_id && !state.operators.has(message.operator_id)) refreshSoon();
    const shown = state.messages.get(message.id);
    if (shown.deleted_at) forgetFile(message.attachment?.id || known?.attachment?.id);
    renderMessage(shown);
    afterChange();
  }

  function authorName(message) {
    if (message.author === "visitor") return t.you;
    if (message.author === "system") return t.automatic;
    return state.operators.get(message.operator_id)?.name || t.operator;
  }

  // An operator's photo, or their initials on a colour of their own when they have none (or it
  // cannot load: a host page's policy may forbid images from elsewhere).
  function avatar(op, size = "") {
    const initials = () => {
      const { letters, color } = initialsOf(op);
      const badge = el("span", { class: `avatar avatar--initials ${size}`, "aria-hidden": "true" }, letters);
      // Through the CSSOM: a hosted page's policy forbids inline style attributes.
      badge.style.background = color;
      return badge;
    };
    if (!op.avatar) return initials();
    const img = el("img", { class: `avatar ${size}`, alt: "", src: `${api}/operators/${encodeURIComponent(op.id)}/avatars/${encodeURIComponent(op.avatar)}` });
    img.addEventListener("error", () => img.replaceWith(initials()), { once: true });
    return img;
  }

  function renderMessage(message) {
    let item = items.get(message.id);
    const fresh = !item;
    if (fresh) { item = el("li"); items.set(message.id, item); }
    if (state.editing === message.id) return;
    // Unchanged messages are left alone: a screen reader announces only what is new.
    const signature = [message.body, message.channel, message.edited_at, message.read_by_operator_at, message.emailed_at, authorName(message), state.operators.get(message.operator_id)?.avatar, t.edit, message.deleted_at, message.attachment?.id].join("\u0000");
    if (item.dataset.signature === signature && item.firstChild) return;
    item.dataset.signature = signature;
    item.className = `msg msg--${message.author}`;
    item.dataset.id = message.id;
    item.dataset.seq = message.seq;
    const meta = el("div", { class: "meta" }, el("time", { datetime: message.created_at }, time(message.created_at)));
    if (message.edited_at) meta.append(el("span", { class: "edited" }, `· ${t.edited}`));
    if (message.channel === "email") meta.append(el("span", { class: "by-email" }, `· ${t.byEmail}`));
    if (message.author === "visitor" && !message.deleted_at) {
      if (message.read_by_operator_at) meta.append(el("span", { class: "seen" }, `· ${t.seen}`));
      // A file is deleted, never edited; a text is edited.
      if (message.attachment) meta.append(el("button", { class: "link delete", type: "button", onclick: () => deleteFile(message.id) }, t.delete));
      else meta.append(el("button", { class: "link edit", type: "button", onclick: () => startEdit(message.id) }, t.edit));
    } else if (message.emailed_at) meta.append(el("span", { class: "emailed" }, `· ${t.emailed}`));
    const name = authorName(message);
    const content = message.deleted_at ? el("div", { class: "bubble bubble--deleted" }, t.fileDeleted)
      : message.attachment ? fileBubble(message.attachment) : el("div", { class: "bubble" }, message.body);
    const op = message.author === "operator" && message.operator_id ? state.operators.get(message.operator_id) || { id: message.operator_id, name } : null;
    const author = message.author === "visitor" ? null : el("span", { class: "msg__author" }, op ? avatar(op, "avatar--small") : null, name);
    item.replaceChildren(...[author, content, meta].filter(Boolean));
    if (fresh) place(item, message.seq);
  }

  // Keeps the log in dialog order (a reload after a reconnect may bring earlier messages).
  function place(item, seq) {
    const after = [...ui.log.children].find((li) => li.dataset.seq && Number(li.dataset.seq) > seq);
    if (after) ui.log.insertBefore(item, after);
    else { const firstPending = ui.log.querySelector(".msg--pending, .msg--failed"); ui.log.insertBefore(item, firstPending); }
  }

  function renderPending(entry) {
    let item = items.get(entry.client_id);
    if (!item) { item = el("li"); items.set(entry.client_id, item); ui.log.append(item); }
    item.className = `msg msg--visitor ${entry.failed ? "msg--failed" : "msg--pending"}`;
    const meta = el("div", { class: "meta" }, entry.failed ? `${t.notSent} ${entry.failed}` : t.sending);
    if (entry.failed) meta.append(el("button", { class: "link", type: "button", onclick: () => { entry.failed = null; deliver(entry); } }, t.retry));
    item.replaceChildren(el("div", { class: "bubble" }, entry.body), meta);
    scrollDown();
  }

  function startEdit(id) {
    const message = state.messages.get(id);
    const item = items.get(id);
    if (!message || !item) return;
    state.editing = id;
    const area = el("textarea", { "aria-label": t.edit });
    area.value = message.body;
    const error = el("p", { class: "error", role: "alert" });
    const stop = () => { state.editing = null; delete item.dataset.signature; renderMessage(state.messages.get(id)); item.querySelector(".edit")?.focus(); };
    const save = el("button", { class: "button", type: "submit" }, t.save);
    const form = el("form", { class: "editor" }, area, error,
      el("div", { class: "editor__actions" }, el("button", { class: "button button--quiet", type: "button", onclick: stop }, t.cancel), save));
    form.onsubmit = async (event) => {
      event.preventDefault();
      if (!area.value.trim() || area.value === message.body) { stop(); return; }
      save.disabled = true;
      try {
        const edited = await call("PATCH", `/chat/messages/${encodeURIComponent(id)}`, { body: area.value });
        state.editing = null;
        delete item.dataset.signature;
        upsert(edited);
        item.querySelector(".edit")?.focus();
      } catch (e) { error.textContent = e.message || t.error; save.disabled = false; }
    };
    area.addEventListener("keydown", (event) => { if (event.key === "Escape") { event.stopPropagation(); stop(); } });
    item.className = "msg msg--visitor";
    item.replaceChildren(form);
    area.focus();
  }

  let refreshTimer = null;
  function refreshSoon() { clearTimeout(refreshTimer); refreshTimer = setTimeout(() => reload().catch(() => {}), 150); }

  async function reload() {
    const dialog = await call("GET", "/chat");
    state.chat = dialog.chat;
    for (const op of dialog.operators || []) state.operators.set(op.id, op);
    for (const message of dialog.messages) upsert(message);
    for (const message of state.messages.values()) renderMessage(message);
    // The newest page came; older ones come on demand (a button, or scrolling to the top).
    if (!state.olderLoaded) ui.older.hidden = !dialog.has_more;
    showMode();
  }

  async function loadOlder() {
    if (state.loadingOlder || ui.older.hidden) return;
    state.loadingOlder = true;
    try {
      const first = Math.min(...[...state.messages.values()].map((m) => m.seq));
      const dialog = await call("GET", `/chat?before=${first}`);
      for (const op of dialog.operators || []) state.operators.set(op.id, op);
      const height = ui.body.scrollHeight;
      for (const message of dialog.messages) {
        state.messages.set(message.id, mergeMessage(state.messages.get(message.id), message));
        renderMessage(state.messages.get(message.id));
      }
      // What was on screen stays where it was.
      ui.body.scrollTop += ui.body.scrollHeight - height;
      state.olderLoaded = true;
      ui.older.hidden = !dialog.has_more;
    } catch { showNotice(t.error); } finally { state.loadingOlder = false; }
  }

  // ---- sending: every message keeps its client id until the server has it ----
  async function send(body) {
    showInfo("");
    const entry = { client_id: uuid(), body };
    state.outbox.set(entry.client_id, entry);
    saveOutbox();
    renderPending(entry);
    showMode();
    await deliver(entry);
  }

  async function deliver(entry) {
    try {
      await ensureSession();
      const message = await call("POST", "/chat/messages", { body: entry.body, client_id: entry.client_id });
      if (!state.chat) refreshSoon();
      upsert(message);
    } catch (e) {
      // Refusals (too long, rate limited for long) wait for the visitor; network trouble and
      // server errors are retried with the same client id when the socket is back.
      if (e.status && e.status < 500 && e.status !== 408 && e.status !== 429) entry.failed = explain(e);
      if (state.outbox.has(entry.client_id)) renderPending(entry);
    }
  }

  function flushOutbox() { for (const entry of state.outbox.values()) if (!entry.failed) deliver(entry); }

  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = ui.input.value;
    if (!body.trim() || overLimit()) return;
    ui.input.value = "";
    fitComposer();
    send(body);
    ui.input.focus();
  });
  ui.input.addEventListener("input", fitComposer);

  // The composer grows with the text (up to a few lines, then it scrolls); near the server's
  // limit a counter shows, and past it the message is refused here, not cut.
  function fitComposer() {
    ui.input.style.height = "auto";
    ui.input.style.height = `${Math.min(ui.input.scrollHeight + 2, 120)}px`;
    const max = state.maxChars || 10000;
    const count = [...ui.input.value].length;
    const over = count > max;
    ui.limit.hidden = count < max * 0.9;
    ui.limit.classList.toggle("limit--over", over);
    ui.limit.textContent = over ? `${count} / ${max} · ${t.tooLong(max)}` : `${count} / ${max}`;
    ui.sendButton.disabled = over;
    if (over) ui.input.setAttribute("aria-invalid", "true"); else ui.input.removeAttribute("aria-invalid");
  }

  function overLimit() { return [...ui.input.value].length > (state.maxChars || 10000); }
  let lastTyping = 0;
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); ui.composer.requestSubmit(); return; }
    if (Date.now() - lastTyping > 2000 && state.socket?.readyState === WebSocket.OPEN) {
      lastTyping = Date.now();
      state.socket.send(JSON.stringify({ type: "typing" }));
    }
  });

  // ---- files: picked, pasted or dropped; sent with their progress; images shown, others saved ----
  const uploads = new Map(); // client id -> { client_id, file, progress, failed }

  // The server's refusal in the visitor's language; its own words only for what has no code.
  function explain(e) {
    if (!e.status) return t.offline;
    if (e.code === "file_too_large") return `${t.errors.file_too_large}: ${t.atMost(sizeText(state.config?.files?.max_bytes || 0, language()))}`;
    return t.errors[e.code] || (e.status >= 500 ? t.serverDown : t.error);
  }

  function sendFiles(list) {
    if (!state.config?.files?.enabled) return;
    for (const file of list) {
      const entry = { client_id: uuid(), file, progress: 0, failed: null };
      // Refused here what the server would refuse for its size, without sending it.
      if (file.size > state.config.files.max_bytes) { entry.status = 413; entry.failed = explain({ status: 413, code: "file_too_large" }); }
      uploads.set(entry.client_id, entry);
      renderUpload(entry);
      if (!entry.failed) upload(entry);
    }
    showMode();
  }

  async function upload(entry) {
    try { await ensureSession(); } catch (e) { entry.status = e.status; entry.failed = e.status ? explain(e) : t.uploadFailed; renderUpload(entry); return; }
    const xhr = new XMLHttpRequest();
    const query = new URLSearchParams({ name: entry.file.name || "file", client_id: entry.client_id });
    xhr.open("POST", `${api}/chat/files?${query}`);
    xhr.setRequestHeader("authorization", `Bearer ${state.token}`);
    xhr.setRequestHeader("content-type", "application/octet-stream");
    xhr.upload.onprogress = (event) => { if (event.lengthComputable) { entry.progress = Math.round((event.loaded / event.total) * 100); renderUpload(entry); } };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 201 && body) { if (!state.chat) refreshSoon(); upsert(body); return; }
      entry.status = xhr.status;
      entry.code = body?.error?.code;
      entry.failed = explain({ status: xhr.status, code: entry.code });
      renderUpload(entry);
    };
    xhr.onerror = () => { entry.status = 0; entry.failed = t.uploadFailed; renderUpload(entry); };
    xhr.send(entry.file);
  }

  function renderUpload(entry) {
    let item = items.get(entry.client_id);
    if (!item) { item = el("li"); items.set(entry.client_id, item); ui.log.append(item); }
    item.className = `msg msg--visitor ${entry.failed ? "msg--failed" : "msg--pending"}`;
    const meta = el("div", { class: "meta", role: entry.failed ? "alert" : null }, entry.failed || t.uploading(entry.progress));
    if (entry.failed) {
      // A refusal stands (a retry would be refused again); trouble on the way may pass.
      const refused = entry.status && entry.status < 500 && entry.status !== 408 && (entry.status !== 429 || entry.code === "too_many_files");
      if (!refused) meta.append(el("button", { class: "link", type: "button", onclick: () => { entry.failed = null; entry.progress = 0; renderUpload(entry); upload(entry); } }, t.retry));
      meta.append(el("button", { class: "link", type: "button", onclick: () => { uploads.delete(entry.client_id); item.remove(); items.delete(entry.client_id); } }, t.dismiss));
    }
    const bubble = el("div", { class: "bubble bubble--file" }, fileIcon(), el("span", { class: "file__name" }, entry.file.name), el("span", { class: "file__size" }, sizeText(entry.file.size, language())));
    const bar = entry.failed ? null : el("progress", { max: 100, value: entry.progress, "aria-label": entry.file.name });
    item.replaceChildren(...[bubble, bar, meta].filter(Boolean));
    scrollDown();
  }

  function fileIcon() {
    const icon = el("span", { class: "file__icon", "aria-hidden": "true" });
    icon.innerHTML = '<svg viewBox="0 0 24 24"><path d="M6 2h8l6 6v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm7 1.5V9h5.5L13 3.5z"/></svg>';
    return icon;
  }

  // Files are read with the visitor's token (an <img> cannot send it), kept as object URLs.
  const blobs = new Map();
  function fileUrl(a, variant = "") {
    const k = a.id + variant;
    if (!blobs.has(k)) {
      const loading = fetch(`${api}/files/${encodeURIComponent(a.id)}${variant}`, { headers: { authorization: `Bearer ${state.token}` } })
        .then((r) => { if (!r.ok) throw new Error(String(r.status)); return r.blob(); })
        .then((blob) => URL.createObjectURL(blob));
      loading.catch(() => blobs.delete(k));
      blobs.set(k, loading);
    }
    return blobs.get(k);
  }

  // A deleted file's copies in memory go with it.
  function forgetFile(id) {
    if (!id) return;
    for (const variant of ["", "/thumbnail"]) {
      blobs.get(id + variant)?.then((url) => URL.revokeObjectURL(url), () => {});
      blobs.delete(id + variant);
    }
  }

  function fileBubble(a) {
    if (a.kind === "image" && a.width && a.height) {
      const scale = Math.min(1, 220 / a.width, 220 / a.height);
      const img = el("img", { alt: a.name, width: Math.round(a.width * scale), height: Math.round(a.height * scale), class: "thumb" });
      fileUrl(a, a.thumbnail ? "/thumbnail" : "").then((url) => { img.src = url; }, () => { img.alt = `${a.name} — ${t.error}`; });
      return el("button", { class: "bubble bubble--image", type: "button", "aria-label": `${a.name}, ${t.openImage}`, onclick: () => viewImage(a) }, img);
    }
    return el("button", { class: "bubble bubble--file", type: "button", title: t.save_file, onclick: () => saveFile(a) },
      fileIcon(), el("span", { class: "file__name" }, a.name), el("span", { class: "file__size" }, sizeText(a.size, language())));
  }

  // Saved under its own name; never opened here (it could be anything).
  async function saveFile(a) {
    try {
      const link = el("a", { href: await fileUrl(a), download: a.name, hidden: true });
      ui.root.append(link); link.click(); link.remove();
    } catch { showNotice(t.error); }
  }

  // The full-size viewer comes with the rest of what is seldom needed.
  function viewImage(a) { more().then((m) => m.viewImage(widget(), a), () => showNotice(t.error)); }

  async function deleteFile(id) {
    try { upsert(await call("DELETE", `/chat/messages/${encodeURIComponent(id)}`)); } catch (e) { showNotice(explain(e)); }
  }

  ui.fileInput.addEventListener("change", () => { sendFiles([...ui.fileInput.files]); ui.fileInput.value = ""; });
  ui.input.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (files.length && state.config?.files?.enabled) { event.preventDefault(); sendFiles(files); }
  });
  const dragging = (event) => state.config?.files?.enabled && !ui.composer.hidden && [...(event.dataTransfer?.types || [])].includes("Files");
  ui.panel.addEventListener("dragover", (event) => { if (dragging(event)) { event.preventDefault(); ui.panel.classList.add("panel--drop"); } });
  ui.panel.addEventListener("dragleave", (event) => { if (!ui.panel.contains(event.relatedTarget)) ui.panel.classList.remove("panel--drop"); });
  ui.panel.addEventListener("drop", (event) => {
    ui.panel.classList.remove("panel--drop");
    if (!dragging(event)) return;
    event.preventDefault();
    sendFiles([...event.dataTransfer.files]);
  });

  // ---- a reply while the visitor looks elsewhere: a short sound (they may turn it off) and,
  // while the tab is hidden, the page's title blinking "(1) New message" ----
  const soundOn = () => store.get("sound") !== "off";
  function setSound(on) {
    store.set("sound", on ? "on" : "off");
    ui.sound.setAttribute("aria-pressed", String(on));
    ui.sound.setAttribute("aria-label", on ? t.soundOn : t.soundOff);
    ui.sound.title = on ? t.soundOn : t.soundOff;
    ui.sound.innerHTML = on
      ? '<svg viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M12 22a2 2 0 0 0 2-2h-4a2 2 0 0 0 2 2zm6-6V11c0-3.1-1.6-5.6-4.5-6.3V4a1.5 1.5 0 0 0-3 0v.7C7.6 5.4 6 7.9 6 11v5l-2 2v1h16v-1l-2-2z"/></svg>'
      : '<svg viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M20 18.7 5.3 4 4 5.3l2.9 2.9C6.3 9 6 10 6 11v5l-2 2v1h13.7l1 1 1.3-1.3zM12 22a2 2 0 0 0 2-2h-4a2 2 0 0 0 2 2zm6-7.2V11c0-3.1-1.6-5.6-4.5-6.3V4a1.5 1.5 0 0 0-3 0v.7c-.5.1-1 .3-1.4.6L18 14.8z"/></svg>';
  }

  // Browsers let a page make sound only after the person has touched it: the audio context
  // is made at the first touch, and a reply before that is silent.
  let audio = null;
  document.addEventListener("pointerdown", () => { try { audio ??= new AudioContext(); } catch { /* no audio */ } }, { once: true, capture: true });
  function chime() {
    if (!audio || !soundOn()) return;
    const now = audio.currentTime;
    const gain = audio.createGain();
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.15, now + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.35);
    gain.connect(audio.destination);
    for (const [freq, at] of [[880, 0], [1320, 0.12]]) {
      const tone = audio.createOscillator();
      tone.frequency.value = freq;
      tone.connect(gain);
      tone.start(now + at);
      tone.stop(now + at + 0.2);
    }
  }

  const blink = { timer: null, title: null, ours: null };
  function announce() {
    const looking = state.open && document.visibilityState === "visible";
    if (!looking) chime();
    if (document.visibilityState === "hidden" && !blink.timer) {
      blink.title = document.title;
      blink.timer = setInterval(() => {
        const count = unread().length;
        if (!count) return stopBlinking();
        blink.ours = document.title === blink.ours ? blink.title : `(${count}) ${t.newMessage}`;
        document.title = blink.ours;
      }, 1000);
    }
  }
  function stopBlinking() {
    if (!blink.timer) return;
    clearInterval(blink.timer);
    blink.timer = null;
    // The page's own title back, unless the page changed it meanwhile.
    if (document.title === blink.ours || document.title === blink.title) document.title = blink.title;
    blink.ours = null;
  }
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") stopBlinking(); });


  // ---- read marks and the unread badge ----
  function unread() { return [...state.messages.values()].filter((m) => m.author !== "visitor" && !m.read_by_visitor_at); }

  function afterChange() {
    const waiting = unread();
    const looking = state.open && document.visibilityState === "visible";
    if (looking && waiting.length) {
      const newest = waiting.reduce((a, b) => (a.seq > b.seq ? a : b));
      const now = new Date().toISOString();
      for (const m of waiting) m.read_by_visitor_at = now;
      call("POST", "/chat/read", { up_to: newest.id }).catch(() => {
        for (const m of waiting) { const current = state.messages.get(m.id); if (current) current.read_by_visitor_at = null; }
      });
    }
    const count = looking ? 0 : waiting.length;
    ui.badge.hidden = count === 0;
    ui.badge.textContent = count > 9 ? "9+" : String(count);
    ui.launcher.setAttribute("aria-label", count ? `${t.open} (${t.unread(count)})` : t.open);
    // The hosted page has no launcher: its tab's title carries the count.
    if (pageMode && state.config) document.title = `${count ? `(${count}) ` : ""}${state.config.branding.title} — ${state.config.tenant.name}`;
    scrollDown();
  }

  function scrollDown() { ui.body.scrollTop = ui.body.scrollHeight; }

  // ---- the socket: open while the page is open; backoff with jitter on failure ----
  function connect() {
    if (!state.token || state.socket) return;
    const url = `${api.replace(/^http/, "ws")}/ws?visitor_token=${encodeURIComponent(state.token)}`;
    const socket = new WebSocket(url);
    state.socket = socket;
    socket.onopen = () => {
      state.retryDelay = 1000;
      state.connected = true;
      reportPage(true);
      renderStatus();
      reload().then(flushOutbox).catch(() => {});
    };
    socket.onmessage = (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      onFrame(frame);
    };
    socket.onclose = () => {
      state.socket = null;
      state.connected = false;
      renderStatus();
      const delay = state.retryDelay * (0.75 + Math.random() / 2);
      state.retryDelay = Math.min(state.retryDelay * 2, 30000);
      state.retryTimer = setTimeout(connect, delay);
    };
  }

  // The operators see the page the visitor is on (as pageUrl gives it: no query, no fragment):
  // told on connecting and whenever it changes, checked every 2 s and a moment after the
  // history moves (once the site has set its title). Where the visit came from is the referrer
  // of the tab's first page, kept for the tab. Not on the hosted chat page, Tandem's own.
  const landingReferrer = (() => {
    try {
      const kept = sessionStorage.getItem("tandem:landing_referrer");
      if (kept !== null) return kept;
      sessionStorage.setItem("tandem:landing_referrer", document.referrer);
    } catch { /* storage off */ }
    return document.referrer;
  })();
  let reported = "";
  function reportPage(always) {
    const url = pageUrl();
    const page = `${url} ${document.title}`;
    if (pageMode || !state.connected || !url || (!always && page === reported)) return;
    reported = page;
    let timeZone = null;
    try { timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || null; } catch { /* old browser */ }
    state.socket.send(JSON.stringify({ type: "page", url, title: document.title || null, referrer: landingReferrer || null, time_zone: timeZone }));
  }
  if (!pageMode) {
    const soon = () => setTimeout(() => reportPage(false), 300);
    window.addEventListener("popstate", soon);
    window.addEventListener("hashchange", soon);
    setInterval(() => reportPage(false), 2000);
  }

  // Back online, or back to the tab after a long backoff: try now rather than at the next turn.
  function reconnectNow() {
    if (state.socket || !state.token) return;
    clearTimeout(state.retryTimer);
    state.retryDelay = 1000;
    connect();
  }
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") reconnectNow(); });

  let typingTimer = null;
  function onFrame(frame) {
    switch (frame.type) {
      case "hello":
        if (typeof frame.operators_available === "boolean") { state.available = frame.operators_available; showMode(); }
        break;
      case "message.created":
        if (frame.message.author !== "visitor" && !state.messages.has(frame.message.id)) announce();
        upsert(frame.message);
        break;
      case "message.updated":
        upsert(frame.message);
        if (frame.message.author === "operator") ui.typing.textContent = "";
        break;
      case "message.read":
        if (frame.by === "operator") {
          const upTo = state.messages.get(frame.up_to);
          for (const m of state.messages.values()) {
            if (m.author === "visitor" && !m.read_by_operator_at && (!upTo || m.seq <= upTo.seq)) { m.read_by_operator_at = new Date().toISOString(); renderMessage(m); }
          }
        }
        break;
      case "chat.updated":
        state.chat = frame.chat;
        showMode();
        break;
      case "typing":
        if (frame.by === "operator") {
          if (frame.operator) state.operators.set(frame.operator.id, frame.operator);
          ui.typing.textContent = t.typing(frame.operator?.name || t.operator);
          clearTimeout(typingTimer);
          typingTimer = setTimeout(() => { ui.typing.textContent = ""; }, 5000);
        }
        break;
      case "operators.availability":
        // Who is online changed. When the tenant's plugins decide what is offered, they are
        // asked again; otherwise the frame says it all.
        // Spread over a few seconds: every open widget of the tenant hears this at once.
        if (state.config?.recheck_after_secs) { clearTimeout(state.recheckTimer); state.recheckTimer = setTimeout(recheckAvailability, Math.random() * 5000); }
        else { state.available = frame.operators_available; showMode(); }
        break;
      default:
        break;
    }
  }

  // ---- session ----
  let sessionPromise = null;
  function ensureSession() {
    if (state.token && state.visitorId) return Promise.resolve();
    sessionPromise = sessionPromise || startSession({}).finally(() => { sessionPromise = null; });
    return sessionPromise;
  }

  async function startSession(asked) {
    let session;
    try {
      session = await call("POST", "/session", asked);
    } catch (e) {
      if (e.status === 401 && (asked.visitor_token || asked.resume_token)) {
        if (asked.resume_token) throw e;
        state.token = null;
        store.drop("visitor_token");
        return startSession({});
      }
      throw e;
    }
    state.token = session.visitor_token;
    state.visitorId = session.visitor_id;
    state.chat = session.chat;
    store.set("visitor_token", state.token);
    connect();
  }

  function toggle(open = !state.open) {
    if (pageMode) return;
    state.open = open;
    ui.panel.hidden = !open;
    ui.root.classList.toggle("root--open", open);
    ui.launcher.setAttribute("aria-expanded", String(open));
    if (open) {
      ensureSession().then(() => (state.messages.size ? null : reload())).catch(() => showNotice(t.error));
      showMode();
      (ui.form.hidden ? ui.input : ui.form.querySelector("input")).focus();
      afterChange();
    } else ui.launcher.focus();
  }
  ui.panel.addEventListener("keydown", (event) => { if (event.key === "Escape" && !pageMode) toggle(false); });
  document.addEventListener("visibilitychange", afterChange);

  function showNotice(text) { ui.notice.textContent = text; ui.notice.hidden = !text; }

  // Resolves true when the person wants the link's conversation, false to keep their own.
  function askToReplace() {
    if (!pageMode) {
      state.open = true;
      ui.panel.hidden = false;
      ui.root.classList.add("root--open");
      ui.launcher.setAttribute("aria-expanded", "true");
    }
    ui.choiceText.textContent = t.otherDialog;
    ui.openLinked.textContent = t.openLinked;
    ui.keepMine.textContent = t.keepMine;
    ui.choice.hidden = false;
    ui.openLinked.focus();
    return new Promise((resolve) => {
      const answer = (replace) => () => { ui.choice.hidden = true; resolve(replace); };
      ui.openLinked.onclick = answer(true);
      ui.keepMine.onclick = answer(false);
    });
  }

  // A link's conversation, unless this device has another one and the person keeps it.
  async function resumeFromLink(resume) {
    const own = state.token;
    try {
      await startSession(own ? { resume_token: resume, visitor_token: own } : { resume_token: resume });
    } catch (e) {
      if (e.status !== 409) throw e;
      if (await askToReplace()) await startSession({ resume_token: resume, visitor_token: own, replace: true });
      else await startSession({ visitor_token: own });
    }
  }
  function showInfo(text) { ui.info.textContent = text; ui.info.hidden = !text; }

  async function start() {
    let config;
    try { config = await call("GET", "/config"); } catch (e) {
      console.warn(`tandem: the widget is not available here (${e.message})`);
      if (!pageMode) return;
      document.body.append(host); host.hidden = false;
      ui.composer.hidden = true; ui.log.hidden = true; ui.greeting.hidden = true;
      ui.title.textContent = TEXTS.en.chatWith;
      return showNotice(TEXTS.en.unavailable);
    }
    applyConfig(config);
    style.addEventListener("load", () => { host.hidden = false; }, { once: true });
    (pageMode ? document.body : document.body || document.documentElement).append(host);

    // An email link: /c/{key}?resume_token=… on the hosted page, ?tandem_resume=… on the site.
    const params = new URLSearchParams(location.search);
    const resume = params.get(pageMode ? "resume_token" : "tandem_resume");
    try {
      if (resume) {
        await resumeFromLink(resume);
        params.delete(pageMode ? "resume_token" : "tandem_resume");
        history.replaceState(history.state, "", location.pathname + (params.size ? `?${params}` : "") + location.hash);
        if (!pageMode) toggle(true);
      } else if (state.token || pageMode) {
        await startSession(state.token ? { visitor_token: state.token } : {});
      }
    } catch (e) {
      if (e.status === 401 && resume) {
        // An old link: say so, and carry on with this device's own dialog if it has one.
        showNotice(t.expired);
        if (state.token) await startSession({ visitor_token: state.token }).catch(() => {});
        if (!pageMode) toggle(true);
      } else showNotice(t.error);
    }
    for (const entry of state.outbox.values()) renderPending(entry);
    showMode();
    if (pageMode) afterChange();
  }

  start();
})();
