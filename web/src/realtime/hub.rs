//! Fan-out: the one task that reads the event bus and hands each event to the sockets that may
//! see it. Sockets register by tenant (operators) or by tenant and visitor (widgets), so routing
//! an event costs a map lookup, not a scan of every socket. Each frame is serialized once and
//! shared by every socket it goes to.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::Utf8Bytes;
use tandem_core::chat::VisitorChat;
use tandem_core::events::DomainEvent;
use tandem_core::ids::{TenantId, UserId, VisitorId};
use tandem_core::message::{Author, Reader};
use tokio::sync::{broadcast, mpsc};

use super::frames::{ChatView, ServerFrame};
use crate::metrics::{MessageLabels, Metrics};

/// How many frames may wait for a socket before it counts as too slow and is dropped.
const SOCKET_QUEUE: usize = 256;

/// What a socket task receives from the hub.
#[derive(Debug)]
pub enum Outbound {
    Frame(Utf8Bytes),
    /// Close the socket with this code and reason (access revoked).
    Close(u16, &'static str),
}

struct Subscriber {
    id: u64,
    tx: mpsc::Sender<Outbound>,
}

struct OperatorSubscriber {
    user: UserId,
    /// The session the socket was opened with ([`tandem_core::operator::session_key`]).
    session: String,
    sub: Subscriber,
}

#[derive(Default)]
struct Routes {
    widgets: HashMap<TenantId, HashMap<VisitorId, Vec<Subscriber>>>,
    operators: HashMap<TenantId, Vec<OperatorSubscriber>>,
}

impl Routes {
    fn has_visitor(&self, tenant: TenantId, visitor: VisitorId) -> bool {
        self.widgets
            .get(&tenant)
            .is_some_and(|by_visitor| by_visitor.contains_key(&visitor))
    }
}

pub struct Hub {
    routes: Mutex<Routes>,
    next_id: AtomicU64,
    metrics: Arc<Metrics>,
}

/// A socket's place in the hub; leaving drops it.
pub struct Registration {
    hub: Arc<Hub>,
    id: u64,
    tenant: TenantId,
    visitor: Option<VisitorId>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut routes = self.hub.routes();
        match self.visitor {
            Some(visitor) => {
                if let Some(by_visitor) = routes.widgets.get_mut(&self.tenant) {
                    if let Some(subs) = by_visitor.get_mut(&visitor) {
                        subs.retain(|s| s.id != self.id);
                        if subs.is_empty() {
                            by_visitor.remove(&visitor);
                        }
                    }
                    if by_visitor.is_empty() {
                        routes.widgets.remove(&self.tenant);
                    }
                }
            }
            None => {
                if let Some(subs) = routes.operators.get_mut(&self.tenant) {
                    subs.retain(|s| s.sub.id != self.id);
                    if subs.is_empty() {
                        routes.operators.remove(&self.tenant);
                    }
                }
            }
        }
    }
}

impl Hub {
    pub fn new(metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            routes: Mutex::new(Routes::default()),
            next_id: AtomicU64::new(1),
            metrics,
        })
    }

    pub fn register_visitor(
        self: &Arc<Self>,
        tenant: TenantId,
        visitor: VisitorId,
    ) -> (Registration, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(SOCKET_QUEUE);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.routes()
            .widgets
            .entry(tenant)
            .or_default()
            .entry(visitor)
            .or_default()
            .push(Subscriber { id, tx });
        let registration = Registration {
            hub: self.clone(),
            id,
            tenant,
            visitor: Some(visitor),
        };
        (registration, rx)
    }

    pub fn register_operator(
        self: &Arc<Self>,
        tenant: TenantId,
        user: UserId,
        session: String,
    ) -> (Registration, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(SOCKET_QUEUE);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.routes()
            .operators
            .entry(tenant)
            .or_default()
            .push(OperatorSubscriber {
                user,
                session,
                sub: Subscriber { id, tx },
            });
        let registration = Registration {
            hub: self.clone(),
            id,
            tenant,
            visitor: None,
        };
        (registration, rx)
    }

    /// Reads the bus until it closes.
    pub async fn run(self: Arc<Self>, mut events: broadcast::Receiver<DomainEvent>) {
        loop {
            match events.recv().await {
                Ok(event) => self.dispatch(&event),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "socket fan-out fell behind the event bus");
                    self.metrics.events_lost.inc_by(missed);
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }

    pub fn dispatch(&self, event: &DomainEvent) {
        match event {
            DomainEvent::MessageCreated {
                tenant,
                visitor,
                message,
            } => {
                let author = match message.author {
                    Author::Visitor => "visitor",
                    Author::Operator => "operator",
                    Author::System => "system",
                };
                self.metrics
                    .messages
                    .get_or_create(&MessageLabels { author })
                    .inc();
                let frame = ServerFrame::MessageCreated { message }.to_text();
                self.to_visitor_and_operators(*tenant, *visitor, frame);
            }
            DomainEvent::MessageUpdated {
                tenant,
                visitor,
                message,
            } => {
                let frame = ServerFrame::MessageUpdated { message }.to_text();
                self.to_visitor_and_operators(*tenant, *visitor, frame);
            }
            DomainEvent::MessageRead {
                tenant,
                visitor,
                chat,
                up_to,
                by,
            } => {
                let frame = ServerFrame::MessageRead {
                    chat_id: *chat,
                    up_to: *up_to,
                    by: *by,
                }
                .to_text();
                self.to_visitor_and_operators(*tenant, *visitor, frame);
            }
            DomainEvent::ChatUpdated { tenant, chat } => {
                let mut routes = self.routes();
                // The visitor's view is written only where the visitor has a socket.
                if routes.has_visitor(*tenant, chat.visitor.id) {
                    let to_visitor = ServerFrame::ChatUpdated {
                        chat: ChatView::Visitor(VisitorChat::from(chat)),
                    }
                    .to_text();
                    self.send_visitor(&mut routes, *tenant, chat.visitor.id, &to_visitor);
                }
                let to_operators = ServerFrame::ChatUpdated {
                    chat: ChatView::Operator(chat),
                }
                .to_text();
                self.send_operators(&mut routes, *tenant, &to_operators);
            }
            DomainEvent::VisitorContextChanged {
                tenant,
                chat,
                context,
            } => {
                let frame = ServerFrame::VisitorContext {
                    chat_id: *chat,
                    context,
                }
                .to_text();
                self.to_operators(*tenant, &frame);
            }
            DomainEvent::NoteAdded { tenant, note } => {
                let frame = ServerFrame::NoteAdded { note }.to_text();
                self.to_operators(*tenant, &frame);
            }
            DomainEvent::Typing {
                tenant,
                visitor,
                chat,
                by,
                operator,
            } => {
                let frame = ServerFrame::Typing {
                    chat_id: *chat,
                    by: *by,
                    operator: operator.as_ref(),
                }
                .to_text();
                let mut routes = self.routes();
                match by {
                    Reader::Visitor => self.send_operators(&mut routes, *tenant, &frame),
                    Reader::Operator => self.send_visitor(&mut routes, *tenant, *visitor, &frame),
                }
            }
            DomainEvent::AvailabilityChanged {
                tenant,
                operators_available,
            } => {
                let frame = ServerFrame::Availability {
                    operators_available: *operators_available,
                }
                .to_text();
                let mut routes = self.routes();
                if let Some(by_visitor) = routes.widgets.get_mut(tenant) {
                    for subs in by_visitor.values_mut() {
                        self.send_all(subs, |s| s, &frame);
                    }
                }
            }
            DomainEvent::AccessRevoked {
                tenant,
                user,
                session,
            } => self.revoke(*tenant, *user, session.as_deref()),
            DomainEvent::OperatorStatusChanged {
                tenant,
                user,
                status,
            } => {
                let frame = ServerFrame::OperatorStatus {
                    user_id: *user,
                    status: *status,
                }
                .to_text();
                self.to_operators(*tenant, &frame);
            }
            DomainEvent::OperatorAlert { tenant, alert } => {
                let frame = ServerFrame::OperatorAlert { alert }.to_text();
                self.to_operators(*tenant, &frame);
            }
            DomainEvent::PresenceChanged { .. } => {
                // Operators learn of presence through `chat.updated`; visitors know their own.
            }
        }
    }

    /// Number of sockets registered, for tests and metrics.
    pub fn socket_count(&self) -> usize {
        let routes = self.routes();
        routes
            .widgets
            .values()
            .flat_map(|v| v.values())
            .map(Vec::len)
            .sum::<usize>()
            + routes.operators.values().map(Vec::len).sum::<usize>()
    }

    fn to_operators(&self, tenant: TenantId, frame: &Utf8Bytes) {
        let mut routes = self.routes();
        self.send_operators(&mut routes, tenant, frame);
    }

    fn to_visitor_and_operators(&self, tenant: TenantId, visitor: VisitorId, frame: Utf8Bytes) {
        let mut routes = self.routes();
        self.send_visitor(&mut routes, tenant, visitor, &frame);
        self.send_operators(&mut routes, tenant, &frame);
    }

    fn send_visitor(
        &self,
        routes: &mut Routes,
        tenant: TenantId,
        visitor: VisitorId,
        frame: &Utf8Bytes,
    ) {
        if let Some(subs) = routes
            .widgets
            .get_mut(&tenant)
            .and_then(|by_visitor| by_visitor.get_mut(&visitor))
        {
            self.send_all(subs, |s| s, frame);
        }
    }

    fn send_operators(&self, routes: &mut Routes, tenant: TenantId, frame: &Utf8Bytes) {
        if let Some(subs) = routes.operators.get_mut(&tenant) {
            self.send_all(subs, |s| &s.sub, frame);
        }
    }

    /// Queues the frame for each subscriber. One whose queue is full is dropped from the hub:
    /// its socket sees its channel close and tells the client to reconnect and catch up.
    fn send_all<T>(&self, subs: &mut Vec<T>, sub: impl Fn(&T) -> &Subscriber, frame: &Utf8Bytes) {
        subs.retain(|s| {
            match sub(s).tx.try_send(Outbound::Frame(frame.clone())) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.metrics.slow_sockets.inc();
                    false
                }
                // The socket is closing; its registration will go with it.
                Err(mpsc::error::TrySendError::Closed(_)) => true,
            }
        });
    }

    fn revoke(&self, tenant: TenantId, user: Option<UserId>, session: Option<&str>) {
        let routes = self.routes();
        let close = |tx: &mpsc::Sender<Outbound>, reason| {
            let _ = tx.try_send(Outbound::Close(4003, reason));
        };
        if let Some(subs) = routes.operators.get(&tenant) {
            for s in subs
                .iter()
                .filter(|s| user.is_none_or(|user| user == s.user))
                .filter(|s| session.is_none_or(|session| session == s.session))
            {
                close(&s.sub.tx, "access revoked");
            }
        }
        if user.is_none()
            && let Some(by_visitor) = routes.widgets.get(&tenant)
        {
            for s in by_visitor.values().flatten() {
                close(&s.tx, "tenant suspended");
            }
        }
    }

    fn routes(&self) -> MutexGuard<'_, Routes> {
        // A panic while holding the lock leaves the maps consistent (every change is one call),
        // so carry on rather than take every socket down with it.
        self.routes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
