//! `blogd user`: accounts from the shell, under the same rules as the API (names, password
//! policy, the last-admin guard, ended sessions, an audit record naming `cli`).

use std::io::IsTerminal;

use clap::Subcommand;

use super::local::{Local, running_server};
use crate::accounts::{AccountChange, NewAccount};
use crate::admin::views::{CreateUserRequest, PasswordRequest, UserView};
use crate::auth::Role;
use crate::config::Config;

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
    /// Change an account's role; every session of the account ends.
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
    /// Activate a deactivated account again.
    Activate { username: String },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text)
        .ok_or_else(|| format!("`{text}` is not a role (admin, editor, author, reader)"))
}

pub fn run(config: &Config, command: &UserCommand) -> anyhow::Result<()> {
    let runtime = super::small_runtime()?;
    runtime.block_on(async {
        match command {
            UserCommand::Create {
                username,
                email,
                role,
                display_name,
                password_stdin,
            } => {
                let (password, generated) = obtain_password(*password_stdin)?;
                let request = CreateUserRequest {
                    username: username.clone(),
                    email: email.clone(),
                    password: password.clone(),
                    role: *role,
                    display_name: display_name.clone(),
                };
                create(config, request).await?;
                println!("created {role} {username}");
                if generated {
                    println!("password: {password}");
                }
            }
            UserCommand::List => print_users(&list(config).await?),
            UserCommand::SetRole { username, role } => {
                let change = AccountChange {
                    role: Some(*role),
                    ..AccountChange::default()
                };
                change_user(config, username, change).await?;
                println!("{username} is now {role}; every session ended");
            }
            UserCommand::ResetPassword {
                username,
                password_stdin,
            } => {
                let (password, generated) = obtain_password(*password_stdin)?;
                reset_password(config, username, password.clone()).await?;
                println!("password of {username} changed; every session ended");
                if generated {
                    println!("password: {password}");
                }
            }
            UserCommand::Deactivate { username } | UserCommand::Activate { username } => {
                let active = matches!(command, UserCommand::Activate { .. });
                let change = AccountChange {
                    active: Some(active),
                    ..AccountChange::default()
                };
                change_user(config, username, change).await?;
                if active {
                    println!("{username} activated");
                } else {
                    println!("{username} deactivated; every session ended");
                }
            }
        }
        Ok(())
    })
}

async fn create(config: &Config, r: CreateUserRequest) -> anyhow::Result<()> {
    if let Some(server) = running_server(config).await {
        server.send::<_, UserView>("POST", "/v1/users", &r).await?;
        return Ok(());
    }
    let local = Local::open(config)?;
    let account = NewAccount {
        username: r.username,
        email: r.email,
        password: r.password,
        display_name: r.display_name,
        role: r.role,
    };
    local.accounts().create(&local.actor(), account).await?;
    Ok(())
}

async fn list(config: &Config) -> anyhow::Result<Vec<UserView>> {
    if let Some(server) = running_server(config).await {
        return Ok(server.get("/v1/users").await?);
    }
    let local = Local::open(config)?;
    let rows = local.db.read(crate::db::users::list).await?;
    Ok(rows.into_iter().map(UserView::from).collect())
}

async fn change_user(config: &Config, username: &str, change: AccountChange) -> anyhow::Result<()> {
    if let Some(server) = running_server(config).await {
        let path = format!("/v1/users/{}", urlencode(username));
        server.send::<_, UserView>("PATCH", &path, &change).await?;
        return Ok(());
    }
    let local = Local::open(config)?;
    local
        .accounts()
        .change(&local.actor(), username, change)
        .await?;
    Ok(())
}

async fn reset_password(config: &Config, username: &str, password: String) -> anyhow::Result<()> {
    if let Some(server) = running_server(config).await {
        let path = format!("/v1/users/{}/password", urlencode(username));
        server
            .send::<_, ()>("POST", &path, &PasswordRequest { password })
            .await?;
        return Ok(());
    }
    let local = Local::open(config)?;
    local
        .accounts()
        .reset_password(&local.actor(), username, password)
        .await?;
    Ok(())
}

fn print_users(users: &[UserView]) {
    println!(
        "{:<6} {:<24} {:<32} {:<8} {:<7} LAST LOGIN",
        "ID", "USERNAME", "EMAIL", "ROLE", "ACTIVE"
    );
    for u in users {
        let last = u
            .last_login_at
            .map(crate::clock::rfc3339)
            .unwrap_or_else(|| "never".into());
        let active = if u.active { "yes" } else { "no" };
        println!(
            "{:<6} {:<24} {:<32} {:<8} {:<7} {last}",
            u.id, u.username, u.email, u.role, active
        );
    }
}

/// The password for create / reset: from stdin, or generated (and printed once by the caller).
/// The policy is checked by the rule itself, wherever it runs.
fn obtain_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        if std::io::stdin().is_terminal() {
            eprintln!("Password (input is shown; prefer piping it in):");
        }
        Ok((super::read_line()?, false))
    } else {
        Ok((crate::secrets::random_hex(12), true))
    }
}

/// Percent-encodes a path segment of a socket call.
fn urlencode(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}
