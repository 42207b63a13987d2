//! Races the contract suite cannot force on PostgreSQL: there, concurrent
//! first-run setups on one pool almost never interleave inside one statement,
//! so the suite passes with or without the table lock. Here a second
//! connection, standing in for another node, holds an uncommitted user.

use std::time::Duration;

use gatepass_core::id::UserId;
use gatepass_store::{to_millis, User, UserStore};
use gatepass_store_postgres::testing::TestDatabase;
use sqlx::{Connection, PgConnection};
use time::OffsetDateTime;

fn admin(email: &str) -> User {
    User {
        id: UserId::generate(),
        email: email.into(),
        password_hash: "x".into(),
        instance_admin: true,
        created_at: OffsetDateTime::now_utc(),
    }
}

#[tokio::test]
async fn first_user_setup_waits_for_another_nodes_uncommitted_user() {
    let Some(database) = TestDatabase::create().await else { return };
    let mut other_node = PgConnection::connect(database.url()).await.expect("connect");
    let store = database.into_store().await;

    let mut setup = other_node.begin().await.expect("begin");
    let first = admin("first@example.test");
    sqlx::query("INSERT INTO users (id, email, password_hash, instance_admin, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(first.id.as_str())
        .bind(&first.email)
        .bind(&first.password_hash)
        .bind(first.instance_admin)
        .bind(to_millis(first.created_at))
        .execute(&mut *setup)
        .await
        .expect("insert the other node's first user");

    let racer = {
        let store = store.clone();
        tokio::spawn(async move { store.create_first_user(&admin("second@example.test")).await })
    };
    // Commit only once the racer is blocked on a lock (or, without one, done).
    for _ in 0..500 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(store.pool())
        .await
        .expect("read pg_stat_activity");
        if waiting > 0 || racer.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    setup.commit().await.expect("commit");

    assert!(!racer.await.unwrap().unwrap(), "a second first user was created");
    assert_eq!(store.count_users().await.unwrap(), 1);
}
