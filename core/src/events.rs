//! Domain events, published after the change they describe has committed.
//!
//! Core publishes through the [`EventBus`] port. [`BroadcastBus`] fans them out inside one
//! process; a bus that carries them between server nodes implements the same trait.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::alert::OperatorAlert;
use crate::chat::Chat;
use crate::ids::{ChatId, MessageId, TenantId, UserId, VisitorId};
use crate::message::{Message, Reader};
use crate::note::Note;
use crate::operator::{OperatorName, OperatorStatus};
use crate::visitor::VisitorContext;

/// Serializable so that a bus between nodes can carry it (see the web crate's cluster bus).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DomainEvent {
    MessageCreated {
        tenant: TenantId,
        visitor: VisitorId,
        message: Message,
    },
    /// An edit: the message carries its new text and `edited_at`.
    MessageUpdated {
        tenant: TenantId,
        visitor: VisitorId,
        message: Message,
    },
    MessageRead {
        tenant: TenantId,
        visitor: VisitorId,
        chat: ChatId,
        up_to: MessageId,
        by: Reader,
    },
    /// An operator's internal note: to operators only, never to the visitor.
    NoteAdded { tenant: TenantId, note: Note },
    /// What the operators see of a visitor beside the dialog changed (a new page): to
    /// operators only.
    VisitorContextChanged {
        tenant: TenantId,
        chat: ChatId,
        context: VisitorContext,
    },
    /// Category, presence, assignment or state changed.
    ChatUpdated { tenant: TenantId, chat: Chat },
    PresenceChanged {
        tenant: TenantId,
        visitor: VisitorId,
        online: bool,
    },
    /// Whether a visitor writing now would reach an operator; sent when it may have changed.
    AvailabilityChanged {
        tenant: TenantId,
        operators_available: bool,
    },
    /// Someone is typing in a chat. Ephemeral: nothing is stored; it rides the bus so that it
    /// reaches sockets on every node.
    Typing {
        tenant: TenantId,
        visitor: VisitorId,
        chat: ChatId,
        by: Reader,
        /// Who, when an operator types: the visitor sees the name.
        #[serde(default)]
        operator: Option<OperatorName>,
    },
    /// An operator's status changed (by them, in any tab or device, or by an admin):
    /// workspaces show it, the operator's own status menu included.
    OperatorStatusChanged {
        tenant: TenantId,
        user: UserId,
        status: OperatorStatus,
    },
    /// An alert routed to the tenant's operators: the workspace sounds it.
    OperatorAlert {
        tenant: TenantId,
        alert: OperatorAlert,
    },
    /// Credentials stopped working: one operator's (deactivated) or, with `user: None`, the
    /// whole tenant's (suspended). Open sockets of theirs must close.
    AccessRevoked {
        tenant: TenantId,
        user: Option<UserId>,
        /// One session only (logout): the hex SHA-256 of its token, as stored.
        #[serde(default)]
        session: Option<String>,
    },
}

impl DomainEvent {
    pub fn tenant(&self) -> TenantId {
        match self {
            Self::MessageCreated { tenant, .. }
            | Self::MessageUpdated { tenant, .. }
            | Self::MessageRead { tenant, .. }
            | Self::NoteAdded { tenant, .. }
            | Self::VisitorContextChanged { tenant, .. }
            | Self::ChatUpdated { tenant, .. }
            | Self::PresenceChanged { tenant, .. }
            | Self::AvailabilityChanged { tenant, .. }
            | Self::Typing { tenant, .. }
            | Self::OperatorAlert { tenant, .. }
            | Self::OperatorStatusChanged { tenant, .. }
            | Self::AccessRevoked { tenant, .. } => *tenant,
        }
    }
}

pub trait EventBus: Send + Sync + 'static {
    /// Must not block: it is called on the request path right after a commit.
    fn publish(&self, event: DomainEvent);
}

/// In-process fan-out. A subscriber that falls behind by more than the capacity loses the oldest
/// events and is told so by `RecvError::Lagged`, never blocking publishers.
#[derive(Clone, Debug)]
pub struct BroadcastBus {
    sender: broadcast::Sender<DomainEvent>,
}

impl BroadcastBus {
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity);
        Self { sender }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<DomainEvent> {
        self.sender.subscribe()
    }
}

impl Default for BroadcastBus {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl EventBus for BroadcastBus {
    fn publish(&self, event: DomainEvent) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.sender.send(event);
    }
}
