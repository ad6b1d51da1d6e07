// What the visitor widget needs only now and then, fetched the first time it is needed (a
// visitor whose conversation never ends and who opens no image never downloads it): the end of a
// conversation — the rating form and the transcript by email — and the full-size image viewer.
// The widget hands in its parts (`w`): its texts, DOM helper, API call, state and UI.

const TEXTS = {
  en: {
    rateIt: "How was it?", good: "Good", bad: "Bad", comment: "Anything to add? (optional)", sendRating: "Send rating",
    rated: (rating) => (rating === "good" ? "Thank you for your rating!" : "Thank you for telling us. We will do better."),
    transcript: "Email me the transcript", transcriptSent: (email) => `The transcript is on its way to ${email}.`,
    transcriptNeedsEmail: "Leave your email to get the transcript, then ask again.",
    transcriptLimit: "You have asked for it three times today. Try again tomorrow.",
    close: "Close", download: "Download",
  },
  ru: {
    rateIt: "Как всё прошло?", good: "Хорошо", bad: "Плохо", comment: "Хотите что-то добавить? (необязательно)", sendRating: "Отправить оценку",
    rated: (rating) => (rating === "good" ? "Спасибо за оценку!" : "Спасибо за отзыв — мы постараемся стать лучше."),
    transcript: "Прислать переписку на почту", transcriptSent: (email) => `Переписка придёт на ${email}.`,
    transcriptNeedsEmail: "Оставьте почту, чтобы получить переписку, и попросите снова.",
    transcriptLimit: "Сегодня вы уже просили её трижды. Попробуйте завтра.",
    close: "Закрыть", download: "Скачать",
  },
};
const texts = (w) => TEXTS[w.lang] || TEXTS.en;

// Under "The conversation has ended": the thanks for a rating of this close, or the form; and the
// transcript. `inForm`: the focus was in the form, and goes to the thanks that take its place.
export function ending(w, rated, inForm) {
  const t = texts(w);
  if (!rated) return [ratingForm(w, t), transcriptButton(w, t)];
  const thanks = w.el("p", { class: "ended__thanks", role: "status", tabindex: "-1" }, t.rated(w.state.chat.rating.rating));
  if (inForm) queueMicrotask(() => thanks.focus());
  return [thanks, transcriptButton(w, t)];
}

// The whole conversation by email, to the address the visitor gave (asked for it first).
function transcriptButton(w, t) {
  const { el, ui, state, call } = w;
  const note = el("p", { class: "ended__note", role: "status" });
  const button = el("button", { class: "link transcript", type: "button" }, t.transcript);
  const askForEmail = () => {
    note.textContent = t.transcriptNeedsEmail;
    w.buildDetailsForm(); ui.details.hidden = false; ui.details.querySelector("input[name=email]")?.focus();
  };
  button.onclick = async () => {
    if (!state.chat?.visitor?.email) return askForEmail();
    button.disabled = true;
    try {
      const request = await call("POST", "/chat/transcript");
      note.textContent = t.transcriptSent(request.email);
    } catch (e) {
      button.disabled = false;
      if (e.status === 409) askForEmail();
      else note.textContent = e.status === 429 ? t.transcriptLimit : w.t.error;
    }
  };
  return el("div", { class: "ended__transcript" }, button, note);
}

function ratingForm(w, t) {
  const { el, state, call } = w;
  let picked = null;
  const id = `tandem-comment-${Math.random().toString(36).slice(2, 9)}`;
  const comment = el("textarea", { id, name: "comment", rows: 2, maxlength: "1000" });
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const submit = el("button", { class: "button", type: "submit", disabled: true }, t.sendRating);
  const choice = (rating) => {
    const button = el("button", { class: `rate rate--${rating}`, type: "button", "aria-pressed": "false", onclick: () => pick(rating) }, t[rating]);
    // A thumb (down: the same, turned), drawn: no emoji font needed.
    button.insertAdjacentHTML("afterbegin", '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6c-.4.4-.6.9-.6 1.4v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z"/></svg>');
    return button;
  };
  const choices = [choice("good"), choice("bad")];
  const pick = (rating) => {
    picked = rating;
    for (const button of choices) button.setAttribute("aria-pressed", String(button.classList.contains(`rate--${rating}`)));
    submit.disabled = false;
  };
  const form = el("form", { class: "rating", novalidate: true },
    el("p", { class: "rating__ask", id: `${id}-ask` }, t.rateIt),
    el("div", { class: "rating__choices", role: "group", "aria-labelledby": `${id}-ask` }, ...choices),
    el("label", { for: id }, t.comment), comment, error, submit);
  form.onsubmit = async (event) => {
    event.preventDefault();
    if (!picked) return;
    submit.disabled = true;
    try {
      const body = { rating: picked };
      if (comment.value.trim()) body.comment = comment.value.trim();
      state.chat = await call("POST", "/chat/rating", body);
      w.showMode();
    } catch (e) {
      error.textContent = e.message || w.t.error; error.hidden = false;
      // Rated meanwhile (another tab), or reopened: the chat as it is now says so.
      if (e.status === 409) await w.reload().catch(() => {});
    } finally {
      submit.disabled = false;
    }
  };
  return form;
}

// An image full size over the page; Escape, the close button or a click beside it closes it.
export function viewImage(w, a) {
  const { el, shadow, ui } = w;
  const t = texts(w);
  const opener = shadow.activeElement;
  const img = el("img", { alt: a.name });
  const close = () => { viewer.remove(); opener?.focus(); };
  const closeButton = el("button", { class: "viewer__close", type: "button", "aria-label": t.close, onclick: close }, "×");
  const viewer = el("div", { class: "viewer", role: "dialog", "aria-modal": "true", "aria-label": a.name, onclick: (event) => { if (event.target === viewer) close(); } },
    img, el("div", { class: "viewer__bar" }, el("span", {}, `${a.name} · ${w.sizeText(a.size, w.lang)}`), el("button", { class: "link", type: "button", onclick: () => w.saveFile(a) }, t.download), closeButton));
  viewer.addEventListener("keydown", (event) => { if (event.key === "Escape") { event.stopPropagation(); close(); } });
  w.fileUrl(a).then((url) => { img.src = url; }, () => w.showNotice(w.t.error));
  ui.root.append(viewer);
  closeButton.focus();
}
