//! Domain types: what the users talk about, validated once at the edge.

pub mod account;
pub mod area;
pub mod audit;
pub mod crs;
pub mod exercise;
pub mod geometry;
pub mod lint;
pub mod observation;
pub mod perception;
pub mod place;
pub mod text;
pub mod time;
pub mod viewer;
pub mod vocabulary;
