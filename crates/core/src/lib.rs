//! The domain of gatepass, free of I/O, async and framework types.
//!
//! - [`token`] is the token engine: format, parsing, checksum, keyed digest,
//!   masked preview.
//! - [`scope`], [`reach`], [`plan`] and [`role`] are the closed vocabularies of
//!   what a credential may do and where.
//! - [`access`] is the one place that decides whether a principal may act.
//! - [`deployment`] is a deployment's life: its states and the moves between them.
//! - [`expiry`], [`branch_rule`] and [`name`] parse user input at the edge.
//! - [`policy`] narrows tokens: IP allow lists, org lifetime rules, attenuation.
//! - [`trust`] is what a trust policy lets a CI identity do (trusted deploys).

pub mod access;
pub mod base62;
pub mod branch_rule;
pub mod deployment;
pub mod expiry;
pub mod id;
pub mod name;
pub mod plan;
pub mod policy;
pub mod reach;
pub mod role;
pub mod scope;
pub mod token;
pub mod trust;
pub mod webhook;
