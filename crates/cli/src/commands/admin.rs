//! `latchkey clients …` and `latchkey users …`.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, anyhow, bail};
use latchkey_flows::{AuthServer, NewClient};
use latchkey_protocol::client::{Client, GrantType};
use latchkey_protocol::secret::Password;
use serde_json::json;

use crate::cli::{ClientsCommand, KeysCommand, RegistrationTokensCommand, UsersCommand};
use crate::config::Config;

fn client_json(c: &Client) -> serde_json::Value {
    json!({
        "client_id": c.id,
        "name": c.name,
        "type": if c.secret_hash.is_some() { "confidential" } else { "public" },
        "redirect_uris": c.redirect_uris,
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "scopes": c.scopes.as_ref().map(|s| s.to_string()),
        "require_pkce": c.pkce_required(),
        "token_format": c.token_format.as_str(),
        "introspect": c.may_introspect,
        "registered_dynamically": c.registered_dynamically,
        "created_at": c.created_at,
    })
}

fn print_client(c: &Client) {
    println!("client_id:     {}", c.id);
    println!("name:          {}", c.name);
    println!("type:          {}", if c.secret_hash.is_some() { "confidential" } else { "public" });
    println!("redirect_uris: {}", c.redirect_uris.join(" "));
    println!("grant_types:   {}", c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(" "));
    println!("scopes:        {}", c.scopes.as_ref().map(|s| s.to_string()).unwrap_or_else(|| "(all)".into()));
    println!("pkce:          {}", if c.pkce_required() { "required" } else { "optional" });
    println!("token_format:  {}", c.token_format.as_str());
    println!("introspect:    {}", if c.may_introspect { "every token" } else { "its own tokens" });
    if c.registered_dynamically {
        println!("registered:    dynamically (RFC 7591)");
    }
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
            token_format,
            introspect,
            json,
        } => {
            let token_format = token_format.parse().map_err(|e| anyhow!("token-format: {e}"))?;
            let grant_types = grant_types
                .iter()
                .map(|g| {
                    // `device_code` is short for the RFC 8628 URN.
                    let full = if g == "device_code" { GrantType::DeviceCode.as_str() } else { g.as_str() };
                    full.parse::<GrantType>().map_err(|_| {
                        anyhow!(
                            "grant-type: `{g}` is not one of authorization_code, refresh_token, client_credentials, device_code"
                        )
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let issued = auth
                .add_client(NewClient {
                    name,
                    redirect_uris,
                    public,
                    scopes,
                    grant_types,
                    allow_no_pkce,
                    token_format,
                    may_introspect: introspect,
                })
                .await?;
            let secret = issued.secret.as_ref().map(|s| s.expose().to_owned());
            if json {
                println!("{}", json!({ "client_id": issued.client.id, "client_secret": secret }));
            } else {
                print_client(&issued.client);
                if let Some(s) = secret {
                    println!("client_secret: {s}");
                    eprintln!("\nThe secret is shown only this once; it is stored as a hash.");
                }
            }
        }
        ClientsCommand::List { json } => {
            let list = auth.clients().await?;
            if json {
                println!("{}", serde_json::Value::Array(list.iter().map(client_json).collect()));
            } else if list.is_empty() {
                eprintln!("no clients; add one with `latchkey clients add --name NAME --redirect-uri URI`");
            } else {
                for c in &list {
                    let kind = if c.secret_hash.is_some() { "confidential" } else { "public" };
                    println!("{}  {:<12}  {}", c.id, kind, c.name);
                }
            }
        }
        ClientsCommand::Show { client_id, json } => {
            let c = auth.client(&client_id).await?.ok_or_else(|| anyhow!("no client with id `{client_id}`"))?;
            if json { println!("{}", client_json(&c)) } else { print_client(&c) }
        }
        ClientsCommand::Remove { client_id } => {
            auth.delete_client(&client_id).await?;
            println!("removed client {client_id}");
        }
        ClientsCommand::Introspection { client_id, setting } => {
            let on = setting == "on";
            auth.set_client_introspection(&client_id, on).await?;
            let what = if on { "may introspect every token" } else { "may introspect only its own tokens" };
            println!("client {client_id} {what}");
        }
        ClientsCommand::RotateSecret { client_id, json } => {
            let secret = auth.rotate_client_secret(&client_id).await?;
            if json {
                println!("{}", json!({ "client_id": client_id, "client_secret": secret.expose() }));
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
        UsersCommand::Add { username, password_stdin } => {
            let password = read_password(password_stdin)?;
            let user = auth.add_user(&username, &password).await?;
            println!("added user {} (id {})", user.username, user.id);
        }
        UsersCommand::List => {
            for u in auth.users().await? {
                println!("{}  {}", u.id, u.username);
            }
        }
        UsersCommand::Remove { username } => {
            auth.delete_user(&username).await?;
            println!("removed user {username}");
        }
        UsersCommand::RevokeConsent { username, client_id } => {
            auth.revoke_consent(&username, &client_id).await?;
            println!("consent of {username} for {client_id} withdrawn");
        }
        UsersCommand::Passwd { username, password_stdin } => {
            let password = read_password(password_stdin)?;
            auth.set_password(&username, &password).await?;
            println!("password changed for {username}");
        }
    }
    Ok(())
}

pub async fn keys(auth: &AuthServer, cmd: KeysCommand) -> anyhow::Result<()> {
    let now = auth.now();
    match cmd {
        KeysCommand::List => {
            let keys = auth.signing_keys().await?;
            let signing = auth.keys().signing_kid(now).await?;
            println!(
                "{:<24} {:<6} {:<10} {:<12} {:<12} {:<12}",
                "kid", "alg", "state", "created", "activates", "retired"
            );
            for k in keys {
                let state = if Some(&k.kid) == signing.as_ref() {
                    "signing"
                } else if k.retired_at.is_some() {
                    "retired"
                } else if k.activates_at > now {
                    "pending"
                } else {
                    "published"
                };
                let at = |t: Option<i64>| t.map(|t| t.to_string()).unwrap_or_else(|| "-".into());
                println!(
                    "{:<24} {:<6} {:<10} {:<12} {:<12} {:<12}{}",
                    k.kid,
                    k.alg,
                    state,
                    k.created_at,
                    k.activates_at,
                    at(k.retired_at),
                    if k.encrypted { "  (encrypted)" } else { "" }
                );
            }
        }
        KeysCommand::Rotate { alg } => {
            let kid = auth.rotate_key(alg.parse()?).await?;
            let overlap = auth.settings().keys.overlap;
            println!("added key {kid} ({alg}): published now, signing from {} (in {overlap} s)", now + overlap);
        }
        KeysCommand::Retire { kid } => {
            auth.retire_key(&kid).await?;
            println!("retired key {kid}: it no longer signs and leaves the JWKS once its tokens have expired");
        }
        KeysCommand::Rekey { .. } => bail!("`keys rekey` runs on the database alone"),
    }
    Ok(())
}

/// `keys rekey`: every secret at rest, from the configured `key_encryption_secret` to a new
/// one read from standard input or the terminal (never from the command line).
pub async fn rekey(config: &Config, new_secret_stdin: bool) -> anyhow::Result<()> {
    let new = if new_secret_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("New key_encryption_secret: ")?;
        if first != rpassword::prompt_password("New key_encryption_secret (again): ")? {
            bail!("the secrets differ");
        }
        first
    };
    if new.len() < 16 {
        bail!("the new key_encryption_secret: use at least 16 characters");
    }
    let store = super::open_store(config).await?;
    let rewritten = latchkey_flows::rekey(&store, config.key_encryption_secret.as_deref(), &new).await;
    store.close().await;
    let rewritten = rewritten.context("nothing was changed")?;
    println!(
        "re-encrypted {rewritten} secrets with the new key_encryption_secret; start every instance with it \
         (the previous secret no longer opens them)"
    );
    Ok(())
}

/// `3600`, `90m`, `12h`, `7d` → seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<i64> {
    let (num, unit) =
        text.trim().split_at(text.trim().find(|c: char| !c.is_ascii_digit()).unwrap_or(text.trim().len()));
    let n: i64 = num.parse().map_err(|_| anyhow!("`{text}` is not a duration like 3600, 90m, 12h or 7d"))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => bail!("`{text}` is not a duration like 3600, 90m, 12h or 7d"),
    };
    if n <= 0 {
        bail!("`{text}`: a duration must be positive");
    }
    Ok(n * factor)
}

pub async fn registration_tokens(auth: &AuthServer, cmd: RegistrationTokensCommand) -> anyhow::Result<()> {
    match cmd {
        RegistrationTokensCommand::Create { uses, expires } => {
            if uses.is_some_and(|u| u < 1) {
                bail!("uses: must be at least 1");
            }
            let expires_in = expires.as_deref().map(parse_duration).transpose().map_err(|e| anyhow!("expires: {e}"))?;
            let token = auth.create_registration_token(uses, expires_in).await?;
            println!("{}", token.expose());
            if auth.settings().registration != latchkey_flows::RegistrationPolicy::Token {
                eprintln!(
                    "note: registration is not set to `token`; set registration = \"token\" for the server to ask for it"
                );
            }
        }
    }
    Ok(())
}

pub async fn audit(auth: &AuthServer, limit: i64, kind: Option<String>, json: bool) -> anyhow::Result<()> {
    if limit < 1 {
        bail!("limit: must be at least 1");
    }
    for e in auth.audit_trail(kind.as_deref(), limit).await? {
        if json {
            println!("{}", serde_json::to_string(&e)?);
        } else {
            let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            // An aggregated event (repeated throttled logins): how many, from `at` on.
            let count = if e.count > 1 { format!("count={} ", e.count) } else { String::new() };
            println!(
                "{}  {:<24} actor={} client={} address={} {}{}",
                e.at,
                e.kind,
                opt(&e.actor),
                opt(&e.client_id),
                opt(&e.address),
                count,
                e.detail.unwrap_or_default()
            );
        }
    }
    Ok(())
}
