// The workspace's state: the chats by id, the open dialog, and how names are shown.
export const CATEGORIES = [
  { id: "waiting", label: "Waiting for reply", match: (c) => c.category === "waiting" },
  { id: "offline", label: "Offline", match: (c) => c.category === "offline" },
  { id: "mine", label: "Active · mine", match: (c) => c.category === "active" && c.operator_id === state.me.id },
  { id: "active", label: "Active · all", match: (c) => c.category === "active" },
  { id: "closed", label: "Closed", match: (c) => c.category === "closed" },
];
export const QUEUE = new Set(["waiting", "offline"]);

export const state = {
  me: null,
  chats: new Map(), // id -> Chat
  operators: new Map(), // id -> Operator
  tab: "waiting",
  selected: null, // chat id
  // The tab the selected chat was opened from: it stays listed there when its category changes
  // (an operator answering from the queue keeps the chat in sight), marked with where it went.
  pinnedTab: null,
  messages: new Map(), // of the selected chat: id -> Message
  earlier: new Map(), // message id -> [EarlierText], once asked for
  alerts: localStorage.getItem("tandem:alerts") === "on",
  alertFeed: [], // the server's alerts not yet acted on, newest first
  socket: null,
  noteMode: false, // the reply box writes an internal note
  context: null, // the open dialog's visitor as the context panel shows them
  canned: [], // the company's canned replies, by shortcut
};
// The elements the modules draw into.
export const ui = {};

// Chats as the socket last told of them: a list or dialog fetched before that must not bring an
// older state back (a read that cleared the unread count, a colleague's take).
let frames = 0;
const toldAt = new Map(); // chat id -> the frame count when the socket last updated it
export function chatFromSocket(chat) {
  toldAt.set(chat.id, ++frames);
  state.chats.set(chat.id, chat);
}
// The socket changed a chat in place (a message's preview and count).
export const chatTouched = (id) => toldAt.set(id, ++frames);
// A mark taken before a fetch; `fetched` keeps, of what came, what the socket has not replaced.
export const fetchMark = () => frames;
const toldSince = (id, mark) => (toldAt.get(id) ?? 0) > mark;
export function chatFetched(chat, mark) {
  if (toldSince(chat.id, mark) && state.chats.has(chat.id)) return;
  state.chats.set(chat.id, chat);
}
// Every list fetched: chats in none of them are gone, unless the socket told of them since.
export function listsFetched(chats, mark) {
  const listed = new Set(chats.map((chat) => chat.id));
  for (const id of [...state.chats.keys()]) if (!listed.has(id) && !toldSince(id, mark)) state.chats.delete(id);
  for (const chat of chats) chatFetched(chat, mark);
}

export const visitorName = (chat) => chat.visitor.name || chat.visitor.email || `Visitor ${chat.visitor.id.slice(-4)}`;
export const operatorName = (id) => state.operators.get(id)?.name || "Operator";
