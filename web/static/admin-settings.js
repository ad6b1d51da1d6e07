// Admin console: chat settings, the widget's branding with a live preview, and the embed snippet.
import { api, el } from "./console.js";
import { field, lines, outcome, report } from "./admin-forms.js";

// Tandem's own title and greeting in each language (core's Language::default_title and
// default_greeting).
const DEFAULT_TEXTS = {
  en: { title: "Chat with us", greeting: "Hi! How can we help?" },
  ru: { title: "Напишите нам", greeting: "Здравствуйте! Чем можем помочь?" },
};

// The preview's sample dialog and composer; the composer's words are the widget's own.
const PREVIEW_TEXTS = {
  en: { question: "Hello! Is my order on its way?", answer: "Hi! Let me check that for you.", placeholder: "Write a message…", send: "Send" },
  ru: { question: "Здравствуйте! Мой заказ уже в пути?", answer: "Добрый день! Сейчас проверю.", placeholder: "Напишите сообщение…", send: "Отправить" },
};

export async function settingsPane(ctx) {
  const settings = await api("GET", "/admin/settings");
  const b = settings.branding;
  const input = (id, props) => el("input", { id, name: id, ...props });
  const f = {
    offline: input("offline_timeout_secs", { type: "number", min: "1", value: String(settings.offline_timeout_secs) }),
    grace: input("presence_grace_secs", { type: "number", min: "0", value: String(settings.presence_grace_secs) }),
    color: input("color", { type: "color", value: b.color }),
    title: input("title", { value: b.title, maxlength: "100" }),
    greeting: el("textarea", { id: "greeting", rows: 2, maxlength: "500" }, b.greeting),
    logo: input("logo_url", { type: "url", value: b.logo_url || "", placeholder: "https://…" }),
    position: el("select", { id: "position" }, ...["right", "left"].map((p) => el("option", { value: p, selected: b.position === p }, p))),
    showTeam: input("show_team", { type: "checkbox", checked: b.show_team !== false }),
    language: el("select", { id: "language" }, el("option", { value: "en", selected: b.language === "en" }, "English"), el("option", { value: "ru", selected: b.language === "ru" }, "Русский")),
    origins: el("textarea", { id: "allowed_origins", rows: 3 }, settings.allowed_origins.join("\n")),
    webhooks: el("textarea", { id: "webhook_urls", rows: 3 }, settings.webhook_urls.join("\n")),
    site: input("site_url", { type: "url", value: settings.site_url || "", placeholder: "https://www.example.com" }),
    sender: input("mail_from_name", { value: settings.mail_from_name || "", maxlength: "100", placeholder: ctx.tenant.name }),
    anySender: input("replies_from_any_sender", { type: "checkbox", checked: Boolean(settings.replies_from_any_sender) }),
    longWait: input("long_wait_alert_mins", { type: "number", min: "0", max: "1440", value: String(settings.long_wait_alert_mins) }),
    digest: input("alert_digest_mins", { type: "number", min: "0", max: "1440", value: String(settings.alert_digest_mins) }),
    retention: input("retention_days", { type: "number", min: "0", max: "3650", value: String(settings.retention_days || 0) }),
    filesFromVisitors: input("files_from_visitors", { type: "checkbox", checked: Boolean(settings.files.from_visitors) }),
    filesMax: input("files_max_mib", { type: "number", min: "1", max: String(ctx.tenant.limits?.file_mib || 100), value: String(settings.files.max_mib) }),
    filesPerDay: input("files_per_day", { type: "number", min: "1", max: "1000", value: String(settings.files.visitor_files_per_day) }),
  };
  // The kinds of files taken, as the server names them; anything else (programs) never is.
  const FILE_GROUPS = [["images", "Images (PNG, JPEG, GIF, WebP)"], ["pdf", "PDF"], ["documents", "Documents (Word, Excel, PowerPoint, OpenDocument)"],
    ["text", "Text and CSV"], ["archives", "Archives (zip, 7z, rar, tar, gzip)"], ["media", "Audio and video"]];
  const groups = FILE_GROUPS.map(([value, label]) => el("label", { class: "row" },
    el("input", { type: "checkbox", name: "accepted", value, checked: settings.files.accepted.includes(value) }), label));
  const branding = () => ({ color: f.color.value, title: f.title.value, greeting: f.greeting.value, logo_url: f.logo.value.trim() || null, position: f.position.value, language: f.language.value, show_team: f.showTeam.checked });
  const preview = widgetPreview(ctx.me.name);
  const refresh = () => preview.update(branding());
  for (const control of [f.color, f.title, f.greeting, f.logo, f.position, f.language]) {
    control.addEventListener("input", refresh);
    control.addEventListener("change", refresh);
  }
  // A title and greeting left at one language's defaults follow the language (the server does
  // the same for API calls).
  let language = f.language.value;
  f.language.addEventListener("change", () => {
    const [was, now] = [DEFAULT_TEXTS[language], DEFAULT_TEXTS[f.language.value]];
    if (f.title.value === was.title) f.title.value = now.title;
    if (f.greeting.value === was.greeting) f.greeting.value = now.greeting;
    language = f.language.value;
    refresh();
  });
  refresh();
  const result = outcome();
  const save = el("button", { class: "button", type: "submit", id: "save-settings" }, "Save settings");
  const form = el("form", { class: "card", id: "settings-form" },
    el("h2", {}, "Chat behaviour"),
    field("Email unread replies after (seconds)", f.offline, "A reply the visitor has not read within this time is emailed (default 300)."),
    field("Presence grace (seconds)", f.grace, "How long a visitor may be away (a page change) before the chat counts as offline."),
    field("Emails come from", f.sender, "The sender's name visitors see on unread-reply emails; your company's name when empty."),
    el("div", { class: "field" }, el("label", { class: "row", for: f.anySender.id }, f.anySender, "Take email replies from any sender"),
      el("small", {}, "Off: only the address the email went to may answer it. On: anyone with the email can (a forwarded mail, the visitor's other address); operators see who wrote.")),
    el("h2", {}, "Alerts for operators"),
    el("p", { class: "muted" }, "Every offline request alerts your operators: online ones in the workspace, the others by email."),
    el("div", { class: "row" },
      field("Alert when a visitor waits (minutes)", f.longWait, "A visitor unanswered this long alerts the operators (default 5; 0: never)."),
      field("Email digest at most every (minutes)", f.digest, "Operators who are not online get one email per interval with every alert since their last (default 15; 0: no email).")),
    el("h2", {}, "Data retention"),
    field("Erase closed dialogs after (days)", f.retention, "A dialog closed this long ago loses its texts and files for good; its place in your statistics stays (0: keep them)."),
    el("h2", {}, "Files"),
    el("div", { class: "field" }, el("label", { class: "row", for: f.filesFromVisitors.id }, f.filesFromVisitors, "Visitors may send files"),
      el("small", {}, "Operators can always send files. Every file's type is read from its content; programs are never accepted.")),
    el("fieldset", { class: "field", id: "files-accepted" }, el("legend", {}, "Accepted kinds"), ...groups),
    el("div", { class: "row" },
      field("Largest file (MB)", f.filesMax, "Up to your plan's limit."),
      field("Files per visitor a day", f.filesPerDay)),
    el("h2", {}, "Widget"),
    el("div", { class: "row" }, field("Colour", f.color), field("Position", f.position), field("Language", f.language)),
    field("Title", f.title), field("Greeting", f.greeting), field("Logo URL", f.logo),
    el("label", { class: "row" }, f.showTeam, "Show who answers in the widget's header (up to three operators' photos or initials and names)"),
    el("h2", {}, "Integration"),
    field("Your website", f.site, "Where the widget is embedded: the chat page emails link to offers to continue there."),
    field("Allowed widget origins (one per line)", f.origins, "Empty: any site may embed the widget. Example: https://www.example.com"),
    field("Webhook URLs (one per line)", f.webhooks, "Plugins may post to these only: unread replies, alerts for operators, closed chats."),
    result, el("div", {}, save));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    save.disabled = true;
    try {
      await api("PUT", "/admin/settings", {
        offline_timeout_secs: Number(f.offline.value), presence_grace_secs: Number(f.grace.value), branding: branding(),
        allowed_origins: lines(f.origins.value), webhook_urls: lines(f.webhooks.value), site_url: f.site.value.trim(),
        mail_from_name: f.sender.value.trim(), replies_from_any_sender: f.anySender.checked,
        long_wait_alert_mins: Number(f.longWait.value), alert_digest_mins: Number(f.digest.value),
        retention_days: Number(f.retention.value),
        files: {
          from_visitors: f.filesFromVisitors.checked, max_mib: Number(f.filesMax.value), visitor_files_per_day: Number(f.filesPerDay.value),
          accepted: groups.map((label) => label.querySelector("input")).filter((box) => box.checked).map((box) => box.value),
        },
      });
      report(result, null, "Saved. Widgets pick the new look up on their next page load.");
    } catch (e) { report(result, e); } finally { save.disabled = false; }
  });
  const snippet = `<script src="${location.origin}/static/widget.js" data-key="${ctx.tenant.widget_key}" async></script>`;
  const code = el("textarea", { class: "snippet", id: "snippet", rows: 3, readonly: true, "aria-label": "Embed snippet" }, snippet);
  const copied = outcome();
  const copy = el("button", { class: "button button--quiet", type: "button", onclick: async () => {
    try { await navigator.clipboard.writeText(snippet); } catch { code.select(); document.execCommand("copy"); }
    report(copied, null, "Copied.");
  } }, "Copy");
  return [el("h1", {}, "Settings & widget"),
    el("div", { class: "grid2" }, form,
      el("div", { class: "card" }, el("h2", {}, "Preview"), preview.node,
        el("p", { class: "muted" }, "The preview follows the form as you type; save to apply it to your site.")))
    , el("section", { class: "card" }, el("h2", {}, "Embed on your site"),
      el("p", {}, "Paste this before </body> on every page that should show the chat:"), code, el("div", { class: "row" }, copy, copied,
        el("a", { href: `/demo?key=${encodeURIComponent(ctx.tenant.widget_key)}`, target: "_blank", rel: "noopener" }, "Open it on the demo page")))];
}

// A still picture of the open widget, drawn with the widget's own stylesheet in a shadow root.
function widgetPreview(operatorName) {
  const node = el("div", { class: "preview", id: "widget-preview" });
  const shadow = node.attachShadow({ mode: "open" });
  const contain = el("style", {}, ".launcher, .panel { position: absolute !important; } .panel { height: 420px; width: 370px; }");
  const title = el("h2", { class: "title" });
  const greeting = el("p", { class: "greeting" });
  const logo = el("img", { class: "logo", alt: "" });
  const root = el("div", { class: "root root--open" },
    el("section", { class: "panel", "aria-label": "Widget preview" },
      el("header", { class: "header" }, logo, el("div", { class: "heading" }, title, el("p", { class: "status" }, "")), el("span", { class: "close" }, "×")),
      el("div", { class: "body" }, greeting, el("ol", { class: "log" },
        el("li", { class: "msg msg--visitor" }, el("div", { class: "bubble" })),
        el("li", { class: "msg msg--operator" }, el("span", { class: "msg__author" }, operatorName), el("div", { class: "bubble" })))),
      el("form", { class: "composer" }, el("textarea", { rows: 1, disabled: true }), el("button", { class: "button", type: "button" }))),
    el("button", { class: "launcher", type: "button", tabindex: "-1", "aria-hidden": "true" }));
  shadow.append(el("link", { rel: "stylesheet", href: "/static/widget.css" }), contain, root);
  return {
    node,
    update(branding) {
      const valid = /^#[0-9a-fA-F]{6}$/.test(branding.color);
      node.style.setProperty("--brand", valid ? branding.color : "#2563eb");
      root.classList.toggle("root--left", branding.position === "left");
      root.classList.toggle("root--right", branding.position !== "left");
      title.textContent = branding.title;
      greeting.textContent = branding.greeting;
      greeting.hidden = !branding.greeting;
      logo.hidden = !branding.logo_url;
      if (branding.logo_url) logo.src = branding.logo_url;
      // The sample dialog and the composer in the widget's language, as visitors will see it.
      const words = PREVIEW_TEXTS[branding.language] || PREVIEW_TEXTS.en;
      root.querySelector(".msg--visitor .bubble").textContent = words.question;
      root.querySelector(".msg--operator .bubble").textContent = words.answer;
      root.querySelector(".composer textarea").placeholder = words.placeholder;
      root.querySelector(".composer .button").textContent = words.send;
    },
  };
}
