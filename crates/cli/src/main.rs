//! The `latchkey` binary.

fn main() -> std::process::ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    keep_large_blocks_mapped();
    latchkey::main()
}

/// After freeing a large block glibc raises its mmap threshold, so the next Argon2id
/// working memory (19 MiB per hash) is carved from a thread arena and stays resident when
/// freed: 5 s of logins took the process from 16 to 98 MiB. With a fixed threshold, blocks
/// of 1 MiB and more are mapped on allocation and returned to the system when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_large_blocks_mapped() {
    // SAFETY: mallopt only sets allocator parameters; it runs before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
