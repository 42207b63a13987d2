//! A server with demo data for the dashboard tests, and a tiny cookie-keeping
//! HTTP "browser" that fills forms the way a page would (CSRF token included).

#![allow(dead_code)]

use std::collections::BTreeMap;

use gatepass_core::id::UserId;
use gatepass_core::role::Role;
use gatepass_core::token::{SaltError, TokenSalt};
use gatepass_server::auth::password;
use gatepass_server::{bootstrap, DatabaseConfig, RunningServer, ServerConfig};
use gatepass_store::User;
use reqwest::header::{HeaderMap, COOKIE, SET_COOKIE};
use reqwest::StatusCode;

pub const MEMBER_EMAIL: &str = "member@gatepass.local";
pub const MEMBER_PASSWORD: &str = "member password 1";

pub struct App {
    pub server: RunningServer,
    pub admin_password: String,
    /// The demo org `demo` and its project `web`.
    pub org_id: String,
    pub project_id: String,
    _dir: tempfile::TempDir,
}

impl App {
    pub async fn start() -> App {
        App::start_with_salt(TokenSalt::new(&[7u8; 32])).await
    }

    pub async fn start_with_salt(salt: Result<TokenSalt, SaltError>) -> App {
        App::start_with(salt, |_| {}).await
    }

    pub async fn start_with(salt: Result<TokenSalt, SaltError>, adjust: impl FnOnce(&mut ServerConfig)) -> App {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            DatabaseConfig::SqliteDir(dir.path().to_path_buf()),
            salt,
        );
        adjust(&mut config);
        let server = RunningServer::start(config).await.unwrap();
        let store = server.state.store.clone();
        let demo = bootstrap::seed_demo(store.as_ref()).await.unwrap();
        let project = store.find_projects_by_slug("web").await.unwrap().remove(0);
        let member = User {
            id: UserId::generate(),
            email: MEMBER_EMAIL.into(),
            password_hash: password::hash_password(MEMBER_PASSWORD).unwrap(),
            instance_admin: false,
            created_at: time::OffsetDateTime::now_utc(),
        };
        store.create_user(&member).await.unwrap();
        store.add_member(project.org_id, member.id, Role::Member, time::OffsetDateTime::now_utc()).await.unwrap();
        App {
            server,
            admin_password: demo.admin_password.unwrap(),
            org_id: project.org_id.to_string(),
            project_id: project.id.to_string(),
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn tokens_path(&self) -> String {
        format!("/projects/{}/settings/tokens", self.project_id)
    }

    /// A colleague who administers the demo org, signed in to the API.
    pub async fn colleague(&self, email: &str) -> gatepass_client::Client {
        let store = self.server.state.store.clone();
        let org_id = store.find_projects_by_slug("web").await.unwrap().remove(0).org_id;
        let user = User {
            id: UserId::generate(),
            email: email.into(),
            password_hash: password::hash_password(MEMBER_PASSWORD).unwrap(),
            instance_admin: false,
            created_at: time::OffsetDateTime::now_utc(),
        };
        store.create_user(&user).await.unwrap();
        store.add_member(org_id, user.id, Role::Admin, time::OffsetDateTime::now_utc()).await.unwrap();
        let login = gatepass_client::Client::new(&self.url(), None).login(email, MEMBER_PASSWORD).await.unwrap();
        gatepass_client::Client::new(&self.url(), Some(login.token.expose_secret()))
    }

    /// A user (not an instance admin) with password [`MEMBER_PASSWORD`].
    pub async fn user(&self, email: &str) -> User {
        let user = User {
            id: UserId::generate(),
            email: email.into(),
            password_hash: password::hash_password(MEMBER_PASSWORD).unwrap(),
            instance_admin: false,
            created_at: time::OffsetDateTime::now_utc(),
        };
        self.server.state.store.create_user(&user).await.unwrap();
        user
    }

    /// A user with `role` in the demo org.
    pub async fn demo_member(&self, email: &str, role: Role) -> User {
        let user = self.user(email).await;
        let org = gatepass_core::id::OrgId::parse(&self.org_id).unwrap();
        self.server.state.store.add_member(org, user.id, role, time::OffsetDateTime::now_utc()).await.unwrap();
        user
    }

    /// An org `other` (with a project `api`), whose admin is a new user
    /// `email` who has nothing to do with the demo org.
    pub async fn other_org_admin(&self, email: &str) -> User {
        let store = self.server.state.store.clone();
        let owner = self.user("owner@other.test").await;
        let now = time::OffsetDateTime::now_utc();
        let other = gatepass_store::Org {
            id: gatepass_core::id::OrgId::generate(),
            name: "Other".into(),
            slug: "other".into(),
            plan: gatepass_core::plan::Plan::Free,
            created_at: now,
        };
        store.create_org(&other, owner.id).await.unwrap();
        let project = gatepass_store::Project {
            id: gatepass_core::id::ProjectId::generate(),
            org_id: other.id,
            name: "API".into(),
            slug: "api".into(),
            deploy_hook: None,
            deploy_timeout: gatepass_core::deployment::DEFAULT_DEPLOY_TIMEOUT,
            created_at: now,
        };
        store.create_project(&project).await.unwrap();
        let admin = self.user(email).await;
        store.add_member(other.id, admin.id, Role::Admin, now).await.unwrap();
        admin
    }

    /// A token issued over the API by the demo admin: its plaintext and id.
    pub async fn api_token(&self, request: &gatepass_client::CreateToken) -> (String, String) {
        let login = gatepass_client::Client::new(&self.url(), None)
            .login(gatepass_server::bootstrap::DEMO_ADMIN_EMAIL, &self.admin_password)
            .await
            .unwrap();
        let admin = gatepass_client::Client::new(&self.url(), Some(login.token.expose_secret()));
        let issued = admin.create_token(&self.org_id, request).await.unwrap();
        (issued.token.expose_secret().to_string(), issued.metadata.id)
    }

    /// The id of the demo project's environment `name`.
    pub async fn environment_id(&self, name: &str) -> String {
        let project = gatepass_core::id::ProjectId::parse(&self.project_id).unwrap();
        let env = self.server.state.store.find_environment_by_name(project, name).await.unwrap().unwrap();
        env.id.to_string()
    }

    /// `GET /v1/token` with `token`: the API's answer status.
    pub async fn api_status_with(&self, token: &str) -> StatusCode {
        reqwest::Client::new().get(format!("{}/v1/token", self.url())).bearer_auth(token).send().await.unwrap().status()
    }
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// The CSRF token of the page's first form.
    pub fn csrf(&self) -> String {
        attribute_after(&self.body, "name=\"_csrf\" value=\"").expect("the page has a form with a CSRF token")
    }

    pub fn location(&self) -> &str {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Whether the page says `text` (HTML-escaped as askama escapes it).
    pub fn says(&self, text: &str) -> bool {
        let escaped = text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#x27;");
        self.body.contains(text) || self.body.contains(&escaped) || self.body.contains(&text.replace('\'', "&#39;"))
    }

    /// The plaintext shown in the one-time result view.
    pub fn shown_token(&self) -> Option<String> {
        attribute_after(&self.body, "id=\"token-value\" class=\"mono\" readonly value=\"")
    }
}

fn attribute_after(html: &str, prefix: &str) -> Option<String> {
    let start = html.find(prefix)? + prefix.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

/// Keeps cookies like a browser (one jar, no redirects followed).
pub struct Browser {
    base: String,
    http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    pub set_cookie_lines: Vec<String>,
}

impl Browser {
    pub fn new(app: &App) -> Browser {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { base: app.url(), http, cookies: BTreeMap::new(), set_cookie_lines: Vec::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn finish(&mut self, response: reqwest::Response) -> Page {
        for value in response.headers().get_all(SET_COOKIE) {
            let line = value.to_str().unwrap().to_string();
            let (pair, _) = line.split_once(';').unwrap_or((&line, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || line.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
            self.set_cookie_lines.push(line);
        }
        let status = response.status();
        let headers = response.headers().clone();
        Page { status, headers, body: response.text().await.unwrap() }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base)).header(COOKIE, self.cookie_header());
        let response = request.send().await.unwrap();
        self.finish(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_with_headers(path, form, &[]).await
    }

    pub async fn post_with_headers(&mut self, path: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
        let mut request =
            self.http.post(format!("{}{path}", self.base)).header(COOKIE, self.cookie_header()).form(form);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        self.finish(response).await
    }

    /// Logs in through the login form.
    pub async fn login(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf = form.csrf();
        let page = self.post("/login", &[("_csrf", &csrf), ("email", email), ("password", password)]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "login failed: {}", page.body);
        page
    }

    /// The CSRF token of a signed-in page.
    pub async fn csrf_for(&mut self, path: &str) -> String {
        self.get(path).await.csrf()
    }

    /// Submits the generate form and returns the result page.
    pub async fn generate(&mut self, app: &App, name: &str, extra: &[(&str, &str)]) -> Page {
        let path = app.tokens_path();
        let csrf = self.csrf_for(&path).await;
        let mut form = vec![("_csrf", csrf.as_str()), ("name", name), ("scopes", "deploy"), ("scopes", "read")];
        form.extend_from_slice(extra);
        self.post(&path, &form).await
    }
}
