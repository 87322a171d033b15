//! Process limits that size defaults.

/// The soft limit on open files (`RLIMIT_NOFILE`), if the platform has one.
#[cfg(unix)]
pub fn open_files() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit only writes the struct it is given.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    // RLIM_INFINITY is u64::MAX: as good as no limit. rlim_t is i64 on some BSDs.
    #[allow(clippy::unnecessary_cast)]
    ok.then_some(limit.rlim_cur as u64)
}

/// The soft limit on open files (`RLIMIT_NOFILE`), if the platform has one.
#[cfg(not(unix))]
pub fn open_files() -> Option<u64> {
    None
}

/// The default `max_client_connections`: the open-file soft limit less what the rest of the
/// process may hold open, that is three descriptors per database connection (an SQLite
/// connection holds the database, its write-ahead log and its shared-memory file; a
/// PostgreSQL one a socket), the metrics listener's connections, and 64 for everything else
/// (listeners, standard streams, the runtime's event descriptors, log files, DNS lookups).
/// At least 16, so a tiny limit still serves; at most 65,536, past which memory rather
/// than descriptors is what silent connections would exhaust (set it higher explicitly).
pub fn client_connections(open_files: Option<u64>, database_connections: u32) -> usize {
    // Without a limit to read (not Unix), the common soft limit of 1,024.
    let open_files = open_files.unwrap_or(1024);
    let reserved = 3 * u64::from(database_connections) + latchkey_server::METRICS_CONNECTIONS as u64 + 64;
    usize::try_from(open_files.saturating_sub(reserved).clamp(16, 65_536)).unwrap_or(16)
}

#[cfg(test)]
mod tests {
    use super::client_connections;

    #[test]
    fn client_connections_leave_room_for_the_database_pool_and_the_rest() {
        assert_eq!(client_connections(Some(1024), 16), 1024 - 48 - 16 - 64);
        assert_eq!(client_connections(Some(100), 16), 16);
        assert_eq!(client_connections(Some(u64::MAX), 16), 65_536);
        assert_eq!(client_connections(None, 16), 896);
    }

    #[cfg(unix)]
    #[test]
    fn the_open_file_limit_is_read() {
        assert!(super::open_files().is_some_and(|n| n >= 16));
    }
}
