//! Server-wide limits on what users may send, configured by the binary.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest message body, in characters (not bytes).
    pub max_message_chars: usize,
}

impl Limits {
    pub const DEFAULT_MAX_MESSAGE_CHARS: usize = 10_000;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_chars: Self::DEFAULT_MAX_MESSAGE_CHARS,
        }
    }
}
