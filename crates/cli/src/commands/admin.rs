//! `latchkey clients …` and `latchkey users …`.

use std::io::{BufRead, IsTerminal};

use anyhow::{anyhow, bail};
use latchkey_flows::{AuthServer, NewClient};
use latchkey_protocol::client::{Client, GrantType};
use latchkey_protocol::secret::Password;
use serde_json::json;

use crate::cli::{ClientsCommand, UsersCommand};

fn client_json(c: &Client) -> serde_json::Value {
    json!({
        "client_id": c.id,
        "name": c.name,
        "type": if c.secret_hash.is_some() { "confidential" } else { "public" },
        "redirect_uris": c.redirect_uris,
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "scopes": c.scopes.as_ref().map(|s| s.to_string()),
        "require_pkce": c.pkce_required(),
        "created_at": c.created_at,
    })
}

fn print_client(c: &Client) {
    println!("client_id:     {}", c.id);
    println!("name:          {}", c.name);
    println!(
        "type:          {}",
        if c.secret_hash.is_some() {
            "confidential"
        } else {
            "public"
        }
    );
    println!("redirect_uris: {}", c.redirect_uris.join(" "));
    println!(
        "grant_types:   {}",
        c.grant_types
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "scopes:        {}",
        c.scopes
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_else(|| "(all)".into())
    );
    println!(
        "pkce:          {}",
        if c.pkce_required() {
            "required"
        } else {
            "optional"
        }
    );
}

pub async fn clients(auth: &AuthServer, cmd: ClientsCommand) -> anyhow::Result<()> {
    match cmd {
        ClientsCommand::Add {
            name,
            redirect_uris,
            public,
            scopes,
            grant_types,
            allow_no_pkce,
            json,
        } => {
            let grant_types = grant_types
                .iter()
                .map(|g| g.parse::<GrantType>().map_err(|_| anyhow!("grant-type: `{g}` is not one of authorization_code, refresh_token, client_credentials")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let issued = auth
                .add_client(NewClient {
                    name,
                    redirect_uris,
                    public,
                    scopes,
                    grant_types,
                    allow_no_pkce,
                })
                .await?;
            let secret = issued.secret.as_ref().map(|s| s.expose().to_owned());
            if json {
                println!(
                    "{}",
                    json!({ "client_id": issued.client.id, "client_secret": secret })
                );
            } else {
                print_client(&issued.client);
                if let Some(s) = secret {
                    println!("client_secret: {s}");
                    eprintln!("\nThe secret is shown only this once; it is stored as a hash.");
                }
            }
        }
        ClientsCommand::List { json } => {
            let list = auth.store().clients().await?;
            if json {
                println!(
                    "{}",
                    serde_json::Value::Array(list.iter().map(client_json).collect())
                );
            } else if list.is_empty() {
                eprintln!(
                    "no clients; add one with `latchkey clients add --name NAME --redirect-uri URI`"
                );
            } else {
                for c in &list {
                    let kind = if c.secret_hash.is_some() {
                        "confidential"
                    } else {
                        "public"
                    };
                    println!("{}  {:<12}  {}", c.id, kind, c.name);
                }
            }
        }
        ClientsCommand::Show { client_id, json } => {
            let c = auth
                .store()
                .client(&client_id)
                .await?
                .ok_or_else(|| anyhow!("no client with id `{client_id}`"))?;
            if json {
                println!("{}", client_json(&c))
            } else {
                print_client(&c)
            }
        }
        ClientsCommand::Remove { client_id } => {
            if !auth.store().delete_client(&client_id).await? {
                bail!("no client with id `{client_id}`");
            }
            println!("removed client {client_id}");
        }
        ClientsCommand::RotateSecret { client_id, json } => {
            let secret = auth.rotate_client_secret(&client_id).await?;
            if json {
                println!(
                    "{}",
                    json!({ "client_id": client_id, "client_secret": secret.expose() })
                );
            } else {
                println!("client_secret: {}", secret.expose());
                eprintln!("\nThe old secret no longer works. The new one is shown only this once.");
            }
        }
    }
    Ok(())
}

fn read_password(password_stdin: bool) -> anyhow::Result<Password> {
    if password_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(Password::new(line.trim_end_matches(['\r', '\n'])));
    }
    let first = rpassword::prompt_password("Password: ")?;
    let again = rpassword::prompt_password("Password (again): ")?;
    if first != again {
        bail!("the passwords differ");
    }
    Ok(Password::new(first))
}

pub async fn users(auth: &AuthServer, cmd: UsersCommand) -> anyhow::Result<()> {
    match cmd {
        UsersCommand::Add {
            username,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let user = auth.add_user(&username, &password).await?;
            println!("added user {} (id {})", user.username, user.id);
        }
        UsersCommand::List => {
            for u in auth.store().users().await? {
                println!("{}  {}", u.id, u.username);
            }
        }
        UsersCommand::Remove { username } => {
            if !auth.store().delete_user(&username).await? {
                bail!("no user `{username}`");
            }
            println!("removed user {username}");
        }
        UsersCommand::Passwd {
            username,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            auth.set_password(&username, &password).await?;
            println!("password changed for {username}");
        }
    }
    Ok(())
}
