//! Headless Chromium driven through chromedriver (WebDriver), and the
//! `faultline serve` process the pages come from: for tests that use the
//! pages as a person does.
//!
//! Chromium and chromedriver come from scripts/setup-browser.sh (Debian's
//! `chromium` and `chromium-driver`). Without them a test says loudly that
//! it skips; under CI=true it fails instead, so CI cannot pass without
//! having looked at the pages.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

/// Where Debian installs them.
const CHROMIUM: [&str; 3] = [
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
];
const CHROMEDRIVER: [&str; 2] = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];

/// Width the pages must fit without scrolling sideways.
pub const WIDTH: u32 = 1100;

fn first_existing(paths: &[&str]) -> Option<PathBuf> {
    paths.iter().map(PathBuf::from).find(|p| p.exists())
}

/// The browser and its driver, or `None` after saying why the test skips;
/// under CI=true a missing browser fails the test.
pub fn installed() -> Option<(PathBuf, PathBuf)> {
    match (first_existing(&CHROMIUM), first_existing(&CHROMEDRIVER)) {
        (Some(chromium), Some(driver)) => Some((chromium, driver)),
        _ => {
            let message = "SKIPPED: no chromium or chromedriver; run scripts/setup-browser.sh (scripts/test does)";
            assert!(
                std::env::var("CI").is_err(),
                "{message}, and CI=true requires them"
            );
            eprintln!("{message}");
            None
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_for(addr: SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process killed (with its own children) when dropped, so a failed
/// test leaves no browser behind.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_group(command: &mut Command) -> Group {
    use std::os::unix::process::CommandExt;
    Group(
        command
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}")),
    )
}

/// A headless Chromium session, WIDTH pixels wide, with a fresh profile.
pub struct Browser {
    pub client: Client,
    _driver: Group,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start(chromium: &Path, chromedriver: &Path) -> Browser {
        let port = free_port();
        let driver = spawn_group(
            Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_for(SocketAddr::from(([127, 0, 0, 1], port)), "chromedriver");
        let profile = tempfile::tempdir().expect("a profile folder");
        let capabilities = serde_json::json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--hide-scrollbars",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={WIDTH},1000"),
                ],
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("an object literal")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session with headless Chromium");
        Browser {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    /// Runs `script` in the page and returns its result.
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.eval("return document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Whether the page fits the window's width: nothing to scroll sideways.
    pub async fn overflow(&self) -> i64 {
        self.eval(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
        )
        .await
        .as_i64()
        .unwrap_or(i64::MAX)
    }

    /// A PNG of the window under `target/`, for a person to look at.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        // A worktree built with CARGO_TARGET_DIR elsewhere has no target/ yet.
        std::fs::create_dir_all(&dir).expect("target/ can be created");
        let path = dir.join(name);
        std::fs::write(&path, &png).expect("the screenshot is written");
        path
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// `faultline serve` on a free loopback port, stopped when dropped.
pub struct Server {
    pub url: String,
    _process: Group,
}

impl Server {
    pub fn start(cwd: &Path, extra: &[&str]) -> Server {
        let mut child = spawn_group(
            Command::new(env!("CARGO_BIN_EXE_faultline"))
                .args(["serve", "--listen", "127.0.0.1:0"])
                .args(extra)
                .current_dir(cwd)
                .env_remove("FAULTLINE_STORE")
                .env_remove("FAULTLINE_SERVE_TOKEN")
                .env_remove("AWS_REGION")
                .env_remove("AWS_DEFAULT_REGION")
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        );
        let stdout = child.0.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("serve prints its address");
        let url = line
            .trim()
            .strip_prefix("faultline serve: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from serve: {line:?}"))
            .trim_end_matches("?token=TOKEN")
            .trim_end_matches('/')
            .to_string();
        Server {
            url,
            _process: child,
        }
    }
}
