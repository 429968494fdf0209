//! The integration suite. Every scenario runs twice, as `…::on_sqlite` and
//! `…::on_postgres`; the PostgreSQL half needs `SAFETYMAP_TEST_POSTGRES_URL`
//! (scripts/test provides it) and fails without it.

#[macro_use]
mod common;

mod alerts;
mod analysis;
mod areas;
mod attacks;
mod audit;
mod auth;
mod bng;
mod bounds;
mod collections;
mod exercises;
mod faults;
mod gdal;
mod geometry;
mod instances;
mod layers;
mod matrix;
mod mvt_decode;
mod operations;
mod people;
mod perceptions;
mod places;
mod retention;
mod shutdown;
mod stores;
mod web;
mod writes;
