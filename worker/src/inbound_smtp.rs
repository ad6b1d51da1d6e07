//! An SMTP listener for the inbound domain (`TANDEM_INBOUND_SMTP_BIND`), for an MX record
//! pointed at Tandem: it takes mail for the dialogs' reply addresses only, and hands each to the
//! same reading and the same core service as `POST /api/v1/inbound/email`. The protocol is
//! parsed by `smtp-proto`; this file holds the session: what is accepted when, and the limits
//! (one mail's size, the time a client may take, connections at once).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use smtp_proto::Request;
use smtp_proto::request::receiver::{DataReceiver, RequestReceiver};
use tandem_core::CoreError;
use tandem_core::Tandem;
use tandem_core::held::OpenCounts;
use tandem_core::inbound::InboundError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::inbound::{self, MAX_INBOUND_BYTES};

/// Sessions at once; more wait in the listen queue.
const SESSIONS: usize = 64;
/// Sessions one client address may hold, so that one sender cannot take them all.
const SESSIONS_PER_IP: usize = 8;
/// A client silent this long is dropped.
const IDLE: Duration = Duration::from_secs(60);
/// The longest a session may last, however steadily a client trickles.
const SESSION_TIME: Duration = Duration::from_secs(300);
/// Recipients of one mail.
const MAX_RECIPIENTS: usize = 20;

/// Takes mail on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, tandem: Tandem, domain: String) {
    let domain: Arc<str> = domain.to_ascii_lowercase().into();
    let sessions = Arc::new(Semaphore::new(SESSIONS));
    let per_ip: OpenCounts<IpAddr> = OpenCounts::default();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "inbound SMTP: cannot accept");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(place) = per_ip.take(peer.ip(), SESSIONS_PER_IP) else {
            // Refused at once: "421" tells a real MTA to come back later.
            let mut stream = stream;
            let _ = stream
                .write_all(b"421 4.7.0 Too many connections from you\r\n")
                .await;
            continue;
        };
        let Ok(turn) = sessions.clone().acquire_owned().await else {
            return;
        };
        let (tandem, domain) = (tandem.clone(), domain.clone());
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let (_turn, _place) = (turn, place);
            let mut session = Session::new(stream, peer, &tandem, &domain);
            match tokio::time::timeout(SESSION_TIME, session.run()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "inbound SMTP session ended"),
                Err(_) => tracing::debug!(%peer, "inbound SMTP session ran out of time"),
            }
        });
    }
}

struct Session<'a> {
    stream: TcpStream,
    peer: SocketAddr,
    tandem: &'a Tandem,
    domain: &'a str,
    from: Option<String>,
    recipients: Vec<String>,
}

impl<'a> Session<'a> {
    fn new(stream: TcpStream, peer: SocketAddr, tandem: &'a Tandem, domain: &'a str) -> Self {
        Self {
            stream,
            peer,
            tandem,
            domain,
            from: None,
            recipients: Vec::new(),
        }
    }

    async fn run(&mut self) -> std::io::Result<()> {
        self.say(&format!("220 {} Tandem ESMTP", self.domain))
            .await?;
        let mut requests = RequestReceiver::default();
        let mut chunk = vec![0u8; 8192];
        loop {
            let read = tokio::time::timeout(IDLE, self.stream.read(&mut chunk)).await;
            let n = match read {
                Ok(Ok(0)) | Err(_) => return Ok(()),
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(e),
            };
            let mut bytes = chunk[..n].iter();
            loop {
                let request = match requests.ingest(&mut bytes) {
                    Ok(request) => request.into_owned(),
                    Err(smtp_proto::Error::NeedsMoreData { .. }) => break,
                    Err(_) => {
                        self.say("500 5.5.2 Syntax error").await?;
                        continue;
                    }
                };
                match request {
                    Request::Ehlo { .. } => {
                        let greeting = format!(
                            "250-{}\r\n250-8BITMIME\r\n250 SIZE {MAX_INBOUND_BYTES}",
                            self.domain
                        );
                        self.say(&greeting).await?;
                    }
                    Request::Helo { .. } => self.say(&format!("250 {}", self.domain)).await?,
                    Request::Mail { from } => {
                        self.from = Some(from.address);
                        self.recipients.clear();
                        self.say("250 2.1.0 OK").await?;
                    }
                    Request::Rcpt { to } => {
                        let reply = self.recipient(&to.address);
                        self.say(reply).await?;
                    }
                    Request::Data => {
                        if self.from.is_none() || self.recipients.is_empty() {
                            self.say("503 5.5.1 MAIL and RCPT first").await?;
                            continue;
                        }
                        self.say("354 End the mail with <CRLF>.<CRLF>").await?;
                        let leftover = bytes.as_slice().to_vec();
                        let Some(raw) = self.data(&leftover).await? else {
                            self.say("552 5.3.4 The mail is too large").await?;
                            return Ok(());
                        };
                        let reply = self.deliver(&raw).await;
                        self.say(&reply).await?;
                        self.from = None;
                        self.recipients.clear();
                        // What followed the mail in the last read was consumed with it.
                        break;
                    }
                    Request::Rset => {
                        self.from = None;
                        self.recipients.clear();
                        self.say("250 2.0.0 OK").await?;
                    }
                    Request::Noop { .. } => self.say("250 2.0.0 OK").await?,
                    Request::Quit => {
                        self.say("221 2.0.0 Bye").await?;
                        return Ok(());
                    }
                    _ => self.say("502 5.5.1 Not implemented").await?,
                }
            }
        }
    }

    /// Only the dialogs' addresses on the inbound domain take mail.
    fn recipient(&mut self, address: &str) -> &'static str {
        let lower = address.to_ascii_lowercase();
        let ours = lower
            .rsplit_once('@')
            .is_some_and(|(local, domain)| local.starts_with("reply+") && domain == self.domain);
        if !ours {
            return "550 5.1.1 No such mailbox here";
        }
        if self.recipients.len() >= MAX_RECIPIENTS {
            return "452 4.5.3 Too many recipients";
        }
        self.recipients.push(address.to_owned());
        "250 2.1.5 OK"
    }

    /// The mail after DATA, up to the lone dot; `None` past the size limit.
    async fn data(&mut self, leftover: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
        let mut receiver = DataReceiver::new();
        let mut raw = Vec::new();
        if receiver.ingest(&mut leftover.iter(), &mut raw) {
            return Ok(Some(raw));
        }
        let mut chunk = vec![0u8; 8192];
        loop {
            if raw.len() > MAX_INBOUND_BYTES {
                return Ok(None);
            }
            let read = tokio::time::timeout(IDLE, self.stream.read(&mut chunk)).await;
            let n = match read {
                Ok(Ok(0)) | Err(_) => {
                    return Err(std::io::Error::other("the client left during DATA"));
                }
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(e),
            };
            let mut more = chunk[..n].iter();
            if receiver.ingest(&mut more, &mut raw) {
                return Ok(Some(raw));
            }
        }
    }

    /// The mail read and handed to core; the SMTP answer says how it went.
    async fn deliver(&self, raw: &[u8]) -> String {
        let mut mail = match inbound::parse(raw) {
            Ok(mail) => mail,
            Err(e) => return format!("554 5.6.0 {e}"),
        };
        // The envelope is what the MX was asked to deliver to, whatever the headers say.
        mail.recipients.extend(self.recipients.iter().cloned());
        if mail.from.is_empty() {
            mail.from = self.from.clone().unwrap_or_default();
        }
        if self.from.as_deref() == Some("") {
            // A null reverse path: a bounce.
            mail.automatic = true;
        }
        match self.tandem.inbound.receive(mail).await {
            Ok(message) => format!("250 2.0.0 OK {}", message.id),
            Err(InboundError::Core(CoreError::RateLimited { retry_after_secs })) => {
                tracing::info!(peer = %self.peer, retry_after_secs, "inbound SMTP: over the company's messages a minute");
                "451 4.7.0 Too many messages for this conversation's company; try again later"
                    .to_owned()
            }
            Err(InboundError::Core(e)) => {
                tracing::warn!(peer = %self.peer, error = %e, "inbound SMTP: cannot store the mail");
                "451 4.3.0 Try again later".to_owned()
            }
            Err(refused) => {
                tracing::info!(peer = %self.peer, reason = %refused, "inbound mail refused");
                format!("550 5.7.1 {refused}")
            }
        }
    }

    /// One reply, in one write: two small writes would wait on each other (Nagle's algorithm
    /// against the client's delayed ACK), 40 ms per reply.
    async fn say(&mut self, line: &str) -> std::io::Result<()> {
        let mut reply = Vec::with_capacity(line.len() + 2);
        reply.extend_from_slice(line.as_bytes());
        reply.extend_from_slice(b"\r\n");
        self.stream.write_all(&reply).await?;
        self.stream.flush().await
    }
}
