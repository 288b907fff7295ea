//! `earshot respond POST_ID`: marks a post answered in the configured store,
//! so it leaves the work queue; idempotent (the first response is the
//! answer, each distinct action is logged).

use std::io::Write;

use earshot_sink::responses::{Recorded, Response, ResponseStore};

use crate::config::Config;

/// Records the response and says what it did.
pub async fn run(
    config: &Config,
    post_id: &str,
    by: &str,
    channel: &str,
    note: &str,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let store = ResponseStore::open(&config.sink).await?;
    let response = Response {
        post_id: post_id.trim().to_string(),
        responded_at: chrono::Utc::now(),
        responder: by.to_string(),
        channel: channel.to_string(),
        note: note.to_string(),
    };
    match store.record(&response).await? {
        Recorded::First => writeln!(
            out,
            "{}: answered by {} ({}) at {}; it left the work queue",
            response.post_id,
            response.responder,
            response.channel,
            response.responded_at.format("%Y-%m-%d %H:%M:%S UTC")
        )?,
        Recorded::AlreadyAnswered(first) => writeln!(
            out,
            "{}: already answered by {} ({}) at {}; this response is logged",
            first.post_id,
            first.responder,
            first.channel,
            first.responded_at.format("%Y-%m-%d %H:%M:%S UTC")
        )?,
    }
    Ok(())
}
