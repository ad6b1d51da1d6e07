//! Who makes a change: a tenant's staff (an [`OperatorActor`]) or the platform operator.

use std::net::IpAddr;

use crate::operator::OperatorActor;

/// The platform operator (the company hosting Tandem): the platform token over the API, the
/// platform console, or the command line on the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlatformActor {
    /// The address the request came from; none on the command line.
    pub from: Option<IpAddr>,
    pub via: PlatformVia,
}

/// How the platform acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformVia {
    /// The API with the platform token.
    Api,
    /// The console, signed in with the platform token.
    Console,
    CommandLine,
    /// Something the platform scheduled, done when its time came (a tenant's deletion).
    Schedule,
}

impl PlatformVia {
    pub fn label(self) -> &'static str {
        match self {
            Self::Api => "platform API",
            Self::Console => "platform console",
            Self::CommandLine => "command line",
            Self::Schedule => "scheduled by the platform",
        }
    }
}

impl PlatformActor {
    pub fn api(from: Option<IpAddr>) -> Self {
        Self {
            from,
            via: PlatformVia::Api,
        }
    }

    pub fn console(from: Option<IpAddr>) -> Self {
        Self {
            from,
            via: PlatformVia::Console,
        }
    }

    /// The housekeeping doing what the platform scheduled.
    pub fn schedule() -> Self {
        Self {
            from: None,
            via: PlatformVia::Schedule,
        }
    }

    pub fn command_line() -> Self {
        Self {
            from: None,
            via: PlatformVia::CommandLine,
        }
    }
}

/// The author of a change, as the trail records it.
#[derive(Clone, Copy, Debug)]
pub enum ChangedBy<'a> {
    Staff(&'a OperatorActor),
    Platform(&'a PlatformActor),
}

impl<'a> From<&'a OperatorActor> for ChangedBy<'a> {
    fn from(actor: &'a OperatorActor) -> Self {
        Self::Staff(actor)
    }
}

impl<'a> From<&'a PlatformActor> for ChangedBy<'a> {
    fn from(actor: &'a PlatformActor) -> Self {
        Self::Platform(actor)
    }
}
