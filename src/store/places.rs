//! The places register (the part observations link to; the full register
//! with licences and training status builds on this).

use chrono::Utc;

use super::{Context, Store, StoreError};
use crate::domain::time::format_instant;
use crate::domain::vocabulary::SettingType;

/// A place to add to the register.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPlace {
    /// English name.
    pub name_en: String,
    /// Welsh name.
    pub name_cy: String,
    /// What kind of place.
    pub setting: SettingType,
    /// Longitude, WGS84 degrees.
    pub lon: f64,
    /// Latitude, WGS84 degrees.
    pub lat: f64,
}

impl Store {
    /// Adds a place and returns its id.
    pub async fn create_place(&self, place: &NewPlace) -> Result<i64, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO places (name_en, name_cy, setting, lon, lat, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&place.name_en)
        .bind(&place.name_cy)
        .bind(place.setting.code())
        .bind(place.lon)
        .bind(place.lat)
        .bind(format_instant(Utc::now()))
        .fetch_one(&self.pool)
        .await
        .ctx("adding a place")?;
        Ok(id)
    }

    /// How many places are registered.
    pub async fn count_places(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM places")
            .fetch_one(&self.pool)
            .await
            .ctx("counting places")
    }
}
