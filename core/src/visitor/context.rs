//! What an operator sees of a visitor beside the dialog: the page they are on and the pages of
//! this visit (their widget reports them), where the visit came from, their browser and system
//! (from the user agent), their time zone, how many visits they made, and their address.

use std::time::Instant;

use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::chat::chat_row_of_visitor;
use crate::clock::Timestamp;
use crate::entity::{chat_rating, page_view, transcript_request, visitor};
use crate::error::CoreResult;
use crate::events::DomainEvent;
use crate::ids::{ChatId, PageViewId, TenantId, VisitorId};
use crate::presence::lock_visitor;
use crate::rating::Rating;
use crate::services::Deps;
use crate::text::{cut, forbidden_char, parse_page_url};
use crate::transcript::TranscriptStatus;

use super::VisitorActor;
use super::context_feed::Turn;
use super::service::VisitorService;

/// Pages of a visit shown, at most.
pub const PAGES_SHOWN: u64 = 20;
/// The visitor's ratings the context shows, newest first.
pub const RATINGS_SHOWN: u64 = 10;
/// The visitor's transcript requests the context shows, newest first.
pub const TRANSCRIPTS_SHOWN: u64 = 5;
/// Pages a visitor keeps, at most: older ones go.
const PAGES_KEPT: u64 = 50;
const MAX_TITLE_CHARS: usize = 200;
const MAX_USER_AGENT_CHARS: usize = 512;
const MAX_TIME_ZONE_CHARS: usize = 64;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorContext {
    pub visitor_id: VisitorId,
    pub online: bool,
    /// The page the visitor is on now (the last one reported while on the site).
    pub current_page: Option<PageView>,
    /// The pages of this (or the last) visit, newest first, at most 20.
    pub pages: Vec<PageView>,
    /// Where the visit came from.
    pub referrer: Option<String>,
    /// e.g. "Chrome 120.0.0.0"
    pub browser: Option<String>,
    /// e.g. "Mac OSX 10.15.7"
    pub os: Option<String>,
    /// "pc", "smartphone", "mobilephone", "appliance" or "crawler".
    pub device: Option<String>,
    /// The browser's time zone: its clock shows the visitor's local time.
    pub time_zone: Option<String>,
    pub visits: u32,
    pub first_seen_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub email: Option<String>,
    /// They followed a link mailed to that address.
    pub email_confirmed: bool,
    /// How they rated their conversations when operators closed them, newest first, at most 10.
    #[serde(default)]
    pub ratings: Vec<PastRating>,
    /// The transcripts they asked for by email, newest first, at most 5.
    #[serde(default)]
    pub transcripts: Vec<PastTranscript>,
}

/// A transcript the visitor asked for, as the context shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastTranscript {
    pub email: String,
    pub status: TranscriptStatus,
    pub requested_at: Timestamp,
}

/// One of the visitor's ratings, as the context shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastRating {
    pub rating: Rating,
    pub comment: Option<String>,
    pub rated_at: Timestamp,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageView {
    pub url: String,
    pub title: Option<String>,
    pub at: Timestamp,
}

impl From<page_view::Model> for PageView {
    fn from(row: page_view::Model) -> Self {
        Self {
            url: row.url,
            title: row.title,
            at: Timestamp::from_millis(row.at),
        }
    }
}

/// What a widget reports of the page it is on. Only the address must be right; a title, a
/// referrer or a time zone that is not is left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageReport {
    pub url: String,
    pub title: Option<String>,
    pub referrer: Option<String>,
    pub time_zone: Option<String>,
    /// The `User-Agent` of the widget's connection.
    pub user_agent: Option<String>,
}

impl PageReport {
    /// The report as it will be kept, or why its address is refused.
    fn checked(self) -> CoreResult<Self> {
        let url = parse_page_url(&self.url)?;
        let line = |text: Option<String>, max: usize| {
            text.map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty() && forbidden_char(t, false).is_none())
                .map(|t| cut(&t, max))
        };
        let time_zone = self.time_zone.filter(|tz| {
            (1..=MAX_TIME_ZONE_CHARS).contains(&tz.len())
                && tz
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_+-/".contains(&b))
        });
        Ok(Self {
            url,
            title: line(self.title, MAX_TITLE_CHARS),
            referrer: self.referrer.and_then(|r| parse_page_url(&r).ok()),
            time_zone,
            user_agent: line(self.user_agent, MAX_USER_AGENT_CHARS),
        })
    }
}

impl VisitorService {
    /// The visitor's widget is on a page. A new one is recorded (the same page again, a
    /// reload, is not) and the operators are told, when the visitor has a chat to show it in.
    pub async fn page_viewed(&self, actor: &VisitorActor, report: PageReport) -> CoreResult<()> {
        let report = report.checked()?;
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        // Locked: of two tabs reporting at once, the second sees the first's page.
        let row = lock_visitor(&txn, actor.tenant, actor.visitor).await?;
        let visit_start = row.visit_started_at.unwrap_or(row.created_at);
        let last = page_view::Entity::find()
            .filter(page_view::Column::VisitorId.eq(actor.visitor))
            .filter(page_view::Column::TenantId.eq(actor.tenant))
            .filter(page_view::Column::At.gte(visit_start))
            .order_by_desc(page_view::Column::At)
            .order_by_desc(page_view::Column::Id)
            .one(&txn)
            .await?;
        let first_of_visit = last.is_none();
        let changed = match &last {
            Some(last) if last.url == report.url => {
                // The same page, retitled once the site's script ran: the title follows.
                let retitled = report.title.is_some() && report.title != last.title;
                if retitled {
                    page_view::Entity::update_many()
                        .col_expr(page_view::Column::Title, Expr::value(report.title.clone()))
                        .filter(page_view::Column::Id.eq(last.id))
                        .exec(&txn)
                        .await?;
                }
                retitled
            }
            _ => {
                // Never before the last page or the visit's start, whatever the clocks say.
                let at = last
                    .as_ref()
                    .map_or(now.millis(), |l| now.millis().max(l.at + 1))
                    .max(visit_start);
                page_view::Entity::insert(page_view::ActiveModel {
                    id: Set(PageViewId::new()),
                    tenant_id: Set(actor.tenant),
                    visitor_id: Set(actor.visitor),
                    url: Set(report.url.clone()),
                    title: Set(report.title.clone()),
                    at: Set(at),
                })
                .exec_without_returning(&txn)
                .await?;
                prune(&txn, actor.visitor).await?;
                true
            }
        };
        // The visit came from where its first page says, unless that is the site itself.
        let referrer = report
            .referrer
            .filter(|r| origin_of(r) != origin_of(&report.url));
        let mut update = visitor::Entity::update_many()
            .filter(visitor::Column::Id.eq(actor.visitor))
            .filter(visitor::Column::TenantId.eq(actor.tenant));
        let mut any = false;
        if report.user_agent.is_some() && report.user_agent != row.user_agent {
            update = update.col_expr(visitor::Column::UserAgent, Expr::value(report.user_agent));
            any = true;
        }
        if report.time_zone.is_some() && report.time_zone != row.time_zone {
            update = update.col_expr(visitor::Column::TimeZone, Expr::value(report.time_zone));
            any = true;
        }
        if first_of_visit && referrer != row.referrer {
            update = update.col_expr(visitor::Column::Referrer, Expr::value(referrer));
            any = true;
        }
        if any {
            update.exec(&txn).await?;
        }
        let chat = chat_row_of_visitor(&txn, actor.tenant, actor.visitor).await?;
        txn.commit().await?;
        if let (true, Some(chat)) = (changed, chat) {
            self.publish_context(actor.tenant, actor.visitor, chat.id)
                .await?;
        }
        Ok(())
    }

    /// Tells the operators what they see of the visitor of `chat`: now, or (when they were
    /// told less than a second ago) once that second is over, with the newest pages then.
    pub(crate) async fn publish_context(
        &self,
        tenant: TenantId,
        visitor: VisitorId,
        chat: ChatId,
    ) -> CoreResult<()> {
        match self.context_feed.turn(visitor, Instant::now()) {
            Turn::Now => tell(&self.deps, tenant, visitor, chat).await,
            Turn::Planned => Ok(()),
            Turn::After(wait) => {
                let (deps, feed) = (self.deps.clone(), self.context_feed.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    feed.told(visitor, Instant::now());
                    if let Err(e) = tell(&deps, tenant, visitor, chat).await {
                        tracing::warn!(%visitor, error = %e, "a visitor's pages were not told");
                    }
                });
                Ok(())
            }
        }
    }

    /// The context of a visitor, for a node told of it by id; `None` when they are gone.
    pub async fn context_for_event(
        &self,
        tenant: TenantId,
        visitor: VisitorId,
    ) -> CoreResult<Option<VisitorContext>> {
        context_of(&self.deps.db, tenant, visitor).await
    }
}

/// Tells the operators the visitor's context as it is now.
pub(crate) async fn tell(
    deps: &Deps,
    tenant: TenantId,
    visitor: VisitorId,
    chat: ChatId,
) -> CoreResult<()> {
    if let Some(context) = context_of(&deps.db, tenant, visitor).await? {
        deps.publish(DomainEvent::VisitorContextChanged {
            tenant,
            chat,
            context,
        });
    }
    Ok(())
}

/// `https://host:port` of an address (the part before its path).
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    match url[after_scheme..].find(['/', '?', '#']) {
        Some(end) => &url[..after_scheme + end],
        None => url,
    }
}

/// Keeps the visitor's newest [`PAGES_KEPT`] pages.
async fn prune(db: &impl ConnectionTrait, visitor: VisitorId) -> CoreResult<()> {
    let oldest_kept: Option<i64> = page_view::Entity::find()
        .select_only()
        .column(page_view::Column::At)
        .filter(page_view::Column::VisitorId.eq(visitor))
        .order_by_desc(page_view::Column::At)
        .offset(PAGES_KEPT - 1)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    if let Some(at) = oldest_kept {
        page_view::Entity::delete_many()
            .filter(page_view::Column::VisitorId.eq(visitor))
            .filter(page_view::Column::At.lt(at))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The visitor as the operators see them beside the dialog; `None` for no visitor of the
/// tenant's.
pub(crate) async fn context_of(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: VisitorId,
) -> CoreResult<Option<VisitorContext>> {
    let Some(row) = visitor::Entity::find_by_id(id)
        .filter(visitor::Column::TenantId.eq(tenant))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let visit_start = row.visit_started_at.unwrap_or(row.created_at);
    let pages: Vec<PageView> = page_view::Entity::find()
        .filter(page_view::Column::VisitorId.eq(id))
        .filter(page_view::Column::TenantId.eq(tenant))
        .filter(page_view::Column::At.gte(visit_start))
        .order_by_desc(page_view::Column::At)
        .order_by_desc(page_view::Column::Id)
        .limit(PAGES_SHOWN)
        .all(db)
        .await?
        .into_iter()
        .map(PageView::from)
        .collect();
    let ratings = chat_rating::Entity::find()
        .filter(chat_rating::Column::VisitorId.eq(id))
        .filter(chat_rating::Column::TenantId.eq(tenant))
        .order_by_desc(chat_rating::Column::CreatedAt)
        .limit(RATINGS_SHOWN)
        .all(db)
        .await?
        .into_iter()
        .map(|r| PastRating {
            rating: r.rating,
            comment: r.comment,
            rated_at: Timestamp::from_millis(r.created_at),
        })
        .collect();
    let transcripts = transcript_request::Entity::find()
        .filter(transcript_request::Column::VisitorId.eq(id))
        .filter(transcript_request::Column::TenantId.eq(tenant))
        .order_by_desc(transcript_request::Column::CreatedAt)
        .limit(TRANSCRIPTS_SHOWN)
        .all(db)
        .await?
        .into_iter()
        .map(|t| PastTranscript {
            email: t.email,
            status: t.status,
            requested_at: Timestamp::from_millis(t.created_at),
        })
        .collect();
    let agent = row.user_agent.as_deref().and_then(parse_agent);
    let email_confirmed = row.email.is_some() && row.email_confirmed == row.email;
    Ok(Some(VisitorContext {
        visitor_id: row.id,
        online: row.online,
        current_page: if row.online {
            pages.first().cloned()
        } else {
            None
        },
        pages,
        referrer: row.referrer,
        browser: agent.as_ref().map(|a| a.browser.clone()),
        os: agent.as_ref().map(|a| a.os.clone()),
        device: agent.map(|a| a.device),
        time_zone: row.time_zone,
        visits: u32::try_from(row.visits).unwrap_or(0),
        first_seen_at: Timestamp::from_millis(row.created_at),
        last_seen_at: Timestamp::from_millis(row.last_seen_at),
        email: row.email,
        email_confirmed,
        ratings,
        transcripts,
    }))
}

pub(crate) struct Agent {
    pub(crate) browser: String,
    pub(crate) os: String,
    pub(crate) device: String,
}

/// Browser, system and kind of device of a user agent, as `woothee` reads it.
pub(crate) fn parse_agent(ua: &str) -> Option<Agent> {
    let found = woothee::parser::Parser::new().parse(ua)?;
    let known = |s: &str| s != woothee::woothee::VALUE_UNKNOWN;
    let browser = match (known(found.name), known(found.version)) {
        (true, true) => format!("{} {}", found.name, found.version),
        (true, false) => found.name.to_owned(),
        _ => return None,
    };
    let os = match (known(found.os), known(&found.os_version)) {
        (true, true) => format!("{} {}", found.os, found.os_version),
        (true, false) => found.os.to_owned(),
        _ => "unknown".to_owned(),
    };
    Some(Agent {
        browser,
        os,
        device: found.category.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_desktop_chrome_is_read() {
        let agent = parse_agent("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36").unwrap();
        assert_eq!(agent.browser, "Chrome 120.0.0.0");
        assert!(agent.os.starts_with("Mac OSX"), "{}", agent.os);
        assert_eq!(agent.device, "pc");
    }

    #[test]
    fn a_phone_is_a_smartphone() {
        let agent = parse_agent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1").unwrap();
        assert_eq!(agent.device, "smartphone");
        assert!(agent.browser.starts_with("Safari"), "{}", agent.browser);
    }

    #[test]
    fn an_origin_is_the_address_before_its_path() {
        assert_eq!(
            origin_of("https://shop.example:8443/a/b?c"),
            "https://shop.example:8443"
        );
        assert_eq!(origin_of("http://shop.example"), "http://shop.example");
        assert_eq!(
            origin_of("https://shop.example?x=1"),
            "https://shop.example"
        );
    }

    #[test]
    fn a_report_keeps_only_what_is_well_formed() {
        let report = PageReport {
            url: "https://shop.example/pricing".into(),
            title: Some("  Pricing \u{202E}  ".into()),
            referrer: Some("javascript:alert(1)".into()),
            time_zone: Some("Europe/Berlin".into()),
            user_agent: Some("x".repeat(2000)),
        }
        .checked()
        .unwrap();
        assert_eq!(report.title, None, "a deceptive title is dropped");
        assert_eq!(report.referrer, None);
        assert_eq!(report.time_zone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(
            report.user_agent.unwrap().chars().count(),
            MAX_USER_AGENT_CHARS + 1
        );
        assert!(
            PageReport {
                url: "ftp://x".into(),
                ..Default::default()
            }
            .checked()
            .is_err()
        );
        let odd_zone = PageReport {
            url: "https://shop.example/".into(),
            time_zone: Some("Europe/Berlin; DROP".into()),
            ..Default::default()
        };
        assert_eq!(odd_zone.checked().unwrap().time_zone, None);
    }
}
