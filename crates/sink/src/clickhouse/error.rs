//! Classifying ClickHouse failures: transient (retry), data (bisect and
//! quarantine the bad rows) or fatal (stop, keep offsets).

use crate::SinkError;

/// Error codes meaning the rows themselves are bad: the same rows fail again.
const DATA_CODES: &[i32] = &[
    6,   // CANNOT_PARSE_TEXT
    25,  // CANNOT_PARSE_ESCAPE_SEQUENCE
    26,  // CANNOT_PARSE_QUOTED_STRING
    27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    38,  // CANNOT_PARSE_DATE
    41,  // CANNOT_PARSE_DATETIME
    53,  // TYPE_MISMATCH
    69,  // ARGUMENT_OUT_OF_BOUND
    70,  // CANNOT_CONVERT_TYPE
    72,  // CANNOT_PARSE_NUMBER
    117, // INCORRECT_DATA
    131, // TOO_LARGE_STRING_SIZE
    190, // SIZES_OF_ARRAYS_DOESNT_MATCH
    349, // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
    395, // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
    469, // VIOLATED_CONSTRAINT
];

/// Error codes meaning the configuration or schema is wrong: nothing will
/// succeed until someone fixes it.
const FATAL_CODES: &[i32] = &[
    16,  // NO_SUCH_COLUMN_IN_TABLE (schema older than this build: run `earshot migrate`)
    33,  // CANNOT_READ_ALL_DATA (RowBinary shape differs from the table: schema mismatch)
    47,  // UNKNOWN_IDENTIFIER
    60,  // UNKNOWN_TABLE
    81,  // UNKNOWN_DATABASE
    164, // READONLY
    192, // UNKNOWN_USER
    193, // WRONG_PASSWORD
    194, // REQUIRED_PASSWORD
    195, // IP_ADDRESS_NOT_ALLOWED
    291, // DATABASE_ACCESS_DENIED
    497, // ACCESS_DENIED
    516, // AUTHENTICATION_FAILED
];

/// Error codes known to pass: overload, timeouts, restarts, replication and
/// coordination hiccups. Retried until they do.
const TRANSIENT_CODES: &[i32] = &[
    3,    // UNEXPECTED_END_OF_FILE
    32,   // ATTEMPT_TO_READ_AFTER_EOF
    159,  // TIMEOUT_EXCEEDED
    202,  // TOO_MANY_SIMULTANEOUS_QUERIES
    203,  // NO_FREE_CONNECTION
    209,  // SOCKET_TIMEOUT
    210,  // NETWORK_ERROR
    225,  // NO_ZOOKEEPER
    236,  // ABORTED
    241,  // MEMORY_LIMIT_EXCEEDED
    242,  // TABLE_IS_READ_ONLY (a replica lost its coordinator)
    243,  // NOT_ENOUGH_SPACE (a full disk passes once space is freed)
    252,  // TOO_MANY_PARTS
    279,  // ALL_CONNECTION_TRIES_FAILED (a distributed insert found no live replica of a shard)
    319,  // UNKNOWN_STATUS_OF_INSERT
    373,  // SESSION_IS_LOCKED
    394,  // QUERY_WAS_CANCELLED
    425,  // SYSTEM_ERROR
    439,  // CANNOT_SCHEDULE_TASK
    999,  // KEEPER_EXCEPTION
    1000, // POCO_EXCEPTION (connection resets and the like)
];

/// The `Code: N` of a ClickHouse exception message, if it has one.
pub(crate) fn exception_code(message: &str) -> Option<i32> {
    let rest = &message[message.find("Code: ")? + 6..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Classifies a client error. Network failures, timeouts, messages without a
/// code (proxies answering 429/503) and known transient codes are transient:
/// retried until they pass, visibly. A code this build does not know is
/// [`SinkError::Unknown`]: retried a bounded number of times, then its rows
/// are dead-lettered with the message, so it cannot hold a partition forever.
pub(crate) fn classify(error: clickhouse::error::Error) -> SinkError {
    use clickhouse::error::Error as E;
    match error {
        E::BadResponse(message) => classify_message(message),
        // The server closed the stream early or sent bytes we could not read:
        // usually a restart mid-response.
        e @ (E::Network(_) | E::TimedOut | E::Decompression(_) | E::Other(_)) => {
            SinkError::Transient(e.to_string())
        }
        // Our row types do not match what was asked for: a schema or build mismatch.
        e => SinkError::Fatal(e.to_string()),
    }
}

/// Whether the server failed on a full disk: `errno: 28` (ENOSPC) in an
/// errno exception, whatever file operation's code carries it (75
/// CANNOT_WRITE_TO_FILE_DESCRIPTOR on 18.16, others on newer servers).
fn disk_full(message: &str) -> bool {
    message.contains("errno: 28,") || message.contains("No space left on device")
}

/// Classifies a server exception message by its code.
pub(crate) fn classify_message(message: String) -> SinkError {
    if disk_full(&message) {
        // Retried until space is freed, like any known transient failure:
        // as an unknown error its rows were dead-lettered after
        // `max_unknown_attempts` (about a minute of backoff).
        return SinkError::Transient(message);
    }
    match exception_code(&message) {
        Some(code) if DATA_CODES.contains(&code) => SinkError::Data(message),
        Some(code) if FATAL_CODES.contains(&code) => SinkError::Fatal(message),
        Some(code) if TRANSIENT_CODES.contains(&code) => SinkError::Transient(message),
        Some(_) => SinkError::Unknown(message),
        None => SinkError::Transient(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_and_classified() {
        let m = "Code: 6, e.displayText() = DB::Exception: Cannot parse string 'abc' as UInt64";
        assert_eq!(exception_code(m), Some(6));
        assert!(matches!(classify_message(m.into()), SinkError::Data(_)));
        let m = "Code: 60. DB::Exception: Table earshot.nope does not exist. (UNKNOWN_TABLE)";
        assert!(matches!(classify_message(m.into()), SinkError::Fatal(_)));
        let m = "Code: 252. DB::Exception: Too many parts (300). (TOO_MANY_PARTS)";
        assert!(matches!(
            classify_message(m.into()),
            SinkError::Transient(_)
        ));
        assert!(matches!(
            classify_message("503 Service Unavailable".into()),
            SinkError::Transient(_)
        ));
        assert_eq!(exception_code("no code here"), None);
        let m = "Code: 76. DB::Exception: Cannot open file /data/x.bin. (CANNOT_OPEN_FILE)";
        assert!(matches!(classify_message(m.into()), SinkError::Unknown(_)));
    }

    /// Found by the fault campaign (tests/faults/run.sh, `disk:ch`): a full
    /// data disk made ClickHouse 18.16 answer code 75 with errno 28, which
    /// was an unclassified error, so a disk full for longer than the bounded
    /// attempts' backoff dead-lettered the rows instead of waiting.
    #[test]
    fn issue_12_a_full_disk_is_transient() {
        let m = "Code: 75, e.displayText() = DB::ErrnoException: Cannot write to file \
                 /ch/data/db/interactions/tmp_insert_1_1_1_0/primary.idx, errno: 28, \
                 strerror: No space left on device, e.what() = DB::ErrnoException";
        assert!(matches!(
            classify_message(m.into()),
            SinkError::Transient(_)
        ));
        let m = "Code: 243. DB::Exception: Cannot reserve 1.00 MiB, not enough space. (NOT_ENOUGH_SPACE)";
        assert!(matches!(
            classify_message(m.into()),
            SinkError::Transient(_)
        ));
        // Another errno on the same code stays unclassified.
        let m = "Code: 75, e.displayText() = DB::ErrnoException: Cannot write to file /x, errno: 5, strerror: Input/output error";
        assert!(matches!(classify_message(m.into()), SinkError::Unknown(_)));
    }
}
