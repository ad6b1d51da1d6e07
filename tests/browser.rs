//! The seed's situations through the real UIs, in headless Chromium: the widget on the demo page,
//! the operator workspace (`/app`), the admin console (`/admin`) and the hosted chat that emails
//! link to. Each browser window is a separate browser profile: a visitor, an operator, or the
//! same visitor on another device. A failing story leaves screenshots in `tests/output/`.

#[allow(dead_code)]
use tandem_testkit::guests;
mod support;

use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_core::clock::Timestamp;
use tandem_testkit::TestDatabase;

use support::browser::{Browsers, Page, expect, free_port};
use support::live::{Company, Live};
use tandem_testkit::receiver::{Receiver, expected_signature};
use tandem_testkit::smtp::SmtpSink;

/// Tuesday 2026-11-24, 23:00 in Moscow.
const TUESDAY_NIGHT: Timestamp = Timestamp::from_millis(1_795_503_600_000 + 13 * 3_600_000);

/// Keys as WebDriver spells them.
const ENTER: &str = "\u{E007}";
const ENTER_KEY: char = '\u{E007}';
const ESCAPE: &str = "\u{E00C}";
const ESCAPE_KEY: char = '\u{E00C}';

/// Where the stage's server runs: in the test's process, or as the binary (to crash it).
enum Server {
    InProcess,
    Process,
    /// In the test's process, its clock fixed at this time.
    At(Timestamp),
}

struct Stage {
    live: Live,
    smtp: SmtpSink,
    browsers: Browsers,
}

impl Stage {
    async fn on_database(db: TestDatabase) -> Self {
        Self::with_env(db, &[]).await
    }

    /// A server on a port of its own choosing, so that it comes back there after a crash.
    async fn on_a_fixed_port(db: TestDatabase) -> Self {
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        Self::build(db, &[("TANDEM_BIND", &bind)], true, Server::Process).await
    }

    /// No SMTP server: mail is kept and shown at /dev/mailbox, as on a newcomer's machine.
    async fn with_dev_mailbox(db: TestDatabase) -> Self {
        Self::build(
            db,
            &[("TANDEM_DEV_MAILBOX", "true")],
            false,
            Server::InProcess,
        )
        .await
    }

    async fn with_env(db: TestDatabase, vars: &[(&str, &str)]) -> Self {
        Self::build(db, vars, true, Server::InProcess).await
    }

    /// Without the per-IP request limit: the story writes a long dialog first.
    async fn unthrottled(db: TestDatabase) -> Self {
        Self::with_env(db, &[("TANDEM_RATE_LIMIT_PER_IP", "100000")]).await
    }

    /// Tuesday 2026-11-24, 23:00 in Moscow, on a clock that stands still there.
    async fn on_a_tuesday_night(db: TestDatabase) -> Self {
        Self::build(db, &[], true, Server::At(TUESDAY_NIGHT)).await
    }

    /// The same night, with the team's chat (a webhook receiver on loopback) reachable and the
    /// sweep turning every second.
    async fn on_a_tuesday_night_with_the_team(db: TestDatabase) -> Self {
        let vars = [
            ("TANDEM_WEBHOOK_PRIVATE_ADDRESSES", "true"),
            ("TANDEM_SWEEP_EVERY_SECS", "1"),
        ];
        Self::build(db, &vars, true, Server::At(TUESDAY_NIGHT)).await
    }

    async fn build(
        db: TestDatabase,
        vars: &[(&str, &str)],
        mail_over_smtp: bool,
        server: Server,
    ) -> Self {
        let flavour = if db.url().starts_with("postgres") {
            "postgres"
        } else {
            "sqlite"
        };
        let smtp = SmtpSink::start().await;
        let url = smtp.url();
        let mut all = Vec::new();
        if mail_over_smtp {
            all.push(("TANDEM_SMTP_URL", url.as_str()));
        }
        all.extend_from_slice(vars);
        let live = match server {
            Server::InProcess => Live::with_env(db, &all).await,
            Server::Process => Live::process_with_env(db, &all).await,
            Server::At(time) => Live::on_clock_at(db, &all, time).await.0,
        };
        // Departures count at once here; the grace period has tests of its own.
        live.update_settings(&live.acme, json!({ "presence_grace_secs": 0 }))
            .await;
        let test = std::thread::current()
            .name()
            .unwrap_or("browser")
            .rsplit("::")
            .next()
            .unwrap_or("browser")
            .to_owned();
        let browsers = Browsers::start(&format!("{test}-{flavour}")).await;
        Self {
            live,
            smtp,
            browsers,
        }
    }

    /// Runs the story; on failure, screenshots and the server's log are kept.
    async fn play(&self, story: impl std::future::Future<Output = anyhow::Result<()>>) {
        let log = || {
            format!(
                "--- stdout\n{}\n--- stderr\n{}",
                self.live.server.stdout(),
                self.live.server.stderr()
            )
        };
        self.browsers.story(log, story).await;
    }

    fn demo(&self, company: &Company) -> String {
        self.live.url(&format!("/demo?key={}", company.widget_key))
    }

    /// The admin answers the chat waiting in "offline" (its visitor gone); its id.
    async fn answer_the_offline_chat(&self, body: &str) -> anyhow::Result<String> {
        let chat_id = wait_for_chat(self, "offline").await?;
        let (status, _) = self
            .live
            .call(
                Method::POST,
                &format!("/api/v1/chats/{chat_id}/messages"),
                Some(&self.live.acme.admin_token),
                Some(json!({ "body": body })),
            )
            .await;
        expect(status == StatusCode::CREATED, || format!("reply: {status}"))?;
        Ok(chat_id)
    }

    /// An operator's browser, logged in to the workspace as the company's admin.
    async fn workspace(&self, company: &Company) -> anyhow::Result<Page> {
        let page = self.browsers.window("operator").await;
        page.goto(&self.live.url("/app")).await?;
        sign_in(&page, company).await?;
        page.find("#my-status").await?;
        Ok(page)
    }

    /// A visitor's browser on the demo page with the widget open.
    async fn visitor(&self, name: &str) -> anyhow::Result<Page> {
        let page = self.browsers.window(name).await;
        page.goto(&self.demo(&self.live.acme)).await?;
        page.click_widget(".launcher").await?;
        Ok(page)
    }

    async fn admin_name(&self) -> String {
        let (status, me) = self
            .live
            .call(
                Method::GET,
                "/api/v1/auth/me",
                Some(&self.live.acme.admin_token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        me["name"].as_str().unwrap().to_owned()
    }

    /// The company's chats as its admin reads them through the API.
    async fn chats(&self, category: &str) -> Vec<Value> {
        self.live
            .category(&self.live.acme.admin_token, category)
            .await
    }

    async fn dialog(&self, chat_id: &str) -> Value {
        self.live.dialog(&self.live.acme.admin_token, chat_id).await
    }

    async fn mails(&self, count: usize) -> anyhow::Result<Vec<String>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mails = self.smtp.to_visitors();
            if mails.len() >= count {
                return Ok(mails
                    .into_iter()
                    .map(|m| m.data.replace("=\r\n", "").replace("=3D", "="))
                    .collect());
            }
            anyhow::ensure!(Instant::now() < deadline, "{count} mails did not arrive");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn sign_in(page: &Page, company: &Company) -> anyhow::Result<()> {
    let tenant = page.find("#login-tenant").await?;
    tenant.clear().await?;
    page.type_into(&tenant, &company.slug).await?;
    page.type_into(&page.find("#login-email").await?, &company.admin_email)
        .await?;
    page.type_into(
        &page.find("#login-password").await?,
        &company.admin_password,
    )
    .await?;
    page.click(".login button[type=submit]").await?;
    Ok(())
}

/// The visitor fills in the offline form the widget shows when nobody can answer.
async fn leave_request(page: &Page, name: &str, email: &str, message: &str) -> anyhow::Result<()> {
    page.type_into(&page.widget(".offline-form input[name=name]").await?, name)
        .await?;
    page.type_into(
        &page.widget(".offline-form input[name=email]").await?,
        email,
    )
    .await?;
    page.type_into(
        &page.widget(".offline-form textarea[name=message]").await?,
        message,
    )
    .await?;
    page.click_widget(".offline-form button[type=submit]")
        .await?;
    Ok(())
}

/// Waits until `body` (a function body over `root`, the widget's shadow root) returns true.
async fn widget_is(page: &Page, what: &str, body: &str) -> anyhow::Result<()> {
    let script = format!(
        "const root = document.querySelector('#tandem-widget')?.shadowRoot; if (!root) return false; {body}"
    );
    page.until_true(what, &script, vec![]).await
}

/// Some element matching `css` in the widget shows `text`.
async fn widget_shows(page: &Page, css: &str, text: &str) -> anyhow::Result<()> {
    shows_in(page, "#tandem-widget", css, text).await
}

/// Some element matching `css` on the page shows `text`.
async fn shows(page: &Page, css: &str, text: &str) -> anyhow::Result<()> {
    shows_in(page, "", css, text).await
}

/// `host`: the element whose shadow root to look in, or "" for the page itself.
async fn shows_in(page: &Page, host: &str, css: &str, text: &str) -> anyhow::Result<()> {
    page.until_true(
        &format!("{host} {css} shows {text:?}"),
        "const [host, css, text] = arguments;
         const root = host ? document.querySelector(host)?.shadowRoot : document;
         return !!root && [...root.querySelectorAll(css)].some((e) => e.textContent.includes(text));",
        vec![json!(host), json!(css), json!(text)],
    )
    .await
}

async fn count_is(page: &Page, category: &str, count: usize) -> anyhow::Result<()> {
    let css = format!("[data-count={category}]");
    page.until_true(
        &format!("{category} count {count}"),
        "return document.querySelector(arguments[0])?.textContent === arguments[1];",
        vec![json!(css), json!(count.to_string())],
    )
    .await
}

/// The chat of `visitor` is in the list now shown, with this presence.
async fn listed(page: &Page, visitor: &str, presence: &str) -> anyhow::Result<()> {
    page.until_true(
        &format!("{visitor} listed as {presence}"),
        "return !!document.querySelector(`#chat-list [data-visitor=\"${arguments[0]}\"][data-presence=\"${arguments[1]}\"]`);",
        vec![json!(visitor), json!(presence)],
    )
    .await
}

async fn open_tab(page: &Page, tab: &str) -> anyhow::Result<()> {
    // A bar appearing above the lists (an alert) can move the tab from under the click: click
    // until the tab is the one shown.
    let css = format!("#tab-{tab}");
    let chosen = page.with_patience(Duration::from_secs(2));
    for _ in 0..3 {
        page.click(&css).await?;
        let shown = chosen
            .until_true(
                &format!("{tab} tab shown"),
                "return document.querySelector(arguments[0])?.getAttribute('aria-selected') === 'true';",
                vec![json!(css)],
            )
            .await;
        if shown.is_ok() {
            return Ok(());
        }
    }
    anyhow::bail!("the {tab} tab could not be opened")
}

async fn open_chat(page: &Page, visitor: &str) -> anyhow::Result<()> {
    page.click(&format!("#chat-list [data-visitor=\"{visitor}\"]"))
        .await?;
    shows(page, "#dialog-title", visitor).await
}

async fn the_night_visitor_is_answered_while_there_and_mailed_once_gone(s: Stage) {
    s.live
        // Time enough for the read mark of a reply she sees, even on a loaded machine; the
        // reply she does not see is mailed after it.
        .update_settings(&s.live.acme, json!({ "offline_timeout_secs": 5 }))
        .await;
    let admin = s.admin_name().await;
    s.play(async {
        // Nobody is online: the widget offers the form, and sending it opens the chat.
        let nadia = s.visitor("nadia").await?;
        leave_request(&nadia, "Nadia", "nadia@example.org", "Is anyone there?").await?;
        widget_shows(&nadia, ".msg--visitor .bubble", "Is anyone there?").await?;
        let composer = nadia.widget("textarea[name=body]").await?;
        nadia
            .type_into(&composer, &format!("My order is #1042{ENTER}"))
            .await?;
        widget_shows(
            &nadia,
            ".msg--visitor:not(.msg--pending) .bubble",
            "My order is #1042",
        )
        .await?;
        widget_is(
            &nadia,
            "the form gave way to the chat",
            "return root.querySelector('.offline-form').hidden;",
        )
        .await?;

        // The operator finds her waiting, with both messages, and answers.
        let operator = s.workspace(&s.live.acme).await?;
        listed(&operator, "Nadia", "online").await?;
        open_chat(&operator, "Nadia").await?;
        shows(
            &operator,
            ".entry--visitor .entry__body",
            "Is anyone there?",
        )
        .await?;
        shows(
            &operator,
            ".entry--visitor .entry__body",
            "My order is #1042",
        )
        .await?;
        let reply = operator.find("#reply").await?;
        operator
            .type_into(&reply, &format!("Hello Nadia, it is on its way.{ENTER}"))
            .await?;

        // She sees it at once, with the operator's name; the operator sees it read.
        widget_shows(
            &nadia,
            ".msg--operator .bubble",
            "Hello Nadia, it is on its way.",
        )
        .await?;
        widget_shows(&nadia, ".msg--operator .msg__author", &admin).await?;
        shows(&operator, ".entry--operator .read-mark", "Read by visitor").await?;

        // She leaves; the next reply goes unread, so it is mailed (and only that one).
        nadia.goto("about:blank").await?;
        shows(&operator, "#dialog-state", "not on the site").await?;
        operator
            .type_into(&reply, &format!("Tracking number: 42.{ENTER}"))
            .await?;
        shows(&operator, ".entry--operator .emailed", "Emailed").await?;
        let shown: String = operator.find(".dialog").await?.text().await?;
        expect(
            !shown.contains("null") && !shown.contains("undefined"),
            || format!("the dialog shows {shown:?}"),
        )?;
        let mails = s.mails(1).await?;
        expect(mails.len() == 1, || {
            format!("one mail, not {}", mails.len())
        })?;
        expect(mails[0].contains("Tracking number: 42."), || {
            mails[0].clone()
        })?;
        expect(mails[0].contains("nadia@example.org"), || mails[0].clone())?;
        Ok(())
    })
    .await;
}

async fn the_offline_request_is_edited_in_the_chat_it_opened(s: Stage) {
    s.play(async {
        let olga = s.visitor("olga").await?;
        leave_request(
            &olga,
            "Olga",
            "olga@example.org",
            "I ordered the wrong size, XL",
        )
        .await?;
        widget_shows(&olga, ".msg--visitor .bubble", "the wrong size, XL").await?;
        widget_shows(
            &olga,
            ".info",
            "We will answer here and at olga@example.org",
        )
        .await?;

        olga.click_widget(".msg--visitor .edit").await?;
        let editor = olga.widget(".editor textarea").await?;
        editor.clear().await?;
        olga.type_into(&editor, "I ordered the wrong size: I need L, not XL")
            .await?;
        olga.click_widget(".editor button[type=submit]").await?;
        widget_shows(&olga, ".msg--visitor .bubble", "I need L, not XL").await?;
        widget_shows(&olga, ".msg--visitor .edited", "edited").await?;
        // She keeps writing in the same chat.
        let composer = olga.widget("textarea[name=body]").await?;
        olga.type_into(&composer, &format!("Thank you!{ENTER}"))
            .await?;
        widget_shows(
            &olga,
            ".msg--visitor:not(.msg--pending) .bubble",
            "Thank you!",
        )
        .await?;

        // She corrects the email she gave in the form.
        olga.click_widget(".status .link").await?;
        let email = olga.widget(".details-form input[name=email]").await?;
        email.clear().await?;
        olga.type_into(&email, "olga.k@example.org").await?;
        olga.click_widget(".details-form button[type=submit]")
            .await?;
        widget_shows(&olga, ".details-form [role=status]", "Saved").await?;

        // One open chat holds both, the request edited; the operator can see what it said first.
        let waiting = s.chats("waiting").await;
        expect(waiting.len() == 1, || {
            format!("one waiting chat: {waiting:?}")
        })?;
        expect(
            waiting[0]["visitor"]["email"] == "olga.k@example.org",
            || format!("the corrected email: {}", waiting[0]),
        )?;
        let operator = s.workspace(&s.live.acme).await?;
        open_chat(&operator, "Olga").await?;
        shows(
            &operator,
            ".entry--visitor .entry__body",
            "I need L, not XL",
        )
        .await?;
        operator.click(".entry--visitor .show-earlier").await?;
        shows(&operator, ".entry__earlier", "I ordered the wrong size, XL").await?;
        Ok(())
    })
    .await;
}

async fn fedor_and_semion_move_between_the_lists_live(s: Stage) {
    s.play(async {
        let operator = s.workspace(&s.live.acme).await?;
        count_is(&operator, "waiting", 0).await?;

        let fedor = s.visitor("fedor").await?;
        leave_request(
            &fedor,
            "Fedor",
            "fedor@example.org",
            "Do you ship to Kazan?",
        )
        .await?;
        let semion = s.visitor("semion").await?;
        leave_request(
            &semion,
            "Semion",
            "semion@example.org",
            "Can I pay by card?",
        )
        .await?;

        // Both on the site and unanswered: waiting for a reply.
        count_is(&operator, "waiting", 2).await?;
        listed(&operator, "Fedor", "online").await?;
        listed(&operator, "Semion", "online").await?;

        // Fedor closes the tab: his chat moves to offline before the operator's eyes.
        fedor.goto("about:blank").await?;
        count_is(&operator, "waiting", 1).await?;
        count_is(&operator, "offline", 1).await?;
        open_tab(&operator, "offline").await?;
        listed(&operator, "Fedor", "offline").await?;

        // He comes back to the site (the widget stays closed): waiting again.
        fedor.goto(&s.demo(&s.live.acme)).await?;
        count_is(&operator, "offline", 0).await?;
        count_is(&operator, "waiting", 2).await?;
        open_tab(&operator, "waiting").await?;
        listed(&operator, "Fedor", "online").await?;

        // Semion opens the site in a second tab and closes the first: still on the site.
        let first_tab = semion.client.window().await?;
        let second_tab = semion.client.new_window(true).await?;
        semion.client.switch_to_window(second_tab.handle).await?;
        semion.goto(&s.demo(&s.live.acme)).await?;
        widget_is(
            &semion,
            "the second tab's widget is connected",
            "return root.querySelector('.status').textContent.startsWith('We reply here');",
        )
        .await?;
        let second_tab = semion.client.window().await?;
        semion.client.switch_to_window(first_tab).await?;
        semion.client.close_window().await?;
        semion.client.switch_to_window(second_tab).await?;
        // Departures count at the presence sweep's next turn (every second; no grace here), so a
        // wrong move would show within this wait.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        listed(&operator, "Semion", "online").await?;
        count_is(&operator, "waiting", 2).await?;

        // The operator takes Semion: active and theirs; Semion leaves and stays theirs, offline.
        open_chat(&operator, "Semion").await?;
        operator.click(".dialog__head button").await?;
        count_is(&operator, "mine", 1).await?;
        count_is(&operator, "waiting", 1).await?;
        // It stays in sight, selected, in the list it was opened from, marked with where it went.
        shows(
            &operator,
            "#chat-list [data-visitor=\"Semion\"][aria-current=\"true\"]",
            "Now in Active · mine",
        )
        .await?;
        semion.goto("about:blank").await?;
        shows(&operator, "#dialog-state", "not on the site").await?;
        open_tab(&operator, "mine").await?;
        listed(&operator, "Semion", "offline").await?;
        count_is(&operator, "waiting", 1).await?;
        Ok(())
    })
    .await;
}

async fn branding_set_in_the_admin_console_reaches_the_widget(s: Stage) {
    s.play(async {
        let admin = s.browsers.window("admin").await;
        admin.goto(&s.live.url("/admin")).await?;
        sign_in(&admin, &s.live.acme).await?;
        admin.find("#settings-form").await?;
        admin.set_value("#color", "#e11d48").await?;
        let title = admin.find("#title").await?;
        title.clear().await?;
        admin.type_into(&title, "Acme Help").await?;
        let greeting = admin.find("#greeting").await?;
        greeting.clear().await?;
        admin.type_into(&greeting, "Здравствуйте! Чем помочь?").await?;
        admin.find("#language").await?.select_by_value("ru").await?;
        admin.find("#position").await?.select_by_value("left").await?;
        // The preview follows before anything is saved.
        let preview_title = admin.in_shadow("#widget-preview", ".title").await?;
        admin.until_text(&preview_title, "Acme Help").await?;
        admin.click("#save-settings").await?;
        shows(&admin, "#settings-form [role=status]", "Saved").await?;
        shows(&admin, "#snippet", &s.live.acme.widget_key).await?;

        // A visitor's widget wears it.
        let visitor = s.browsers.window("visitor").await;
        visitor.goto(&s.demo(&s.live.acme)).await?;
        let launcher = visitor.widget(".launcher").await?;
        let colour = launcher.css_value("background-color").await?;
        expect(colour.contains("225, 29, 72"), || format!("launcher colour {colour}"))?;
        let label = launcher.attr("aria-label").await?.unwrap_or_default();
        expect(label == "Открыть чат", || format!("launcher label {label:?}"))?;
        let (x, _, _, _) = launcher.rectangle().await?;
        expect(x < 200.0, || format!("launcher on the left, at x={x}"))?;
        // The demo page's loud fonts do not reach into the widget.
        let font = launcher.css_value("font-family").await?;
        expect(!font.contains("Comic"), || format!("host font leaked: {font}"))?;
        // By keyboard: Enter on the launcher opens the widget with the focus in its first field.
        visitor
            .client
            .execute("document.querySelector('#tandem-widget').shadowRoot.querySelector('.launcher').focus(); return true;", vec![])
            .await?;
        visitor.press('\u{E007}').await?;
        widget_is(&visitor, "the focus in the form's first field", "return root.activeElement?.name === 'name';").await?;
        visitor.until_text(&visitor.widget(".title").await?, "Acme Help").await?;
        visitor
            .until_text(&visitor.widget(".greeting").await?, "Здравствуйте! Чем помочь?")
            .await?;
        // Nobody is online: the form, in Russian.
        visitor
            .until_text(&visitor.widget(".offline-form button[type=submit]").await?, "Отправить сообщение")
            .await?;
        // Every control a screen reader meets has a name.
        widget_is(&visitor, "every visible control is named", "return [...root.querySelectorAll('button, input, textarea, select')]
                   .filter((e) => e.getClientRects().length > 0)
                   .every((e) => e.getAttribute('aria-label') || e.textContent.trim() || e.labels?.length);").await?;
        // Escape closes it and gives the focus back to the launcher.
        visitor.press('\u{E00C}').await?;
        widget_is(&visitor, "closed, the focus on the launcher", "return root.querySelector('.panel').hidden && root.activeElement === root.querySelector('.launcher');").await?;
        visitor.click_widget(".launcher").await?;

        // At phone width the open widget takes the whole screen.
        visitor.client.set_window_size(390, 800).await?;
        widget_is(&visitor, "the panel fills a phone screen", "const p = root.querySelector('.panel').getBoundingClientRect(); return Math.abs(p.width - document.documentElement.clientWidth) < 1 && p.left === 0;").await?;
        Ok(())
    })
    .await;
}

async fn the_resume_link_opens_the_same_dialog(s: Stage) {
    let site = s.demo(&s.live.acme).replacen("127.0.0.1", "localhost", 1);
    s.live
        .update_settings(
            &s.live.acme,
            json!({ "offline_timeout_secs": 1, "site_url": site }),
        )
        .await;
    s.play(async {
        let vera = s.visitor("vera").await?;
        leave_request(&vera, "Vera", "vera@example.org", "Where is my parcel?").await?;
        widget_shows(&vera, ".msg--visitor .bubble", "Where is my parcel?").await?;
        vera.goto("about:blank").await?;

        // The operator answers after she left; the answer is mailed with a link back.
        let chat_id = s.answer_the_offline_chat("It left our warehouse today.").await?;
        let mails = s.mails(1).await?;
        let prefix = s
            .live
            .url(&format!("/c/{}?resume_token=", s.live.acme.widget_key));
        let start = mails[0]
            .find(&prefix)
            .context("a resume link in the mail")?;
        let link: String = mails[0][start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
            .collect();

        // She opens it on her phone: the hosted chat, the same dialog, and she is online again.
        let phone = s.browsers.window("vera-phone").await;
        phone.goto(&link).await?;
        widget_shows(&phone, ".msg--visitor .bubble", "Where is my parcel?").await?;
        widget_shows(
            &phone,
            ".msg--operator .bubble",
            "It left our warehouse today.",
        )
        .await?;
        let url = phone.client.current_url().await?;
        expect(!url.as_str().contains("resume_token"), || {
            format!("the token stays in the address bar: {url}")
        })?;
        let composer = phone.widget("textarea[name=body]").await?;
        phone
            .type_into(&composer, &format!("Thanks, got it!{ENTER}"))
            .await?;
        widget_shows(
            &phone,
            ".msg--visitor:not(.msg--pending) .bubble",
            "Thanks, got it!",
        )
        .await?;
        let dialog = s.dialog(&chat_id).await;
        let bodies: Vec<&str> = dialog["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["body"].as_str())
            .collect();
        expect(
            bodies
                == [
                    "Where is my parcel?",
                    "It left our warehouse today.",
                    "Thanks, got it!",
                ],
            || format!("one dialog: {bodies:?}"),
        )?;
        expect(dialog["chat"]["visitor_online"] == json!(true), || {
            format!("online again: {dialog}")
        })?;

        // The widget on the company's site resumes it on that phone too.
        phone.goto(&s.demo(&s.live.acme)).await?;
        phone.click_widget(".launcher").await?;
        widget_shows(&phone, ".msg--visitor .bubble", "Thanks, got it!").await?;
        widget_shows(
            &phone,
            ".msg--operator .bubble",
            "It left our warehouse today.",
        )
        .await?;

        // …and on a site of another origin (localhost is not 127.0.0.1): the hosted chat hands
        // the dialog over through a short-lived link, and the widget there picks it up.
        phone.goto(&s.live.url(&format!("/c/{}", s.live.acme.widget_key))).await?;
        phone.click_widget(".handover").await?;
        phone
            .until_true(
                "on the other origin, the token gone from the address",
                "return location.hostname === 'localhost' && !location.search.includes('tandem_resume');",
                vec![],
            )
            .await?;
        widget_shows(&phone, ".msg--visitor .bubble", "Thanks, got it!").await?;
        phone.goto(&site).await?;
        phone.click_widget(".launcher").await?;
        widget_shows(&phone, ".msg--operator .bubble", "It left our warehouse today.").await?;

        // Someone else's link (Mallory hands over her own dialog) does not silently take the
        // phone's conversation away: the widget asks, and Vera keeps hers.
        let mallory = s.live.visitor(&s.live.acme).await;
        s.live.visitor_says(&mallory, "Mallory wrote this").await;
        let (_, handed) = s
            .live
            .visitor_call(&mallory, Method::POST, "/hand-over", None)
            .await;
        let trap = handed["url"].as_str().context("a hand-over URL")?.to_owned();
        phone.goto(&trap).await?;
        widget_shows(&phone, ".choice p", "different conversation").await?;
        phone.click_widget(".choice .button--quiet").await?;
        widget_shows(&phone, ".msg--operator .bubble", "It left our warehouse today.").await?;
        phone
            .until_true(
                "Mallory's dialog never shown, the choice gone",
                "const root = document.querySelector('#tandem-widget').shadowRoot; \
                 return !root.textContent.includes('Mallory wrote this') \
                   && root.querySelector('.choice').hidden;",
                vec![],
            )
            .await?;
        Ok(())
    })
    .await;
}

/// Chatting while an operator is online, the visitor is asked once, inline, after the first
/// message, for an address where the answer can reach them if they leave.
async fn a_visitor_chatting_live_is_asked_for_an_address_once(s: Stage) {
    s.live.online_operator(&s.live.acme, "Anna").await;
    s.play(async {
        let nina = s.visitor("nina").await?;
        nina.until_true(
            "nobody asks before she writes",
            "return document.querySelector('#tandem-widget').shadowRoot.querySelector('.details-form').hidden;",
            vec![],
        )
        .await?;
        // Her session is set up once the widget opens; she writes after that.
        nina.until_true(
            "the widget has its session",
            "return Object.keys(localStorage).some((k) => k.endsWith(':visitor_token'));",
            vec![],
        )
        .await?;
        let composer = nina.widget("textarea[name=body]").await?;
        nina.type_into(&composer, &format!("Do you have it in blue?{ENTER}")).await?;
        widget_shows(&nina, ".details-form .form__intro", "Get the answer by email if you leave").await?;
        let email = nina.widget(".details-form input[name=email]").await?;
        nina.type_into(&email, "nina@example.org").await?;
        nina.click_widget(".details-form button[type=submit]").await?;
        widget_shows(&nina, ".details-form", "Saved").await?;
        let chat_id = wait_for_chat(&s, "waiting").await?;
        let dialog = s.dialog(&chat_id).await;
        expect(dialog["chat"]["visitor"]["email"] == "nina@example.org", || {
            format!("the address reached the chat: {dialog}")
        })?;
        // Asked once: the next visit does not ask again.
        nina.goto(&s.demo(&s.live.acme)).await?;
        nina.click_widget(".launcher").await?;
        widget_shows(&nina, ".msg--visitor .bubble", "Do you have it in blue?").await?;
        nina.until_true(
            "the form stays closed",
            "return document.querySelector('#tandem-widget').shadowRoot.querySelector('.details-form').hidden;",
            vec![],
        )
        .await?;
        Ok(())
    })
    .await;
}

/// A newcomer's loop on one machine: the reply mailed while the visitor was away is in the dev
/// mailbox, readable; answered from there, the answer joins the dialog; the mail's link opens it.
async fn the_dev_mailbox_shows_the_mail_and_its_link_opens_the_dialog(s: Stage) {
    s.live
        .update_settings(
            &s.live.acme,
            json!({ "offline_timeout_secs": 1, "presence_grace_secs": 0 }),
        )
        .await;
    s.play(async {
        let vera = s.visitor("vera").await?;
        leave_request(
            &vera,
            "Vera",
            "vera@example.org",
            "Is the shop open on Sunday?",
        )
        .await?;
        widget_shows(
            &vera,
            ".msg--visitor .bubble",
            "Is the shop open on Sunday?",
        )
        .await?;
        vera.goto("about:blank").await?;
        s.answer_the_offline_chat("Yes, from ten to four.").await?;

        let laptop = s.browsers.window("vera-laptop").await;
        // Each reload is looked at once: waiting on a page that does not change is no use.
        let glance = laptop.with_patience(Duration::ZERO);
        let mut opened = false;
        for _ in 0..50 {
            laptop.goto(&s.live.url("/dev/mailbox")).await?;
            if glance.find(".mailbox tbody a").await.is_ok() {
                opened = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        expect(opened, || "the mail reached the dev mailbox".into())?;
        laptop.click(".mailbox tbody a").await?;
        shows(&laptop, ".mail-text", "Yes, from ten to four.").await?;
        // She answers the mail from there, as she would from her mail client.
        let answer = laptop.find(".mail-reply textarea").await?;
        laptop
            .type_into(&answer, "Great, see you on Sunday.")
            .await?;
        laptop.click(".mail-reply button").await?;
        shows(&laptop, ".ok", "went into the conversation").await?;
        // The operator reads the answer without the mail it quoted, which opens on demand.
        let desk = s.workspace(&s.live.acme).await?;
        open_tab(&desk, "mine").await?;
        open_chat(&desk, "Vera").await?;
        shows(
            &desk,
            ".entry--visitor .entry__body",
            "Great, see you on Sunday.",
        )
        .await?;
        shows(&desk, ".entry--visitor .by-email", "by email").await?;
        desk.click(".entry__quoted summary").await?;
        shows(&desk, ".entry__quoted pre", "> Yes, from ten to four.").await?;
        shows(&desk, ".entry__quoted pre", "[link removed]").await?;
        let link = laptop.find(".mail-links a[href*='resume_token=']").await?;
        let href = link.attr("href").await?.context("the link's address")?;
        laptop.goto(&href).await?;
        widget_shows(&laptop, ".msg--operator .bubble", "Yes, from ten to four.").await?;
        widget_shows(
            &laptop,
            ".msg--visitor .bubble",
            "Is the shop open on Sunday?",
        )
        .await?;
        widget_shows(
            &laptop,
            ".msg--visitor .bubble",
            "Great, see you on Sunday.",
        )
        .await?;
        Ok(())
    })
    .await;
}

async fn the_launcher_counts_unread_replies_and_the_operator_is_seen_typing(s: Stage) {
    let anna = s.live.online_operator(&s.live.acme, "Anna").await;
    s.play(async {
        // Anna is online: the widget opens straight into the chat, no form, and says so.
        let visitor = s.visitor("visitor").await?;
        widget_shows(&visitor, ".status", "Online now").await?;
        let composer = visitor.widget("textarea[name=body]").await?;
        visitor
            .type_into(&composer, &format!("Hello?{ENTER}"))
            .await?;
        widget_shows(
            &visitor,
            ".msg--visitor:not(.msg--pending) .bubble",
            "Hello?",
        )
        .await?;
        let chat_id = wait_for_chat(&s, "waiting").await?;

        // Anna types: the visitor sees who.
        let mut socket = s.live.operator_socket(&anna.token).await;
        socket
            .send(json!({ "type": "typing", "chat_id": chat_id }))
            .await;
        widget_shows(&visitor, ".typing", "Anna is typing").await?;

        // The visitor closes the widget; two replies wait on the launcher's badge.
        visitor.click_widget(".close").await?;
        s.live
            .operator_says(&anna, &chat_id, "Hi! One moment.")
            .await;
        s.live
            .operator_says(&anna, &chat_id, "Here is the answer.")
            .await;
        let badge = visitor.widget(".badge").await?;
        visitor.until_text(&badge, "2").await?;
        let label = visitor
            .widget(".launcher")
            .await?
            .attr("aria-label")
            .await?
            .unwrap_or_default();
        expect(label.contains("2 unread"), || {
            format!("launcher label {label:?}")
        })?;
        let unread = |dialog: &Value| {
            dialog["messages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["author"] == "operator" && m["read_by_visitor_at"].is_null())
                .count()
        };
        let dialog = s.dialog(&chat_id).await;
        expect(unread(&dialog) == 2, || {
            format!("unread while closed: {dialog}")
        })?;

        // Opening it reads them: the badge goes, and the operator's view says so.
        visitor.click_widget(".launcher").await?;
        widget_shows(&visitor, ".msg--operator .msg__author", "Anna").await?;
        widget_is(
            &visitor,
            "the badge is gone",
            "return root.querySelector('.badge').hidden;",
        )
        .await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while unread(&s.dialog(&chat_id).await) > 0 {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the replies were not marked read"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        socket.close().await;
        Ok(())
    })
    .await;
}

async fn a_widget_cut_off_by_a_server_crash_loses_and_doubles_nothing(s: Stage) {
    let Stage {
        mut live,
        smtp: _smtp,
        browsers,
    } = s;
    live.online_operator(&live.acme, "Anna").await;
    let demo = live.url(&format!("/demo?key={}", live.acme.widget_key));
    let story = async {
        let visitor = browsers.window("visitor").await;
        visitor.goto(&demo).await?;
        visitor.click_widget(".launcher").await?;
        let composer = visitor.widget("textarea[name=body]").await?;
        visitor
            .type_into(&composer, &format!("Before the crash{ENTER}"))
            .await?;
        widget_shows(
            &visitor,
            ".msg--visitor:not(.msg--pending) .bubble",
            "Before the crash",
        )
        .await?;

        // The server dies; what the visitor writes now waits in the widget, marked as sending.
        live.server.process().crash().await;
        widget_shows(&visitor, ".status", "Reconnecting").await?;
        visitor
            .type_into(&composer, &format!("Written during the outage{ENTER}"))
            .await?;
        widget_shows(
            &visitor,
            ".msg--pending .bubble",
            "Written during the outage",
        )
        .await?;

        // It comes back: the widget reconnects by itself and sends it, once. Its backoff has
        // grown during the outage (up to 10 s between tries by now), hence the longer wait.
        live.crash_and_restart().await;
        let visitor = visitor.with_patience(Duration::from_secs(45));
        widget_shows(
            &visitor,
            ".msg--visitor:not(.msg--pending) .bubble",
            "Written during the outage",
        )
        .await?;
        let chats = live.category(&live.acme.admin_token, "waiting").await;
        expect(chats.len() == 1, || format!("one chat: {chats:?}"))?;
        let chat_id = chats[0]["id"].as_str().unwrap_or_default().to_owned();
        let dialog = live.dialog(&live.acme.admin_token, &chat_id).await;
        let bodies: Vec<&str> = dialog["messages"]
            .as_array()
            .map(|all| all.iter().filter_map(|m| m["body"].as_str()).collect())
            .unwrap_or_default();
        expect(
            bodies == ["Before the crash", "Written during the outage"],
            || format!("{bodies:?}"),
        )?;

        // A reload shows each message once.
        visitor.goto(&demo).await?;
        visitor.click_widget(".launcher").await?;
        widget_shows(
            &visitor,
            ".msg--visitor .bubble",
            "Written during the outage",
        )
        .await?;
        widget_is(&visitor, "two messages, no pending ones", "return root.querySelectorAll('.msg--visitor').length === 2 && !root.querySelector('.msg--pending');").await?;
        Ok(())
    };
    browsers.story(String::new, story).await;
}

async fn the_admin_console_manages_operators_the_email_and_plugins(s: Stage) {
    s.play(async {
        let admin = s.browsers.window("admin").await;
        admin.goto(&s.live.url("/admin")).await?;
        sign_in(&admin, &s.live.acme).await?;

        // A new operator, with a password generated and shown once; then deactivated.
        admin.click("#nav-operators").await?;
        admin.type_into(&admin.find("#new-name").await?, "Boris").await?;
        admin.type_into(&admin.find("#new-email").await?, "boris@acme.example").await?;
        let capacity = admin.find("#new-capacity").await?;
        capacity.clear().await?;
        admin.type_into(&capacity, "3").await?;
        admin.click("#new-operator button[type=submit]").await?;
        shows(&admin, "#new-operator [role=status]", "shown only now").await?;
        let row = "#operators tr[data-operator=\"boris@acme.example\"]";
        admin.click(&format!("{row} .deactivate")).await?;
        shows(&admin, row, "deactivated").await?;
        let (_, list) = s
            .live
            .call(Method::GET, "/api/v1/admin/operators", Some(&s.live.acme.admin_token), None)
            .await;
        let boris = list["operators"]
            .as_array()
            .and_then(|all| all.iter().find(|o| o["email"] == "boris@acme.example"))
            .cloned()
            .unwrap_or_default();
        expect(boris["capacity"] == 3 && boris["active"] == false, || format!("{boris}"))?;

        // The email template: a broken one is refused with the reason, a good one saved.
        admin.click("#nav-template").await?;
        let subject = admin.find("#tpl-subject").await?;
        subject.clear().await?;
        admin.type_into(&subject, "{{#if visitor_name}}Hello").await?;
        admin.click("#tpl-preview-button").await?;
        admin
            .until_true(
                "the template error is shown",
                "const note = document.querySelector('#template-form [role=status]'); return note.classList.contains('error') && note.textContent.length > 0;",
                vec![],
            )
            .await?;
        subject.clear().await?;
        admin.type_into(&subject, "A reply from {{tenant_name}}").await?;
        admin.click("#template-form button[type=submit]").await?;
        shows(&admin, "#template-form [role=status]", "Saved").await?;
        shows(&admin, "#tpl-preview-subject", "A reply from ").await?;
        let (_, template) = s
            .live
            .call(Method::GET, "/api/v1/admin/templates/unread-reply", Some(&s.live.acme.admin_token), None)
            .await;
        expect(template["subject"] == "A reply from {{tenant_name}}", || format!("{template}"))?;

        // A plugin uploaded, switched off, its log opened.
        admin.click("#nav-plugins").await?;
        // A file that is not a plugin is refused, with the reason shown.
        let junk = s.live.env.dir.path().join("not-a-plugin.wasm");
        std::fs::write(&junk, b"this is not WebAssembly")?;
        admin.type_into(&admin.find("#plugin-file").await?, &junk.to_string_lossy()).await?;
        admin.click("#plugin-upload button[type=submit]").await?;
        admin
            .until_true(
                "the refusal is shown",
                "const note = document.querySelector('#plugin-upload [role=status]'); return note.classList.contains('error') && note.textContent.length > 0;",
                vec![],
            )
            .await?;
        let wasm = guests::guest_path("business_hours");
        let wasm = std::fs::canonicalize(&wasm).with_context(|| format!("{wasm}: run scripts/build-plugins"))?;
        admin.type_into(&admin.find("#plugin-file").await?, &wasm.to_string_lossy()).await?;
        admin.type_into(&admin.find("#plugin-name").await?, "hours").await?;
        admin.click("#plugin-upload button[type=submit]").await?;
        let row = "#plugins tr[data-plugin=\"hours\"]";
        shows(&admin, row, "enabled").await?;
        admin.click(&format!("{row} input[type=checkbox]")).await?;
        shows(&admin, row, "disabled").await?;
        // Its settings, as a form from its schema: a value the schema refuses is marked by its
        // field, with the server's reason; a good one is saved.
        admin.click(&format!("{row} .settings")).await?;
        let opens = admin.find("#setting-opens").await?;
        opens.clear().await?;
        admin.type_into(&opens, "30").await?;
        admin.click("#plugin-settings button[type=submit]").await?;
        shows(&admin, "#setting-opens-problem", "maximum of 23").await?;
        admin
            .until_true(
                "the field is marked and focused",
                "const f = document.querySelector('#setting-opens'); return f.getAttribute('aria-invalid') === 'true' && document.activeElement === f;",
                vec![],
            )
            .await?;
        opens.clear().await?;
        admin.type_into(&opens, "8").await?;
        admin.click("#plugin-settings button[type=submit]").await?;
        shows(&admin, "#plugin-settings [role=status]", "Settings saved").await?;
        // Tried while it is off: Acme has no requests or replies yet, so on the widget now.
        admin.click(&format!("{row} .try")).await?;
        admin.click("#plugin-trial button").await?;
        shows(&admin, "#plugin-trial [role=status]", "1 call, no failures").await?;
        shows(&admin, "#trial-runs", "availability").await?;
        shows(&admin, "#trial-untried", "no offline requests yet").await?;
        admin.click(&format!("{row} .logs")).await?;
        shows(&admin, "#plugin-logs", "Log of hours").await?;
        let (_, plugins) = s
            .live
            .call(Method::GET, "/api/v1/admin/plugins", Some(&s.live.acme.admin_token), None)
            .await;
        expect(plugins["plugins"][0]["enabled"] == false, || format!("{plugins}"))?;
        expect(plugins["plugins"][0]["settings"]["opens"] == 8, || format!("{plugins}"))?;

        // The delivery log opens (nothing went out yet).
        admin.click("#nav-deliveries").await?;
        shows(&admin, "#pane", "Nothing delivered yet").await?;

        // The audit trail has every change just made, newest first, with each field's change.
        admin.click("#nav-audit").await?;
        shows(&admin, "#audit tbody tr:first-child", "Plugin settings saved").await?;
        shows(&admin, "#audit tbody tr:first-child", "settings.opens: 9 → 8").await?;
        shows(&admin, "#audit tbody tr:first-child", "admin@acme.example.com").await?;
        shows(&admin, "#audit", "Operator changed").await?;
        shows(&admin, "#audit", "active: true → false").await?;
        shows(&admin, "#audit", "Email template saved").await?;
        shows(&admin, "#audit", "Plugin uploaded").await?;
        Ok(())
    })
    .await;
}

/// The platform operator signs in with the platform token, creates a company, watches its use
/// move as a visitor chats, sees its plugin fail, suspends it (its widget is refused) and
/// resumes it; each change is in the trail.
async fn the_platform_operator_creates_watches_and_suspends_a_company(s: Stage) {
    s.play(async {
        let console = s.browsers.window("platform").await;
        console.goto(&s.live.url("/platform")).await?;
        console
            .type_into(&console.find("#platform-token").await?, "not-the-token")
            .await?;
        console.click("form.login button[type=submit]").await?;
        shows(
            &console,
            "form.login [role=alert]",
            "not the platform token",
        )
        .await?;
        let token = console.find("#platform-token").await?;
        token.clear().await?;
        console
            .type_into(&token, support::live::PLATFORM_TOKEN)
            .await?;
        console.click("form.login button[type=submit]").await?;
        shows(&console, "#tenants", "acme Ltd").await?;

        // A new company, its first admin's password shown once.
        console
            .type_into(&console.find("#new-slug").await?, "initech")
            .await?;
        console
            .type_into(&console.find("#new-name").await?, "Initech")
            .await?;
        console
            .type_into(
                &console.find("#new-admin-email").await?,
                "admin@initech.example",
            )
            .await?;
        console.click("#new-tenant button[type=submit]").await?;
        shows(&console, "#new-tenant [role=status]", "shown only now").await?;
        let password = console.find("#new-admin-password").await?.text().await?;
        console.click("#new-tenant [role=status] button").await?;
        let row = "#tenants tr[data-tenant=initech]";
        shows(&console, row, "Initech").await?;
        shows(&console, &format!("{row} .messages"), "0 · 0 · 0").await?;

        // Its admin installs a plugin that runs past its time; a visitor chats and is answered.
        let (_, tenants) = s
            .live
            .call(
                Method::GET,
                "/api/v1/platform/tenants",
                Some(support::live::PLATFORM_TOKEN),
                None,
            )
            .await;
        let created = tenants["tenants"]
            .as_array()
            .and_then(|all| all.iter().find(|t| t["slug"] == "initech"))
            .cloned()
            .unwrap_or_default();
        let mut initech = s.live.acme.clone();
        initech.id = created["id"].as_str().unwrap_or_default().to_owned();
        initech.slug = "initech".into();
        initech.widget_key = created["widget_key"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        initech.admin_token = s
            .live
            .login("initech", "admin@initech.example", &password)
            .await;
        let (status, plugin) = s
            .live
            .upload_plugin(&initech, guests::guest("hostile"))
            .await;
        expect(status == StatusCode::CREATED, || format!("{plugin}"))?;
        let olga = s.live.online_operator(&initech, "Olga").await;
        let visitor = s.live.visitor(&initech).await;
        let (status, body) = s
            .live
            .visitor_call(
                &visitor,
                Method::PUT,
                "/visitor",
                Some(json!({"name": "loop", "email": "loop@example.org"})),
            )
            .await;
        expect(status == StatusCode::OK, || format!("{body}"))?;
        let question = s.live.visitor_says(&visitor, "Where is my order?").await;
        s.live.visitor_says(&visitor, "Hello?").await;
        let chat = question["chat_id"].as_str().unwrap_or_default().to_owned();
        s.live.operator_says(&olga, &chat, "It ships today.").await;
        console.click("#nav-health").await?;
        shows(&console, "#nodes", "alive").await?;
        shows(&console, "#database-size", "on disk").await?;
        console.click("#nav-tenants").await?;
        shows(&console, &format!("{row} .messages"), "3 · 3 · 3").await?;
        shows(&console, &format!("{row} .plugin-failures"), "1").await?;
        console.click(&format!("{row} .details")).await?;
        shows(&console, ".plugins-health tr[data-plugin]", "time limit").await?;
        shows(&console, ".usage tr[data-metric=chats_started]", "1").await?;

        // Suspended, its widget is refused; resumed, it works again.
        console.click("#suspend-initech").await?;
        shows(&console, &format!("{row} .status"), "suspended").await?;
        let config = format!("/api/v1/widget/{}/config", initech.widget_key);
        let refused = || async {
            let (status, _) = s.live.call(Method::GET, &config, None, None).await;
            status
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while refused().await != StatusCode::FORBIDDEN {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the suspended widget still answers"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        console.click(&format!("{row} .details")).await?;
        console.click("#suspend-initech").await?;
        shows(&console, &format!("{row} .status"), "active").await?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while refused().await != StatusCode::OK {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the resumed widget is still refused"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // The trail has it all, from the console.
        console.click("#nav-audit").await?;
        shows(&console, "#audit tbody tr:first-child", "Company resumed").await?;
        shows(&console, "#audit tbody tr:first-child", "platform console").await?;
        shows(&console, "#audit", "Company suspended").await?;
        shows(&console, "#audit", "Plugin uploaded").await?;
        shows(&console, "#audit", "Company created").await?;
        Ok(())
    })
    .await;
}

/// At night by its settings, the business-hours plugin has the widget offer the offline form,
/// with the company's own words, though an operator is online; the visitor's request is
/// answered at once, and the operator sees the chat tagged.
async fn after_hours_the_widget_offers_the_form_and_answers_it(s: Stage) {
    s.play(async {
        let live = &s.live;
        live.online_operator(&live.acme, "Olga").await;
        let (status, plugin) = live
            .upload_plugin(&live.acme, guests::guest("business_hours"))
            .await;
        expect(status == StatusCode::CREATED, || format!("{plugin}"))?;
        let mut settings = plugin["settings"].clone();
        settings["closed_message"] = json!("Closed for the night; we open at nine.");
        let id = plugin["id"].as_str().unwrap_or_default();
        let (status, body) = live
            .save_plugin_settings(&live.acme.admin_token, id, settings)
            .await;
        expect(status == StatusCode::OK, || format!("{body}"))?;

        let vera = s.visitor("vera").await?;
        widget_shows(
            &vera,
            ".offline-form .form__intro",
            "Closed for the night; we open at nine.",
        )
        .await?;
        leave_request(&vera, "Vera", "vera@example.org", "Do you ship to Kazan?").await?;
        widget_shows(
            &vera,
            ".msg--system .bubble",
            "We are back at 09:00 (Europe/Moscow)",
        )
        .await?;
        widget_shows(&vera, ".msg--system", "Automatic reply").await?;

        let operator = s.workspace(&live.acme).await?;
        open_chat(&operator, "Vera").await?;
        shows(&operator, ".dialog__who .tag", "after-hours").await?;
        shows(&operator, ".entry--system .entry__who", "Automatic reply").await?;
        Ok(())
    })
    .await;
}

/// Nobody can answer at night: the admin on the night shift sees the alert in the workspace,
/// the team's chat gets it signed through the tenant's plugin, and Boris, gone home, gets the
/// digest, whose link opens the dialog once he signs in.
async fn an_offline_request_at_night_reaches_every_operator_where_they_are(s: Stage) {
    s.play(async {
        let live = &s.live;
        let receiver = Receiver::start().await;
        live.update_settings(
            &live.acme,
            json!({ "webhook_urls": [receiver.url("/team")] }),
        )
        .await;
        for plugin in ["business_hours", "channel_router"] {
            let (status, body) = live.upload_plugin(&live.acme, guests::guest(plugin)).await;
            expect(status == StatusCode::CREATED, || {
                format!("{plugin}: {body}")
            })?;
        }
        let boris = live.online_operator(&live.acme, "Boris").await;
        live.set_status(&boris, "offline").await;
        let (status, _) = live
            .call(
                Method::PUT,
                "/api/v1/operators/me/status",
                Some(&live.acme.admin_token),
                Some(json!({ "status": "online" })),
            )
            .await;
        expect(status == StatusCode::OK, || format!("status: {status}"))?;
        let operator = s.workspace(&live.acme).await?;

        let vera = s.visitor("vera").await?;
        leave_request(&vera, "Vera", "vera@example.org", "Do you ship to Kazan?").await?;

        // The night shift: the alert bar, and its Open button opens the dialog.
        shows(
            &operator,
            "#alert-bar .alert-row",
            "Vera left an offline request",
        )
        .await?;
        shows(&operator, "#alert-bar .alert-row", "Do you ship to Kazan?").await?;
        operator.click("#alert-bar .alert-row a.button").await?;
        shows(&operator, "#dialog-title", "Vera").await?;
        operator
            .until_true(
                "the alert bar empties",
                "return document.querySelector('#alert-bar').hidden;",
                vec![],
            )
            .await?;

        // The team's chat, signed with Acme's secret.
        let posts = receiver.wait_for(1, Duration::from_secs(15)).await;
        expect(posts.len() == 1, || format!("{posts:?}"))?;
        let post = &posts[0];
        let body: Value = serde_json::from_slice(&post.body)?;
        let text = body["text"].as_str().unwrap_or_default();
        expect(text.starts_with("Vera left an offline request"), || {
            text.to_owned()
        })?;
        let secret = live.webhook_secret(&live.acme).await;
        expect(
            post.header("x-tandem-signature")
                == Some(expected_signature(&secret, &post.body).as_str()),
            || "the post is signed with Acme's secret".to_owned(),
        )?;

        // Boris's digest; the night shift, online, gets none.
        let deadline = Instant::now() + Duration::from_secs(20);
        let digest = loop {
            let to_boris: Vec<String> = s
                .smtp
                .received()
                .into_iter()
                .filter(|m| m.to.iter().any(|to| to.contains("boris@acme.example.com")))
                .map(|m| m.data.replace("=\r\n", "").replace("=3D", "="))
                .collect();
            if let Some(mail) = to_boris.into_iter().next() {
                break mail;
            }
            anyhow::ensure!(Instant::now() < deadline, "no digest reached Boris");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        expect(digest.contains("Vera left an offline request"), || {
            digest.clone()
        })?;
        expect(
            !s.smtp
                .received()
                .iter()
                .any(|m| m.to.iter().any(|to| to.contains(&live.acme.admin_email))),
            || "the admin is online: no mail".to_owned(),
        )?;
        let start = digest
            .find("/app#chat=")
            .context("a link into the workspace")?;
        let base = live.url("");
        let link = format!(
            "{base}{}",
            digest[start..]
                .split(|c: char| c.is_whitespace() || c == '"' || c == '<')
                .next()
                .unwrap_or_default()
        );

        let home = s.browsers.window("boris").await;
        home.goto(&link).await?;
        let tenant = home.find("#login-tenant").await?;
        tenant.clear().await?;
        home.type_into(&tenant, &live.acme.slug).await?;
        home.type_into(&home.find("#login-email").await?, "boris@acme.example.com")
            .await?;
        home.type_into(&home.find("#login-password").await?, "operator-password")
            .await?;
        home.click(".login button[type=submit]").await?;
        shows(&home, "#dialog-title", "Vera").await?;
        shows(&home, ".dialog__log", "Do you ship to Kazan?").await?;
        Ok(())
    })
    .await;
}

/// The operator answers while the server is down: the reply waits in the dialog, marked as
/// sending, and goes out once, by itself, when the server is back.
async fn a_reply_written_while_the_server_is_down_goes_once_it_is_back(s: Stage) {
    let Stage {
        mut live,
        smtp: _smtp,
        browsers,
    } = s;
    let vera = live.visitor(&live.acme).await;
    let (status, _) = live
        .visitor_call(
            &vera,
            Method::PUT,
            "/visitor",
            Some(json!({ "name": "Vera" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let asked = live.visitor_says(&vera, "Is it in stock?").await;
    let chat_id = asked["chat_id"].as_str().unwrap_or_default().to_owned();
    let app = live.url(&format!("/app#chat={chat_id}"));
    let acme = live.acme.clone();
    let story = async {
        let operator = browsers.window("operator").await;
        operator.goto(&app).await?;
        sign_in(&operator, &acme).await?;
        shows(&operator, "#dialog-title", "Vera").await?;
        let reply = operator.find("#reply").await?;
        operator
            .type_into(&reply, &format!("Before the crash{ENTER}"))
            .await?;
        shows(
            &operator,
            ".entry--operator:not(.entry--pending) .entry__body",
            "Before the crash",
        )
        .await?;

        live.server.process().crash().await;
        shows(&operator, "[role=status]", "Reconnecting").await?;
        operator
            .type_into(&reply, &format!("Written during the outage{ENTER}"))
            .await?;
        shows(
            &operator,
            ".entry--pending .entry__body",
            "Written during the outage",
        )
        .await?;

        live.crash_and_restart().await;
        let operator = operator.with_patience(Duration::from_secs(45));
        shows(
            &operator,
            ".entry--operator:not(.entry--pending) .entry__body",
            "Written during the outage",
        )
        .await?;
        operator
            .until_true(
                "nothing left pending",
                "return !document.querySelector('.entry--pending, .entry--failed');",
                vec![],
            )
            .await?;
        let dialog = live.dialog(&live.acme.admin_token, &chat_id).await;
        let replies: Vec<&str> = dialog["messages"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|m| m["author"] == "operator")
                    .filter_map(|m| m["body"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        expect(
            replies == ["Before the crash", "Written during the outage"],
            || format!("{replies:?}"),
        )?;
        Ok(())
    };
    browsers.story(String::new, story).await;
}

/// A day in the queue by keyboard: `n` opens the visitor waiting longest, whose last words and
/// unread count the list showed; `/tha` offers the company's canned reply, filled in with her
/// name and the operator's; `i` turns the box to an internal note, which the workspace shows
/// and the visitor's widget never does; `?` lists the shortcuts.
async fn an_operator_answers_by_keyboard_with_a_canned_reply_and_a_note(s: Stage) {
    let (status, body) = s
        .live
        .call(
            Method::POST,
            "/api/v1/admin/canned-replies",
            Some(&s.live.acme.admin_token),
            Some(json!({ "shortcut": "thanks", "body": "Thanks {name|there}, {operator} here: it is in stock." })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let admin = s.admin_name().await;
    s.play(async {
        // Nobody is online: Vera leaves the form, which opens her chat.
        let vera = s.visitor("vera").await?;
        leave_request(&vera, "Vera", "vera@example.org", "Is the blue one in stock?").await?;
        let chat_id = wait_for_chat(&s, "waiting").await?;
        let operator = s.workspace(&s.live.acme).await?;
        shows(&operator, "#chat-list .chat-item__preview", "Is the blue one in stock?").await?;
        shows(&operator, "#chat-list .unread", "1").await?;

        operator.press('n').await?;
        shows(&operator, "#dialog-title", "Vera").await?;
        operator
            .until_true("the unread count is gone", "return !document.querySelector('#chat-list .unread');", vec![])
            .await?;
        let reply = operator.find("#reply").await?;
        operator.type_into(&reply, "/tha").await?;
        shows(&operator, "#canned-menu [role=option]", "/thanks").await?;
        operator.press(ENTER_KEY).await?;
        let filled = format!("Thanks Vera, {admin} here: it is in stock.");
        operator
            .until_true("the reply is filled in", "return document.querySelector('#reply').value === arguments[0];", vec![json!(filled)])
            .await?;
        operator.press(ENTER_KEY).await?;
        widget_shows(&vera, ".msg--operator .bubble", &filled).await?;

        // Out of the box with Escape, into a note with `i`.
        operator.press(ESCAPE_KEY).await?;
        operator.press('i').await?;
        operator
            .until_true("note mode", "return document.querySelector('#note-mode').getAttribute('aria-pressed') === 'true';", vec![])
            .await?;
        operator
            .type_into(&reply, &format!("NOTE-7731 she asked about the blue one twice{ENTER}"))
            .await?;
        shows(&operator, ".entry--note .entry__body", "NOTE-7731").await?;
        // The note went where the server keeps it; the widget, live, shows nothing of it.
        let dialog = s.dialog(&chat_id).await;
        expect(dialog["notes"][0]["body"].as_str().is_some_and(|b| b.starts_with("NOTE-7731")), || format!("{dialog:#}"))?;
        vera.type_into(&vera.widget("textarea[name=body]").await?, &format!("Great, thanks{ENTER}"))
            .await?;
        shows(&operator, ".entry--visitor .entry__body", "Great, thanks").await?;
        widget_shows(&vera, ".msg--visitor .bubble", "Great, thanks").await?;
        vera.until_true(
            "the widget shows no note",
            "return !document.querySelector('#tandem-widget').shadowRoot.textContent.includes('NOTE-7731');",
            vec![],
        )
        .await?;

        operator.press(ESCAPE_KEY).await?;
        operator.press('?').await?;
        shows(&operator, "#shortcuts", "Next waiting chat").await?;
        Ok(())
    })
    .await;
}

/// Search from the workspace: `f`, a few letters of a word Boris wrote at the start of a long
/// dialog, and the hit (its word marked) opens the dialog there, the older pages loaded to it.
async fn a_word_from_long_ago_finds_its_dialog(s: Stage) {
    let boris = s.live.visitor(&s.live.acme).await;
    let (status, _) = s
        .live
        .visitor_call(
            &boris,
            Method::PUT,
            "/visitor",
            Some(json!({ "name": "Boris" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let asked = s
        .live
        .visitor_says(&boris, "Where is my umbrella order 5521?")
        .await;
    let chat_id = asked["chat_id"].as_str().unwrap_or_default().to_owned();
    // More than a page of dialog after it: the first message is not drawn when it opens.
    for n in 0..210 {
        let (status, body) = s
            .live
            .call(
                Method::POST,
                &format!("/api/v1/chats/{chat_id}/messages"),
                Some(&s.live.acme.admin_token),
                Some(json!({ "body": format!("Update {n}") })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    s.play(async {
        let operator = s.workspace(&s.live.acme).await?;
        operator.press('f').await?;
        let search = operator.find("#search").await?;
        operator.type_into(&search, "umbrel").await?;
        shows(&operator, "#search-results .hit mark", "umbrella").await?;
        operator.click("#search-results .hit").await?;
        shows(&operator, "#dialog-title", "Boris").await?;
        shows(&operator, ".entry--found .entry__body", "Where is my umbrella order 5521?").await?;
        // Escape leaves the search: the lists are back.
        operator.type_into(&search, ESCAPE).await?;
        operator
            .until_true("the lists are back", "return !document.querySelector('#chat-list').hidden && document.querySelector('#search-results').hidden;", vec![])
            .await?;
        Ok(())
    })
    .await;
}

/// Beside the dialog the operator sees the page the visitor is on, her browser and her local
/// time, and the page changing as she moves through the site (a site that changes pages
/// without loading them, here).
async fn the_operator_sees_the_visitor_move_through_the_site(s: Stage) {
    s.live.online_operator(&s.live.acme, "Anna").await;
    s.play(async {
        let vera = s.visitor("vera").await?;
        vera.type_into(&vera.widget("textarea[name=body]").await?, &format!("Hello?{ENTER}"))
            .await?;
        let chat_id = wait_for_chat(&s, "waiting").await?;
        let operator = s.browsers.window("operator").await;
        operator.goto(&s.live.url(&format!("/app#chat={chat_id}"))).await?;
        sign_in(&operator, &s.live.acme).await?;
        shows(&operator, "#visitor-context summary", "On ").await?;
        shows(&operator, "#visitor-context dd", "Chrome").await?;
        shows(&operator, "#visitor-context summary", "local").await?;
        vera.until_true(
            "she moves to the pricing page",
            "history.pushState({}, '', '/pricing' + location.search); document.title = 'Pricing'; return true;",
            vec![],
        )
        .await?;
        shows(&operator, "#visitor-context summary a", "Pricing").await?;
        shows(&operator, "#visitor-context .context__pages", "Pricing").await?;
        Ok(())
    })
    .await;
}

/// The end of a conversation: the operator closes the chat, the widget says it has ended and
/// offers a rating; the visitor rates it with a comment, the operator sees the rating in the
/// dialog and the admin in the console's satisfaction pane.
async fn a_closed_conversation_is_rated_and_the_admin_sees_it(s: Stage) {
    // Someone is online: the widget opens straight into the chat.
    s.live.online_operator(&s.live.acme, "Olga").await;
    let admin_name = s.admin_name().await;
    s.play(async {
        let operator = s.workspace(&s.live.acme).await?;
        let lena = s.visitor("lena").await?;
        lena.type_into(
            &lena.widget("textarea[name=body]").await?,
            &format!("Do you deliver on Sundays?{ENTER}"),
        )
        .await?;
        let chat_id = wait_for_chat(&s, "waiting").await?;
        open_tab(&operator, "waiting").await?;
        operator.click("#chat-list .chat-item").await?;
        shows(
            &operator,
            ".entry--visitor .entry__body",
            "Do you deliver on Sundays?",
        )
        .await?;
        operator
            .type_into(
                &operator.find("#reply").await?,
                &format!("Yes, from 10 to 16.{ENTER}"),
            )
            .await?;
        widget_shows(&lena, ".msg--operator .bubble", "Yes, from 10 to 16.").await?;
        operator.click("#dialog-close").await?;

        widget_shows(&lena, ".ended__title", "The conversation has ended").await?;
        lena.click_widget(".rate--good").await?;
        lena.type_into(&lena.widget(".rating textarea").await?, "Quick and clear.")
            .await?;
        lena.click_widget(".rating button[type=submit]").await?;
        widget_shows(&lena, ".ended__thanks", "Thank you for your rating!").await?;

        shows(&operator, "#dialog-rating", "Rated good").await?;
        shows(&operator, "#dialog-rating q", "Quick and clear.").await?;
        let dialog = s.dialog(&chat_id).await;
        expect(dialog["chat"]["rating"]["rating"] == "good", || {
            format!("{dialog:#}")
        })?;

        // Writing again reopens it: the end and the form are gone.
        lena.type_into(
            &lena.widget("textarea[name=body]").await?,
            &format!("And on holidays?{ENTER}"),
        )
        .await?;
        widget_is(
            &lena,
            "the end is gone",
            "return root.querySelector('.ended').hidden;",
        )
        .await?;

        let admin = s.browsers.window("admin").await;
        admin.goto(&s.live.url("/admin")).await?;
        sign_in(&admin, &s.live.acme).await?;
        admin.click("#nav-csat").await?;
        shows(&admin, "#csat-total", "100%").await?;
        shows(&admin, "#csat-operators tbody tr", &admin_name).await?;
        Ok(())
    })
    .await;
}

/// A message past the server's limit is refused in the widget, with a counter and a reason,
/// instead of being cut; near the limit the counter shows; the composer grows with the text.
async fn a_message_past_the_limit_is_refused_not_cut(s: Stage) {
    s.live.online_operator(&s.live.acme, "Olga").await;
    s.play(async {
        let vera = s.visitor("vera").await?;
        vera.widget("textarea[name=body]").await?;
        let type_in = |text: String| {
            let vera = &vera;
            async move {
                vera.until_true(
                    "the composer takes the text",
                    "const root = document.querySelector('#tandem-widget').shadowRoot; const box = root.querySelector('textarea[name=body]'); box.value = arguments[0]; box.dispatchEvent(new Event('input', {bubbles: true})); return true;",
                    vec![json!(text)],
                )
                .await
            }
        };
        type_in("line\n".repeat(8)).await?;
        widget_is(&vera, "the composer grew", "return root.querySelector('textarea[name=body]').offsetHeight > 60;").await?;
        type_in("a".repeat(9_500)).await?;
        widget_shows(&vera, ".limit", "9500 / 10000").await?;
        widget_is(&vera, "sending is allowed", "return !root.querySelector('.composer button[type=submit]').disabled;").await?;
        type_in("a".repeat(10_001)).await?;
        widget_shows(&vera, ".limit--over", "Too long: at most 10000 characters").await?;
        widget_is(&vera, "sending is refused", "return root.querySelector('.composer button[type=submit]').disabled && root.querySelector('textarea[name=body]').getAttribute('aria-invalid') === 'true';").await?;
        vera.press(ENTER_KEY).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        widget_is(&vera, "nothing was sent, nothing cut", "return root.querySelectorAll('.msg--visitor').length === 0 && root.querySelector('textarea[name=body]').value.length === 10001;").await?;
        Ok(())
    })
    .await;
}

/// Files both ways, in a Russian widget: the visitor sends a photo and a PDF, the operator sees
/// the photo small and opens both, sends instructions back; a disguised file and one too large
/// are refused in the visitor's language, and nothing of them reaches the operator.
async fn a_visitor_and_an_operator_exchange_files(s: Stage) {
    s.live.online_operator(&s.live.acme, "Olga").await;
    s.live
        .update_settings(
            &s.live.acme,
            json!({ "branding": { "language": "ru" }, "files": { "max_mib": 1 } }),
        )
        .await;
    let dir = tempfile::tempdir().expect("a directory for the files");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("a file");
        path.display().to_string()
    };
    let photo = {
        let image = image::RgbImage::from_fn(1200, 800, |x, y| {
            image::Rgb([(x / 5) as u8, (y / 4) as u8, 160])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        image
            .write_to(&mut out, image::ImageFormat::Png)
            .expect("a PNG");
        out.into_inner()
    };
    let photo_path = write("лампа.png", &photo);
    let pdf_path = write("receipt.pdf", b"%PDF-1.4\n1 0 obj\n<< >>\nendobj\n%%EOF\n");
    let fake_path = write(
        "cat.png",
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00",
    );
    let big_path = write("big.txt", &vec![b'a'; 2 * 1024 * 1024]);
    let steps_path = write(
        "steps.txt",
        "1. Выключите лампу.\n2. Замените патрон.\n".as_bytes(),
    );
    s.play(async {
        let anna = s.visitor("anna").await?;
        anna.type_into(&anna.widget("textarea[name=body]").await?, &format!("Лампа сломалась{ENTER}")).await?;
        let input = anna.widget_any("input[type=file]").await?;
        input.send_keys(&photo_path).await?;
        widget_is(&anna, "the photo is shown small", "const img = root.querySelector('.msg--visitor .bubble--image img'); return !!img && img.naturalWidth === 480 && img.width <= 220;").await?;
        // Opened full size (the viewer comes when first used), closed with Escape.
        anna.click_widget(".bubble--image").await?;
        widget_is(&anna, "the photo is shown full size", "const img = root.querySelector('.viewer img'); return !!img && img.naturalWidth === 1200;").await?;
        anna.press(ESCAPE_KEY).await?;
        widget_is(&anna, "the viewer is closed", "return !root.querySelector('.viewer');").await?;
        input.send_keys(&pdf_path).await?;
        widget_shows(&anna, ".msg--visitor .bubble--file .file__name", "receipt.pdf").await?;

        // Refused, in Russian, and never sent: a program called cat.png, a file over the limit.
        input.send_keys(&fake_path).await?;
        widget_shows(&anna, ".msg--failed .meta", "Содержимое файла не совпадает с его названием").await?;
        input.send_keys(&big_path).await?;
        widget_shows(&anna, ".msg--failed .meta", "Файл слишком большой: не больше 1,0 МБ.").await?;

        // The operator sees the photo small and the PDF, opens both, and answers with a file.
        let operator = s.workspace(&s.live.acme).await?;
        let chat_id = wait_for_chat(&s, "waiting").await?;
        open_tab(&operator, "waiting").await?;
        operator.click("#chat-list .chat-item").await?;
        operator.until_true("the photo's thumbnail loads", "const img = document.querySelector('.entry--visitor .entry__image img'); return !!img && img.complete && img.naturalWidth === 480;", vec![]).await?;
        shows(&operator, ".entry--visitor .entry__file", "receipt.pdf").await?;
        operator.until_true("both files are fetched", "window.__got ??= Promise.all([...document.querySelectorAll('.entry--visitor a.entry__body')].map((a) => fetch(a.href).then((r) => r.status))).then((s) => { window.__statuses = s; }); return JSON.stringify(window.__statuses) === '[200,200]';", vec![]).await?;
        operator.find_any("#reply-files").await?.send_keys(&steps_path).await?;
        widget_shows(&anna, ".msg--operator .bubble--file .file__name", "steps.txt").await?;

        // What the API holds: four messages, nothing of the refused files; another company's
        // admin cannot open them.
        let dialog = s.dialog(&chat_id).await;
        let files: Vec<&Value> = dialog["messages"].as_array().unwrap().iter().filter(|m| m["attachment"].is_object()).collect();
        expect(files.len() == 3, || format!("{dialog:#}"))?;
        let photo_id = files[0]["attachment"]["id"].as_str().unwrap();
        let (status, _) = s.live.call(Method::GET, &format!("/api/v1/files/{photo_id}"), Some(&s.live.globex.admin_token), None).await;
        expect(status == StatusCode::NOT_FOUND, || format!("another company: {status}"))?;
        Ok(())
    })
    .await;
}

/// A reply while the visitor's tab is hidden makes the page's title blink "(1) New message";
/// back on the tab, the page's own title returns.
async fn a_reply_while_the_tab_is_hidden_blinks_in_the_title(s: Stage) {
    s.live.online_operator(&s.live.acme, "Olga").await;
    s.play(async {
        let vera = s.visitor("vera").await?;
        vera.type_into(&vera.widget("textarea[name=body]").await?, &format!("Is it in stock?{ENTER}")).await?;
        let chat_id = wait_for_chat(&s, "waiting").await?;
        // The visitor goes to another tab (told to the page as the browser would).
        vera.until_true("the tab is hidden", "window.__title = document.title; Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true }); document.dispatchEvent(new Event('visibilitychange')); return true;", vec![]).await?;
        let (status, _) = s.live.call(Method::POST, &format!("/api/v1/chats/{chat_id}/messages"), Some(&s.live.acme.admin_token), Some(json!({ "body": "Yes, 3 left." }))).await;
        expect(status == StatusCode::CREATED, || format!("reply: {status}"))?;
        vera.until_true("the title blinks", "return document.title === '(1) New message';", vec![]).await?;
        vera.until_true("the page's title comes back", "return document.title === window.__title;", vec![]).await?;
        // Back on the tab: the blinking stops, the page's own title stays.
        vera.until_true("the tab is shown", "Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true }); document.dispatchEvent(new Event('visibilitychange')); return true;", vec![]).await?;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        vera.until_true("no more blinking", "return document.title === window.__title;", vec![]).await?;
        Ok(())
    })
    .await;
}

/// A Russian widget says what is wrong in Russian, beside the field: an address the server
/// refuses, a field left empty, and a server that cannot be reached — then the request goes.
async fn a_russian_form_says_what_is_wrong_where_it_is(s: Stage) {
    s.live
        .update_settings(&s.live.acme, json!({ "branding": { "language": "ru" } }))
        .await;
    s.play(async {
        let vera = s.visitor("vera").await?;
        widget_shows(&vera, ".status", "Нет на месте").await?;
        // Nobody online: the offline form. The browser takes "vera@localhost"; the server does not.
        leave_request(&vera, "Вера", "vera@localhost", "Где мой заказ?").await?;
        widget_shows(&vera, ".offline-form .field__error", "Проверьте адрес почты").await?;
        widget_is(&vera, "the address is marked", "const email = root.querySelector('.offline-form input[name=email]'); return email.getAttribute('aria-invalid') === 'true' && root.activeElement === email && !!root.getElementById(email.getAttribute('aria-describedby'));").await?;
        // Emptied: said before anything is sent.
        vera.until_true("the address is emptied", "const email = document.querySelector('#tandem-widget').shadowRoot.querySelector('.offline-form input[name=email]'); email.value = ''; return true;", vec![]).await?;
        vera.click_widget(".offline-form button[type=submit]").await?;
        widget_shows(&vera, ".offline-form .field__error", "Заполните это поле.").await?;
        // The server out of reach (what a browser's fetch does then).
        vera.type_into(&vera.widget(".offline-form input[name=email]").await?, "vera@example.org").await?;
        vera.until_true("the network fails", "window.__fetch = window.fetch; window.fetch = () => Promise.reject(new TypeError('Failed to fetch')); return true;", vec![]).await?;
        vera.click_widget(".offline-form button[type=submit]").await?;
        widget_shows(&vera, ".offline-form .error", "Не удалось связаться с чатом").await?;
        widget_is(&vera, "no field is blamed", "return !root.querySelector('.offline-form [aria-invalid]');").await?;
        // Back: it goes, and the chat opens with it.
        vera.until_true("the network is back", "window.fetch = window.__fetch; return true;", vec![]).await?;
        vera.click_widget(".offline-form button[type=submit]").await?;
        widget_shows(&vera, ".msg--visitor .bubble", "Где мой заказ?").await?;
        Ok(())
    })
    .await;
}

/// Who answers: the widget's header shows the team (a photo, or initials on a colour) and how
/// fast they typically reply; a photo an operator sets in the workspace is beside their replies.
async fn who_answers_is_shown_with_photos_and_how_fast(s: Stage) {
    let olga = s.live.online_operator(&s.live.acme, "Olga Ivanova").await;
    // Five waits answered at once: the team typically replies in under a minute.
    for _ in 0..5 {
        let visitor = s.live.visitor(&s.live.acme).await;
        s.live.visitor_says(&visitor, "Quick question").await;
        let (_, dialog) = s
            .live
            .visitor_call(&visitor, Method::GET, "/chat", None)
            .await;
        let chat = dialog["chat"]["id"].as_str().unwrap();
        s.live.operator_says(&olga, chat, "Quick answer").await;
        // Closed, so that Olga has room for the next visitor.
        let (status, _) = s
            .live
            .call(
                Method::POST,
                &format!("/api/v1/chats/{chat}/close"),
                Some(&olga.token),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let dir = tempfile::tempdir().expect("a directory for the photo");
    let photo_path = dir.path().join("me.png");
    let photo = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x / 3) as u8, 90, (y / 2) as u8])
    });
    photo.save(&photo_path).expect("a PNG");
    let photo_path = photo_path.display().to_string();
    s.play(async {
        // The admin sets their photo in the workspace.
        let operator = s.workspace(&s.live.acme).await?;
        operator.click("#profile-menu summary").await?;
        operator.find_any("#profile-menu input[type=file]").await?.send_keys(&photo_path).await?;
        shows(&operator, "#profile-menu [role=status]", "photo saved").await?;
        operator.until_true("the menu shows the photo", "const img = document.querySelector('#profile-menu summary img.avatar'); return !!img && img.complete && img.naturalWidth === 160;", vec![]).await?;

        let anna = s.visitor("anna").await?;
        widget_is(&anna, "the team is Olga's initials and the admin's photo",
            "const faces = [...root.querySelectorAll('.team .avatar')]; return faces.length === 2 && faces[0].textContent === 'OI' && faces[1].tagName === 'IMG' && faces[1].complete && faces[1].naturalWidth === 160;").await?;
        widget_shows(&anna, ".status", "Online now").await?;
        widget_shows(&anna, ".pace", "Typically replies in under a minute").await?;

        anna.type_into(&anna.widget("textarea[name=body]").await?, &format!("Who is there?{ENTER}")).await?;
        let chat_id = wait_for_chat(&s, "waiting").await?;
        let (status, _) = s.live.call(Method::POST, &format!("/api/v1/chats/{chat_id}/messages"), Some(&s.live.acme.admin_token), Some(json!({ "body": "I am." }))).await;
        expect(status == StatusCode::CREATED, || format!("reply: {status}"))?;
        widget_is(&anna, "the reply has the admin's photo beside the name",
            "const img = root.querySelector('.msg--operator .msg__author img.avatar'); return !!img && img.complete && img.naturalWidth === 160;").await?;

        // The admin gives Olga a photo in the console; a new visitor's widget shows it.
        let admin = s.browsers.window("admin").await;
        admin.goto(&s.live.url("/admin")).await?;
        sign_in(&admin, &s.live.acme).await?;
        admin.click("#nav-operators").await?;
        let row = "#operators tr[data-operator=\"olga.ivanova@acme.example.com\"]";
        admin.find_any(&format!("{row} input[type=file]")).await?.send_keys(&photo_path).await?;
        shows(&admin, "#operators + [role=status]", "Olga Ivanova: photo saved").await?;
        admin.until_true("the row shows her photo", &format!("const img = document.querySelector('{row} td.photo img.avatar'); return !!img && img.complete && img.naturalWidth === 160;"), vec![]).await?;
        let (_, me) = s.live.call(Method::GET, "/api/v1/auth/me", Some(&olga.token), None).await;
        expect(me["avatar"].is_string(), || format!("{me}"))?;
        Ok(())
    })
    .await;
}

async fn wait_for_chat(s: &Stage, category: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(chat) = s.chats(category).await.first() {
            return Ok(chat["id"].as_str().unwrap().to_owned());
        }
        anyhow::ensure!(Instant::now() < deadline, "no chat became {category}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

tandem_testkit::on_both_databases!(
    Stage::on_database =>
    the_night_visitor_is_answered_while_there_and_mailed_once_gone,
    the_offline_request_is_edited_in_the_chat_it_opened,
    fedor_and_semion_move_between_the_lists_live,
    branding_set_in_the_admin_console_reaches_the_widget,
    the_resume_link_opens_the_same_dialog,
    the_launcher_counts_unread_replies_and_the_operator_is_seen_typing,
    the_admin_console_manages_operators_the_email_and_plugins,
    a_visitor_chatting_live_is_asked_for_an_address_once,
    an_operator_answers_by_keyboard_with_a_canned_reply_and_a_note,
    the_operator_sees_the_visitor_move_through_the_site,
    a_closed_conversation_is_rated_and_the_admin_sees_it,
    a_message_past_the_limit_is_refused_not_cut,
    a_visitor_and_an_operator_exchange_files,
    a_reply_while_the_tab_is_hidden_blinks_in_the_title,
    a_russian_form_says_what_is_wrong_where_it_is,
    who_answers_is_shown_with_photos_and_how_fast,
    the_platform_operator_creates_watches_and_suspends_a_company,
);

mod after_hours {
    use super::*;
    tandem_testkit::on_both_databases!(
        Stage::on_a_tuesday_night => after_hours_the_widget_offers_the_form_and_answers_it
    );
}

mod night_alerts {
    use super::*;
    tandem_testkit::on_both_databases!(
        Stage::on_a_tuesday_night_with_the_team =>
        an_offline_request_at_night_reaches_every_operator_where_they_are
    );
}

mod long_dialogs {
    use super::*;
    tandem_testkit::on_both_databases!(
        Stage::unthrottled => a_word_from_long_ago_finds_its_dialog
    );
}

mod dev_mailbox {
    use super::*;
    tandem_testkit::on_both_databases!(
        Stage::with_dev_mailbox => the_dev_mailbox_shows_the_mail_and_its_link_opens_the_dialog
    );
}

mod crash {
    use super::*;
    tandem_testkit::on_both_databases!(
        Stage::on_a_fixed_port =>
        a_widget_cut_off_by_a_server_crash_loses_and_doubles_nothing,
        a_reply_written_while_the_server_is_down_goes_once_it_is_back,
    );
}
