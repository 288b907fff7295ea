//! Standard output for commands whose reader may go away early
//! (`earshot check | head -1`, `earshot score < big.jsonl | head`).
//!
//! Rust ignores `SIGPIPE`, so writing to a closed pipe returns an
//! `EPIPE` error; `println!` turns that into a panic. Commands here write
//! through `io::Write` and return the error instead, and [`is_broken_pipe`]
//! lets `main` end such a run quietly with status 0, as ripgrep does: the
//! reader got all it asked for, so nothing failed.

use std::io;

/// Whether `e` (or anything in its chain of causes) is a write to a pipe
/// whose reader has closed it.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn broken_pipe_is_found_through_context() {
        let e = Err::<(), _>(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("writing the report")
            .unwrap_err();
        assert!(is_broken_pipe(&e));
        let e = anyhow::Error::new(io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(!is_broken_pipe(&e));
        assert!(!is_broken_pipe(&anyhow::anyhow!("broken pipe")));
    }
}
