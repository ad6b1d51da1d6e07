//! Measures replies by email through Tandem's own SMTP listener: N dialogs each get one reply,
//! sent by a few concurrent SMTP clients on loopback, and each becomes a message in its dialog.
//! Reports mails/s and the time from the client's DATA to the listener's "250" (reading the mail,
//! the checks, the message written), p50/p99/max.
//!
//! ```sh
//! cargo run --release -p tandem-worker --example inbound_load -- \
//!     --database-url 'sqlite:///tmp/inbound-load.db?mode=rwc' --mails 2000 --clients 8
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tandem_core::limits::Limits;
use tandem_core::message::MessageChannel;
use tandem_core::tenant::NewTenant;
use tandem_core::visitor::{ProfilePatch, SessionRequest};
use tandem_core::{Ports, Tandem};
use tandem_migrations::MigratorTrait;

struct Args {
    database_url: String,
    mails: usize,
    clients: usize,
}

fn args() -> Args {
    let mut args = Args {
        database_url: "sqlite:///tmp/tandem-inbound-load.db?mode=rwc".into(),
        mails: 2000,
        clients: 8,
    };
    let mut it = std::env::args().skip(1);
    while let (Some(flag), Some(value)) = (it.next(), it.next()) {
        match flag.as_str() {
            "--database-url" => args.database_url = value,
            "--mails" => args.mails = value.parse().expect("a number"),
            "--clients" => args.clients = value.parse().expect("a number"),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

const DOMAIN: &str = "in.load.example";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args();
    let db = tandem_core::database::connect(&args.database_url).await?;
    tandem_migrations::Migrator::up(&db, None).await?;
    let tandem = Tandem::new(db.clone(), Ports::default(), Limits::default());
    let slug = format!("inbound-{}", std::process::id());
    let created = tandem
        .tenants
        .create(
            &tandem_core::audit::PlatformActor::command_line(),
            NewTenant {
                slug,
                name: "Load".into(),
                admin_email: "admin@load.example".into(),
                admin_password: Some("admin-password-1".into()),
            },
        )
        .await?;
    let tenant = tandem.tenants.by_id(created.tenant_id).await?;

    // One dialog per mail, each with the reply address its unread-reply mail would carry.
    let mut dialogs = Vec::with_capacity(args.mails);
    for i in 0..args.mails {
        let visitor = tandem
            .visitors
            .start_session(&tenant, SessionRequest::default())
            .await?
            .actor;
        let email = format!("visitor{i}@load.example");
        tandem
            .visitors
            .update_profile(
                &visitor,
                ProfilePatch {
                    email: Some(email.clone()),
                    ..Default::default()
                },
            )
            .await?;
        let first = tandem
            .messages
            .send_as_visitor(&visitor, "A question", None)
            .await?;
        let token = tandem
            .visitors
            .issue_reply_token(tenant.id, first.chat_id, &email)
            .await?;
        dialogs.push((email, format!("reply+{token}@{DOMAIN}")));
    }
    println!("{} dialogs ready", dialogs.len());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(tandem_worker::inbound_smtp::serve(
        listener,
        tandem.clone(),
        DOMAIN.into(),
    ));

    let dialogs = Arc::new(dialogs);
    let started = Instant::now();
    let mut clients = Vec::new();
    for c in 0..args.clients {
        let dialogs = dialogs.clone();
        let clients_n = args.clients;
        clients.push(tokio::spawn(async move {
            let mx = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
                .port(port)
                .build();
            let mut latency = Histogram::<u64>::new(3).expect("a histogram");
            let mut errors = 0u64;
            for (email, address) in dialogs.iter().skip(c).step_by(clients_n) {
                let raw = format!(
                    "From: {email}\r\nTo: {address}\r\nSubject: Re: your answer\r\n\
                     Message-ID: <{address}.m@load.example>\r\nContent-Type: text/plain\r\n\r\n\
                     Thanks, that helps.\r\n\r\nOn Tue, 24 Nov 2026, Load wrote:\r\n> An answer\r\n"
                );
                let envelope = Envelope::new(
                    Some(email.parse().expect("an address")),
                    vec![address.parse().expect("an address")],
                )
                .expect("an envelope");
                let sent = Instant::now();
                match mx.send_raw(&envelope, raw.as_bytes()).await {
                    Ok(_) => {
                        let _ = latency.record(sent.elapsed().as_micros() as u64);
                    }
                    Err(_) => errors += 1,
                }
            }
            (latency, errors)
        }));
    }
    let mut latency = Histogram::<u64>::new(3)?;
    let mut errors = 0;
    for client in clients {
        let (h, e) = client.await?;
        latency.add(h)?;
        errors += e;
    }
    let elapsed = started.elapsed();
    let stored = count_email_messages(&db, &tenant).await?;
    println!(
        "{} mails by {} clients in {:.1}s = {:.0} mails/s; {errors} errors; {stored} messages by email stored",
        args.mails,
        args.clients,
        elapsed.as_secs_f64(),
        args.mails as f64 / elapsed.as_secs_f64().max(f64::EPSILON)
    );
    println!(
        "one mail, from its transaction to the listener's 250: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latency.value_at_quantile(0.5) as f64 / 1000.0,
        latency.value_at_quantile(0.99) as f64 / 1000.0,
        latency.max() as f64 / 1000.0
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}

async fn count_email_messages(
    db: &sea_orm::DatabaseConnection,
    tenant: &tandem_core::tenant::Tenant,
) -> anyhow::Result<u64> {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    use tandem_core::entity::message;
    Ok(message::Entity::find()
        .filter(message::Column::TenantId.eq(tenant.id))
        .filter(message::Column::Channel.eq(MessageChannel::Email))
        .count(db)
        .await?)
}
