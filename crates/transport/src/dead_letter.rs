use crate::{Message, Record};

/// Header naming why a record was dead-lettered.
pub const ERROR_HEADER: &str = "earshot-error";
/// Header naming the stage that dead-lettered it.
pub const STAGE_HEADER: &str = "earshot-stage";
/// Header naming the topic the record was read from.
pub const SOURCE_TOPIC_HEADER: &str = "earshot-source-topic";
/// Header naming the partition it was read from.
pub const SOURCE_PARTITION_HEADER: &str = "earshot-source-partition";
/// Header naming the offset it was read from.
pub const SOURCE_OFFSET_HEADER: &str = "earshot-source-offset";

/// The dead-letter record for a message a stage could not process: the
/// original key, payload and headers, plus headers naming the error, the
/// stage, and the source topic, partition and offset.
pub fn dead_letter_record(message: &Message, stage: &str, error: &str) -> Record {
    let mut record = Record {
        key: message.key.clone().unwrap_or_else(|| {
            format!("{}/{}/{}", message.topic, message.partition, message.offset)
        }),
        payload: message.payload.clone(),
        headers: message.headers.clone(),
    };
    record.headers.retain(|(n, _)| {
        !n.starts_with("earshot-source-") && n != ERROR_HEADER && n != STAGE_HEADER
    });
    record
        .header(ERROR_HEADER, error)
        .header(STAGE_HEADER, stage)
        .header(SOURCE_TOPIC_HEADER, message.topic.as_str())
        .header(SOURCE_PARTITION_HEADER, message.partition.to_string())
        .header(SOURCE_OFFSET_HEADER, message.offset.to_string())
}
