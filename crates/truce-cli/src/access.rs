//! `truce user` and `truce token`: who may use `truce serve`, and the demo's
//! logins.

use std::io::BufRead;
use std::path::Path;

use clap::{Args, Subcommand};
use truce_core::{ActorRole, LogState};
use truce_server::access::Scope;
use truce_server::{Access, Grant, Role};

use crate::{CliError, DataDir, actor_id, open, usage};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user (or reset its password and roles). The password is read
    /// from the environment variable TRUCE_PASSWORD, else from the first
    /// line of standard input.
    Add(UserArgs),
    /// List the users and their roles.
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Remove a user; its open sessions end.
    Remove {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        name: String,
    },
}

#[derive(Args)]
pub struct UserArgs {
    #[command(flatten)]
    data: DataDir,
    #[arg(long)]
    name: String,
    #[command(flatten)]
    grant: GrantArgs,
}

#[derive(Args)]
pub struct GrantArgs {
    /// The actor the user or token belongs to.
    #[arg(long)]
    actor: String,
    /// Comma-separated: viewer, editor, signer, admin.
    #[arg(long, value_delimiter = ',', default_value = "viewer")]
    roles: Vec<String>,
}

impl GrantArgs {
    fn grant(&self) -> Result<Grant, CliError> {
        let roles = self
            .roles
            .iter()
            .map(|r| Role::parse(r.trim()).map_err(|e| usage(format!("--roles: {e}"))))
            .collect::<Result<Vec<Role>, CliError>>()?;
        Ok(Grant::new(actor_id(&self.actor)?, roles))
    }
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Make an API token; its secret is printed once and never stored.
    Add {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        grant: GrantArgs,
        /// What the token is for.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List the tokens (their ids, never their secrets).
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Revoke a token by the id `token list` shows; it stops working at
    /// once, also on a running server.
    Revoke {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        id: String,
    },
}

fn access_error(e: truce_server::AccessError) -> CliError {
    usage(e.0)
}

pub fn user(command: UserCommand) -> Result<(), CliError> {
    match command {
        UserCommand::Add(args) => {
            let log = open(&args.data)?;
            let password = match std::env::var("TRUCE_PASSWORD") {
                Ok(password) => password,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .map_err(|e| usage(format!("reading the password: {e}")))?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let mut access = Access::open(args.data.place()?).map_err(access_error)?;
            access
                .set_user(log.state(), &args.name, args.grant.grant()?, &password)
                .map_err(access_error)?;
            access.save().map_err(access_error)?;
            println!("user {} saved", args.name);
        }
        UserCommand::List { data } => {
            let access = Access::open(data.place()?).map_err(access_error)?;
            for user in access.users(Scope::Operator) {
                println!(
                    "{:<20} {:<14} {}",
                    user.name,
                    user.actor,
                    Role::join(&user.roles, ",")
                );
            }
        }
        UserCommand::Remove { data, name } => {
            change(&data, |access| access.remove_user(Scope::Operator, &name))?;
            println!("user {name} removed");
        }
    }
    Ok(())
}

pub fn token(command: TokenCommand) -> Result<(), CliError> {
    match command {
        TokenCommand::Add { data, grant, label } => {
            let log = open(&data)?;
            let mut access = Access::open(data.place()?).map_err(access_error)?;
            let secret = access
                .add_token(log.state(), grant.grant()?, &label)
                .map_err(access_error)?;
            access.save().map_err(access_error)?;
            println!("{secret}");
        }
        TokenCommand::List { data } => {
            let access = Access::open(data.place()?).map_err(access_error)?;
            for token in access.tokens(Scope::Operator) {
                let roles = Role::join(&token.roles, ",");
                println!(
                    "{}  {:<14} {:<24} {}",
                    token.id, token.actor, roles, token.label
                );
            }
        }
        TokenCommand::Revoke { data, id } => {
            change(&data, |access| access.revoke_token(Scope::Operator, &id))?;
            println!("token {id} revoked");
        }
    }
    Ok(())
}

/// Applies `edit` to the data directory's access list and saves it.
fn change(
    data: &DataDir,
    edit: impl FnOnce(&mut Access) -> Result<(), truce_server::AccessError>,
) -> Result<(), CliError> {
    let mut access = Access::open(data.place()?).map_err(access_error)?;
    edit(&mut access).map_err(access_error)?;
    access.save().map_err(access_error)
}

/// One login a demo prints.
pub struct DemoLogin {
    pub user: String,
    pub password: String,
    pub token: String,
    pub grant: Grant,
}

/// The demo's users: for each actor but witnesses, one user with every
/// role it can use, and for each party a viewer-only user, so the
/// difference roles make can be seen. Passwords are random.
pub fn demo_logins(dir: &Path, log: &LogState) -> Result<Vec<DemoLogin>, CliError> {
    let mut access = Access::open(dir).map_err(access_error)?;
    let mut logins = Vec::new();
    for actor in log.actors().filter(|a| a.role != ActorRole::Witness) {
        let mut users = vec![(actor.id.to_string(), Role::ALL.to_vec())];
        if actor.role == ActorRole::Observer {
            users[0].1 = vec![Role::Viewer];
        }
        if actor.role == ActorRole::Party {
            users.push((format!("{}-viewer", actor.id), vec![Role::Viewer]));
        }
        for (user, roles) in users {
            let grant = Grant::new(actor.id.clone(), roles);
            let password = truce_server::access::random_hex::<6>();
            access
                .set_user(log, &user, grant.clone(), &password)
                .map_err(access_error)?;
            let token = access
                .add_token(log, grant.clone(), &format!("demo: {user}"))
                .map_err(access_error)?;
            logins.push(DemoLogin {
                user,
                password,
                token,
                grant,
            });
        }
    }
    access.save().map_err(access_error)?;
    Ok(logins)
}
