//! The contract of a deployment's life: its status history, moves that
//! happen only from the state they expect (also under concurrency), the
//! current deployment of each environment, and deployments past their
//! project's deploy timeout.

use gatepass_core::deployment::DEFAULT_DEPLOY_TIMEOUT;
use gatepass_core::id::*;
use gatepass_core::plan::Plan;
use time::{Duration, OffsetDateTime};

use super::{environment, now, org, project, SharedStore};
use crate::*;

fn queued(project: &Project, environment: &Environment, commit: &str, at: OffsetDateTime) -> Deployment {
    Deployment {
        id: DeploymentId::generate(),
        org_id: project.org_id,
        project_id: project.id,
        environment_id: environment.id,
        git_ref: "main".into(),
        commit_sha: commit.into(),
        description: format!("deploy {commit}"),
        state: DeploymentState::Queued,
        hook_status: HookStatus::None,
        log_url: None,
        environment_url: None,
        created_by: Actor { id: "tok_creator".into(), label: "token CI".into() },
        created_at: at,
        started_at: None,
        finished_at: None,
    }
}

fn report(deployment: &Deployment, state: DeploymentState, at: OffsetDateTime) -> StatusReport {
    StatusReport {
        deployment_id: deployment.id,
        state,
        description: format!("now {state}"),
        log_url: None,
        environment_url: None,
        reported_by: Actor { id: "tok_runner".into(), label: "token runner".into() },
        at,
    }
}

async fn setup(store: &SharedStore) -> (Project, Environment, Environment) {
    let (org, _) = org(store, "acme", Plan::Free).await;
    let web = project(store, &org, "web").await;
    let production = environment(store, &web, "production").await;
    let staging = environment(store, &web, "staging").await;
    (web, production, staging)
}

pub async fn a_deployment_starts_its_history_queued_by_its_creator(store: SharedStore) {
    let (web, production, _) = setup(&store).await;
    let deployment = queued(&web, &production, "abc1", now());
    store.create_deployment(&deployment, None).await.unwrap();
    assert_eq!(store.find_deployment(deployment.id).await.unwrap(), Some(deployment.clone()));
    let history = store.list_statuses(deployment.id).await.unwrap();
    assert_eq!(history, vec![StatusReport::created(&deployment)]);
    assert_eq!(history[0].reported_by.label, "token CI");
    assert!(store.list_statuses(DeploymentId::generate()).await.unwrap().is_empty());
}

pub async fn a_status_report_moves_a_deployment_only_from_the_state_it_expects(store: SharedStore) {
    let (web, production, _) = setup(&store).await;
    let start = now();
    let deployment = queued(&web, &production, "abc1", start);
    store.create_deployment(&deployment, None).await.unwrap();

    let mut running = report(&deployment, DeploymentState::InProgress, start + Duration::seconds(1));
    running.log_url = Some("https://ci.example.test/run/1".into());
    let moved = store.record_status(DeploymentState::Queued, &running).await.unwrap().expect("queued → in_progress");
    assert_eq!(moved.state, DeploymentState::InProgress);
    assert_eq!(moved.started_at, Some(running.at));
    assert_eq!(moved.log_url.as_deref(), Some("https://ci.example.test/run/1"));
    assert_eq!(moved.finished_at, None);

    // A report that expects a state the deployment is no longer in changes nothing.
    let stale = report(&deployment, DeploymentState::Failed, start + Duration::seconds(2));
    assert_eq!(store.record_status(DeploymentState::Queued, &stale).await.unwrap(), None);

    // A second in_progress keeps the first start; URLs not given are kept.
    let progress = report(&deployment, DeploymentState::InProgress, start + Duration::seconds(3));
    let again = store.record_status(DeploymentState::InProgress, &progress).await.unwrap().unwrap();
    assert_eq!(again.started_at, Some(running.at));
    assert_eq!(again.log_url.as_deref(), Some("https://ci.example.test/run/1"));

    let mut done = report(&deployment, DeploymentState::Succeeded, start + Duration::seconds(4));
    done.environment_url = Some("https://web.example.test".into());
    let finished = store.record_status(DeploymentState::InProgress, &done).await.unwrap().unwrap();
    assert_eq!(
        (finished.state, finished.finished_at, finished.environment_url.as_deref()),
        (DeploymentState::Succeeded, Some(done.at), Some("https://web.example.test"))
    );
    assert_eq!(store.find_deployment(deployment.id).await.unwrap(), Some(finished));

    // The history holds every accepted report, oldest first, and not the refused one.
    let history = store.list_statuses(deployment.id).await.unwrap();
    let states: Vec<_> = history.iter().map(|entry| entry.state).collect();
    use DeploymentState::*;
    assert_eq!(states, [Queued, InProgress, InProgress, Succeeded]);
    assert_eq!(history[1], running);
    assert_eq!(history[3], done);

    // Reports within the same millisecond keep the order they were made in.
    let other = queued(&web, &production, "abc2", start);
    store.create_deployment(&other, None).await.unwrap();
    let at = start + Duration::seconds(5);
    store.record_status(Queued, &report(&other, InProgress, at)).await.unwrap().unwrap();
    store.record_status(InProgress, &report(&other, InProgress, at)).await.unwrap().unwrap();
    store.record_status(InProgress, &report(&other, Cancelled, at)).await.unwrap().unwrap();
    let states: Vec<_> = store.list_statuses(other.id).await.unwrap().iter().map(|entry| entry.state).collect();
    assert_eq!(states, [Queued, InProgress, InProgress, Cancelled]);
}

pub async fn concurrent_reports_from_the_same_state_record_one_move(store: SharedStore) {
    let (web, production, _) = setup(&store).await;
    let deployment = queued(&web, &production, "abc1", now());
    store.create_deployment(&deployment, None).await.unwrap();
    let outcomes = [DeploymentState::Succeeded, DeploymentState::Failed, DeploymentState::Cancelled]
        .into_iter()
        .cycle()
        .take(12)
        .map(|state| {
            let store = store.clone();
            let report = report(&deployment, state, now());
            tokio::spawn(async move { store.record_status(DeploymentState::Queued, &report).await.unwrap() })
        })
        .collect::<Vec<_>>();
    let mut winners = Vec::new();
    for outcome in outcomes {
        winners.extend(outcome.await.unwrap());
    }
    assert_eq!(winners.len(), 1, "exactly one report moved the deployment: {winners:?}");
    let history = store.list_statuses(deployment.id).await.unwrap();
    assert_eq!(history.len(), 2, "one entry besides queued: {history:?}");
    assert_eq!(history[1].state, winners[0].state);
    assert_eq!(store.find_deployment(deployment.id).await.unwrap().unwrap().state, winners[0].state);
}

pub async fn the_current_deployment_is_the_last_to_succeed_in_each_environment(store: SharedStore) {
    let (web, production, staging) = setup(&store).await;
    let start = now();
    assert!(store.current_deployments(web.id).await.unwrap().is_empty());
    let first = queued(&web, &production, "abc1", start);
    let second = queued(&web, &production, "abc2", start + Duration::seconds(1));
    let failing = queued(&web, &production, "abc3", start + Duration::seconds(2));
    let on_staging = queued(&web, &staging, "abc4", start + Duration::seconds(3));
    for deployment in [&first, &second, &failing, &on_staging] {
        store.create_deployment(deployment, None).await.unwrap();
    }
    use DeploymentState::*;
    // The second succeeds first, then the first: the first is what is live.
    store.record_status(Queued, &report(&second, Succeeded, start + Duration::seconds(10))).await.unwrap().unwrap();
    let live = store.current_deployments(web.id).await.unwrap();
    assert_eq!(live.iter().map(|d| d.id).collect::<Vec<_>>(), [second.id]);
    store.record_status(Queued, &report(&first, Succeeded, start + Duration::seconds(11))).await.unwrap().unwrap();
    // Other states never move it.
    store.record_status(Queued, &report(&failing, InProgress, start + Duration::seconds(12))).await.unwrap().unwrap();
    store.record_status(InProgress, &report(&failing, Failed, start + Duration::seconds(13))).await.unwrap().unwrap();
    store.record_status(Queued, &report(&on_staging, Cancelled, start + Duration::seconds(14))).await.unwrap().unwrap();
    let live = store.current_deployments(web.id).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!((live[0].id, live[0].environment_id, live[0].state), (first.id, production.id, Succeeded));
    // Archiving what is live does not make an older deployment live again.
    store.record_status(Succeeded, &report(&first, Archived, start + Duration::seconds(15))).await.unwrap().unwrap();
    let live = store.current_deployments(web.id).await.unwrap();
    assert_eq!(live.iter().map(|d| (d.id, d.state)).collect::<Vec<_>>(), [(first.id, Archived)]);
    // Staging gets its own.
    let staged = queued(&web, &staging, "abc5", start + Duration::seconds(16));
    store.create_deployment(&staged, None).await.unwrap();
    store.record_status(Queued, &report(&staged, Succeeded, start + Duration::seconds(17))).await.unwrap().unwrap();
    let mut live: Vec<_> = store.current_deployments(web.id).await.unwrap().into_iter().map(|d| d.id).collect();
    live.sort();
    let mut expected = vec![first.id, staged.id];
    expected.sort();
    assert_eq!(live, expected);
}

pub async fn overdue_deployments_are_those_in_progress_past_their_project_timeout(store: SharedStore) {
    let (web, production, _) = setup(&store).await;
    let (other_org, _) = org(&store, "beta", Plan::Free).await;
    let mut patient = project(&store, &other_org, "batch").await;
    patient.deploy_timeout = Duration::hours(3);
    assert!(store.update_project(&patient).await.unwrap());
    let nightly = environment(&store, &patient, "nightly").await;
    let start = now() - Duration::hours(10);
    use DeploymentState::*;
    let started = |deployment: Deployment, minutes: i64| {
        let store = store.clone();
        async move {
            store.create_deployment(&deployment, None).await.unwrap();
            let at = start + Duration::minutes(minutes);
            store.record_status(Queued, &report(&deployment, InProgress, at)).await.unwrap().unwrap()
        }
    };
    let long_ago = started(queued(&web, &production, "abc1", start), 0).await;
    let an_hour_ago = started(queued(&web, &production, "abc2", start), 60).await;
    let recent = started(queued(&web, &production, "abc3", start), 61).await;
    let batch = started(queued(&patient, &nightly, "abc4", start), 1).await;
    let never_started = queued(&web, &production, "abc5", start);
    store.create_deployment(&never_started, None).await.unwrap();
    let finished = started(queued(&web, &production, "abc6", start), 0).await;
    store.record_status(InProgress, &report(&finished, Failed, start + Duration::minutes(5))).await.unwrap().unwrap();

    // Two hours after the start, an hour has passed since the first two
    // started (exactly, for the second: the timeout is inclusive).
    let at = start + Duration::hours(2);
    let overdue: Vec<_> = store.overdue_deployments(at, 10).await.unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(overdue, [long_ago.id, an_hour_ago.id], "longest in progress first");
    assert_eq!(store.overdue_deployments(at, 1).await.unwrap()[0].id, long_ago.id, "at most the limit");
    // A project's own timeout counts: three hours for the batch project.
    let at = start + Duration::hours(3) + Duration::minutes(1);
    let overdue: Vec<_> = store.overdue_deployments(at, 10).await.unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(overdue, [long_ago.id, batch.id, an_hour_ago.id, recent.id]);
}

pub async fn a_project_keeps_its_deploy_timeout(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Free).await;
    let mut web = project(&store, &org, "web").await;
    assert_eq!(store.find_project(web.id).await.unwrap().unwrap().deploy_timeout, DEFAULT_DEPLOY_TIMEOUT);
    web.deploy_timeout = Duration::minutes(90);
    assert!(store.update_project(&web).await.unwrap());
    assert_eq!(store.find_project(web.id).await.unwrap(), Some(web));
}
