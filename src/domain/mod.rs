//! Domain types: what the users talk about, validated once at the edge.

pub mod lint;
pub mod observation;
pub mod time;
pub mod viewer;
pub mod vocabulary;
