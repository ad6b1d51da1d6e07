//! What travels between nodes: a node's events, packed into payloads PostgreSQL's `NOTIFY`
//! accepts (under 8,000 bytes), each event whole or, when that is too long, by id.

use serde::{Deserialize, Serialize};
use tandem_core::Tandem;
use tandem_core::error::CoreResult;
use tandem_core::events::DomainEvent;
use tandem_core::ids::{ChatId, MessageId, NoteId, TenantId, VisitorId};

/// PostgreSQL refuses a `NOTIFY` payload of 8,000 bytes or more.
const MAX_PAYLOAD: usize = 7_900;
/// An event longer than this travels by id.
const MAX_WHOLE: usize = 4_000;

#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    /// The sending node, which ignores its own envelopes.
    pub node: String,
    pub events: Vec<Wire>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "wire", rename_all = "snake_case")]
pub enum Wire {
    Whole {
        // Boxed: an event is far larger than the references the other variants carry.
        event: Box<DomainEvent>,
    },
    /// A message too long to carry: read it back.
    Message {
        created: bool,
        tenant: TenantId,
        visitor: VisitorId,
        message: MessageId,
    },
    /// A chat too long to carry (a long name or address): read it back.
    Chat { tenant: TenantId, chat: ChatId },
    /// A note too long to carry: read it back.
    Note { tenant: TenantId, note: NoteId },
    /// A visitor's context too long to carry (many long addresses): read it back.
    Context {
        tenant: TenantId,
        chat: ChatId,
        visitor: VisitorId,
    },
}

/// An envelope as it arrives: each event read on its own, so that one of a kind this node does
/// not know (a newer node's, during a rolling upgrade) is skipped, not the whole envelope.
#[derive(Deserialize)]
struct Arriving {
    node: String,
    events: Vec<serde_json::Value>,
}

/// The sending node and the events of `payload` this node can read; `None` when it is not an
/// envelope at all.
pub fn unpack(payload: &str) -> Option<(String, Vec<Wire>)> {
    let arriving: Arriving = serde_json::from_str(payload).ok()?;
    let mut events = Vec::with_capacity(arriving.events.len());
    for event in arriving.events {
        match serde_json::from_value(event) {
            Ok(wire) => events.push(wire),
            Err(e) => {
                tracing::warn!(error = %e, "an event of a kind this node does not know, from another node; skipped");
            }
        }
    }
    Some((arriving.node, events))
}

/// The payloads that carry `events` from `node`, in order.
pub fn pack(node: &str, events: &[DomainEvent]) -> Vec<String> {
    let prefix = serde_json::to_string(&Envelope {
        node: node.to_owned(),
        events: Vec::new(),
    })
    .expect("an envelope serializes");
    // `{"node":"…","events":[` … `]}`
    let head = &prefix[..prefix.len() - 2];
    let mut payloads = Vec::new();
    let mut current = String::from(head);
    let mut count = 0;
    for event in events {
        let encoded = encode(event);
        if count > 0 && current.len() + encoded.len() + 3 > MAX_PAYLOAD {
            current.push_str("]}");
            payloads.push(std::mem::replace(&mut current, String::from(head)));
            count = 0;
        }
        if count > 0 {
            current.push(',');
        }
        current.push_str(&encoded);
        count += 1;
    }
    if count > 0 {
        current.push_str("]}");
        payloads.push(current);
    }
    payloads
}

/// [`Wire::Whole`] as it is written, borrowing the event instead of copying it.
#[derive(Serialize)]
#[serde(tag = "wire", rename = "whole")]
struct WholeRef<'a> {
    event: &'a DomainEvent,
}

fn encode(event: &DomainEvent) -> String {
    let whole = serde_json::to_string(&WholeRef { event }).expect("events serialize");
    if whole.len() <= MAX_WHOLE {
        return whole;
    }
    let by_id = match event {
        DomainEvent::MessageCreated {
            tenant,
            visitor,
            message,
        }
        | DomainEvent::MessageUpdated {
            tenant,
            visitor,
            message,
        } => Wire::Message {
            created: matches!(event, DomainEvent::MessageCreated { .. }),
            tenant: *tenant,
            visitor: *visitor,
            message: message.id,
        },
        DomainEvent::ChatUpdated { tenant, chat } => Wire::Chat {
            tenant: *tenant,
            chat: chat.id,
        },
        DomainEvent::NoteAdded { tenant, note } => Wire::Note {
            tenant: *tenant,
            note: note.id,
        },
        DomainEvent::VisitorContextChanged {
            tenant,
            chat,
            context,
        } => Wire::Context {
            tenant: *tenant,
            chat: *chat,
            visitor: context.visitor_id,
        },
        // Every other event is a handful of ids (an alert's preview is at most 500 characters).
        _ => return whole,
    };
    serde_json::to_string(&by_id).expect("references serialize")
}

impl Wire {
    /// The event this stands for; `None` when what it refers to is gone.
    pub async fn resolve(self, tandem: &Tandem) -> CoreResult<Option<DomainEvent>> {
        Ok(match self {
            Self::Whole { event } => Some(*event),
            Self::Message {
                created,
                tenant,
                visitor,
                message,
            } => tandem
                .messages
                .for_event(tenant, message)
                .await?
                .map(|message| {
                    if created {
                        DomainEvent::MessageCreated {
                            tenant,
                            visitor,
                            message,
                        }
                    } else {
                        DomainEvent::MessageUpdated {
                            tenant,
                            visitor,
                            message,
                        }
                    }
                }),
            Self::Chat { tenant, chat } => tandem
                .chats
                .for_event(tenant, chat)
                .await?
                .map(|chat| DomainEvent::ChatUpdated { tenant, chat }),
            Self::Note { tenant, note } => tandem
                .notes
                .for_event(tenant, note)
                .await?
                .map(|note| DomainEvent::NoteAdded { tenant, note }),
            Self::Context {
                tenant,
                chat,
                visitor,
            } => tandem
                .visitors
                .context_for_event(tenant, visitor)
                .await?
                .map(|context| DomainEvent::VisitorContextChanged {
                    tenant,
                    chat,
                    context,
                }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_core::clock::Timestamp;
    use tandem_core::message::{Author, Message, Reader};

    fn message(body: &str) -> DomainEvent {
        DomainEvent::MessageCreated {
            tenant: TenantId::new(),
            visitor: VisitorId::new(),
            message: Message {
                id: MessageId::new(),
                chat_id: ChatId::new(),
                channel: Default::default(),
                seq: 1,
                author: Author::Visitor,
                operator_id: None,
                body: body.into(),
                created_at: Timestamp::from_millis(1_700_000_000_123),
                edited_at: None,
                read_by_visitor_at: None,
                read_by_operator_at: None,
                emailed_at: None,
                client_id: Some("c-1".into()),
                quoted: None,
                mail_from: None,
                attachment: None,
                deleted_at: None,
            },
        }
    }

    fn unpack(payload: &str) -> Envelope {
        assert!(payload.len() < 8000, "{} bytes", payload.len());
        serde_json::from_str(payload).expect("an envelope")
    }

    #[test]
    fn an_event_of_an_unknown_kind_is_skipped_not_its_envelope() {
        let known = pack("node-b", &[message("Still here")]).remove(0);
        // A newer node's event kind, between two this node knows.
        let payload = known.replacen(
            "\"events\":[",
            "\"events\":[{\"wire\":\"whole\",\"event\":{\"type\":\"from_the_future\",\"tenant\":\"x\"}},",
            1,
        );
        let (node, events) = super::unpack(&payload).expect("an envelope");
        assert_eq!(node, "node-b");
        assert_eq!(events.len(), 1, "the known event arrives");
        assert!(super::unpack("not json").is_none());
    }

    #[test]
    fn events_travel_whole_and_in_order() {
        let typing = DomainEvent::Typing {
            tenant: TenantId::new(),
            visitor: VisitorId::new(),
            chat: ChatId::new(),
            by: Reader::Visitor,
            operator: None,
        };
        let events = vec![message("Привет, «мир»"), typing.clone()];
        let payloads = pack("node-a", &events);
        assert_eq!(payloads.len(), 1);
        let envelope = unpack(&payloads[0]);
        assert_eq!(envelope.node, "node-a");
        let back: Vec<DomainEvent> = envelope
            .events
            .into_iter()
            .map(|w| match w {
                Wire::Whole { event } => *event,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(back, events);
    }

    #[test]
    fn long_messages_travel_by_id_and_many_events_split() {
        let long = message(&"ы".repeat(5000));
        let DomainEvent::MessageCreated { message: m, .. } = &long else {
            unreachable!()
        };
        let id = m.id;
        let mut events = vec![long];
        events.extend((0..100).map(|i| message(&format!("message {i}"))));
        let payloads = pack("node-a", &events);
        assert!(payloads.len() > 1);
        let mut all = Vec::new();
        for payload in &payloads {
            all.extend(unpack(payload).events);
        }
        assert_eq!(all.len(), 101, "nothing lost or doubled");
        assert!(matches!(
            all[0],
            Wire::Message { created: true, message, .. } if message == id
        ));
        assert!(all[1..].iter().all(|w| matches!(w, Wire::Whole { .. })));
    }
}
