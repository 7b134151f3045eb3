//! `blogd user`: accounts from the shell.

use std::io::IsTerminal;

use clap::Subcommand;

use crate::auth::{Role, password, policy};
use crate::config::Config;
use crate::db::{Db, StoreError, sessions, users};
use crate::validate::Validator;

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account. Without --password-stdin a random password is generated and printed.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// admin, editor, author or reader.
        #[arg(long, default_value = "author", value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
    /// Change an account's role.
    SetRole {
        username: String,
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// Set a new password (random and printed, or from standard input); ends every session.
    ResetPassword {
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Deactivate an account: it can no longer sign in, and every session ends.
    Deactivate { username: String },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text)
        .ok_or_else(|| format!("`{text}` is not a role (admin, editor, author, reader)"))
}

/// The password for create / reset: from stdin, or generated and printed once.
fn obtain_password(
    from_stdin: bool,
    username: &str,
    email: &str,
) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        if std::io::stdin().is_terminal() {
            eprintln!("Password (input is shown; prefer piping it in):");
        }
        let password = super::read_line()?;
        policy::check_password(&password, username, email)
            .map_err(|why| anyhow::anyhow!("password refused: {why}"))?;
        Ok((password, false))
    } else {
        Ok((crate::secrets::random_hex(12), true))
    }
}

/// A store error for a named user, as the shell should read it.
fn not_found(username: &str) -> impl Fn(StoreError) -> anyhow::Error + '_ {
    move |e| match e {
        StoreError::NotFound => anyhow::anyhow!("no user named {username}"),
        other => anyhow::anyhow!(other),
    }
}

pub fn run(config: &Config, command: &UserCommand) -> anyhow::Result<()> {
    crate::app::ensure_data_dir(config)?;
    let db = Db::open(&config.database_path())?;
    let now = crate::clock::Clock::default().now();
    match command {
        UserCommand::Create {
            username,
            email,
            role,
            display_name,
            password_stdin,
        } => {
            let mut v = Validator::new();
            v.username("username", username);
            v.email("email", email);
            if let Err(crate::error::ApiError::Validation(details)) = v.finish() {
                let problems: Vec<String> = details
                    .iter()
                    .map(|(k, m)| format!("{k}: {}", m.join("; ")))
                    .collect();
                anyhow::bail!("{}", problems.join(", "));
            }
            let (password, generated) = obtain_password(*password_stdin, username, email)?;
            let hash = password::hash_blocking(&password)?;
            let new = users::NewUser {
                username: username.clone(),
                email: email.clone(),
                display_name: display_name.clone().unwrap_or_else(|| username.clone()),
                password_hash: hash,
                role: *role,
            };
            db.write_blocking(|tx| users::insert(tx, &new, now))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created {role} {username}");
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List => {
            let rows = db.read_blocking(users::list)?;
            println!(
                "{:<6} {:<24} {:<32} {:<8} {:<7} LAST LOGIN",
                "ID", "USERNAME", "EMAIL", "ROLE", "ACTIVE"
            );
            for u in rows {
                println!(
                    "{:<6} {:<24} {:<32} {:<8} {:<7} {}",
                    u.id,
                    u.username,
                    u.email,
                    u.role,
                    if u.active { "yes" } else { "no" },
                    u.last_login_at
                        .map(crate::clock::rfc3339)
                        .unwrap_or_else(|| "never".into())
                );
            }
        }
        UserCommand::SetRole { username, role } => {
            db.write_blocking(|tx| {
                users::set_role(tx, username, *role, now)?;
                let user = users::by_username(tx, username)?;
                // Tokens carry the role: end sessions so the new role applies at once.
                sessions::revoke_all_for_user(tx, user.id, None, now).map(drop)
            })
            .map_err(not_found(username))?;
            println!("{username} is now {role}");
        }
        UserCommand::ResetPassword {
            username,
            password_stdin,
        } => {
            let user = db
                .read_blocking(|c| users::by_username(c, username))
                .map_err(not_found(username))?;
            let (password, generated) =
                obtain_password(*password_stdin, &user.username, &user.email)?;
            let hash = password::hash_blocking(&password)?;
            db.write_blocking(|tx| {
                let id = users::set_password(tx, username, &hash, now)?;
                sessions::revoke_all_for_user(tx, id, None, now).map(drop)
            })
            .map_err(not_found(username))?;
            println!("password of {username} changed; every session ended");
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::Deactivate { username } => {
            db.write_blocking(|tx| {
                let id = users::set_active(tx, username, false, now)?;
                sessions::revoke_all_for_user(tx, id, None, now).map(drop)
            })
            .map_err(not_found(username))?;
            println!("{username} deactivated; every session ended");
        }
    }
    Ok(())
}
