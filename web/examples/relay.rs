//! The floor under the realtime figures: a bare axum WebSocket relay that does, for the load
//! generator (`--example load -- --relay`), what Tandem's sockets do for it and nothing more —
//! no database, no sign-in, no limits, no presence. A visitor's frame
//! `{"type":"message.send","body":…}` is parsed and sent back to its visitor and to every
//! operator socket as `{"type":"message.created","message":{"body":…}}`.
//!
//! ```sh
//! cargo run --release -p tandem-web --example relay -- --bind 127.0.0.1:8090
//! ```

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:8090")]
    bind: String,
}

/// Every operator socket hears every message.
#[derive(Clone)]
struct Relay {
    operators: broadcast::Sender<Utf8Bytes>,
}

#[derive(Deserialize)]
struct Send {
    body: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let relay = Relay {
        operators: broadcast::channel(4096).0,
    };
    let app = Router::new()
        .route("/operator", get(operator))
        .route("/visitor", get(visitor))
        .with_state(relay);
    // As Tandem's listener: each socket without Nagle's algorithm, so a frame written while the
    // last is unacknowledged goes out at once.
    let listener = tokio::net::TcpListener::bind(&args.bind).await?;
    println!("relay listening on {}", listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}

async fn operator(upgrade: WebSocketUpgrade, State(relay): State<Relay>) -> Response {
    upgrade.on_upgrade(move |socket| async move {
        let (mut sink, mut incoming) = socket.split();
        let mut frames = relay.operators.subscribe();
        loop {
            tokio::select! {
                frame = frames.recv() => match frame {
                    Ok(frame) => {
                        if sink.send(Message::Text(frame)).await.is_err() {
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                read = incoming.next() => if !matches!(read, Some(Ok(_))) {
                    break;
                },
            }
        }
    })
}

async fn visitor(upgrade: WebSocketUpgrade, State(relay): State<Relay>) -> Response {
    upgrade.on_upgrade(move |socket| talk(socket, relay))
}

async fn talk(mut socket: WebSocket, relay: Relay) {
    if socket
        .send(Message::Text(r#"{"type":"hello"}"#.into()))
        .await
        .is_err()
    {
        return;
    }
    while let Some(Ok(read)) = socket.recv().await {
        let Message::Text(text) = read else {
            continue;
        };
        let Ok(sent) = serde_json::from_str::<Send>(text.as_str()) else {
            continue;
        };
        let created = json!({"type": "message.created", "message": {"body": sent.body}});
        let created = Utf8Bytes::from(created.to_string());
        relay.operators.send(created.clone()).ok();
        if socket.send(Message::Text(created)).await.is_err() {
            break;
        }
    }
}
