//! A short-lived, in-process cache of client registrations.
//!
//! Every token, revocation and introspection request authenticates a client, and every
//! authorization request looks one up: reading the row each time costs as much as
//! signing the token (measured in `bench/`). A registration read from the store is
//! reused for `client_cache_ttl` seconds (1 by default). Only found clients are cached,
//! so a new client works at once; a client changed or removed through this process is
//! forgotten at once; one changed by the CLI or another instance is seen within the TTL.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use latchkey_protocol::UnixTime;
use latchkey_protocol::client::Client;

use crate::{AuthServer, FlowError};

/// Most clients kept; past it, the cache starts over (a flood of distinct ids cannot
/// grow memory, and unknown ids are never cached).
const MAX_ENTRIES: usize = 10_000;

pub(crate) struct ClientCache {
    ttl: i64,
    entries: RwLock<HashMap<String, (Arc<Client>, UnixTime)>>,
}

impl ClientCache {
    pub(crate) fn new(ttl: i64) -> ClientCache {
        ClientCache { ttl, entries: RwLock::new(HashMap::new()) }
    }

    fn get(&self, id: &str, now: UnixTime) -> Option<Arc<Client>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let (client, loaded_at) = entries.get(id)?;
        (now - loaded_at < self.ttl).then(|| client.clone())
    }

    fn put(&self, client: Arc<Client>, now: UnixTime) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, loaded_at)| now - *loaded_at < self.ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(client.id.as_str().to_owned(), (client, now));
    }

    pub(crate) fn forget(&self, id: &str) {
        self.entries.write().unwrap_or_else(|p| p.into_inner()).remove(id);
    }
}

impl AuthServer {
    /// The registered client with this id, from the cache or the store: every use case
    /// and page that needs a client reads it here.
    pub async fn client(&self, id: &str) -> Result<Option<Arc<Client>>, FlowError> {
        let now = self.now();
        if self.clients.ttl > 0
            && let Some(client) = self.clients.get(id, now)
        {
            return Ok(Some(client));
        }
        let Some(client) = self.store.client(id).await? else { return Ok(None) };
        let client = Arc::new(client);
        if self.clients.ttl > 0 {
            self.clients.put(client.clone(), now);
        }
        Ok(Some(client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_protocol::client::{GrantType, TokenFormat};

    fn client(id: &str) -> Arc<Client> {
        Arc::new(Client {
            id: id.into(),
            name: "App".into(),
            secret_hash: None,
            redirect_uris: vec![],
            grant_types: vec![GrantType::ClientCredentials],
            scopes: None,
            require_pkce: true,
            created_at: 0,
            token_format: TokenFormat::Jwt,
            metadata: None,
            registered_dynamically: false,
            may_introspect: false,
        })
    }

    #[test]
    fn an_entry_lives_for_the_ttl_then_is_read_again() {
        let cache = ClientCache::new(2);
        cache.put(client("a"), 100);
        assert!(cache.get("a", 100).is_some());
        assert!(cache.get("a", 101).is_some());
        assert!(cache.get("a", 102).is_none(), "expired after ttl seconds");
        assert!(cache.get("b", 100).is_none());
    }

    #[test]
    fn forget_removes_at_once_and_the_size_is_bounded() {
        let cache = ClientCache::new(60);
        cache.put(client("a"), 100);
        cache.forget("a");
        assert!(cache.get("a", 100).is_none());
        for i in 0..MAX_ENTRIES + 5 {
            cache.put(client(&i.to_string()), 100);
        }
        assert!(cache.entries.read().unwrap().len() <= MAX_ENTRIES);
    }
}
