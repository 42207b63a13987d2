//! Authorization: the one place that decides whether a principal may act.

use crate::id::{EnvironmentId, OrgId, ProjectId, TokenId, UserId};
use crate::reach::Reach;
use crate::role::Role;
use crate::scope::{Scope, Scopes};
use crate::token::{TokenDigest, TokenSecrets};

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    Token(TokenGrant),
    User(UserGrant),
}

/// What a verified deployment token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenGrant {
    pub token_id: TokenId,
    pub org_id: OrgId,
    pub reach: Reach,
    pub scopes: Scopes,
}

/// What a logged-in user is: their org roles, and whether they run the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserGrant {
    pub user_id: UserId,
    pub instance_admin: bool,
    pub memberships: Vec<(OrgId, Role)>,
}

/// The part of an org an action touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// The org as a whole: members, creating projects, every project at once.
    Org,
    Project(ProjectId),
    Environment(ProjectId, EnvironmentId),
}

impl From<Reach> for Area {
    fn from(reach: Reach) -> Self {
        match reach {
            Reach::Org => Area::Org,
            Reach::Project(project) => Area::Project(project),
            Reach::Environment(project, environment) => Area::Environment(project, environment),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The principal cannot see this at all; answered like "not found" so
    /// that nobody learns what exists in other orgs or projects.
    #[error("not found")]
    OutOfReach,
    #[error("this credential lacks the {0} scope")]
    MissingScope(Scope),
    #[error("a token may only issue tokens within its own reach and scopes")]
    Escalation,
    #[error("only instance admins may do this")]
    NotInstanceAdmin,
    #[error("only owners grant or remove the owner role")]
    NotOwner,
    #[error("introspection needs an org admin credential")]
    NotAnOrgAdmin,
    #[error("only an owner of the organization may do this")]
    OwnersOnly,
    #[error("this secret no longer opens the token: a rotation retired it")]
    RetiredSecret,
    #[error("only a deployment token can be attenuated, by presenting it: a login session cannot")]
    NotAToken,
}

/// Whether the secret `found` in the open (by a secret scanner, or by whoever
/// reports it) lets its finder revoke the token whose `secrets` it matched.
///
/// Holding a secret says nothing about who the finder is, so it grants this
/// one thing, which harms nobody, and nothing else: no principal, no view of
/// the token. And only a secret that still opens the token counts: one that
/// a rotation retired is dead already, and must not kill the new secret.
pub fn may_revoke_with_found_secret(
    secrets: TokenSecrets<'_>,
    found: &TokenDigest,
    now: time::OffsetDateTime,
) -> Result<(), Denied> {
    if secrets.opens(found, now) {
        Ok(())
    } else {
        Err(Denied::RetiredSecret)
    }
}

impl Principal {
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Principal::User(user) => Some(user.user_id),
            Principal::Token(_) => None,
        }
    }

    pub fn token_id(&self) -> Option<TokenId> {
        match self {
            Principal::Token(token) => Some(token.token_id),
            Principal::User(_) => None,
        }
    }

    pub fn is_instance_admin(&self) -> bool {
        matches!(self, Principal::User(user) if user.instance_admin)
    }

    /// The role of a user in `org`, if they are a member.
    pub fn role_in(&self, org: OrgId) -> Option<Role> {
        match self {
            Principal::User(user) => user.memberships.iter().find(|(id, _)| *id == org).map(|(_, role)| *role),
            Principal::Token(_) => None,
        }
    }

    /// The scopes this principal holds in `org`, wherever in it they apply.
    pub fn scopes_in(&self, org: OrgId) -> Option<Scopes> {
        match self {
            Principal::Token(token) => (token.org_id == org).then_some(token.scopes),
            Principal::User(_) => self.role_in(org).map(Role::scopes),
        }
    }

    /// Whether the principal may see anything in `org` at all.
    pub fn can_enter(&self, org: OrgId) -> Result<(), Denied> {
        self.scopes_in(org).map(|_| ()).ok_or(Denied::OutOfReach)
    }

    /// Whether the principal may look at `org` itself: members, tokens of
    /// the org, and instance admins (who run every org).
    pub fn may_view_org(&self, org: OrgId) -> Result<(), Denied> {
        if self.is_instance_admin() {
            return Ok(());
        }
        self.can_enter(org)
    }

    /// Requires `scope` somewhere in `org`: for listings, which a narrower
    /// credential then sees filtered by [`Principal::sees`].
    pub fn authorize_listing(&self, scope: Scope, org: OrgId) -> Result<(), Denied> {
        match self.scopes_in(org) {
            None => Err(Denied::OutOfReach),
            Some(scopes) if scopes.allows(scope) => Ok(()),
            Some(_) => Err(Denied::MissingScope(scope)),
        }
    }

    /// Requires `scope` somewhere in `org` for reading it as a whole
    /// (members, tokens, the audit log), as [`Principal::authorize_listing`];
    /// instance admins, who run every org, read any org without being a
    /// member. Reading only: acting still goes through [`Principal::authorize`].
    pub fn authorize_reading(&self, scope: Scope, org: OrgId) -> Result<(), Denied> {
        if self.is_instance_admin() {
            return Ok(());
        }
        self.authorize_listing(scope, org)
    }

    /// Whether a listing read under [`Principal::authorize_reading`] shows
    /// this principal an object of `org` in `project` (and `environment`): as
    /// [`Principal::sees`], and instance admins see every org's objects.
    pub fn sees_listed(&self, org: OrgId, project: Option<ProjectId>, environment: Option<EnvironmentId>) -> bool {
        self.is_instance_admin() || self.sees(org, project, environment)
    }

    /// Whether the principal may read the audit log of `org`: an org-wide
    /// `admin` credential, or an instance admin.
    pub fn may_read_audit_log(&self, org: OrgId) -> Result<(), Denied> {
        if self.is_instance_admin() {
            return Ok(());
        }
        self.authorize(Scope::Admin, org, Area::Org)
    }

    /// Whether the principal may manage `org`'s webhooks and read their
    /// deliveries (which carry events from every project): an org-wide
    /// `admin` credential, as for the audit log.
    pub fn may_manage_webhooks(&self, org: OrgId) -> Result<(), Denied> {
        self.authorize(Scope::Admin, org, Area::Org)
    }

    /// Whether the principal may delete `org` with everything in it: its
    /// owners only, never a token and never an instance admin who is not an
    /// owner.
    pub fn may_delete_org(&self, org: OrgId) -> Result<(), Denied> {
        match self {
            Principal::Token(_) => self.authorize(Scope::Admin, org, Area::Org).and(Err(Denied::OwnersOnly)),
            Principal::User(_) => match self.role_in(org) {
                Some(Role::Owner) => Ok(()),
                Some(_) => Err(Denied::OwnersOnly),
                None if self.is_instance_admin() => Err(Denied::OwnersOnly),
                None => Err(Denied::OutOfReach),
            },
        }
    }

    /// Requires an instance admin (creating orgs and users, changing plans).
    pub fn require_instance_admin(&self) -> Result<(), Denied> {
        if self.is_instance_admin() {
            Ok(())
        } else {
            Err(Denied::NotInstanceAdmin)
        }
    }

    /// Whether the principal may manage members of `org` in a change that
    /// touches `roles` (the new role and, for an existing member, the old
    /// one): admins manage members, only owners hand out or take away
    /// ownership.
    pub fn may_manage_members(&self, org: OrgId, roles: &[Role]) -> Result<(), Denied> {
        self.authorize(Scope::Admin, org, Area::Org)?;
        if roles.contains(&Role::Owner) && self.role_in(org) != Some(Role::Owner) {
            return Err(Denied::NotOwner);
        }
        Ok(())
    }

    /// Whether the principal may introspect tokens at all: an org-level
    /// `admin` token, or a user who is an admin of some org. Which tokens it
    /// may learn about is [`Principal::may_introspect_token_of`].
    pub fn may_introspect(&self) -> Result<(), Denied> {
        let admin_somewhere = match self {
            Principal::Token(token) => token.reach == Reach::Org && token.scopes.allows(Scope::Admin),
            Principal::User(user) => user.memberships.iter().any(|(_, role)| role.scopes().allows(Scope::Admin)),
        };
        if admin_somewhere {
            Ok(())
        } else {
            Err(Denied::NotAnOrgAdmin)
        }
    }

    /// Whether an introspection by this principal may report a token of `org` active.
    pub fn may_introspect_token_of(&self, org: OrgId) -> bool {
        self.authorize(Scope::Admin, org, Area::Org).is_ok()
    }

    /// Whether the principal may read a deployment in `area` and its status
    /// history: `read` in the org (as for listings, which [`Principal::sees`]
    /// filters), or `deploy` reaching it, so that a CI job with a deploy-only
    /// token can follow what it started and a runner what it reports on.
    pub fn may_read_deployment(&self, org: OrgId, area: Area) -> Result<(), Denied> {
        match self.authorize_listing(Scope::Read, org) {
            Ok(()) => Ok(()),
            Err(no_read) => self.authorize(Scope::Deploy, org, area).map_err(|_| no_read),
        }
    }

    /// Whether the principal sees `project` of `org` in a project listing:
    /// as [`Principal::sees`], and instance admins see every org's projects.
    pub fn sees_project(&self, org: OrgId, project: ProjectId) -> bool {
        self.sees_listed(org, Some(project), None)
    }

    /// The one scope check: may this principal do `scope` in `area` of `org`?
    pub fn authorize(&self, scope: Scope, org: OrgId, area: Area) -> Result<(), Denied> {
        let scopes = self.scopes_in(org).ok_or(Denied::OutOfReach)?;
        if let Principal::Token(token) = self {
            let reached = match area {
                Area::Org => token.reach == Reach::Org,
                Area::Project(project) => token.reach.covers(project, None),
                Area::Environment(project, environment) => token.reach.covers(project, Some(environment)),
            };
            if !reached {
                return Err(Denied::OutOfReach);
            }
        }
        if scopes.allows(scope) {
            Ok(())
        } else {
            Err(Denied::MissingScope(scope))
        }
    }

    /// Whether the principal may see objects of `project` (and `environment`)
    /// in a listing: used to filter, not to act.
    pub fn sees(&self, org: OrgId, project: Option<ProjectId>, environment: Option<EnvironmentId>) -> bool {
        match self {
            Principal::Token(token) if token.org_id == org => match (token.reach, project) {
                (Reach::Org, _) => true,
                (_, None) => false,
                (Reach::Project(mine), Some(project)) => mine == project,
                (Reach::Environment(mine, env), Some(project)) => {
                    mine == project && environment.is_none_or(|environment| environment == env)
                }
            },
            Principal::Token(_) => false,
            Principal::User(_) => self.role_in(org).is_some(),
        }
    }

    /// Whether the principal may create a token reaching `reach` with
    /// `scopes` in `org`: it needs `admin` there, and a token can never hand
    /// out more than it holds.
    pub fn may_issue(&self, org: OrgId, reach: Reach, scopes: Scopes) -> Result<(), Denied> {
        self.authorize(Scope::Admin, org, reach.into())?;
        if let Principal::Token(token) = self {
            if !token.reach.contains(reach) || !token.scopes.covers(scopes) {
                return Err(Denied::Escalation);
            }
        }
        Ok(())
    }

    /// Whether the principal may manage (rotate, revoke, delete) an existing
    /// token that reaches `reach` with `scopes`.
    pub fn may_manage(&self, org: OrgId, reach: Reach, scopes: Scopes) -> Result<(), Denied> {
        self.may_issue(org, reach, scopes)
    }

    /// Whether the principal may derive a weaker child token of itself:
    /// any token may (whatever its scopes), a login session may not. That
    /// the child does no more than its parent is
    /// [`crate::policy::check_attenuation`]'s to decide.
    pub fn may_attenuate(&self) -> Result<&TokenGrant, Denied> {
        match self {
            Principal::Token(token) => Ok(token),
            Principal::User(_) => Err(Denied::NotAToken),
        }
    }

    /// Whether the principal may change an org's token policy: its admins.
    pub fn may_set_token_policy(&self, org: OrgId) -> Result<(), Denied> {
        self.authorize(Scope::Admin, org, Area::Org)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(org: OrgId, reach: Reach, scopes: &str) -> Principal {
        Principal::Token(TokenGrant {
            token_id: TokenId::generate(),
            org_id: org,
            reach,
            scopes: Scopes::parse_list(scopes).unwrap(),
        })
    }

    fn user(org: OrgId, role: Role) -> Principal {
        Principal::User(UserGrant {
            user_id: UserId::generate(),
            instance_admin: false,
            memberships: vec![(org, role)],
        })
    }

    #[test]
    fn a_token_never_reaches_another_org() {
        let org = OrgId::generate();
        let other = OrgId::generate();
        let admin = token(org, Reach::Org, "admin");
        assert_eq!(admin.authorize(Scope::Read, other, Area::Org), Err(Denied::OutOfReach));
        assert!(!admin.sees(other, None, None));
    }

    #[test]
    fn a_deploy_token_cannot_read() {
        let org = OrgId::generate();
        let project = ProjectId::generate();
        let deploy = token(org, Reach::Project(project), "deploy");
        assert!(deploy.authorize(Scope::Deploy, org, Area::Project(project)).is_ok());
        assert_eq!(deploy.authorize(Scope::Read, org, Area::Project(project)), Err(Denied::MissingScope(Scope::Read)));
    }

    #[test]
    fn an_environment_token_deploys_only_to_its_environment() {
        let org = OrgId::generate();
        let project = ProjectId::generate();
        let production = EnvironmentId::generate();
        let staging = EnvironmentId::generate();
        let deploy = token(org, Reach::Environment(project, production), "deploy");
        assert!(deploy.authorize(Scope::Deploy, org, Area::Environment(project, production)).is_ok());
        assert_eq!(deploy.authorize(Scope::Deploy, org, Area::Environment(project, staging)), Err(Denied::OutOfReach));
        assert_eq!(deploy.authorize(Scope::Deploy, org, Area::Project(project)), Err(Denied::OutOfReach));
    }

    #[test]
    fn tokens_cannot_issue_wider_or_stronger_tokens() {
        let org = OrgId::generate();
        let project = ProjectId::generate();
        let env = EnvironmentId::generate();
        let project_admin = token(org, Reach::Project(project), "admin");
        assert!(project_admin.may_issue(org, Reach::Environment(project, env), Scopes::only(Scope::Deploy)).is_ok());
        assert_eq!(project_admin.may_issue(org, Reach::Org, Scopes::only(Scope::Deploy)), Err(Denied::OutOfReach));
        let narrow_admin = token(org, Reach::Org, "admin");
        assert!(narrow_admin.may_issue(org, Reach::Org, Scopes::all()).is_ok());
        let reader = token(org, Reach::Org, "read");
        assert_eq!(
            reader.may_issue(org, Reach::Org, Scopes::only(Scope::Read)),
            Err(Denied::MissingScope(Scope::Admin))
        );
    }

    #[test]
    fn members_deploy_and_read_but_do_not_manage_tokens() {
        let org = OrgId::generate();
        let member = user(org, Role::Member);
        assert!(member.authorize(Scope::Deploy, org, Area::Org).is_ok());
        assert_eq!(
            member.may_issue(org, Reach::Org, Scopes::only(Scope::Deploy)),
            Err(Denied::MissingScope(Scope::Admin))
        );
        assert!(user(org, Role::Admin).may_issue(org, Reach::Org, Scopes::all()).is_ok());
        assert_eq!(member.authorize(Scope::Read, OrgId::generate(), Area::Org), Err(Denied::OutOfReach));
    }

    #[test]
    fn only_owners_touch_the_owner_role() {
        let org = OrgId::generate();
        assert!(user(org, Role::Admin).may_manage_members(org, &[Role::Member]).is_ok());
        assert_eq!(user(org, Role::Admin).may_manage_members(org, &[Role::Owner]), Err(Denied::NotOwner));
        assert!(user(org, Role::Owner).may_manage_members(org, &[Role::Owner, Role::Admin]).is_ok());
        assert_eq!(
            user(org, Role::Member).may_manage_members(org, &[Role::Member]),
            Err(Denied::MissingScope(Scope::Admin))
        );
    }

    #[test]
    fn introspection_needs_an_org_admin() {
        let org = OrgId::generate();
        assert!(token(org, Reach::Org, "admin").may_introspect().is_ok());
        assert!(token(org, Reach::Project(ProjectId::generate()), "admin").may_introspect().is_err());
        assert!(token(org, Reach::Org, "read,deploy").may_introspect().is_err());
        assert!(user(org, Role::Admin).may_introspect().is_ok());
        assert!(user(org, Role::Member).may_introspect().is_err());
        assert!(user(org, Role::Admin).may_introspect_token_of(org));
        assert!(!user(org, Role::Admin).may_introspect_token_of(OrgId::generate()));
    }

    #[test]
    fn a_found_secret_revokes_its_token_only_while_it_opens_it() {
        let now = time::macros::datetime!(2026-11-30 12:00 UTC);
        let (current, previous) = (TokenDigest::from_bytes([1; 32]), TokenDigest::from_bytes([2; 32]));
        let in_grace = TokenSecrets { current: &current, previous: Some((&previous, now + time::Duration::HOUR)) };
        assert!(may_revoke_with_found_secret(in_grace, &current, now).is_ok());
        assert!(may_revoke_with_found_secret(in_grace, &previous, now).is_ok(), "the old secret still works");
        let after_grace = TokenSecrets { current: &current, previous: Some((&previous, now)) };
        assert_eq!(may_revoke_with_found_secret(after_grace, &previous, now), Err(Denied::RetiredSecret));
        let unrelated = TokenDigest::from_bytes([3; 32]);
        assert_eq!(may_revoke_with_found_secret(after_grace, &unrelated, now), Err(Denied::RetiredSecret));
    }

    #[test]
    fn deployments_are_read_with_read_or_with_deploy_reaching_them() {
        let org = OrgId::generate();
        let project = ProjectId::generate();
        let production = EnvironmentId::generate();
        let staging = EnvironmentId::generate();
        let area = Area::Environment(project, production);
        assert!(token(org, Reach::Environment(project, production), "deploy").may_read_deployment(org, area).is_ok());
        assert!(token(org, Reach::Project(project), "read").may_read_deployment(org, area).is_ok());
        assert_eq!(
            token(org, Reach::Environment(project, staging), "deploy").may_read_deployment(org, area),
            Err(Denied::MissingScope(Scope::Read))
        );
        assert_eq!(
            token(org, Reach::Org, "delete").may_read_deployment(org, area),
            Err(Denied::MissingScope(Scope::Read))
        );
        assert!(user(org, Role::Member).may_read_deployment(org, area).is_ok());
        assert_eq!(
            token(OrgId::generate(), Reach::Org, "deploy,read").may_read_deployment(org, area),
            Err(Denied::OutOfReach)
        );
    }

    #[test]
    fn listings_need_the_scope_somewhere_in_the_org() {
        let org = OrgId::generate();
        let reader = token(org, Reach::Project(ProjectId::generate()), "read");
        assert!(reader.authorize_listing(Scope::Read, org).is_ok());
        assert_eq!(reader.authorize_listing(Scope::Admin, org), Err(Denied::MissingScope(Scope::Admin)));
        assert_eq!(reader.authorize_listing(Scope::Read, OrgId::generate()), Err(Denied::OutOfReach));
    }

    fn instance_admin(memberships: Vec<(OrgId, Role)>) -> Principal {
        Principal::User(UserGrant { user_id: UserId::generate(), instance_admin: true, memberships })
    }

    #[test]
    fn instance_admins_read_every_org_but_manage_none_they_do_not_belong_to() {
        let org = OrgId::generate();
        let project = ProjectId::generate();
        let admin = instance_admin(Vec::new());
        assert!(admin.authorize_reading(Scope::Admin, org).is_ok());
        assert!(admin.sees_listed(org, Some(project), None));
        assert_eq!(admin.authorize(Scope::Read, org, Area::Org), Err(Denied::OutOfReach));
        assert_eq!(admin.may_issue(org, Reach::Org, Scopes::only(Scope::Deploy)), Err(Denied::OutOfReach));
        assert_eq!(admin.may_manage_members(org, &[Role::Member]), Err(Denied::OutOfReach));
        assert_eq!(admin.may_delete_org(org), Err(Denied::OwnersOnly));
        assert!(admin.may_read_audit_log(org).is_ok());
        assert!(user(org, Role::Admin).may_read_audit_log(org).is_ok());
        assert_eq!(user(org, Role::Member).may_read_audit_log(org), Err(Denied::MissingScope(Scope::Admin)));
        let project_admin = token(org, Reach::Project(project), "admin");
        assert_eq!(project_admin.may_read_audit_log(org), Err(Denied::OutOfReach), "the log spans every project");

        let member = user(org, Role::Member);
        assert!(member.authorize_reading(Scope::Read, org).is_ok());
        assert_eq!(member.authorize_reading(Scope::Admin, org), Err(Denied::MissingScope(Scope::Admin)));
        assert_eq!(member.authorize_reading(Scope::Read, OrgId::generate()), Err(Denied::OutOfReach));
        assert!(!member.sees_listed(OrgId::generate(), Some(project), None));
    }

    #[test]
    fn only_owners_delete_an_org() {
        let org = OrgId::generate();
        assert!(user(org, Role::Owner).may_delete_org(org).is_ok());
        assert_eq!(user(org, Role::Admin).may_delete_org(org), Err(Denied::OwnersOnly));
        assert_eq!(user(org, Role::Member).may_delete_org(org), Err(Denied::OwnersOnly));
        assert_eq!(user(org, Role::Owner).may_delete_org(OrgId::generate()), Err(Denied::OutOfReach));
        assert!(instance_admin(vec![(org, Role::Owner)]).may_delete_org(org).is_ok());
        assert_eq!(token(org, Reach::Org, "admin").may_delete_org(org), Err(Denied::OwnersOnly));
        assert_eq!(
            token(org, Reach::Project(ProjectId::generate()), "admin").may_delete_org(org),
            Err(Denied::OutOfReach)
        );
        assert_eq!(token(OrgId::generate(), Reach::Org, "admin").may_delete_org(org), Err(Denied::OutOfReach));
    }

    #[test]
    fn listings_show_only_what_a_token_reaches() {
        let org = OrgId::generate();
        let project = ProjectId::generate();
        let reader = token(org, Reach::Project(project), "read");
        assert!(reader.sees(org, Some(project), None));
        assert!(!reader.sees(org, Some(ProjectId::generate()), None));
        assert!(!reader.sees(org, None, None));
    }
}
