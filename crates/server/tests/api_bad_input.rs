//! Every class of bad input gets a 4xx problem+json that says what is wrong,
//! and writes nothing.

mod common;

use common::*;
use gatepass_client::CreateToken;
use reqwest::Method;
use serde_json::json;

async fn post_raw(
    server: &TestServer,
    credential: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, String, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.url()))
        .bearer_auth(credential)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, content_type, body)
}

async fn session(server: &TestServer) -> (Fixture, String) {
    let fx = server.fixture("free").await;
    let login = server.anonymous().login(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    (fx, login.token.expose_secret().to_string())
}

#[tokio::test]
async fn malformed_json_wrong_types_and_unknown_fields_are_400() {
    let server = TestServer::start().await;
    let (fx, credential) = session(&server).await;
    let path = format!("/v1/orgs/{}/tokens", fx.org.id);
    for (body, expect) in [
        (&b"{not json"[..], "malformed JSON"),
        (br#"{"name": 42}"#, "invalid JSON body"),
        (br#"{"scope": ["deploy"]}"#, "unknown field `scope`"),
        (br#"[]"#, "invalid JSON body"),
    ] {
        let (status, content_type, problem) =
            post_raw(&server, &credential, &path, "application/json", body.to_vec()).await;
        assert_eq!(status, 400, "{problem}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(problem["type"], "urn:gatepass:problem:bad-request");
        assert!(problem["detail"].as_str().unwrap().contains(expect), "{problem}");
    }
    let (status, _, problem) = post_raw(&server, &credential, &path, "text/plain", b"{}".to_vec()).await;
    assert_eq!(status, 400);
    assert!(problem["detail"].as_str().unwrap().contains("Content-Type: application/json"));
    assert!(fx.admin.list_tokens(&fx.org.id, true).await.unwrap().is_empty(), "nothing was written");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let server = TestServer::start().await;
    let (fx, credential) = session(&server).await;
    let body = serde_json::to_vec(&json!({ "name": "x".repeat(100_000) })).unwrap();
    let (status, content_type, problem) =
        post_raw(&server, &credential, &format!("/v1/orgs/{}/tokens", fx.org.id), "application/json", body).await;
    assert_eq!((status, content_type.as_str()), (413, "application/problem+json"), "{problem}");
    assert_eq!(problem["type"], "urn:gatepass:problem:payload-too-large");
}

#[tokio::test]
async fn bad_values_are_422_with_the_reason() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let cases: Vec<(CreateToken, &str)> = vec![
        (CreateToken { scopes: Some(vec!["root".into()]), ..Default::default() }, "unknown scope \"root\""),
        (CreateToken { scopes: Some(vec![]), ..Default::default() }, "at least one scope"),
        (CreateToken { name: Some("x".repeat(101)), ..Default::default() }, "at most 100 characters"),
        (CreateToken { name: Some("  ".into()), ..Default::default() }, "must not be empty"),
        (CreateToken { expires_in: Some("soon".into()), ..Default::default() }, "is not a duration"),
        (CreateToken { expires_at: Some("31/12/2026".into()), ..Default::default() }, "is not a date"),
        (CreateToken { expires_at: Some("2020-01-01".into()), ..Default::default() }, "in the past"),
        (
            CreateToken { expires_at: Some("2099-01-01".into()), expires_in: Some("1h".into()), ..Default::default() },
            "not both",
        ),
        (CreateToken { level: Some("galaxy".into()), ..Default::default() }, "unknown level"),
        (CreateToken { level: Some("project".into()), ..Default::default() }, "needs \"project\""),
        (
            CreateToken { level: Some("environment".into()), project: Some("web".into()), ..Default::default() },
            "needs \"environment\"",
        ),
        (CreateToken { level: Some("org".into()), project: Some("web".into()), ..Default::default() }, "leave out"),
    ];
    for (request, expect) in cases {
        let detail = assert_problem(fx.admin.create_token(&fx.org.id, &request).await, 422, "invalid-value");
        assert!(detail.contains(expect), "{detail:?} should mention {expect:?}");
    }
    let grace = fx.admin.create_token(&fx.org.id, &CreateToken::default()).await.unwrap();
    let detail =
        assert_problem(fx.admin.rotate_token(&fx.org.id, &grace.metadata.id, Some("8d")).await, 422, "invalid-value");
    assert!(detail.contains("at most 7 days"));
    assert_eq!(fx.admin.list_tokens(&fx.org.id, true).await.unwrap().len(), 1, "only the valid token was written");
}

#[tokio::test]
async fn bad_ids_and_unknown_routes_are_404_problems() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    assert_problem(fx.admin.get_token(&fx.org.id, "tok_nope").await, 404, "not-found");
    assert_problem(fx.admin.get_token(&fx.org.id, "../../etc/passwd").await, 404, "not-found");
    assert_problem(fx.admin.get_org("org_00000000000000000000").await, 404, "not-found");
    assert_problem(fx.admin.get_project("prj_x").await, 404, "not-found");
    assert_problem(fx.admin.get_deployment("dep_").await, 404, "not-found");
    let unknown = CreateToken { project: Some("no-such-project".into()), ..Default::default() };
    assert_problem(fx.admin.create_token(&fx.org.id, &unknown).await, 404, "not-found");
    let unknown_env =
        CreateToken { project: Some("web".into()), environment: Some("moon".into()), ..Default::default() };
    assert_problem(fx.admin.create_token(&fx.org.id, &unknown_env).await, 404, "not-found");
    let response = fx.admin.raw(Method::GET, "/v2/whatever", None::<&()>).await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn bad_deployments_and_objects_are_explained() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let token = fx
        .admin
        .create_token(&fx.org.id, &CreateToken { project: Some("web".into()), ..Default::default() })
        .await
        .unwrap();
    let ci = server.client(token.token.expose_secret());
    let mut request = deploy_request("production", "main");
    request.commit = "not-a-sha!".into();
    let detail = assert_problem(ci.deploy("web", &request).await, 422, "invalid-value");
    assert!(detail.contains("commit"));
    let mut request = deploy_request("production", "has space");
    request.git_ref = "has space".into();
    assert_problem(ci.deploy("web", &request).await, 422, "invalid-value");
    assert_problem(fx.admin.create_org("Bad", "Bad Slug", "free").await, 422, "invalid-value");
    assert_problem(fx.admin.create_org("Bad", "bad", "platinum").await, 422, "invalid-value");
    assert_problem(fx.admin.create_project(&fx.org.id, "Web", "web").await, 409, "conflict");
    assert_problem(fx.admin.create_environment("web", "production").await, 409, "conflict");
    assert_problem(fx.admin.create_environment("web", "env_lookalike").await, 422, "invalid-value");
    assert_problem(fx.admin.create_branch_rule("web", "release/[").await, 422, "invalid-value");
    assert_problem(fx.admin.set_deploy_hook("web", "ftp://example.test/hook").await, 422, "invalid-value");
    assert_problem(fx.admin.add_member(&fx.org.id, "nobody@example.test", "member").await, 422, "invalid-value");
    assert_problem(fx.admin.add_member(&fx.org.id, "x@example.test", "emperor").await, 422, "invalid-value");
}
