//! A browser for the web_push example: the app itself (included from
//! `examples/web_push/app/`, started in this process on a free port, with an
//! in-process sandbox that keeps no bytes), and a reqwest client with a
//! cookie store that follows redirects, as a browser does.
#![allow(dead_code)]

#[path = "../../../examples/web_push/app/mod.rs"]
#[allow(dead_code)]
pub mod app;

use digime::sandbox::Sandbox;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

/// What a page answered: its status, where the redirects ended, its HTML.
pub struct Page {
    pub status: StatusCode,
    pub path: String,
    pub html: String,
}

impl Page {
    /// The text of the element with `id`, tags removed.
    pub fn text_of(&self, id: &str) -> Option<String> {
        element_text(&self.html, id)
    }
}

pub struct Browser {
    pub client: reqwest::Client,
    pub url: String,
    running: app::Running,
}

impl Browser {
    /// The app with `--max-upload max_upload`, and a browser with no cookie.
    pub async fn start(max_upload: u64) -> Self {
        let running = app::start(app::Config {
            port: 0,
            max_upload,
            backend: app::Backend::Sandbox { keep_bytes: 0 },
        })
        .await
        .expect("the app starts");
        Browser {
            client: Self::new_client(),
            url: running.url().to_string(),
            running,
        }
    }

    /// Another browser: its own cookies.
    pub fn new_client() -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("client")
    }

    pub fn sandbox(&self) -> &Sandbox {
        self.running.sandbox().expect("the app runs on a sandbox")
    }

    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }

    async fn page(response: reqwest::Response) -> Page {
        let status = response.status();
        let path = response.url().path().to_string();
        let html = response.text().await.expect("a page");
        Page { status, path, html }
    }

    pub async fn get(&self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{}", self.url, path.trim_start_matches('/')))
            .send()
            .await
            .expect("GET");
        Self::page(response).await
    }

    /// Home → "Connect digi.me" → consent on the sandbox's onboard page →
    /// the callback → `/upload`. Returns the digi.me user id.
    pub async fn connect(&self) -> String {
        let home = self.get("/").await;
        assert!(
            home.html
                .contains(r#"<a href="/connect">Connect digi.me</a>"#),
            "{}",
            home.html
        );
        let upload = self.get("/connect").await;
        assert_eq!(upload.status, StatusCode::OK, "{}", upload.html);
        assert_eq!(upload.path, "/upload", "consent leads to the upload form");
        let home = self.get("/").await;
        let start = home.html.find("as user <code>").expect("connected") + 14;
        let end = start + home.html[start..].find('<').expect("user id");
        home.html[start..end].to_string()
    }

    /// Posts the upload form: the text fields, then `file` last, as a
    /// browser sends them.
    pub async fn upload(&self, fields: &[(&str, &str)], file: Part) -> Page {
        let mut form = Form::new();
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        self.post_multipart(form.part("file", file)).await
    }

    pub async fn post_multipart(&self, form: Form) -> Page {
        let response = self
            .client
            .post(format!("{}upload", self.url))
            .multipart(form)
            .send()
            .await
            .expect("POST /upload");
        Self::page(response).await
    }

    /// Posts the provider form.
    pub async fn provider(&self, fields: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(format!("{}provider", self.url))
            .form(fields)
            .send()
            .await
            .expect("POST /provider");
        Self::page(response).await
    }

    /// The `account_id` options of the provider form.
    pub async fn accounts(&self) -> Vec<String> {
        let page = self.get("/provider").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        page.html
            .split(r#"<option value=""#)
            .skip(1)
            .map(|rest| rest[..rest.find('"').expect("quoted")].to_string())
            .collect()
    }
}

/// A file part the way a browser sends one.
pub fn file_part(name: &str, bytes: Vec<u8>) -> Part {
    Part::bytes(bytes).file_name(name.to_string())
}

/// The text inside the element whose `id` is `id`, tags removed.
pub fn element_text(html: &str, id: &str) -> Option<String> {
    let marker = format!(r#"id="{id}""#);
    let at = html.find(&marker)?;
    let open_end = at + html[at..].find('>')? + 1;
    let tag_start = html[..at].rfind('<')? + 1;
    let tag: String = html[tag_start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let close = format!("</{tag}>");
    // Nested elements of the same tag are not used in these pages.
    let inner = &html[open_end..open_end + html[open_end..].find(&close)?];
    let mut text = String::new();
    let mut in_tag = false;
    for c in inner.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Lowercase hex SHA-256, independent of the sandbox's.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
