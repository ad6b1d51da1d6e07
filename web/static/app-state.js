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
};
// The elements the modules draw into.
export const ui = {};

export const visitorName = (chat) => chat.visitor.name || chat.visitor.email || `Visitor ${chat.visitor.id.slice(-4)}`;
export const operatorName = (id) => state.operators.get(id)?.name || "Operator";
