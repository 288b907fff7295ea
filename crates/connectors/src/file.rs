//! File replay and backfill: JSON Lines of posts (plain or gzip), with a
//! progress bar on a terminal. The cursor per file is the number of lines
//! and bytes consumed plus the chunks acknowledged beyond them, saved as
//! each chunk is acknowledged, so a restart resumes mid-file and produces
//! each line once without remembering each post's id (see [`position`]).
//! Without `one_shot` the files are watched for appended lines (a partial
//! last line waits for its newline) and directories for new files.

mod config;
mod position;
pub use config::FileConfig;

use std::fs;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use earshot_model::Post;
use flate2::read::MultiGzDecoder;
use futures::stream::{FuturesUnordered, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use crate::config::secs;
use crate::emit::{Emitted, Undelivered};
use crate::error::{SourceError, SourceResult};
use crate::source::{Ctx, Source};
use position::{Cursor, Pos, Progress, Span};

/// Chunks produced and not yet acknowledged, per file.
const CHUNKS_IN_FLIGHT: usize = 4;

pub(crate) struct File {
    cfg: FileConfig,
}

impl File {
    pub fn new(cfg: FileConfig) -> File {
        File { cfg }
    }
}

/// Lines read by the blocking reader: `(line number, bytes)`, and the
/// positions before and after them (consecutive lines).
struct Chunk {
    lines: Vec<(u64, Vec<u8>)>,
    from: Pos,
    end: Pos,
    /// Bytes of the file on disk read so far (for the progress bar).
    disk_pos: u64,
}

#[async_trait]
impl Source for File {
    async fn run(self: Box<Self>, ctx: Arc<Ctx>) -> SourceResult<()> {
        loop {
            let mut missing = None;
            for path in &self.cfg.paths {
                let files = match list(path) {
                    Ok(f) => f,
                    Err(e) => {
                        ctx.error(
                            &format!("cannot read {}", path.display()),
                            &format!("{e:#}"),
                        );
                        missing.get_or_insert(e);
                        continue;
                    }
                };
                for f in files {
                    if ctx.shutdown.is_cancelled() {
                        return Ok(());
                    }
                    if let Err(e) = self.replay(&ctx, &f).await {
                        ctx.error(
                            &format!("replaying {} failed", f.display()),
                            &format!("{e:#}"),
                        );
                        missing.get_or_insert(e);
                    }
                }
            }
            if self.cfg.one_shot {
                // A one-shot replay that could not read its input must say so.
                return missing.map_or(Ok(()), Err);
            }
            if !ctx.sleep(secs(self.cfg.poll_interval_secs)).await {
                return Ok(());
            }
        }
    }
}

/// The files of a path: itself, or a directory's `.jsonl`/`.ndjson`/`.json` (optionally `.gz`) files in name order.
fn list(path: &Path) -> SourceResult<Vec<PathBuf>> {
    let meta = fs::metadata(path).map_err(SourceError::io(path.display().to_string()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let n = n.strip_suffix(".gz").unwrap_or(n);
            p.is_file() && (n.ends_with(".jsonl") || n.ends_with(".ndjson") || n.ends_with(".json"))
        })
        .collect();
    files.sort();
    Ok(files)
}

fn is_gzip(path: &Path) -> std::io::Result<bool> {
    let mut magic = [0u8; 2];
    let n = fs::File::open(path)?.read(&mut magic)?;
    Ok(n == 2 && magic == [0x1f, 0x8b])
}

/// Counts bytes read from the file on disk, for progress.
struct Counting<R> {
    inner: R,
    pos: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads lines after `start`, except those of the spans in `skip` (in file
/// order), and sends them in chunks of consecutive lines until EOF or the
/// receiver is gone.
fn read_lines(
    path: &Path,
    start: Pos,
    skip: Vec<Span>,
    batch: usize,
    whole_last_line: bool,
    tx: mpsc::Sender<SourceResult<Chunk>>,
) {
    let result = (|| -> SourceResult<()> {
        let gz = is_gzip(path)?;
        let mut file = fs::File::open(path)?;
        let pos = Arc::new(AtomicU64::new(0));
        let mut cur = start;
        let reader: Box<dyn BufRead> = if gz {
            let counting = Counting {
                inner: file,
                pos: pos.clone(),
            };
            let mut r = BufReader::new(MultiGzDecoder::new(counting));
            // A gzip stream cannot be seeked into: skip the lines already produced.
            let mut skip = Vec::new();
            for _ in 0..start.line {
                skip.clear();
                if r.read_until(b'\n', &mut skip)? == 0 {
                    break;
                }
            }
            Box::new(r)
        } else {
            file.seek(SeekFrom::Start(start.offset))?;
            pos.store(start.offset, Ordering::Relaxed);
            Box::new(BufReader::with_capacity(
                1 << 16,
                Counting {
                    inner: file,
                    pos: pos.clone(),
                },
            ))
        };
        let mut reader = reader;
        let mut skip = skip.into_iter().peekable();
        let mut lines = Vec::with_capacity(batch);
        let mut from = cur;
        // Sends the lines gathered so far as one chunk; false once the receiver is gone.
        let send = |lines: &mut Vec<(u64, Vec<u8>)>, from: Pos, end: Pos| {
            let chunk = Chunk {
                lines: std::mem::take(lines),
                from,
                end,
                disk_pos: pos.load(Ordering::Relaxed),
            };
            chunk.lines.is_empty() || tx.blocking_send(Ok(chunk)).is_ok()
        };
        loop {
            // An acknowledged span starts here: the lines so far make a
            // chunk of their own, and the span's lines are read past.
            if let Some((_, to)) = skip.next_if(|(f, _)| f.line <= cur.line) {
                if !send(&mut lines, from, cur) {
                    return Ok(());
                }
                let mut buf = Vec::new();
                while cur.line < to.line {
                    buf.clear();
                    let n = reader.read_until(b'\n', &mut buf)?;
                    if n == 0 {
                        break;
                    }
                    cur.line += 1;
                    cur.offset += n as u64;
                }
                from = cur;
                continue;
            }
            let mut buf = Vec::new();
            let n = reader.read_until(b'\n', &mut buf)?;
            let partial = n > 0 && buf.last() != Some(&b'\n');
            if n == 0 || (partial && !whole_last_line) {
                break;
            }
            cur.line += 1;
            cur.offset += n as u64;
            lines.push((cur.line, buf));
            if lines.len() >= batch {
                if !send(&mut lines, from, cur) {
                    return Ok(());
                }
                from = cur;
            }
        }
        send(&mut lines, from, cur);
        Ok(())
    })();
    if let Err(e) = result {
        let _ = tx.blocking_send(Err(e));
    }
}

impl File {
    async fn replay(&self, ctx: &Ctx, path: &Path) -> SourceResult<()> {
        let key = format!("file:{}", path.display());
        let saved: Cursor = ctx.cursor(&key).await?.unwrap_or_default();
        let in_flight_lines = (CHUNKS_IN_FLIGHT * self.cfg.batch_size) as u64;
        let mut progress = Progress::from_cursor(&saved, in_flight_lines);
        let len = fs::metadata(path)?.len();
        let gz = is_gzip(path)?;
        if !gz && len < progress.furthest() {
            tracing::warn!(connector = %ctx.name, file = %path.display(), "file shrank (rotated or truncated); reading it from the start");
            progress = Progress::default();
        }
        let start = progress.base();
        if !gz && len == start.offset {
            return Ok(());
        }
        let bar = self.progress_bar(path, len, if gz { 0 } else { start.offset });
        let (tx, mut rx) = mpsc::channel(2);
        let (p, batch, whole) = (path.to_path_buf(), self.cfg.batch_size, self.cfg.one_shot);
        let skip = progress.skip();
        let reader =
            tokio::task::spawn_blocking(move || read_lines(&p, start, skip, batch, whole, tx));
        let locator = path.display().to_string();
        // Several chunks in flight, so the stages downstream see more than
        // one chunk's posts at a time (in the embedded mode a produce waits
        // for the store, and one chunk at a time meant small transactions).
        // Each chunk is recorded in the cursor as soon as it is acknowledged,
        // in any order; a crash re-reads only the chunks not recorded.
        let mut in_flight = FuturesUnordered::new();
        let mut eof = false;
        let mut failure = None;
        loop {
            tokio::select! {
                biased;
                Some((done, from, end, disk_pos)) = in_flight.next(), if !in_flight.is_empty() => {
                    let done: Result<Emitted, Undelivered> = done;
                    match done {
                        Ok(_) => {
                            progress.ack(from, end);
                            ctx.emitter.save_cursor(Ctx::cursor_value(&key, &progress.cursor())).await?;
                            ctx.counters.add(&ctx.counters.polls, 1);
                        }
                        // The ids it did deliver are recorded with a cursor
                        // saying that a re-read of this chunk checks them.
                        Err(Undelivered { delivered, error }) => {
                            progress.failed(end);
                            let cursor = Ctx::cursor_value(&key, &progress.cursor());
                            ctx.cursors.commit(&ctx.name, Some(cursor), delivered).await?;
                            failure.get_or_insert(error);
                        }
                    }
                    if let Some(b) = &bar {
                        b.set_position(b.position().max(disk_pos));
                    }
                }
                // After a failure, the chunks in flight finish (and are
                // recorded) but no more are read: the next pass re-reads.
                chunk = rx.recv(), if !eof && failure.is_none() && in_flight.len() < CHUNKS_IN_FLIGHT && !ctx.shutdown.is_cancelled() => {
                    let chunk = match chunk {
                        Some(Ok(chunk)) => chunk,
                        Some(Err(e)) => {
                            failure = Some(e);
                            continue;
                        }
                        None => {
                            eof = true;
                            continue;
                        }
                    };
                    let mut posts = Vec::with_capacity(chunk.lines.len());
                    for (n, line) in &chunk.lines {
                        let trimmed = line.trim_ascii();
                        if trimmed.is_empty() {
                            continue;
                        }
                        match parse(trimmed, &self.cfg.source) {
                            Ok(p) => posts.push(p),
                            Err(reason) => {
                                ctx.emitter
                                    .dead_letter(&reason, &format!("{locator}:{n}"), trimmed)
                                    .await
                            }
                        }
                    }
                    let (from, end, disk_pos) = (chunk.from, chunk.end, chunk.disk_pos);
                    let by_id = progress.must_check(from);
                    let emitter = &ctx.emitter;
                    in_flight.push(async move {
                        let done = if by_id {
                            // Rare: after a half-failed chunk. Its delivered
                            // ids were recorded, and are checked here.
                            emitter.emit(posts, None).await.map_err(|error| Undelivered {
                                delivered: Vec::new(),
                                error,
                            })
                        } else {
                            emitter.emit_positioned(posts).await
                        };
                        (done, from, end, disk_pos)
                    });
                }
                else => break,
            }
        }
        drop(rx);
        reader.await?;
        if let Some(b) = bar {
            b.finish();
        }
        failure.map_or(Ok(()), Err)
    }

    fn progress_bar(&self, path: &Path, len: u64, pos: u64) -> Option<ProgressBar> {
        if !self.cfg.progress {
            return None;
        }
        // Hidden automatically when stderr is not a terminal (CI, services).
        let bar = ProgressBar::new(len).with_position(pos);
        let style = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .map(|s| s.progress_chars("=> "));
        if let Ok(s) = style {
            bar.set_style(s);
        }
        bar.set_prefix(
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        Some(bar)
    }
}

/// One line as a post; an id without `source:` gets the configured prefix.
fn parse(line: &[u8], source: &str) -> Result<Post, String> {
    let mut p = Post::from_json(line).map_err(|e| format!("not a post: {e}"))?;
    if !p.id.contains(':') {
        p.id = Post::make_id(source, &p.id);
        p.source = source.to_string();
    }
    Ok(p)
}
