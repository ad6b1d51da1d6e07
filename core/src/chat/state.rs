//! The chat state machine and the category rule of the API contract.
//!
//! A chat's category follows from three facts only: open or closed, assigned or not, and whether
//! the visitor is on the site. Operator availability never enters into it: it decides what the
//! widget shows (chat or offline form), not where a chat belongs.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ids::UserId;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum ChatState {
    #[sea_orm(string_value = "open")]
    Open,
    #[sea_orm(string_value = "closed")]
    Closed,
}

/// Where a chat shows in the operator workspace. The queue is `Waiting` and `Offline`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Open, nobody assigned, visitor on the site: waiting for a reply.
    #[sea_orm(string_value = "waiting")]
    Waiting,
    /// Open, nobody assigned, visitor gone: offline requests and queued visitors who left.
    #[sea_orm(string_value = "offline")]
    Offline,
    /// Open and assigned to an operator, whether or not the visitor is on the site.
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "closed")]
    Closed,
}

impl Category {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "waiting" => Some(Self::Waiting),
            "offline" => Some(Self::Offline),
            "active" => Some(Self::Active),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// The facts about a chat that the rules act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChatStatus {
    pub state: ChatState,
    /// The assigned operator; a closed chat keeps the last one, for the record.
    pub operator: Option<UserId>,
    pub visitor_online: bool,
}

/// A transition the rules refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    ChatClosed,
}

impl ChatStatus {
    /// A chat starts when a visitor writes (or sends the offline form): open and unassigned.
    pub fn started(visitor_online: bool) -> Self {
        Self {
            state: ChatState::Open,
            operator: None,
            visitor_online,
        }
    }

    pub fn category(&self) -> Category {
        match (self.state, self.operator, self.visitor_online) {
            (ChatState::Closed, _, _) => Category::Closed,
            (ChatState::Open, Some(_), _) => Category::Active,
            (ChatState::Open, None, true) => Category::Waiting,
            (ChatState::Open, None, false) => Category::Offline,
        }
    }

    /// The visitor opened the widget (a first socket) or left the site (the last socket closed
    /// and the grace period ran out). Any number of times, in any state.
    pub fn with_presence(self, visitor_online: bool) -> Self {
        Self {
            visitor_online,
            ..self
        }
    }

    /// The visitor wrote. A closed chat reopens into the queue: whoever handled it before may be
    /// gone, so nobody is assigned until an operator answers or takes it.
    pub fn visitor_wrote(self) -> Self {
        match self.state {
            ChatState::Open => self,
            ChatState::Closed => Self {
                state: ChatState::Open,
                operator: None,
                ..self
            },
        }
    }

    /// An operator replied. An unassigned chat becomes theirs; a closed one reopens as theirs (a
    /// follow-up). Whether they may write to a chat assigned to someone else is a permission
    /// question for the service, not a state question: the assignment is kept.
    pub fn operator_replied(self, operator: UserId) -> Self {
        match (self.state, self.operator) {
            (ChatState::Closed, _) => Self {
                state: ChatState::Open,
                operator: Some(operator),
                ..self
            },
            (ChatState::Open, None) => Self {
                operator: Some(operator),
                ..self
            },
            (ChatState::Open, Some(_)) => self,
        }
    }

    /// Assign to an operator, or return the chat to the queue with `None`.
    pub fn assigned(self, operator: Option<UserId>) -> Result<Self, Refused> {
        match self.state {
            ChatState::Open => Ok(Self { operator, ..self }),
            ChatState::Closed => Err(Refused::ChatClosed),
        }
    }

    /// Closing a closed chat changes nothing.
    pub fn closed(self) -> Self {
        Self {
            state: ChatState::Closed,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op() -> UserId {
        UserId::new()
    }

    #[test]
    fn category_of_every_combination() {
        let someone = Some(op());
        let cases = [
            (ChatState::Open, None, true, Category::Waiting),
            (ChatState::Open, None, false, Category::Offline),
            (ChatState::Open, someone, true, Category::Active),
            (ChatState::Open, someone, false, Category::Active),
            (ChatState::Closed, None, true, Category::Closed),
            (ChatState::Closed, None, false, Category::Closed),
            (ChatState::Closed, someone, true, Category::Closed),
            (ChatState::Closed, someone, false, Category::Closed),
        ];
        for (state, operator, visitor_online, expected) in cases {
            let status = ChatStatus {
                state,
                operator,
                visitor_online,
            };
            assert_eq!(status.category(), expected, "{status:?}");
        }
    }

    #[test]
    fn night_visitor_who_wrote_and_left_is_offline_and_open() {
        let chat = ChatStatus::started(true)
            .visitor_wrote()
            .with_presence(false);
        assert_eq!(chat.state, ChatState::Open);
        assert_eq!(chat.category(), Category::Offline);
    }

    #[test]
    fn queued_visitor_who_left_moves_from_waiting_to_offline() {
        let chat = ChatStatus::started(true);
        assert_eq!(chat.category(), Category::Waiting);
        assert_eq!(chat.with_presence(false).category(), Category::Offline);
    }

    #[test]
    fn visitor_who_comes_back_is_waiting_again_whatever_the_operators_do() {
        let chat = ChatStatus::started(false);
        assert_eq!(chat.category(), Category::Offline);
        assert_eq!(chat.with_presence(true).category(), Category::Waiting);
    }

    #[test]
    fn presence_flips_any_number_of_times() {
        let mut chat = ChatStatus::started(true);
        for _ in 0..5 {
            chat = chat.with_presence(false);
            assert_eq!(chat.category(), Category::Offline);
            chat = chat.with_presence(true);
            assert_eq!(chat.category(), Category::Waiting);
        }
        let mine = chat.operator_replied(op());
        for online in [false, true, false] {
            assert_eq!(mine.with_presence(online).category(), Category::Active);
            assert_eq!(mine.with_presence(online).visitor_online, online);
        }
    }

    #[test]
    fn first_reply_assigns_and_later_replies_keep_the_assignment() {
        let (alice, bob) = (op(), op());
        let chat = ChatStatus::started(true).operator_replied(alice);
        assert_eq!(chat.operator, Some(alice));
        assert_eq!(chat.category(), Category::Active);
        assert_eq!(chat.operator_replied(bob).operator, Some(alice));
    }

    #[test]
    fn closed_chat_reopens_into_the_queue_when_the_visitor_writes() {
        let alice = op();
        let closed = ChatStatus::started(true).operator_replied(alice).closed();
        assert_eq!(closed.category(), Category::Closed);
        assert_eq!(
            closed.operator,
            Some(alice),
            "the record of who handled it stays"
        );
        let reopened = closed.visitor_wrote();
        assert_eq!(reopened.state, ChatState::Open);
        assert_eq!(reopened.operator, None);
        assert_eq!(reopened.category(), Category::Waiting);
        assert_eq!(
            closed.with_presence(false).visitor_wrote().category(),
            Category::Offline
        );
    }

    #[test]
    fn operator_follow_up_reopens_a_closed_chat_as_theirs() {
        let bob = op();
        let chat = ChatStatus::started(false).closed().operator_replied(bob);
        assert_eq!(chat.state, ChatState::Open);
        assert_eq!(chat.operator, Some(bob));
        assert_eq!(chat.category(), Category::Active);
    }

    #[test]
    fn assignment_and_return_to_queue() {
        let alice = op();
        let chat = ChatStatus::started(true).assigned(Some(alice)).unwrap();
        assert_eq!(chat.category(), Category::Active);
        let back = chat.assigned(None).unwrap();
        assert_eq!(back.category(), Category::Waiting);
        assert_eq!(
            chat.closed().assigned(Some(alice)),
            Err(Refused::ChatClosed)
        );
    }

    #[test]
    fn closing_is_idempotent_and_keeps_presence() {
        let chat = ChatStatus::started(true).closed();
        assert_eq!(chat.closed(), chat);
        assert!(chat.visitor_online);
    }

    #[test]
    fn categories_parse_from_their_wire_names_only() {
        for c in [
            Category::Waiting,
            Category::Offline,
            Category::Active,
            Category::Closed,
        ] {
            let name = serde_json::to_value(c).unwrap();
            assert_eq!(Category::parse(name.as_str().unwrap()), Some(c));
        }
        assert_eq!(Category::parse("Waiting"), None);
        assert_eq!(Category::parse(""), None);
    }
}
