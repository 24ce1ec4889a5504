//! A real browser for the console's tests: Debian's headless Chromium driven through
//! ChromeDriver's W3C WebDriver protocol, spoken over HTTP here (a few calls; no client crate).
//!
//! Without `chromedriver` on the PATH the browser tests say so and pass, unless
//! `IGNY8_REQUIRE_BROWSER=1` (set by `.ci/run`, which installs Chromium), where they fail.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    driver: Child,
    pub downloads: PathBuf,
}

/// A found element, by its WebDriver reference.
#[derive(Clone)]
pub struct Element(String);

impl Browser {
    /// A headless Chromium, or `None` when this machine has none (and none is required).
    pub async fn start() -> Option<Self> {
        let Some(driver_path) = which("chromedriver") else {
            assert!(
                std::env::var("IGNY8_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "IGNY8_REQUIRE_BROWSER=1 but chromedriver is not installed \
                 (apt-get install chromium chromium-driver)"
            );
            eprintln!("SKIPPED: no chromedriver on this machine (apt-get install chromium chromium-driver)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(response) = http.get(format!("{base}/status")).send().await {
                let status: Value = response.json().await.unwrap_or_default();
                if status["value"]["ready"] == true {
                    ready = true;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "chromedriver did not become ready");
        let downloads =
            std::env::temp_dir().join(format!("igny8-downloads-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&downloads).unwrap();
        let mut options = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--lang=en-US"],
            "prefs": { "download.default_directory": downloads, "download.prompt_for_download": false },
        });
        if let Some(binary) = which("chromium") {
            options["binary"] = json!(binary);
        }
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&json!({ "capabilities": { "alwaysMatch": {
                "browserName": "chrome", "goog:chromeOptions": options } } }))
            .send()
            .await
            .expect("session request")
            .json()
            .await
            .expect("session answer");
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {created}"))
            .to_string();
        let browser = Self {
            http,
            base,
            session,
            driver,
            downloads,
        };
        browser
            .call(
                "POST",
                "chromium/send_command",
                json!({ "cmd": "Page.setDownloadBehavior",
                        "params": { "behavior": "allow", "downloadPath": browser.downloads } }),
            )
            .await;
        Some(browser)
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}/{path}", self.base, self.session)
            .trim_end_matches('/')
            .to_string();
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let answer: Value = request
            .send()
            .await
            .expect("WebDriver request")
            .json()
            .await
            .expect("WebDriver answer");
        answer["value"].clone()
    }

    pub async fn go(&self, url: &str) {
        self.call("POST", "url", json!({ "url": url })).await;
    }

    pub async fn url(&self) -> String {
        self.call("GET", "url", json!({}))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn source(&self) -> String {
        self.call("GET", "source", json!({}))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The element `css` selects, waiting up to five seconds for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        for _ in 0..50 {
            if let Some(element) = self.try_find(css).await {
                return element;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no element `{css}` on {}:\n{}",
            self.url().await,
            self.source().await
        );
    }

    pub async fn try_find(&self, css: &str) -> Option<Element> {
        let found = self
            .call(
                "POST",
                "element",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        // The reference is the one value of the answer's object (its key is the spec's UUID).
        found
            .as_object()
            .filter(|o| !o.contains_key("error"))
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .map(|id| Element(id.to_string()))
    }

    pub async fn click(&self, element: &Element) {
        self.call("POST", &format!("element/{}/click", element.0), json!({}))
            .await;
    }

    pub async fn type_into(&self, element: &Element, text: &str) {
        self.call(
            "POST",
            &format!("element/{}/value", element.0),
            json!({ "text": text }),
        )
        .await;
    }

    pub async fn text(&self, element: &Element) -> String {
        self.call("GET", &format!("element/{}/text", element.0), json!({}))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Accepts the confirmation a destructive action asks for, once it is showing.
    pub async fn accept_confirmation(&self) {
        for _ in 0..50 {
            let text = self.call("GET", "alert/text", json!({})).await;
            if text.is_string() {
                self.call("POST", "alert/accept", json!({})).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no confirmation was asked for");
    }

    /// Waits for the page's main heading to read `heading`.
    pub async fn wait_for_heading(&self, heading: &str) {
        for _ in 0..50 {
            if let Some(h1) = self.try_find("main h1").await {
                if self.text(&h1).await == heading {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the page never showed `{heading}`: {}\n{}",
            self.url().await,
            self.source().await
        );
    }

    /// Writes a screenshot of the page to `target/console-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        use base64::Engine;
        let png = self.call("GET", "screenshot", json!({})).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .expect("a PNG");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }

    /// The first finished download whose name ends with `suffix`, waiting up to ten seconds.
    pub async fn downloaded(&self, suffix: &str) -> String {
        for _ in 0..100 {
            let found = std::fs::read_dir(&self.downloads)
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.path())
                .find(|path| path.to_string_lossy().ends_with(suffix));
            if let Some(path) = found {
                return std::fs::read_to_string(path).expect("the download reads");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "nothing ending in {suffix} was downloaded to {}",
            self.downloads.display()
        );
    }
}

impl Browser {
    /// Ends the browser session (and its Chromium) before the driver goes.
    pub async fn quit(self) {
        self.call("DELETE", "", json!({})).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The session's Chromium ends with its driver.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.downloads);
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}
