//! `gatepass admin salt-status` and `gatepass admin rehash`: the token salt
//! rotation seen from the database (see docs/salt-rotation.md).

use anyhow::Context;
use gatepass_server::config::{previous_salt_from_env, salt_from_env};
use gatepass_server::open_store;
use gatepass_server::salt::inspect;

use crate::server_commands::DatabaseArgs;

/// Prints the salt state and the live tokens still digested under another
/// salt than `ML_DEPLOYMENT_TOKEN_SALT`: what `/readyz` reports as
/// `token_salt` and `tokens_on_previous_salt`.
pub async fn status(database: DatabaseArgs, json: bool) -> anyhow::Result<()> {
    let salt = salt_from_env().map_err(|err| crate::exit::usage(err.to_string()))?;
    let previous = previous_salt_from_env().context("the previous token salt of a rotation")?;
    let store = open_store(&database.config()).await?;
    let report = inspect(store.as_ref(), &salt, previous.as_ref()).await?;
    if json {
        let answer = serde_json::json!({
            "token_salt": report.token_salt,
            "tokens_on_previous_salt": report.tokens_on_previous_salt,
        });
        println!("{answer}");
        return Ok(());
    }
    println!("token_salt               {}", report.token_salt);
    println!("tokens_on_previous_salt  {}", report.tokens_on_previous_salt);
    let advice = match (report.token_salt, report.tokens_on_previous_salt) {
        ("rotating", 0) => "Every live token is on the new salt: ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS can be removed.",
        ("rotating", _) => {
            "These tokens move to the new salt on their first use. Keep ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS until this is 0, or rotate them (gatepass tokens rotate)."
        }
        ("stranded", _) => {
            "These tokens were digested under a salt that is no longer configured and will NOT verify: set ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS to that salt until they are used, or rotate them."
        }
        ("changed", _) => {
            "ML_DEPLOYMENT_TOKEN_SALT matches neither the salt the tokens were made with nor ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS: no token will verify."
        }
        _ => "Every live token is on the current salt.",
    };
    println!("\n{advice}");
    Ok(())
}

/// Explains why there is nothing to run: a digest cannot be re-made without
/// the token, which gatepass never stores.
pub async fn rehash(database: DatabaseArgs) -> anyhow::Result<()> {
    println!(
        "gatepass cannot re-digest tokens that are not used.\n\n\
         It stores only HMAC-SHA256(salt, token), never the token itself, and a keyed hash\n\
         cannot be recomputed under a new key without its input. A token's digest moves to\n\
         the new salt when the token is next presented: while ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS\n\
         is set, each token found under the previous salt is re-digested on its first use.\n\n\
         To finish a rotation: keep the previous salt set until `gatepass admin salt-status`\n\
         shows 0, or rotate the remaining tokens (gatepass tokens rotate), which issues them\n\
         new secrets digested under the new salt. Tokens left behind stop working once the\n\
         previous salt is removed; /readyz then reports them as `stranded`.\n"
    );
    if let (Ok(salt), Ok(previous)) = (salt_from_env(), previous_salt_from_env()) {
        let store = open_store(&database.config()).await?;
        let report = inspect(store.as_ref(), &salt, previous.as_ref()).await?;
        println!("Live tokens still on another salt: {}", report.tokens_on_previous_salt);
    }
    Ok(())
}
