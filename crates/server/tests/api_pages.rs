//! Lists that page (SPEC 6.1): `?limit` and `?cursor`, a `Link` to the next
//! page until the last, cursors only this server issues, and the audit log
//! exported whole as a stream.

mod common;

use common::*;
use gatepass_client::{next_page, CreateToken};

/// Every page of `path` (following `Link: <…>; rel="next"`), and how many pages.
async fn all_pages(server: &TestServer, session: &str, path: &str) -> (Vec<serde_json::Value>, usize) {
    let http = reqwest::Client::new();
    let mut url = format!("{}{path}", server.url());
    let (mut items, mut pages) = (Vec::new(), 0);
    loop {
        let response = http.get(&url).bearer_auth(session).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        pages += 1;
        let next = next_page(response.headers());
        let page: Vec<serde_json::Value> = response.json().await.unwrap();
        items.extend(page);
        match next {
            Some(next) => {
                assert!(next.starts_with("http://"), "the next page's URL is absolute: {next}");
                url = next;
            }
            None => return (items, pages),
        }
    }
}

async fn admin_session(server: &TestServer) -> (Fixture, String) {
    let fixture = server.fixture("team").await;
    let login = server.anonymous().login(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    (fixture, login.token.expose_secret().to_string())
}

#[tokio::test]
async fn token_lists_page_with_a_link_to_the_next_page_until_the_last() {
    let server = TestServer::start().await;
    let (fx, session) = admin_session(&server).await;
    for n in 0..7 {
        let request = CreateToken { name: Some(format!("ci {n}")), ..Default::default() };
        fx.admin.create_token(&fx.org.id, &request).await.unwrap();
    }
    let whole = fx.admin.list_tokens(&fx.org.id, false).await.unwrap();
    assert_eq!(whole.len(), 7);
    let (paged, pages) = all_pages(&server, &session, &format!("/v1/orgs/{}/tokens?limit=3", fx.org.id)).await;
    assert_eq!(pages, 3, "3 + 3 + 1");
    let ids: Vec<&str> = paged.iter().map(|token| token["id"].as_str().unwrap()).collect();
    assert_eq!(ids, whole.iter().map(|token| token.id.as_str()).collect::<Vec<_>>());
    // The last page has no Link; a page of exactly the rest has none either.
    let (_, pages) = all_pages(&server, &session, &format!("/v1/orgs/{}/tokens?limit=7", fx.org.id)).await;
    assert_eq!(pages, 1);
}

#[tokio::test]
async fn a_cursor_the_server_did_not_issue_for_this_list_is_a_400() {
    let server = TestServer::start().await;
    let (fx, session) = admin_session(&server).await;
    for _ in 0..3 {
        fx.admin.create_token(&fx.org.id, &CreateToken::default()).await.unwrap();
    }
    let http = reqwest::Client::new();
    let first = http
        .get(format!("{}/v1/orgs/{}/tokens?limit=1", server.url(), fx.org.id))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    let next = next_page(first.headers()).expect("a next page");
    let cursor = next.split("cursor=").nth(1).unwrap().split('&').next().unwrap().to_string();

    let get = |path: String| http.get(format!("{}{path}", server.url())).bearer_auth(&session).send();
    for (path, why) in [
        (format!("/v1/orgs/{}/tokens?cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", fx.org.id), "forged"),
        (format!("/v1/orgs/{}/tokens?cursor={}x", fx.org.id, cursor), "tampered"),
        (format!("/v1/orgs/{}/events?cursor={cursor}", fx.org.id), "another list's"),
        (format!("/v1/orgs/{}/tokens?limit=0", fx.org.id), "limit 0"),
        (format!("/v1/orgs/{}/tokens?limit=many", fx.org.id), "limit not a number"),
    ] {
        let answer = get(path).await.unwrap();
        assert_eq!(answer.status(), 400, "{why}");
        assert_eq!(answer.headers()["content-type"], "application/problem+json", "{why}");
    }
    // The cursor itself works where it was issued.
    assert_eq!(get(format!("/v1/orgs/{}/tokens?limit=1&cursor={cursor}", fx.org.id)).await.unwrap().status(), 200);
    // A limit past 1000 is read as 1000.
    assert_eq!(get(format!("/v1/orgs/{}/tokens?limit=5000", fx.org.id)).await.unwrap().status(), 200);
}

#[tokio::test]
async fn every_list_pages_the_same_way() {
    let server = TestServer::start().await;
    let (fx, session) = admin_session(&server).await;
    for n in 0..3 {
        fx.admin.create_environment(&fx.project.id, &format!("preview-{n}")).await.unwrap();
        fx.admin.create_branch_rule(&fx.project.id, &format!("release/{n}/*")).await.unwrap();
        fx.admin.create_project(&fx.org.id, &format!("Service {n}"), &format!("service-{n}")).await.unwrap();
        fx.admin.create_user(&format!("dev{n}@example.test"), ADMIN_PASSWORD, false).await.unwrap();
        fx.admin.add_member(&fx.org.id, &format!("dev{n}@example.test"), "member").await.unwrap();
        fx.admin.deploy(&fx.project.id, &deploy_request("production", &format!("release/{n}/x"))).await.unwrap();
    }
    for path in [
        format!("/v1/projects/{}/environments", fx.project.id),
        format!("/v1/projects/{}/branch-rules", fx.project.id),
        format!("/v1/orgs/{}/projects", fx.org.id),
        format!("/v1/orgs/{}/members", fx.org.id),
        format!("/v1/projects/{}/deployments", fx.project.id),
        format!("/v1/orgs/{}/events", fx.org.id),
        "/v1/orgs".to_string(),
    ] {
        let (whole, one_page) = all_pages(&server, &session, &path).await;
        assert_eq!(one_page, 1, "{path}: fewer than 100 fit in one page");
        let (paged, pages) = all_pages(&server, &session, &format!("{path}?limit=2")).await;
        assert_eq!(paged, whole, "{path}: pages of 2 give the same items in the same order");
        assert_eq!(pages, whole.len().div_ceil(2).max(1), "{path}");
    }
}

#[tokio::test]
async fn the_audit_log_exports_whole_as_ndjson_or_csv_from_an_instant_on() {
    let server = TestServer::start().await;
    let (fx, session) = admin_session(&server).await;
    let before = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
    for n in 0..5 {
        fx.admin.create_environment(&fx.project.id, &format!("preview,\"{n}\"")).await.unwrap();
    }
    let events = fx.admin.list_events(&fx.org.id).await.unwrap();
    let since = before.format(&time::format_description::well_known::Rfc3339).unwrap();
    let http = reqwest::Client::new();
    let export = |query: String| {
        http.get(format!("{}/v1/orgs/{}/events/export?{query}", server.url(), fx.org.id)).bearer_auth(&session).send()
    };

    let ndjson = export(format!("since={since}&format=ndjson")).await.unwrap();
    assert_eq!(ndjson.status(), 200);
    assert_eq!(ndjson.headers()["content-type"], "application/x-ndjson");
    let lines: Vec<serde_json::Value> =
        ndjson.text().await.unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(lines.len(), events.len());
    assert_eq!(lines.last().unwrap()["id"].as_str(), Some(events[0].id.as_str()), "oldest first");

    let csv = export(format!("since={since}&format=csv")).await.unwrap();
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("id,at,actor_id,actor_label,action,target,client_ip,details\n"));
    assert!(text.contains("\"{\"\"name\"\":\"\"preview,\\\"\"4\\\"\"\"\""), "quoted fields: {text}");

    let later = (time::OffsetDateTime::now_utc() + time::Duration::minutes(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert_eq!(export(format!("since={later}")).await.unwrap().text().await.unwrap(), "", "nothing after now");
    for bad in ["since=yesterday", &format!("since={since}&format=xml"), "format=csv"] {
        assert_eq!(export(bad.to_string()).await.unwrap().status(), 400, "{bad}");
    }
}
