//! The rest of the project sidebar: environments and branch tracking rules
//! (one list component: a table, a create form and a delete action behind
//! a confirmation that says how many tokens it revokes). Deployments have
//! their own page (`deployments.rs`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::error::WebResult;
use super::form::FormData;
use super::layout::{render_with, when, Layout, ProjectCtx, ProjectNav};
use super::session::WebUser;
use crate::service::{projects as project_service, resolve, ServiceError};
use crate::state::AppState;

/// An item's delete action: where to confirm it and what it does.
pub struct DeleteAction {
    pub url: String,
    pub name: String,
    /// What deleting it revokes, said in the confirmation.
    pub detail: String,
}

/// A row of one of the simple tables: its cells in column order.
pub struct Row {
    pub cells: Vec<String>,
    pub delete: Option<DeleteAction>,
}

struct CreateForm {
    action: String,
    label: &'static str,
    field: &'static str,
    placeholder: &'static str,
    button: &'static str,
    value: String,
}

/// The open delete confirmation, without JavaScript.
struct Confirming {
    action: String,
    name: String,
    detail: String,
}

/// A simple table page with an optional one-field create form.
#[derive(Template)]
#[template(path = "table.html")]
struct TablePage {
    layout: Layout,
    nav: ProjectNav,
    heading: &'static str,
    intro: &'static str,
    columns: Vec<&'static str>,
    rows: Vec<Row>,
    empty: &'static str,
    /// What a row's trash icon deletes ("environment", "rule").
    noun: &'static str,
    list_url: String,
    form: Option<CreateForm>,
    notice: Option<&'static str>,
    error: Option<String>,
    confirming: Option<Confirming>,
}

/// The two lists a project keeps, with everything that differs between them.
#[derive(Clone, Copy)]
enum Listing {
    Environments,
    BranchRules,
}

impl Listing {
    /// Its entry in the project sidebar and its URL segment.
    fn page(self) -> &'static str {
        match self {
            Listing::Environments => "environments",
            Listing::BranchRules => "branch-rules",
        }
    }

    fn heading(self) -> &'static str {
        match self {
            Listing::Environments => "Environments",
            Listing::BranchRules => "Branch Tracking Rules",
        }
    }

    fn intro(self) -> &'static str {
        match self {
            Listing::Environments => "Where this project deploys to. Tokens can be limited to one environment.",
            Listing::BranchRules => "Configure which Git branches can trigger builds and deployments for your project.",
        }
    }

    fn columns(self) -> Vec<&'static str> {
        match self {
            Listing::Environments => vec!["Name", "ID", "Created"],
            Listing::BranchRules => vec!["Pattern", "Created"],
        }
    }

    fn empty(self) -> &'static str {
        match self {
            Listing::Environments => "No environments yet.",
            Listing::BranchRules => "No rules: every branch may deploy.",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Listing::Environments => "environment",
            Listing::BranchRules => "rule",
        }
    }

    /// The create form: label, field, placeholder, button.
    fn form(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Listing::Environments => ("Environment name", "name", "preview", "Add environment"),
            Listing::BranchRules => ("Branch pattern", "pattern", "main or release/*", "Add rule"),
        }
    }

    /// The rows, with a delete action each when `manage`.
    async fn rows(self, state: &AppState, web: &WebUser, ctx: &ProjectCtx, manage: bool) -> WebResult<Vec<Row>> {
        let base = format!("/projects/{}/{}", ctx.project.id, self.page());
        let mut rows = Vec::new();
        match self {
            Listing::Environments => {
                for env in project_service::list_environments(state, &web.caller(), &ctx.project).await? {
                    let delete = match manage {
                        true => Some(DeleteAction {
                            url: format!("{base}/{}/delete", env.id),
                            detail: environment_detail(state, web, ctx, &env).await?,
                            name: env.name.clone(),
                        }),
                        false => None,
                    };
                    rows.push(Row { cells: vec![env.name, env.id.to_string(), when(env.created_at)], delete });
                }
            }
            Listing::BranchRules => {
                for rule in project_service::list_branch_rules(state, &web.caller(), &ctx.project).await? {
                    let delete = manage.then(|| DeleteAction {
                        url: format!("{base}/{}/delete", rule.id),
                        name: rule.pattern.clone(),
                        detail: rule_detail(),
                    });
                    rows.push(Row { cells: vec![rule.pattern, when(rule.created_at)], delete });
                }
            }
        }
        Ok(rows)
    }

    async fn create(self, state: &AppState, web: &WebUser, ctx: &ProjectCtx, value: &str) -> Result<(), ServiceError> {
        let caller = web.caller();
        match self {
            Listing::Environments => {
                project_service::create_environment(state, &caller, &ctx.project, value).await.map(drop)
            }
            Listing::BranchRules => {
                project_service::add_branch_rule(state, &caller, &ctx.project, value).await.map(drop)
            }
        }
    }

    async fn delete(self, state: &AppState, web: &WebUser, ctx: &ProjectCtx, item: &str) -> Result<(), ServiceError> {
        let caller = web.caller();
        match self {
            Listing::Environments => {
                let environment = environment_by_id(state, ctx, item).await?;
                project_service::delete_environment(state, &caller, &ctx.project, &environment).await
            }
            Listing::BranchRules => project_service::delete_branch_rule(state, &caller, &ctx.project, item).await,
        }
    }
}

/// An environment of the project by id (a name would be ambiguous in a URL).
async fn environment_by_id(
    state: &AppState,
    ctx: &ProjectCtx,
    item: &str,
) -> Result<gatepass_store::Environment, ServiceError> {
    if !gatepass_core::id::EnvironmentId::looks_like(item) {
        return Err(ServiceError::NotFound("environment"));
    }
    resolve::environment(state, &ctx.project, item).await
}

async fn environment_detail(
    state: &AppState,
    web: &WebUser,
    ctx: &ProjectCtx,
    env: &gatepass_store::Environment,
) -> WebResult<String> {
    let count = project_service::tokens_revoked_by_deleting(state, &web.caller(), &ctx.project, Some(env)).await?;
    let revoked = match count {
        0 => format!("This revokes no token: none reaches only {}.", env.name),
        1 => format!("This revokes 1 token that reaches only {}.", env.name),
        n => format!("This revokes {n} tokens that reach only {}.", env.name),
    };
    Ok(format!("{revoked} Organization and project tokens keep working."))
}

fn rule_detail() -> String {
    "This revokes no token; refs that only this rule allowed can no longer deploy.".into()
}

#[derive(Default)]
struct Extras {
    value: String,
    notice: Option<&'static str>,
    error: Option<String>,
    confirming: Option<String>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

async fn list_page(
    listing: Listing,
    state: &AppState,
    web: &WebUser,
    key: &str,
    extras: Extras,
) -> WebResult<Response> {
    let ctx = ProjectCtx::load(state, web, key, listing.page(), listing.heading()).await?;
    let manage = ctx.is_admin(web);
    let rows = listing.rows(state, web, &ctx, manage).await?;
    let confirming = extras.confirming.as_deref().map(|item| {
        let suffix = format!("/{item}/delete");
        rows.iter().filter_map(|row| row.delete.as_ref()).find(|delete| delete.url.ends_with(&suffix)).map(|delete| {
            Confirming { action: delete.url.clone(), name: delete.name.clone(), detail: delete.detail.clone() }
        })
    });
    let confirming = match confirming {
        Some(None) => return Err(ServiceError::NotFound(listing.noun()).into()),
        Some(found) => found,
        None => None,
    };
    let list_url = format!("/projects/{}/{}", ctx.project.id, listing.page());
    let (label, field, placeholder, button) = listing.form();
    let form =
        manage.then(|| CreateForm { action: list_url.clone(), label, field, placeholder, button, value: extras.value });
    let status = if extras.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = TablePage {
        heading: listing.heading(),
        intro: listing.intro(),
        columns: listing.columns(),
        rows,
        empty: listing.empty(),
        noun: listing.noun(),
        list_url,
        form,
        notice: extras.notice,
        error: extras.error,
        confirming,
        layout: ctx.layout,
        nav: ctx.nav,
    };
    render_with(&page, status)
}

async fn list(listing: Listing, state: AppState, web: WebUser, key: String, query: NoticeQuery) -> WebResult<Response> {
    let notice = match query.notice.as_deref() {
        Some("deleted") => Some(match listing {
            Listing::Environments => "The environment was deleted and the tokens that reached only it were revoked.",
            Listing::BranchRules => "The rule was deleted.",
        }),
        _ => None,
    };
    list_page(listing, &state, &web, &key, Extras { notice, ..Extras::default() }).await
}

async fn create(listing: Listing, state: AppState, web: WebUser, key: String, form: FormData) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, listing.page(), listing.heading()).await?;
    let value = form.get(listing.form().1);
    match listing.create(&state, &web, &ctx, value).await {
        Ok(()) => Ok(Redirect::to(&format!("/projects/{}/{}", ctx.project.id, listing.page())).into_response()),
        Err(err @ (ServiceError::Invalid(_) | ServiceError::Conflict(_))) => {
            let extras = Extras { value: value.to_string(), error: Some(err.to_string()), ..Extras::default() };
            list_page(listing, &state, &web, &key, extras).await
        }
        Err(err) => Err(err.into()),
    }
}

/// The delete confirmation as its own page, for browsers without JavaScript.
async fn confirm_delete(
    listing: Listing,
    state: AppState,
    web: WebUser,
    key: String,
    item: String,
) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, listing.page(), listing.heading()).await?;
    if !ctx.is_admin(&web) {
        return Err(ServiceError::Forbidden("only owners and admins change this project".into()).into());
    }
    list_page(listing, &state, &web, &key, Extras { confirming: Some(item), ..Extras::default() }).await
}

async fn delete(listing: Listing, state: AppState, web: WebUser, key: String, item: String) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, listing.page(), listing.heading()).await?;
    listing.delete(&state, &web, &ctx, &item).await?;
    Ok(Redirect::to(&format!("/projects/{}/{}?notice=deleted", ctx.project.id, listing.page())).into_response())
}

type ItemPath = Path<(String, String)>;

pub async fn environments(
    State(s): State<AppState>,
    web: WebUser,
    Path(key): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> WebResult<Response> {
    list(Listing::Environments, s, web, key, q).await
}

pub async fn create_environment(
    State(s): State<AppState>,
    web: WebUser,
    Path(key): Path<String>,
    form: FormData,
) -> WebResult<Response> {
    create(Listing::Environments, s, web, key, form).await
}

pub async fn confirm_delete_environment(
    State(s): State<AppState>,
    web: WebUser,
    Path((key, item)): ItemPath,
) -> WebResult<Response> {
    confirm_delete(Listing::Environments, s, web, key, item).await
}

pub async fn delete_environment(
    State(s): State<AppState>,
    web: WebUser,
    Path((key, item)): ItemPath,
) -> WebResult<Response> {
    delete(Listing::Environments, s, web, key, item).await
}

pub async fn branch_rules(
    State(s): State<AppState>,
    web: WebUser,
    Path(key): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> WebResult<Response> {
    list(Listing::BranchRules, s, web, key, q).await
}

pub async fn create_branch_rule(
    State(s): State<AppState>,
    web: WebUser,
    Path(key): Path<String>,
    form: FormData,
) -> WebResult<Response> {
    create(Listing::BranchRules, s, web, key, form).await
}

pub async fn confirm_delete_branch_rule(
    State(s): State<AppState>,
    web: WebUser,
    Path((key, item)): ItemPath,
) -> WebResult<Response> {
    confirm_delete(Listing::BranchRules, s, web, key, item).await
}

pub async fn delete_branch_rule(
    State(s): State<AppState>,
    web: WebUser,
    Path((key, item)): ItemPath,
) -> WebResult<Response> {
    delete(Listing::BranchRules, s, web, key, item).await
}
