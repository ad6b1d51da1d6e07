//! Search over one tenant's million messages: seeds a busy company's history (10,000 dialogs of
//! 100 messages from a vocabulary of 20,000 words, common ones far more often, with order numbers
//! and names in them) beside a second company's, then times searches through the real service —
//! a rare word, a common one, two words, a prefix, an order number, a visitor's name — and prints
//! their latency percentiles.
//!
//! `cargo bench -p tandem-core --bench search` — PostgreSQL too when `TANDEM_TEST_POSTGRES_URL`
//! is set. `BENCH_MESSAGES` (default 1,000,000) and `BENCH_QUERIES` (default 600) change the
//! size.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};
use tandem_core::chat::{Category, ChatState};
use tandem_core::entity::{chat, message, visitor};
use tandem_core::ids::{ChatId, MessageId, TenantId, VisitorId};
use tandem_core::limits::Limits;
use tandem_core::message::{Author, MessageChannel};
use tandem_core::tenant::NewTenant;
use tandem_core::{Ports, Tandem};
use tandem_migrations::MigratorTrait;
use tandem_testkit::test_db::{POSTGRES_URL_VAR, TestDatabase};

const PER_CHAT: usize = 100;

/// Makes one query of a kind.
type QueryMaker = Box<dyn Fn(&mut StdRng) -> String>;
const VOCABULARY: usize = 20_000;
const BATCH: usize = 1_000;
/// Order numbers in the texts: few enough that a number searched for is usually there.
const ORDERS: std::ops::Range<u32> = 100_000..150_000;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let messages = setting("BENCH_MESSAGES", 1_000_000);
    let queries = setting("BENCH_QUERIES", 600);
    println!("search: {messages} messages in one tenant, {queries} searches of each kind");
    println!(
        "{:<10} {:<14} {:>8} {:>10} {:>10} {:>10}",
        "database", "query", "hits", "p50 ms", "p99 ms", "max ms"
    );
    run("sqlite", TestDatabase::sqlite().await, messages, queries).await;
    if std::env::var(POSTGRES_URL_VAR).is_ok() {
        if let Some(db) = TestDatabase::postgres().await {
            run("postgres", db, messages, queries).await;
        }
    } else {
        println!("postgres   (skipped: set {POSTGRES_URL_VAR})");
    }
}

/// Word `rank` of the vocabulary: `w` and a base-26 spelling, so that every word is a word.
fn word(rank: usize) -> String {
    let mut n = rank;
    let mut out = String::from("w");
    loop {
        out.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            return out;
        }
    }
}

/// A rank drawn so that common words come far more often (about Zipf's law).
fn zipf(rng: &mut StdRng) -> usize {
    let x: f64 = rng.random();
    ((VOCABULARY as f64).powf(x) - 1.0) as usize
}

fn sentence(rng: &mut StdRng) -> String {
    let words = rng.random_range(6..20);
    let mut text: Vec<String> = (0..words).map(|_| word(zipf(rng))).collect();
    if rng.random_ratio(1, 10) {
        text.push(format!("order {}", rng.random_range(ORDERS)));
    }
    text.join(" ")
}

async fn run(name: &str, database: TestDatabase, messages: usize, queries: usize) {
    let db = tandem_core::database::connect(database.url())
        .await
        .expect("connect");
    tandem_migrations::Migrator::up(&db, None)
        .await
        .expect("migrate");
    let tandem = Tandem::new(db.clone(), Ports::default(), Limits::default());
    let mut tenants = Vec::new();
    for slug in ["busy", "other"] {
        let created = tandem
            .tenants
            .create(
                &tandem_core::audit::PlatformActor::command_line(),
                NewTenant {
                    slug: slug.into(),
                    name: slug.into(),
                    admin_email: format!("a@{slug}.example"),
                    admin_password: Some("bench-password".into()),
                },
            )
            .await
            .expect("tenant");
        tenants.push(created.tenant_id);
    }
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(7);
    seed(&db, tenants[0], messages, &mut rng).await;
    seed(&db, tenants[1], messages / 10, &mut rng).await;
    if name == "postgres" {
        use sea_orm::ConnectionTrait;
        db.execute_unprepared("ANALYZE").await.expect("analyze");
    }
    println!(
        "{name:<10} seeded in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    let (actor, _) = tandem
        .operators
        .authenticate("busy", "a@busy.example", "bench-password")
        .await
        .expect("sign in");
    let chats = messages / PER_CHAT;
    let kinds: [(&str, QueryMaker); 6] = [
        (
            "rare word",
            Box::new(|r| word(r.random_range(15_000..VOCABULARY))),
        ),
        ("common word", Box::new(|r| word(r.random_range(0..20)))),
        (
            "two words",
            Box::new(|r| {
                format!(
                    "{} {}",
                    word(r.random_range(0..200)),
                    word(r.random_range(200..5_000))
                )
            }),
        ),
        (
            "prefix",
            Box::new(|r| word(r.random_range(26..2_000))[..3].to_owned()),
        ),
        (
            "order number",
            Box::new(|r| r.random_range(ORDERS).to_string()),
        ),
        (
            "visitor name",
            Box::new(move |r| format!("visitor{}", r.random_range(0..chats))),
        ),
    ];
    for (kind, make) in &kinds {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        let mut found = 0;
        for _ in 0..queries {
            let q = make(&mut rng);
            let t = Instant::now();
            let hits = tandem.search.search(&actor, &q, 20).await.expect("search");
            histogram.record(micros(t.elapsed())).unwrap();
            found += hits.len();
        }
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{name:<10} {kind:<14} {:>8.1} {:>10.2} {:>10.2} {:>10.2}",
            found as f64 / queries as f64,
            ms(0.5),
            ms(0.99),
            histogram.max() as f64 / 1000.0
        );
    }
}

/// `messages` messages of `tenant` in dialogs of [`PER_CHAT`], over the last year.
async fn seed(db: &DatabaseConnection, tenant: TenantId, messages: usize, rng: &mut StdRng) {
    let now = 1_795_000_000_000_i64;
    let year = 365 * 24 * 3_600_000_i64;
    let chats = messages.div_ceil(PER_CHAT);
    let mut visitors = Vec::with_capacity(BATCH);
    let mut rows = Vec::with_capacity(BATCH);
    for c in 0..chats {
        let visitor_id = VisitorId::new();
        let chat_id = ChatId::new();
        let opened = now - rng.random_range(0..year);
        visitors.push((
            visitor::ActiveModel {
                id: Set(visitor_id),
                tenant_id: Set(tenant),
                name: Set(Some(format!("Visitor{c} Surname{}", c % 97))),
                email: Set(Some(format!("visitor{c}@mail.example"))),
                locale: Set(None),
                online: Set(false),
                leaving_at: Set(None),
                created_at: Set(opened),
                last_seen_at: Set(opened),
                emails_stopped: Set(false),
                email_confirmed: Set(None),
                visits: Set(1),
                visit_started_at: Set(Some(opened)),
                referrer: Set(None),
                user_agent: Set(None),
                time_zone: Set(None),
            },
            chat::ActiveModel {
                id: Set(chat_id),
                tenant_id: Set(tenant),
                visitor_id: Set(visitor_id),
                state: Set(ChatState::Closed),
                category: Set(Category::Closed),
                visitor_online: Set(false),
                operator_id: Set(None),
                unanswered: Set(false),
                last_seq: Set(PER_CHAT as i64),
                created_at: Set(opened),
                last_message_at: Set(opened),
                closed_at: Set(Some(opened)),
                tags: Set("[]".into()),
                priority: Set(None),
                waiting_since: Set(None),
                wait_alert_at: Set(None),
                preview: Set(None),
                preview_author: Set(None),
                unread: Set(0),
                rating: Set(None),
                rating_comment: Set(None),
                rated_at: Set(None),
                rated_close_at: Set(None),
                erased_at: Set(None),
            },
        ));
        for seq in 1..=PER_CHAT.min(messages - c * PER_CHAT) {
            let author = if seq % 2 == 1 {
                Author::Visitor
            } else {
                Author::Operator
            };
            rows.push(message::ActiveModel {
                id: Set(MessageId::new()),
                tenant_id: Set(tenant),
                chat_id: Set(chat_id),
                seq: Set(seq as i64),
                author: Set(author),
                operator_id: Set(None),
                body: Set(sentence(rng)),
                client_id: Set(None),
                created_at: Set(opened + seq as i64 * 60_000),
                edited_at: Set(None),
                read_by_visitor_at: Set(None),
                read_by_operator_at: Set(None),
                emailed_at: Set(None),
                channel: Set(MessageChannel::Widget),
                quoted: Set(None),
                mail_from: Set(None),
                attachment: Set(None),
                deleted_at: Set(None),
            });
            if rows.len() == BATCH {
                flush(db, &mut visitors, &mut rows).await;
            }
        }
        if visitors.len() == BATCH {
            flush(db, &mut visitors, &mut rows).await;
        }
    }
    flush(db, &mut visitors, &mut rows).await;
}

async fn flush(
    db: &DatabaseConnection,
    visitors: &mut Vec<(visitor::ActiveModel, chat::ActiveModel)>,
    rows: &mut Vec<message::ActiveModel>,
) {
    if !visitors.is_empty() {
        let (people, chats): (Vec<_>, Vec<_>) = std::mem::take(visitors).into_iter().unzip();
        visitor::Entity::insert_many(people)
            .exec_without_returning(db)
            .await
            .expect("visitors");
        chat::Entity::insert_many(chats)
            .exec_without_returning(db)
            .await
            .expect("chats");
    }
    if !rows.is_empty() {
        message::Entity::insert_many(std::mem::take(rows))
            .exec_without_returning(db)
            .await
            .expect("messages");
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}
