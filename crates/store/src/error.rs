use gatepass_core::plan::Plan;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken (slug, email, membership, pattern).
    #[error("{0}")]
    Conflict(String),
    /// Creating one more active token would pass the org's plan limit.
    #[error("plan {plan:?} allows {limit} active tokens")]
    PlanLimit { plan: Plan, limit: u32 },
    /// The parent of a new child token already has this many live children.
    #[error("a token may have at most {limit} live child tokens")]
    ChildLimit { limit: u32 },
    /// The object the write refers to does not exist (any more).
    #[error("{0} not found")]
    Missing(&'static str),
    /// The database failed or cannot be reached.
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored value could not be read back (a bug or a hand-edited row).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn backend(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(err))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
