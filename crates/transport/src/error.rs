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
    /// The bus was shut down.
    #[error("transport closed")]
    Closed,
    /// Invalid transport configuration.
    #[error("invalid transport configuration: {0}")]
    Config(String),
}
