/// What can go wrong in the transport.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The broker refused or failed a request; retrying may help.
    #[error("broker error: {0}")]
    Broker(String),
    /// A topic is missing or does not match its configuration.
    #[error("topic `{topic}`: {message}")]
    Topic {
        /// The topic.
        topic: String,
        /// What is wrong with it.
        message: String,
    },
    /// A record could not be delivered.
    #[error("delivery to `{topic}` failed: {message}")]
    Delivery {
        /// Destination topic.
        topic: String,
        /// Why.
        message: String,
    },
    /// The broker or client refused the record itself (larger than the
    /// message size limit, invalid, not authorized for the topic): sending
    /// the same record again fails again, so a stage must set it aside (dead
    /// letter) instead of retrying it.
    #[error("`{topic}` refused the record permanently: {message}")]
    Refused {
        /// Destination topic.
        topic: String,
        /// Why.
        message: String,
    },
    /// The bus was shut down.
    #[error("transport closed")]
    Closed,
    /// This bus cannot do what was asked (for example share work between
    /// processes over the in-memory bus).
    #[error("not supported by this transport: {0}")]
    Unsupported(String),
    /// Invalid transport configuration.
    #[error("invalid transport configuration: {0}")]
    Config(String),
}

impl TransportError {
    /// Whether retrying the same record cannot succeed ([`TransportError::Refused`]).
    pub fn is_permanent(&self) -> bool {
        matches!(self, TransportError::Refused { .. })
    }
}
