//! The copyable CI block printed after create/rotate (`--export`), as
//! Ghostable's result sheet shows it: `GATEPASS_URL` and `GATEPASS_TOKEN`
//! in the syntax of the place they are pasted into.

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// `export GATEPASS_URL='…'` lines for a POSIX shell.
    Shell,
    /// `GATEPASS_URL=…` lines for a .env file.
    Dotenv,
    /// `gh variable set` / `gh secret set` commands for GitHub Actions.
    Github,
    /// `glab variable set` commands for GitLab CI/CD (token masked and protected).
    Gitlab,
}

impl ExportFormat {
    pub fn title(self) -> &'static str {
        match self {
            ExportFormat::Shell => "shell",
            ExportFormat::Dotenv => ".env",
            ExportFormat::Github => "GitHub Actions (gh CLI; then use vars.GATEPASS_URL and secrets.GATEPASS_TOKEN)",
            ExportFormat::Gitlab => "GitLab CI/CD variables (glab CLI)",
        }
    }
}

/// Single-quotes a value for a POSIX shell.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The block itself, one line per variable, ending in a newline.
pub fn block(format: ExportFormat, url: &str, token: &str) -> String {
    match format {
        ExportFormat::Shell => {
            format!("export GATEPASS_URL={}\nexport GATEPASS_TOKEN={}\n", quote(url), quote(token))
        }
        ExportFormat::Dotenv => format!("GATEPASS_URL={url}\nGATEPASS_TOKEN={token}\n"),
        ExportFormat::Github => format!(
            "gh variable set GATEPASS_URL --body {}\ngh secret set GATEPASS_TOKEN --body {}\n",
            quote(url),
            quote(token)
        ),
        ExportFormat::Gitlab => format!(
            "glab variable set GATEPASS_URL --value {}\nglab variable set GATEPASS_TOKEN --value {} --masked --protected\n",
            quote(url),
            quote(token)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://gatepass.example.com";
    const TOKEN: &str = "gpd_abc";

    #[test]
    fn every_format_names_both_variables() {
        for format in ExportFormat::value_variants() {
            let text = block(*format, URL, TOKEN);
            assert!(text.contains("GATEPASS_URL") && text.contains(URL), "{format:?}");
            assert!(text.contains("GATEPASS_TOKEN") && text.contains(TOKEN), "{format:?}");
        }
    }

    #[test]
    fn shell_values_are_quoted() {
        assert_eq!(
            block(ExportFormat::Shell, "http://x/'a", "t"),
            "export GATEPASS_URL='http://x/'\\''a'\nexport GATEPASS_TOKEN='t'\n"
        );
        assert_eq!(block(ExportFormat::Dotenv, URL, TOKEN), format!("GATEPASS_URL={URL}\nGATEPASS_TOKEN={TOKEN}\n"));
    }
}
