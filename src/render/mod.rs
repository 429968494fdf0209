//! Rendering what services compute: report pages. (Packs and vector tiles
//! are still in `pack.rs` and `mvt.rs`.)

pub mod download;
pub mod report;
