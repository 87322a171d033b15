//! `latchkey token`: a native app (RFC 8252) that gets a token through the browser with a
//! loopback redirect (§7.3), or a machine client with client credentials.

use std::time::Duration;

use anyhow::{Context, bail};
use latchkey_client::OAuthClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::cli::TokenArgs;

pub async fn run(args: TokenArgs) -> anyhow::Result<()> {
    let client = OAuthClient::discover(&args.issuer, &args.client_id, args.client_secret.as_deref()).await?;
    let scope = if args.scopes.is_empty() { None } else { Some(args.scopes.join(" ")) };
    let tokens = if args.client_credentials {
        client.client_credentials(scope.as_deref()).await?
    } else if args.device {
        // RFC 8628 §3.3: show the code and where to enter it, then poll.
        let auth = client.device_authorization(scope.as_deref()).await?;
        eprintln!("On another device, open\n\n  {}\n\nand enter the code  {}\n", auth.verification_uri, auth.user_code);
        if let Some(complete) = &auth.verification_uri_complete {
            eprintln!("(or open {complete})\n");
        }
        eprintln!("Waiting for approval…");
        client.poll_device(&auth).await?
    } else {
        // RFC 8252 §7.3: listen on the loopback IP, any port; §8.3: not on `localhost`.
        let listener = TcpListener::bind(("127.0.0.1", args.port)).await.context("cannot listen on a loopback port")?;
        let port = listener.local_addr()?.port();
        let redirect_uri = format!("http://127.0.0.1:{port}/callback");
        let pending = client.authorization_request(&redirect_uri, scope.as_deref())?;
        eprintln!("Open this URL in your browser to log in and approve:\n\n  {}\n", pending.url);
        if !args.no_browser {
            let _ = std::process::Command::new("xdg-open")
                .arg(&pending.url)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
        }
        let query = tokio::time::timeout(Duration::from_secs(300), receive_redirect(&listener))
            .await
            .context("no redirect received within 5 minutes")??;
        client.finish_authorization(&pending, &query).await?
    };
    println!("{}", serde_json::to_string_pretty(&tokens)?);
    Ok(())
}

/// Waits for the browser's `GET /callback?…` and answers it with a short page.
async fn receive_redirect(listener: &TcpListener) -> anyhow::Result<String> {
    loop {
        let (mut stream, _) = listener.accept().await?;
        let mut buf = vec![0u8; 16 * 1024];
        let mut len = 0;
        while len < buf.len() {
            let n = stream.read(&mut buf[len..]).await?;
            if n == 0 {
                break;
            }
            len += n;
            if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        let head = String::from_utf8_lossy(&buf[..len]);
        let target = head.lines().next().and_then(|l| l.split(' ').nth(1)).unwrap_or("");
        let Some(query) = target.strip_prefix("/callback?") else {
            stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await?;
            continue;
        };
        let body = "<!doctype html><meta charset=utf-8><title>Latchkey</title><p>Done. You can close this window and return to the terminal.</p>";
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).await?;
        if query.is_empty() {
            bail!("the redirect carried no parameters");
        }
        return Ok(query.to_owned());
    }
}
