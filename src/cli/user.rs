//! `blogd user`: accounts from the shell, under the same rules as the API (names, password
//! policy, the last-admin guard, ended sessions, an audit record naming `cli`).

use std::io::IsTerminal;

use clap::Subcommand;

use super::target::Target;
use crate::accounts::AccountChange;
use crate::admin::views::{CreateUserRequest, UserView};
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
    super::small_runtime()?.block_on(async {
        let target = Target::of(config).await?;
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
                target.create_user(request).await?;
                println!("created {role} {username}");
                if generated {
                    println!("password: {password}");
                }
            }
            UserCommand::List => print_users(&target.users().await?),
            UserCommand::SetRole { username, role } => {
                let change = AccountChange {
                    role: Some(*role),
                    ..AccountChange::default()
                };
                target.change_user(username, change).await?;
                println!("{username} is now {role}; every session ended");
            }
            UserCommand::ResetPassword {
                username,
                password_stdin,
            } => {
                let (password, generated) = obtain_password(*password_stdin)?;
                target.reset_password(username, password.clone()).await?;
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
                target.change_user(username, change).await?;
                match active {
                    true => println!("{username} activated"),
                    false => println!("{username} deactivated; every session ended"),
                }
            }
        }
        Ok(())
    })
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
