//! Mail goes out without Nagle's delay: the SMTP connection sets `TCP_NODELAY`. lettre 0.11.23
//! does not, and every message then waited ~40 ms for the server's delayed ACK of its body
//! before its final "." went out; the workspace patches it until a release has the fix
//! (vendor/README.md).
#![cfg(target_os = "linux")]

use tandem_testkit::smtp::SmtpSink;
use tandem_testkit::sockets::tcp_nodelay_to;
use tandem_worker::mail::{Email, Mailer, SmtpMailer};

#[tokio::test]
async fn the_smtp_connection_sends_without_delay() {
    let sink = SmtpSink::start().await;
    let mailer = SmtpMailer::from_url(&sink.url()).expect("an SMTP URL");
    let email = Email {
        from: "Acme <support@acme.test>".parse().expect("a mailbox"),
        to: "visitor@example.test".parse().expect("a mailbox"),
        subject: "A reply".into(),
        text: "Hello".into(),
        html: "<p>Hello</p>".into(),
        message_id: "one@acme.test".into(),
        thread_id: "thread@acme.test".into(),
        unsubscribe_url: None,
        reply_to: None,
    };
    mailer.send(&email).await.expect("sent");
    assert_eq!(sink.received().len(), 1);

    // The pool keeps the connection open for the next mail.
    let sockets = tcp_nodelay_to(sink.addr);
    assert_eq!(sockets.len(), 1, "the pooled connection to the sink");
    assert!(sockets[0], "the SMTP connection waits on Nagle's algorithm");
}
