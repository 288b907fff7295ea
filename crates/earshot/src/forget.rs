//! `earshot forget`: the customer's right to be forgotten. An author's (or a
//! CRM account's) posts, mentions, responses and case records go from the
//! store, their ids from the connectors' dedup records, and the author is
//! recorded as forgotten so that nothing of theirs is stored again.

use std::io::Write;
use std::time::Duration;

use earshot_sink::forget::{author_key, ForgetStore};

use crate::config::Config;

/// How long to wait before the second deletion pass: longer than the sink's
/// refresh of the forgotten list plus a batch in flight, so a post that was
/// being written when the author was recorded is caught too.
const SETTLE: Duration = Duration::from_secs(5);

/// Forgets `authors` (`NETWORK:HANDLE`) and/or CRM account `customer`;
/// without `yes`, only says what it would do.
pub async fn run(
    config: &Config,
    authors: &[String],
    customer: Option<&str>,
    yes: bool,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let mut keys = Vec::new();
    for a in authors {
        let (network, handle) = a
            .split_once(':')
            .filter(|(n, h)| !n.is_empty() && !h.is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!("--author `{a}`: expected NETWORK:HANDLE, e.g. x:jane_doe")
            })?;
        keys.push(author_key(network, handle));
    }
    if let Some(id) = customer {
        let matcher = config.matcher()?;
        if !matcher.has_customer(id) {
            anyhow::bail!("--customer `{id}`: no such account in the CRM exports the config names");
        }
        // The account's own handles: their posts are the customer's too.
        keys.extend(matcher.customer_handles(id));
    }
    if keys.is_empty() && customer.is_none() {
        anyhow::bail!("name who to forget: --author NETWORK:HANDLE (repeatable) or --customer ID");
    }
    keys.sort_unstable();
    keys.dedup();
    let store = ForgetStore::open(&config.sink).await?;
    let posts = store.posts(&keys, customer).await?;
    let who = keys
        .iter()
        .cloned()
        .chain(customer.map(|c| format!("customer {c}")))
        .collect::<Vec<_>>()
        .join(", ");
    if !yes {
        writeln!(
            out,
            "would forget {who}: {} post(s) and their mentions, responses and case records; run again with --yes",
            posts.len()
        )?;
        return Ok(());
    }
    let mut deleted = store.forget(&keys, customer, &posts).await?;
    tokio::time::sleep(SETTLE).await;
    let late = store.posts(&keys, customer).await?;
    if !late.is_empty() {
        deleted += store.forget(&[], None, &late).await?;
    }
    let mut seen = 0;
    let ids: Vec<String> = posts.iter().chain(&late).cloned().collect();
    let cursors = &config.connect.cursors.path;
    if cursors.exists() {
        seen = earshot_connect::CursorStore::open(cursors)?
            .forget_ids(ids.clone())
            .await?;
    }
    if config.connect.connect.cursors == earshot_connect::share::CursorsKind::Kafka {
        // Shared connectors keep their produced ids in the cursor topic.
        let bus = crate::daemon::bus(config, "forget").await?;
        seen += earshot_connect::share::forget_ids(
            &*bus,
            &config.connect,
            config.transport.topics.replication,
            &ids,
        )
        .await?;
    }
    writeln!(
        out,
        "forgot {who}: {deleted} post(s) deleted with their mentions, responses and case records, \
         {seen} dedup record(s) removed; recorded in `forgotten`, so a redelivered or refetched post of theirs is not stored again"
    )?;
    Ok(())
}
