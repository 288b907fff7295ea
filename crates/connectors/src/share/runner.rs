//! The shared mode's loop: follow this process's share of the control
//! topic, starting the connectors of assigned partitions (after loading
//! their cursors) and stopping those of revoked ones (before releasing
//! them to the group).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use earshot_transport::{AssignmentChange, MembershipOptions, TopicSpec};
use tokio_util::sync::CancellationToken;

use super::{control_topic, layout, KafkaCursors};
use crate::backend::CursorBackend;
use crate::config::ConnectorConfig;
use crate::daemon::{Builder, SharedMode};
use crate::error::{SourceError, SourceResult};

/// Longest a rebalance waits for this process to stop revoked connectors.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for one connector to stop by itself before it is aborted
/// (inside [`REVOKE_TIMEOUT`], so the release still comes in time).
const STOP_TIMEOUT: Duration = Duration::from_secs(8);
/// Longest wait between retries of a failed cursor load or connector.
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Sets `earshot_connector_assigned{connector}`: 1 while this process runs it.
fn assigned(connector: &str, on: bool) {
    metrics::gauge!("earshot_connector_assigned", "connector" => connector.to_string())
        .set(if on { 1.0 } else { 0.0 });
}

struct Running {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// Runs the connectors assigned to this process until `shutdown`.
pub(crate) async fn run_shared(mode: SharedMode, shutdown: CancellationToken) -> SourceResult<()> {
    let layout = layout(&mode.config);
    let configs: HashMap<&str, &ConnectorConfig> = mode
        .config
        .connectors
        .iter()
        .map(|c| (c.name.as_str(), c))
        .collect();
    for (_, name) in &layout {
        assigned(name, false);
    }
    let group = mode.config.connect.group.clone();
    let mut membership = mode
        .bus
        .membership(MembershipOptions {
            group: group.clone(),
            topic: TopicSpec {
                name: control_topic(&group),
                partitions: mode.config.connect.partitions,
                replication: mode.replication,
            },
            revoke_timeout: REVOKE_TIMEOUT,
        })
        .await
        .map_err(|e| SourceError::Other(format!("joining the connector group `{group}`: {e}")))?;
    tracing::info!(%group, connectors = layout.len(), "joined the connector group");
    let mut running: HashMap<String, Running> = HashMap::new();
    let outcome = loop {
        let change = tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            change = membership.next() => change,
        };
        match change {
            None => {
                break Err(SourceError::Other(format!(
                    "the membership in group `{group}` ended"
                )))
            }
            Some(AssignmentChange::Assigned(partitions)) => {
                for (p, name) in &layout {
                    if partitions.contains(p) && !running.contains_key(name) {
                        let c = configs[name.as_str()].clone();
                        let r = start(c, &mode.builder, &mode.cursors, &shutdown);
                        running.insert(name.clone(), r);
                    }
                }
            }
            Some(AssignmentChange::Revoked {
                partitions,
                release,
            }) => {
                let names: Vec<String> = layout
                    .iter()
                    .filter(|(p, _)| partitions.contains(p))
                    .map(|(_, n)| n.clone())
                    .collect();
                stop(&names, &mut running, &mode.cursors).await;
                release.release();
            }
        }
    };
    let names: Vec<String> = running.keys().cloned().collect();
    stop(&names, &mut running, &mode.cursors).await;
    membership.leave().await;
    outcome
}

fn start(
    c: ConnectorConfig,
    builder: &Arc<Builder>,
    cursors: &Arc<KafkaCursors>,
    shutdown: &CancellationToken,
) -> Running {
    let stop = shutdown.child_token();
    assigned(&c.name, true);
    tracing::info!(connector = %c.name, "connector assigned to this process");
    let task = tokio::spawn(supervise(c, builder.clone(), cursors.clone(), stop.clone()));
    Running { stop, task }
}

/// Stops `names` (those running here): each finishes or abandons its page
/// in flight, then its cursors are dropped from the cache.
async fn stop(names: &[String], running: &mut HashMap<String, Running>, cursors: &KafkaCursors) {
    let stopping: Vec<(String, Running)> = names
        .iter()
        .filter_map(|n| running.remove(n).map(|r| (n.clone(), r)))
        .collect();
    for (_, r) in &stopping {
        r.stop.cancel();
    }
    let deadline = tokio::time::Instant::now() + STOP_TIMEOUT;
    for (name, mut r) in stopping {
        if tokio::time::timeout_at(deadline, &mut r.task)
            .await
            .is_err()
        {
            // Its page in flight is abandoned: the cursor did not move past
            // it, so the next owner fetches it again.
            tracing::warn!(connector = %name, "connector did not stop within {STOP_TIMEOUT:?}; aborted");
            r.task.abort();
            let _ = r.task.await;
        }
        cursors.unload(&name);
        assigned(&name, false);
        tracing::info!(connector = %name, "connector released by this process");
    }
}

/// Sleeps `d` unless `stop` comes first; returns whether it slept.
async fn pause(stop: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

/// Loads the connector's cursors, then runs it until `stop`, restarting it
/// (with a growing delay) after a failure.
async fn supervise(
    c: ConnectorConfig,
    builder: Arc<Builder>,
    cursors: Arc<KafkaCursors>,
    stop: CancellationToken,
) {
    let mut delay = Duration::from_secs(1);
    loop {
        let loaded = tokio::select! {
            _ = stop.cancelled() => return,
            r = cursors.load(&c.name) => r,
        };
        match loaded {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(connector = %c.name, error = %e, "cannot load the connector's cursors; retrying in {delay:?}");
                if !pause(&stop, delay).await {
                    return;
                }
                delay = (delay * 2).min(RETRY_MAX);
            }
        }
    }
    let mut delay = Duration::from_secs(1);
    loop {
        let backend: Arc<dyn CursorBackend> = cursors.clone();
        let outcome = match builder.build(&c, backend, stop.clone()).await {
            Ok((source, ctx, _)) => {
                tracing::info!(connector = %c.name, kind = c.source.kind(), "connector starting");
                // Run here, not in a task of its own, so that aborting
                // this task (a connector that would not stop) stops it.
                source.run(Arc::new(ctx)).await
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => {
                tracing::info!(connector = %c.name, "connector stopped");
                return;
            }
            Err(e) => {
                tracing::error!(connector = %c.name, error = format!("{e:#}"), "connector failed; restarting in {delay:?}");
                if !pause(&stop, delay).await {
                    return;
                }
                delay = (delay * 2).min(RETRY_MAX);
            }
        }
    }
}
