// What the visitor widget and the operator and admin consoles share. The consoles import it as a
// module; the widget, a classic script on other companies' pages, gets it inlined by the server
// where its marker comment stands (web/src/routes/assets.rs), so that its first load stays one
// request. Hence: declarations only, no imports, nothing run at load.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// A call to Tandem's API: the JSON answer (null for 204), or an ApiError with the status and
// the API's error code and message.
export async function request(url, { method = "GET", body, headers = {}, raw = false, contentType, credentials } = {}) {
  const sent = { ...headers };
  let payload;
  if (body !== undefined) {
    sent["content-type"] = contentType || "application/json";
    payload = raw ? body : JSON.stringify(body);
  }
  const response = await fetch(url, { method, headers: sent, body: payload, credentials });
  if (!response.ok) {
    let code = "http_error";
    let message = `${response.status} ${response.statusText}`;
    try { ({ code, message } = (await response.json()).error); } catch { /* not our error shape */ }
    throw new ApiError(response.status, code, message);
  }
  return response.status === 204 ? null : response.json();
}

// The same message comes from a send's answer, the socket and reloads, in any order: read marks
// and the email mark only ever appear, and an older text never replaces a newer edit.
export function mergeMessage(known, incoming) {
  if (!known) return incoming;
  const merged = { ...known, ...incoming };
  for (const mark of ["read_by_visitor_at", "read_by_operator_at", "emailed_at", "deleted_at"]) merged[mark] = incoming[mark] || known[mark];
  // A deleted file stays deleted, whatever older copy of its message comes later.
  if (merged.deleted_at) { merged.body = ""; merged.attachment = null; }
  if (known.edited_at && (!incoming.edited_at || incoming.edited_at < known.edited_at)) {
    merged.body = known.body;
    merged.edited_at = known.edited_at;
  }
  return merged;
}

// A client id for a message, also where crypto.randomUUID is missing (plain-HTTP pages).
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// A file's size as people read it in their language (the mail's worker says the same: 2.4 MB).
const SIZE_UNITS = { en: ["B", "KB", "MB"], ru: ["Б", "КБ", "МБ"] };
export function sizeText(bytes, lang = "en") {
  const [b, kb, mb] = SIZE_UNITS[lang] || SIZE_UNITS.en;
  if (bytes < 1e3) return `${bytes} ${b}`;
  if (bytes < 1e6) return `${Math.round(bytes / 1e3)} ${kb}`;
  return `${(bytes / 1e6).toLocaleString(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 })} ${mb}`;
}

// An operator without a photo as visitors see them, the same in the widget and the consoles:
// their initials, on a colour of their own (dark enough for white letters).
export function initialsOf(op) {
  const letters = (op.name || "").trim().split(/\s+/).slice(0, 2).map((w) => [...w][0] || "").join("").toUpperCase();
  let hash = 0;
  for (const c of String(op.id)) hash = (hash * 31 + c.charCodeAt(0)) | 0;
  return { letters: letters || "?", color: `hsl(${Math.abs(hash) % 360}, 45%, 30%)` };
}
