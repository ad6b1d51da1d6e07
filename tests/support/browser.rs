//! Real browsers for the UI tests: Debian's headless Chromium driven through chromedriver
//! (WebDriver). Every `window` is a browser of its own, with its own profile, storage and
//! cookies: a second visitor, or the same visitor on another device.
//!
//! When a story fails (an error or a panic), every window's screen is saved as a PNG under
//! `tests/output/<test>/` before the test fails, with the page's HTML and the server's log beside
//! them (`UI_SCREENSHOTS=always` keeps them for passing stories too).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// How long a UI has to show what a story expects (it is live: usually milliseconds).
const PATIENCE: Duration = Duration::from_secs(15);

pub struct Browsers {
    driver: Child,
    url: String,
    windows: Mutex<Vec<(String, Client)>>,
    output: PathBuf,
}

impl Browsers {
    /// Starts chromedriver on a free port. `test` names the folder for failure screenshots.
    pub async fn start(test: &str) -> Self {
        let chromedriver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {chromedriver} ({e}): install chromium and chromium-driver (apt-get install chromium chromium-driver), as .ci/run does")
            });
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http
                .get(format!("{url}/status"))
                .send()
                .await
                .ok()
                .map(|r| r.status().is_success());
            if ready == Some(true) {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let output = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the workspace")
            .join("tests/output")
            .join(test);
        Self {
            driver,
            url,
            windows: Mutex::new(Vec::new()),
            output,
        }
    }

    /// A new browser (its own profile) with a desktop-sized window.
    pub async fn window(&self, name: &str) -> Page {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": binary,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-dev-shm-usage", "--window-size=1280,900", "--lang=en-US",
                ],
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("chromedriver opens a browser");
        self.windows
            .lock()
            .unwrap()
            .push((name.to_owned(), client.clone()));
        Page {
            name: name.to_owned(),
            client,
            patience: PATIENCE,
        }
    }

    /// Runs a story. If it fails, saves every window's screen and `log` into the output folder,
    /// then fails the test with the story's error.
    pub async fn story(
        &self,
        log: impl Fn() -> String,
        story: impl Future<Output = anyhow::Result<()>>,
    ) {
        let outcome = AssertUnwindSafe(story).catch_unwind().await;
        let failed = !matches!(outcome, Ok(Ok(())));
        // UI_SCREENSHOTS=always keeps the screens of passing stories too, for a look at the UIs.
        if failed || std::env::var_os("UI_SCREENSHOTS").is_some() {
            self.save_screens(&log()).await;
        }
        self.close().await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(error)) => panic!("{error:?}\n(screenshots: {})", self.output.display()),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    async fn save_screens(&self, log: &str) {
        let _ = std::fs::remove_dir_all(&self.output);
        if std::fs::create_dir_all(&self.output).is_err() {
            return;
        }
        let windows = self.windows.lock().unwrap().clone();
        for (name, client) in windows {
            if let Ok(png) = client.screenshot().await {
                let _ = std::fs::write(self.output.join(format!("{name}.png")), png);
            }
            if let Ok(html) = client.source().await {
                let _ = std::fs::write(self.output.join(format!("{name}.html")), html);
            }
        }
        let _ = std::fs::write(self.output.join("server.log"), log);
        eprintln!("screens saved in {}", self.output.display());
    }

    async fn close(&self) {
        let windows = std::mem::take(&mut *self.windows.lock().unwrap());
        for (_, client) in windows {
            let _ = client.close().await;
        }
    }
}

impl Drop for Browsers {
    fn drop(&mut self) {
        let _ = self.driver.start_kill();
    }
}

/// A port nothing listens on now (for chromedriver, or a server that must come back at the
/// same address).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One browser window. Finders wait (up to `PATIENCE`, unless told otherwise) for what they look for, because the UIs
/// are live: what a story expects shows up when the event arrives.
#[derive(Clone)]
pub struct Page {
    pub name: String,
    pub client: Client,
    patience: Duration,
}

impl Page {
    /// The same window, waiting longer for what it looks for (a server restarting, say).
    pub fn with_patience(&self, patience: Duration) -> Page {
        Page {
            patience,
            ..self.clone()
        }
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.client
            .goto(url)
            .await
            .with_context(|| format!("{}: open {url}", self.name))
    }

    /// An element of the page, shown or not (a hidden file input).
    pub async fn find_any(&self, css: &str) -> anyhow::Result<Element> {
        let what = format!("{}: {css}", self.name);
        self.until(&what, || async {
            self.client.find(Locator::Css(css)).await.ok()
        })
        .await
    }

    /// An element of the page (light DOM).
    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        let what = format!("{}: {css}", self.name);
        self.until(&what, || async {
            match self.client.find(Locator::Css(css)).await {
                Ok(element) if element.is_displayed().await.unwrap_or(false) => Some(element),
                _ => None,
            }
        })
        .await
    }

    /// An element inside the Tandem widget's shadow root.
    pub async fn widget(&self, css: &str) -> anyhow::Result<Element> {
        self.in_shadow("#tandem-widget", css).await
    }

    /// An element inside the widget, shown or not: a file input, which stays hidden behind the
    /// button that opens it.
    pub async fn widget_any(&self, css: &str) -> anyhow::Result<Element> {
        let what = format!("{}: #tandem-widget » {css}", self.name);
        self.until(&what, || async {
            let host = self
                .client
                .find(Locator::Css("#tandem-widget"))
                .await
                .ok()?;
            let root = host.shadow_root().await.ok()?;
            root.find(Locator::Css(css)).await.ok()
        })
        .await
    }

    /// A displayed element inside the shadow root of `host`.
    pub async fn in_shadow(&self, host: &str, css: &str) -> anyhow::Result<Element> {
        let what = format!("{}: {host} » {css}", self.name);
        self.until(&what, || async {
            let host = self.client.find(Locator::Css(host)).await.ok()?;
            let root = host.shadow_root().await.ok()?;
            for element in root.find_all(Locator::Css(css)).await.ok()? {
                if element.is_displayed().await.unwrap_or(false) {
                    return Some(element);
                }
            }
            None
        })
        .await
    }

    /// Clicks the element `find` finds, again if the page redrew it in between.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.click_found(css, || self.find(css)).await
    }

    /// Clicks the widget's element, again if the widget redrew it in between.
    pub async fn click_widget(&self, css: &str) -> anyhow::Result<()> {
        self.click_found(css, || self.widget(css)).await
    }

    async fn click_found<F, Fut>(&self, css: &str, find: F) -> anyhow::Result<()>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = anyhow::Result<Element>>,
    {
        let what = format!("{}: click {css}", self.name);
        self.until(&what, || async {
            let element = find().await.ok()?;
            element.click().await.ok()
        })
        .await
    }

    /// Waits until the script (the body of a function; `arguments` as given) returns true.
    pub async fn until_true(
        &self,
        what: &str,
        script: &str,
        args: Vec<Value>,
    ) -> anyhow::Result<()> {
        let what = format!("{}: {what}", self.name);
        self.until(&what, || async {
            match self.client.execute(script, args.clone()).await {
                Ok(Value::Bool(true)) => Some(()),
                _ => None,
            }
        })
        .await
    }

    /// Waits until the element shows `text` (a substring).
    pub async fn until_text(&self, element: &Element, text: &str) -> anyhow::Result<()> {
        let what = format!("{}: text {text:?}", self.name);
        let found = self
            .until(&what, || async {
                let shown = element.text().await.unwrap_or_default();
                shown.contains(text).then_some(())
            })
            .await;
        if found.is_err() {
            let shown = element.text().await.unwrap_or_default();
            return found.with_context(|| format!("it shows {shown:?}"));
        }
        Ok(())
    }

    /// Presses a key (a WebDriver key code such as Enter, `\u{E007}`) wherever the focus is,
    /// as a keyboard user does.
    pub async fn press(&self, key: char) -> anyhow::Result<()> {
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client
            .perform_actions(keys)
            .await
            .with_context(|| format!("{}: press {key:?}", self.name))
    }

    pub async fn type_into(&self, element: &Element, text: &str) -> anyhow::Result<()> {
        element
            .send_keys(text)
            .await
            .with_context(|| format!("{}: type {text:?}", self.name))
    }

    /// Sets a form control's value as a user would (for controls such as a colour picker that
    /// take no keystrokes), firing the events a page listens to.
    pub async fn set_value(&self, css: &str, value: &str) -> anyhow::Result<()> {
        let element = self.find(css).await?;
        let arg = serde_json::to_value(&element)?;
        self.client
            .execute(
                "const [el, value] = arguments; el.value = value; el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); return true;",
                vec![arg, json!(value)],
            )
            .await
            .with_context(|| format!("{}: set {css}", self.name))?;
        Ok(())
    }

    async fn until<T, F, Fut>(&self, what: &str, mut probe: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + self.patience;
        loop {
            if let Some(found) = probe().await {
                return Ok(found);
            }
            if Instant::now() > deadline {
                bail!("{what}: not there after {:?}", self.patience);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `bail!` for conditions: the story fails with screenshots instead of a bare panic.
pub fn expect(condition: bool, what: impl FnOnce() -> String) -> anyhow::Result<()> {
    if condition {
        Ok(())
    } else {
        Err(anyhow!(what()))
    }
}
