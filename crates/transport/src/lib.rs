//! Earshot's transport: how records travel between stages, and how
//! acknowledgements travel back.
//!
//! A [`Bus`] hands out a [`Producer`] and [`Consumer`]s. Every consumed
//! [`Delivery`] carries an [`AckToken`]; a stage acknowledges it only once the
//! next stage durably has the data (the producer's delivery future resolved, or
//! the database acknowledged the insert). Offsets are committed per partition
//! as a **contiguous watermark**: an offset is committed only when it and every
//! offset before it in that partition were acknowledged. A failed message
//! (token dropped or [`AckToken::nack`]ed) holds its partition's watermark, so
//! after a restart it is delivered again.
//!
//! Two buses implement the same interface and semantics: [`MemoryBus`] for the
//! one-process embedded mode and tests, and `KafkaBus` (feature `kafka`) for
//! production.
//!
//! ```
//! use earshot_transport::{Bus, ConsumerOptions, MemoryBus, Record, TopicSpec};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let bus = MemoryBus::new();
//! bus.ensure_topics(&[TopicSpec::new("raw", 2)]).await.unwrap();
//! bus.producer().send("raw", Record::new("hn:1", b"{}".to_vec())).await.unwrap();
//!
//! let mut consumer = bus.consumer(ConsumerOptions::new("match", ["raw"])).await.unwrap();
//! let delivery = consumer.recv().await.unwrap().unwrap();
//! assert_eq!(delivery.message.key.as_deref(), Some("hn:1"));
//! delivery.ack.ack(); // the next stage has it: the offset may now be committed
//! consumer.close(std::time::Duration::from_secs(1)).await.unwrap();
//! # });
//! ```
#![deny(missing_docs)]

mod ack;
mod bus;
mod config;
mod dead_letter;
mod error;
#[cfg(feature = "kafka")]
pub mod kafka;
mod memory;
pub mod post_metrics;
pub mod ready;
mod share;
pub mod stage;
mod watermark;

pub use ack::AckToken;
pub use bus::{
    Attached, Bus, Consumer, ConsumerOptions, Delivery, DeliveryFuture, Message, Producer, Record,
    TopicSpec,
};
pub use config::{KafkaConfig, TopicsConfig, TransportConfig};
pub use dead_letter::{
    cut_payload, dead_letter_record, read_dead_letter, shrink_refused, source_dead_letter_record,
};
pub use error::TransportError;
#[cfg(feature = "kafka")]
pub use kafka::KafkaBus;
pub use memory::MemoryBus;
pub use post_metrics::{PostCounters, SourceTally};
pub use ready::{readiness, Readiness};
pub use share::{AssignmentChange, CompactedLog, Membership, MembershipOptions, Release};
pub use watermark::{Held, PartitionWatermark};
