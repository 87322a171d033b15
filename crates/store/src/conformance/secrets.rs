//! Signing keys and the secrets at rest.

use crate::{AtRest, Resealed, SigningKeyRow, Store, StoreError};

/// Signing keys are listed newest first, retired once, and published until their tokens expire.
pub async fn signing_keys_round_trip(store: &Store) {
    assert!(store.signing_keys(0).await.unwrap().is_empty());
    for (kid, at) in [("k1", 1), ("k2", 2)] {
        let k = SigningKeyRow {
            kid: kid.into(),
            alg: "ES256".into(),
            private_der: vec![1, 2, 3],
            created_at: at,
            retired_at: None,
            activates_at: at + 10,
            encrypted: at == 2,
        };
        store.insert_signing_key(&k).await.unwrap();
    }
    let keys = store.signing_keys(0).await.unwrap();
    assert_eq!(keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), ["k2", "k1"]);
    assert_eq!(keys[0].private_der, vec![1, 2, 3]);
    assert_eq!((keys[0].activates_at, keys[0].encrypted), (12, true));
    assert!(store.retire_signing_key("k1", 100).await.unwrap());
    assert!(!store.retire_signing_key("k1", 101).await.unwrap());
    // Still published while tokens it signed may live; gone after.
    assert_eq!(store.signing_keys(99).await.unwrap().len(), 2);
    assert_eq!(store.signing_keys(100).await.unwrap().len(), 1);
    assert_eq!(store.all_signing_keys().await.unwrap().len(), 2);
    // The last key that signs now is not retired, even with another key pending: the
    // check and the retirement are one write.
    let pending = SigningKeyRow { kid: "k3".into(), created_at: 101, activates_at: 500, ..keys[0].clone() };
    store.insert_signing_key(&pending).await.unwrap();
    assert!(!store.retire_signing_key("k2", 102).await.unwrap());
    assert!(store.retire_signing_key("k2", 500).await.unwrap());
}

/// A stand-in for encryption: a leading 0 (plaintext) becomes 1.
fn seal_plain(item: AtRest<'_>) -> Result<Option<Resealed>, StoreError> {
    let value = match item {
        AtRest::ServerSecret { value, .. } => value,
        AtRest::SigningKey { private_der, .. } => private_der,
    };
    Ok((value[0] == 0).then(|| Resealed { value: [&[1u8][..], &value[1..]].concat(), encrypted: true }))
}

/// Resealing secrets at rest is all or nothing, and rewrites each row once when two
/// instances do it at once.
pub async fn secrets_at_rest_are_rewritten_all_or_nothing(store: &Store) {
    store.server_secret("a", &[0, 7], 1).await.unwrap();
    store.server_secret("b", &[0, 8], 1).await.unwrap();
    let key = |kid: &str| SigningKeyRow {
        kid: kid.into(),
        alg: "ES256".into(),
        private_der: vec![0, 9],
        created_at: 1,
        retired_at: None,
        activates_at: 1,
        encrypted: false,
    };
    store.insert_signing_key(&key("k1")).await.unwrap();
    // A failure on the last item undoes the others.
    let mut seen = Vec::new();
    let failed = store
        .reseal_at_rest(|item| {
            seen.push(format!("{item:?}"));
            if matches!(item, AtRest::SigningKey { .. }) { Err(StoreError::Conflict) } else { seal_plain(item) }
        })
        .await;
    assert!(matches!(failed, Err(StoreError::Conflict)), "{failed:?}");
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(store.server_secret("a", b"", 1).await.unwrap(), [0, 7]);
    assert!(!store.all_signing_keys().await.unwrap()[0].encrypted);
    // Two at once (two instances starting together): each row is rewritten once.
    let (x, y) = tokio::join!(store.reseal_at_rest(seal_plain), store.reseal_at_rest(seal_plain));
    assert_eq!(x.unwrap() + y.unwrap(), 3);
    assert_eq!(store.server_secret("a", b"", 1).await.unwrap(), [1, 7]);
    assert_eq!(store.server_secret("b", b"", 1).await.unwrap(), [1, 8]);
    let k = &store.all_signing_keys().await.unwrap()[0];
    assert_eq!((k.private_der.as_slice(), k.encrypted), (&[1u8, 9][..], true));
    assert_eq!(store.reseal_at_rest(seal_plain).await.unwrap(), 0, "nothing left in plaintext");
}
