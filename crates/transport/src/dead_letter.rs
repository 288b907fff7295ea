//! The one dead-letter record, for every origin: the refused bytes as they
//! were (the original key and headers too, when a stage refused a consumed
//! record) plus headers naming the stage, the reason and where the bytes came
//! from. Built here for connectors and consuming stages alike, and read back
//! here (the embedded mode's keeper, tests, tools).

use earshot_model::headers::{
    ERROR, PAYLOAD_CUT_FROM, SOURCE_CONNECTOR, SOURCE_LOCATOR, SOURCE_OFFSET, SOURCE_PARTITION,
    SOURCE_TOPIC, STAGE,
};
use earshot_model::{DeadLetter, Origin, ORIGIN_HEADER};

use crate::{Message, Record};

/// Header naming why a record was dead-lettered.
pub const ERROR_HEADER: &str = ERROR;
/// Header naming the stage that dead-lettered it.
pub const STAGE_HEADER: &str = STAGE;

/// The dead-letter record for a message a stage could not process: the
/// original key, payload and headers, plus headers naming the error, the
/// stage, and the source topic, partition and offset.
pub fn dead_letter_record(message: &Message, stage: &str, error: &str) -> Record {
    let record = Record {
        key: message.key.clone().unwrap_or_else(|| {
            format!("{}/{}/{}", message.topic, message.partition, message.offset)
        }),
        payload: message.payload.clone(),
        headers: message.headers.clone(),
    };
    let origin = Origin::Topic {
        topic: message.topic.clone(),
        partition: message.partition,
        offset: message.offset,
    };
    stamp(record, stage, error, &origin)
}

/// The dead-letter record for a payload a connector fetched but could not
/// turn into posts: at most `max_bytes` of it (the original size is then in
/// the `earshot-payload-cut-from` header), keyed `<stage>:<locator>`.
pub fn source_dead_letter_record(
    stage: &str,
    connector: &str,
    locator: &str,
    error: &str,
    payload: &[u8],
    max_bytes: usize,
) -> Record {
    let mut record =
        Record::new(format!("{stage}:{locator}"), payload.to_vec()).header(ORIGIN_HEADER, stage);
    if payload.len() > max_bytes {
        cut_payload(&mut record, max_bytes);
    }
    let origin = Origin::Source {
        connector: connector.to_string(),
        locator: locator.to_string(),
    };
    stamp(record, stage, error, &origin)
}

/// Most bytes of the original payload kept in a dead letter the dead-letter
/// topic refused whole (e.g. over the broker's message size limit); each
/// further refusal halves it, down to [`DEAD_LETTER_MIN`].
const DEAD_LETTER_PREFIX: usize = 64 * 1024;
/// Below this many payload bytes a refused dead letter is not cut further.
const DEAD_LETTER_MIN: usize = 1024;

/// Makes a dead letter the dead-letter topic refused permanently smaller, so
/// it can be sent again: its payload is cut to half, at most 64 KiB. Returns
/// `false` when it is already at the smallest size worth sending (then the
/// refusal is final and the stage holds the partition, saying so).
pub fn shrink_refused(record: &mut Record) -> bool {
    if record.payload.len() <= DEAD_LETTER_MIN {
        return false;
    }
    cut_payload(record, (record.payload.len() / 2).min(DEAD_LETTER_PREFIX));
    true
}

/// Cuts a dead letter's payload to its first `keep` bytes, recording the
/// original size once (a second cut keeps the first original size).
pub fn cut_payload(record: &mut Record, keep: usize) {
    if !record.headers.iter().any(|(n, _)| n == PAYLOAD_CUT_FROM) {
        let from = record.payload.len().to_string();
        record
            .headers
            .push((PAYLOAD_CUT_FROM.to_string(), from.into_bytes()));
    }
    record.payload.truncate(keep);
}

fn stamp(mut record: Record, stage: &str, error: &str, origin: &Origin) -> Record {
    // A record dead-lettered a second time (replayed, refused again) names
    // only its latest stage and origin.
    record.headers.retain(|(n, _)| {
        !n.starts_with("earshot-source-") && n != ERROR_HEADER && n != STAGE_HEADER
    });
    let record = record.header(ERROR, error).header(STAGE, stage);
    match origin {
        Origin::Topic {
            topic,
            partition,
            offset,
        } => record
            .header(SOURCE_TOPIC, topic.as_str())
            .header(SOURCE_PARTITION, partition.to_string())
            .header(SOURCE_OFFSET, offset.to_string()),
        Origin::Source { connector, locator } => record
            .header(SOURCE_CONNECTOR, connector.as_str())
            .header(SOURCE_LOCATOR, locator.as_str()),
    }
}

/// Reads a record from the dead-letter topic. Records written by other tools
/// (no Earshot headers) read as coming from the dead-letter topic itself, with
/// an empty stage and reason.
pub fn read_dead_letter(message: &Message) -> DeadLetter {
    let text = |name: &str| message.header(name).unwrap_or("").to_string();
    fn number<T: std::str::FromStr>(message: &Message, name: &str) -> Option<T> {
        message.header(name).and_then(|v| v.parse().ok())
    }
    let origin = match (
        message.header(SOURCE_CONNECTOR),
        message.header(SOURCE_TOPIC),
    ) {
        (Some(connector), _) => Origin::Source {
            connector: connector.to_string(),
            locator: text(SOURCE_LOCATOR),
        },
        (None, Some(topic)) => Origin::Topic {
            topic: topic.to_string(),
            partition: number(message, SOURCE_PARTITION).unwrap_or(-1),
            offset: number(message, SOURCE_OFFSET).unwrap_or(-1),
        },
        (None, None) => Origin::Topic {
            topic: message.topic.clone(),
            partition: message.partition,
            offset: message.offset,
        },
    };
    DeadLetter {
        stage: text(STAGE),
        reason: text(ERROR),
        origin,
        payload: message.payload.clone(),
        payload_cut_from: number(message, PAYLOAD_CUT_FROM),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivered(record: Record, topic: &str, offset: i64) -> Message {
        Message {
            topic: topic.into(),
            partition: 0,
            offset,
            key: Some(record.key),
            payload: record.payload,
            headers: record.headers,
            timestamp_ms: None,
        }
    }

    /// Issue 17: one record for every origin, read back the same way.
    #[test]
    fn issue_17_both_origins_build_and_read_as_one_record() {
        let raw = Message {
            topic: "raw".into(),
            partition: 2,
            offset: 41,
            key: Some("hn:1".into()),
            payload: b"{not json".to_vec(),
            headers: vec![(ORIGIN_HEADER.into(), b"connect:hn".to_vec())],
            timestamp_ms: None,
        };
        let record = dead_letter_record(&raw, "match", "undecodable");
        assert_eq!(record.key, "hn:1");
        let read = read_dead_letter(&delivered(record, "dlq", 0));
        assert_eq!(read.stage, "match");
        assert_eq!(read.reason, "undecodable");
        assert_eq!(
            read.origin,
            Origin::Topic {
                topic: "raw".into(),
                partition: 2,
                offset: 41
            }
        );
        assert_eq!(read.payload, b"{not json");
        assert_eq!(read.payload_cut_from, None);

        let record = source_dead_letter_record(
            "connect:rss",
            "rss",
            "https://x/feed",
            "bad",
            b"0123456789",
            4,
        );
        assert_eq!(record.key, "connect:rss:https://x/feed");
        let read = read_dead_letter(&delivered(record, "dlq", 1));
        assert_eq!(read.stage, "connect:rss");
        assert_eq!(
            read.origin,
            Origin::Source {
                connector: "rss".into(),
                locator: "https://x/feed".into()
            }
        );
        assert_eq!(read.payload, b"0123");
        assert_eq!(read.payload_cut_from, Some(10));
    }

    #[test]
    fn a_second_dead_lettering_names_only_the_latest_stage_and_a_cut_keeps_the_first_size() {
        let first = dead_letter_record(
            &Message {
                topic: "raw".into(),
                partition: 0,
                offset: 7,
                key: None,
                payload: vec![b'x'; 100],
                headers: vec![],
                timestamp_ms: None,
            },
            "match",
            "poison",
        );
        let mut again = dead_letter_record(&delivered(first, "dlq", 3), "replay", "refused");
        cut_payload(&mut again, 50);
        cut_payload(&mut again, 10);
        let read = read_dead_letter(&delivered(again, "dlq", 9));
        assert_eq!(
            (read.stage.as_str(), read.reason.as_str()),
            ("replay", "refused")
        );
        assert_eq!(
            read.origin,
            Origin::Topic {
                topic: "dlq".into(),
                partition: 0,
                offset: 3
            }
        );
        assert_eq!((read.payload.len(), read.payload_cut_from), (10, Some(100)));
    }
}
