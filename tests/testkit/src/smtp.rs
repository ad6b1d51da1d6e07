//! A small SMTP server on loopback for tests: it speaks enough of RFC 5321 for lettre, keeps
//! what it receives, and can be told to be down (421) or to refuse recipients (550).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// "421 Service not available" at the greeting: a transient failure.
    Down,
    /// "550 No such user" for every recipient: a permanent failure.
    RefuseRecipients,
    /// Takes the message data, then never answers: a server (or network) that hangs.
    Stall,
}

#[derive(Clone, Debug)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Clone)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    mode: Arc<Mutex<Mode>>,
    stalled: Arc<Mutex<usize>>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = Self {
            addr: listener.local_addr().unwrap(),
            received: Arc::default(),
            mode: Arc::new(Mutex::new(Mode::Accept)),
            stalled: Arc::default(),
        };
        let server = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = server.clone();
                tokio::spawn(async move {
                    let _ = server.session(stream).await;
                });
            }
        });
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// How many sessions hung in [`Mode::Stall`].
    pub fn stalled(&self) -> usize {
        *self.stalled.lock().unwrap()
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The mails to the tests' visitors (all at `example.org`): not the operators' alert
    /// digests (their addresses are at `<tenant>.example.com`).
    pub fn to_visitors(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|m| {
                m.to.iter()
                    .any(|to| to.trim_end_matches('>').ends_with("@example.org"))
            })
            .collect()
    }

    async fn session(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        let mode = *self.mode.lock().unwrap();
        if mode == Mode::Down {
            write
                .write_all(b"421 localhost Service not available\r\n")
                .await?;
            return Ok(());
        }
        write
            .write_all(b"220 localhost ESMTP test sink\r\n")
            .await?;
        let mut from = String::new();
        let mut to = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end().to_ascii_uppercase();
            let reply: &[u8] = if command.starts_with("EHLO") {
                b"250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
            } else if command.starts_with("HELO") {
                b"250 localhost\r\n"
            } else if command.starts_with("MAIL FROM:") {
                from = line.trim_end()[10..].trim().to_owned();
                to.clear();
                b"250 OK\r\n"
            } else if command.starts_with("RCPT TO:") {
                if mode == Mode::RefuseRecipients {
                    b"550 5.1.1 No such user here\r\n"
                } else {
                    to.push(line.trim_end()[8..].trim().to_owned());
                    b"250 OK\r\n"
                }
            } else if command == "DATA" {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                if mode == Mode::Stall {
                    *self.stalled.lock().unwrap() += 1;
                    // Hold the connection open and say nothing until the client goes away.
                    while lines.read_line(&mut line).await? > 0 {}
                    return Ok(());
                }
                self.received.lock().unwrap().push(Received {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data,
                });
                b"250 OK queued\r\n"
            } else if command == "QUIT" {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            } else if command == "RSET" || command == "NOOP" {
                b"250 OK\r\n"
            } else {
                b"502 Command not implemented\r\n"
            };
            write.write_all(reply).await?;
        }
    }
}
