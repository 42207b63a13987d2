//! In-process benchmarks of the trusted deploys check (criterion): what
//! `POST /v1/oidc/token` spends before it writes, with the issuer's keys
//! already cached — reading the header and `iss`, finding the cached key,
//! and checking the signature — for RS256 (2048-bit RSA) and ES256.
//!
//! The keys come from a stand-in issuer on 127.0.0.1 (keys made at run
//! time), fetched once before measuring. Run:
//! `cargo bench -p gatepass-server --bench oidc`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use gatepass_server::auth::oidc::{self, IssuerKeys};
use gatepass_server::testing::oidc::OidcIssuer;
use time::OffsetDateTime;

fn exchange_checks(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let issuer = runtime.block_on(OidcIssuer::start());
    let keys = IssuerKeys::new(true);
    let now = OffsetDateTime::now_utc();
    for (name, kid) in [("rs256", "rsa-1"), ("es256", "ec-1")] {
        let jwt = issuer.sign(kid, &issuer.github_claims("https://gatepass.example.test", "acme/web"));
        let unverified = oidc::peek(&jwt).unwrap();
        // The first lookup fetches the discovery document and the JWKS.
        runtime
            .block_on(keys.key(&unverified.issuer, unverified.key_id.as_deref(), unverified.algorithm, now))
            .unwrap();
        c.bench_function(&format!("oidc/{name}/cached-keys"), |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let unverified = oidc::peek(black_box(&jwt)).unwrap();
                    let key = keys
                        .key(&unverified.issuer, unverified.key_id.as_deref(), unverified.algorithm, now)
                        .await
                        .unwrap();
                    oidc::verify_signature(&jwt, &key, unverified.algorithm).unwrap()
                })
            })
        });
    }
}

criterion_group!(benches, exchange_checks);
criterion_main!(benches);
