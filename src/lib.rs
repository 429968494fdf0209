#![forbid(unsafe_code)]
// The OpenAPI document is one `json!` literal, deeper than the default 128.
#![recursion_limit = "256"]
//! safetymap: neighbourhood safety mapping for contextual safeguarding.
//!
//! Data flows one way (DESIGN.md §4): `api` parses and authenticates into
//! `domain` types, `service` writes to the `store` (the source of truth) and
//! then updates the derived `index`; reads run on the index, pass through
//! `privacy` for the viewer, and are serialised by `api`.

pub mod analysis;
pub mod api;
pub mod areas;
pub mod basemap;
pub mod bng;
pub mod cli;
pub mod clock;
pub mod demo;
pub mod domain;
pub mod exercise;
pub mod gazetteer;
pub mod import;
pub mod index;
pub mod mvt;
pub mod pack;
pub mod parsers;
pub mod privacy;
pub mod render;
pub mod security;
pub mod server;
pub mod service;
pub mod store;
pub mod telemetry;
