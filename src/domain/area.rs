//! Areas: wards, LSOAs, neighbourhoods or shapes drawn by hand, used to
//! scope exercises and to count observations. Boundary files are read with
//! their codes and both names: ONS files name their fields `WD13CD`,
//! `WD13NM`, `WD13NMW` (code, English, Welsh) and so on, and those are
//! found without being told.

use geo::{BoundingRect, MultiPolygon, Polygon};
use serde::Deserialize;

use super::observation::{FieldError, ValidationRules};
use super::vocabulary::AreaKind;

/// Most positions one area may have (a detailed ward has a few thousand).
pub const MAX_POSITIONS: usize = 200_000;
/// Most areas one import takes.
pub const MAX_AREAS: usize = 5_000;

/// An area ready to store: checked, with its bounding box.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaShape {
    /// What kind of area.
    pub kind: AreaKind,
    /// Its code in the source (ONS GSS code), or one made for a drawn area.
    pub code: String,
    /// English name.
    pub name_en: String,
    /// Welsh name (the English one when the source has none).
    pub name_cy: String,
    /// The shape, WGS84.
    pub geometry: MultiPolygon<f64>,
}

impl AreaShape {
    /// `[min_lon, min_lat, max_lon, max_lat]`.
    pub fn bbox(&self) -> [f64; 4] {
        self.geometry
            .bounding_rect()
            .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
            .unwrap_or([0.0; 4])
    }

    /// The shape as GeoJSON text (a MultiPolygon).
    pub fn geometry_json(&self) -> String {
        geojson::Geometry::new(geojson::Value::from(&self.geometry)).to_string()
    }
}

/// Reads a stored or sent GeoJSON Polygon or MultiPolygon whose rings are
/// closed (RFC 7946 §3.1.6; `geo` would close them silently).
pub fn multipolygon(value: &geojson::Geometry) -> Option<MultiPolygon<f64>> {
    let closed = |rings: &Vec<Vec<Vec<f64>>>| {
        rings
            .iter()
            .all(|ring| ring.len() >= 4 && ring.first() == ring.last())
    };
    let ok = match &value.value {
        geojson::Value::Polygon(rings) => closed(rings),
        geojson::Value::MultiPolygon(polygons) => polygons.iter().all(closed),
        _ => false,
    };
    if !ok {
        return None;
    }
    match &value.value {
        geojson::Value::Polygon(_) => Polygon::<f64>::try_from(value.value.clone())
            .ok()
            .map(|p| MultiPolygon(vec![p])),
        geojson::Value::MultiPolygon(_) => MultiPolygon::<f64>::try_from(value.value.clone()).ok(),
        _ => None,
    }
}

/// What an area's shape must be, its faults reported against `field`.
fn shape_rules<'a>(rules: &ValidationRules, field: &'a str) -> super::geometry::Rules<'a> {
    super::geometry::Rules {
        field,
        kinds: &[
            super::geometry::Kind::Polygon,
            super::geometry::Kind::MultiPolygon,
        ],
        expected: "a GeoJSON Polygon or MultiPolygon",
        max_positions: MAX_POSITIONS,
        area: rules.service_area,
    }
}

/// Reads a drawn shape a client sent as GeoJSON (a Polygon or
/// MultiPolygon) and checks it as every area is checked
/// ([`super::geometry`]); faults go to `field`.
pub fn drawn_shape(
    value: &serde_json::Value,
    rules: &ValidationRules,
    field: &str,
) -> Result<MultiPolygon<f64>, Vec<FieldError>> {
    let geometry = super::geometry::read(value, &shape_rules(rules, field)).map_err(|f| vec![f])?;
    multipolygon(&geometry).ok_or_else(|| {
        vec![FieldError::new(
            field,
            "invalid-geometry",
            "a GeoJSON Polygon or MultiPolygon",
        )]
    })
}

fn name(errors: &mut Vec<FieldError>, field: &str, value: &str) -> String {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > 200 {
        errors.push(FieldError::new(
            field,
            "invalid-length",
            "1 to 200 characters",
        ));
    }
    value.to_owned()
}

/// A drawn area as a client sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawnArea {
    /// English name.
    #[serde(default)]
    pub name_en: String,
    /// Welsh name; the English one when absent.
    #[serde(default)]
    pub name_cy: Option<String>,
    /// A GeoJSON Polygon or MultiPolygon.
    pub geometry: serde_json::Value,
}

impl DrawnArea {
    /// Checks the drawn area; its code is made from `code` (the store
    /// gives each drawn area the next number).
    pub fn validate(
        &self,
        rules: &ValidationRules,
        code: String,
    ) -> Result<AreaShape, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name_en = name(&mut errors, "name_en", &self.name_en);
        let name_cy = match self.name_cy.as_deref().map(str::trim) {
            Some(cy) if !cy.is_empty() => name(&mut errors, "name_cy", cy),
            _ => name_en.clone(),
        };
        let geometry = drawn_shape(&self.geometry, rules, "geometry")
            .map_err(|faults| errors.extend(faults))
            .ok();
        match geometry {
            Some(geometry) if errors.is_empty() => Ok(AreaShape {
                kind: AreaKind::Drawn,
                code,
                name_en,
                name_cy,
                geometry,
            }),
            _ => Err(errors),
        }
    }
}

/// Which property holds what, found from an ONS-style file's field names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fields {
    code: String,
    name_en: String,
    name_cy: Option<String>,
    kind: Option<AreaKind>,
}

fn fields(properties: &serde_json::Map<String, serde_json::Value>) -> Option<Fields> {
    let keys: Vec<&String> = properties.keys().collect();
    let find = |suffix: &str| {
        keys.iter()
            .find(|k| k.to_ascii_uppercase().ends_with(suffix) && k.len() > suffix.len())
            .map(|k| (*k).clone())
    };
    if let Some(code) = find("CD") {
        let prefix = &code[..code.len() - 2];
        let name_en = keys
            .iter()
            .find(|k| k.eq_ignore_ascii_case(&format!("{prefix}NM")))
            .map(|k| (*k).clone())?;
        let name_cy = keys
            .iter()
            .find(|k| k.eq_ignore_ascii_case(&format!("{prefix}NMW")))
            .map(|k| (*k).clone());
        // "WD13", "LSOA11", "LAD13": the letters say what kind of area.
        let letters: String = prefix
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        let kind = match letters.to_ascii_uppercase().as_str() {
            "WD" => Some(AreaKind::Ward),
            "LSOA" => Some(AreaKind::Lsoa),
            "MSOA" => Some(AreaKind::Msoa),
            "OA" => Some(AreaKind::OutputArea),
            "LAD" | "CTYUA" | "UA" => Some(AreaKind::LocalAuthority),
            "PCON" | "NAWC" => Some(AreaKind::Constituency),
            _ => None,
        };
        return Some(Fields {
            code,
            name_en,
            name_cy,
            kind,
        });
    }
    let has = |k: &str| properties.contains_key(k);
    (has("code") && (has("name_en") || has("name"))).then(|| Fields {
        code: "code".into(),
        name_en: if has("name_en") { "name_en" } else { "name" }.into(),
        name_cy: has("name_cy").then(|| "name_cy".into()),
        kind: properties
            .get("kind")
            .and_then(|k| k.as_str())
            .and_then(AreaKind::from_code),
    })
}

/// Reads a boundary file: a GeoJSON FeatureCollection of Polygons or
/// MultiPolygons in WGS84. `kind` overrides what the field names suggest.
/// All or nothing: any fault refuses the file, naming the feature.
pub fn parse_boundaries(
    text: &str,
    kind: Option<AreaKind>,
    rules: &ValidationRules,
) -> Result<Vec<AreaShape>, Vec<FieldError>> {
    let file_error = |code, message: &str| vec![FieldError::new("file", code, message)];
    let json: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| file_error("invalid-geojson", "expected a GeoJSON FeatureCollection"))?;
    // Files that say they are in another CRS (British National Grid) would
    // land in the sea off Africa: refuse them by name.
    if let Some(crs) = json
        .pointer("/crs/properties/name")
        .and_then(|v| v.as_str())
    {
        if !(crs.ends_with("CRS84") || crs.ends_with("4326")) {
            return Err(file_error(
                "unsupported-crs",
                "the file must be in WGS84 longitude/latitude (CRS84), as RFC 7946 GeoJSON is",
            ));
        }
    }
    let collection = geojson::FeatureCollection::from_json_value(json)
        .map_err(|_| file_error("invalid-geojson", "expected a GeoJSON FeatureCollection"))?;
    if collection.features.len() > MAX_AREAS {
        return Err(file_error(
            "too-many-areas",
            "at most 5,000 areas per import",
        ));
    }
    let mut errors = Vec::new();
    let mut areas = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, feature) in collection.features.iter().enumerate() {
        let at = format!("features[{i}]");
        let properties = feature.properties.clone().unwrap_or_default();
        let Some(found) = fields(&properties) else {
            errors.push(FieldError::new(
                format!("{at}.properties"),
                "unknown-fields",
                "expected ONS fields (e.g. WD13CD, WD13NM, WD13NMW) or code, name_en and name_cy",
            ));
            continue;
        };
        let text_of = |key: &str| {
            properties.get(key).map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        let code = text_of(&found.code).unwrap_or_default().trim().to_owned();
        if code.is_empty() || code.len() > 64 {
            errors.push(FieldError::new(
                format!("{at}.properties.{}", found.code),
                "invalid-code",
                "1 to 64 characters",
            ));
        }
        let name_en = name(
            &mut errors,
            &format!("{at}.properties.{}", found.name_en),
            &text_of(&found.name_en).unwrap_or_default(),
        );
        let name_cy = found
            .name_cy
            .as_deref()
            .and_then(text_of)
            .filter(|cy| !cy.trim().is_empty())
            .map(|cy| cy.trim().to_owned())
            .unwrap_or_else(|| name_en.clone());
        let Some(kind) = kind.or(found.kind) else {
            errors.push(FieldError::new(
                "kind",
                "unknown-area-kind",
                "say what kind of area the file holds (ward, lsoa, …)",
            ));
            return Err(errors);
        };
        let field = format!("{at}.geometry");
        let geometry = match &feature.geometry {
            Some(g) => match super::geometry::check(g, &shape_rules(rules, &field)) {
                Ok(()) => multipolygon(g),
                Err(fault) => {
                    errors.push(fault);
                    None
                }
            },
            None => {
                errors.push(FieldError::new(
                    field,
                    "invalid-geometry",
                    "each area is a Polygon or MultiPolygon",
                ));
                None
            }
        };
        if !seen.insert(code.clone()) {
            errors.push(FieldError::new(
                format!("{at}.properties.{}", found.code),
                "duplicate-code",
                format!("{code} appears twice"),
            ));
        }
        if let Some(geometry) = geometry {
            areas.push(AreaShape {
                kind,
                code,
                name_en,
                name_cy,
                geometry,
            });
        }
    }
    if errors.is_empty() {
        Ok(areas)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> ValidationRules {
        ValidationRules::new(ValidationRules::WALES, 365)
    }

    const WARD: &str = r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},
      "features":[{"type":"Feature","properties":{"WD13CD":"W05000001","WD13CDO":"00X","WD13NM":"Riverside","WD13NMW":"Glan yr Afon"},
      "geometry":{"type":"Polygon","coordinates":[[[-3.0,51.58],[-2.99,51.58],[-2.99,51.59],[-3.0,51.59],[-3.0,51.58]]]}}]}"#;

    #[test]
    fn ons_fields_give_the_code_both_names_and_the_kind() {
        let areas = parse_boundaries(WARD, None, &rules()).expect("accepted");
        assert_eq!(areas[0].kind, AreaKind::Ward);
        assert_eq!(areas[0].code, "W05000001");
        assert_eq!(
            (areas[0].name_en.as_str(), areas[0].name_cy.as_str()),
            ("Riverside", "Glan yr Afon")
        );
    }

    #[test]
    fn a_file_in_british_national_grid_is_refused() {
        let bng = WARD.replace(
            "urn:ogc:def:crs:OGC:1.3:CRS84",
            "urn:ogc:def:crs:EPSG::27700",
        );
        assert_eq!(
            parse_boundaries(&bng, None, &rules()).expect_err("refused")[0].code,
            "unsupported-crs"
        );
    }

    #[test]
    fn an_open_ring_is_refused_naming_the_feature() {
        let open = WARD.replace("[-3.0,51.59],[-3.0,51.58]]]", "[-3.0,51.59]]]");
        let errors = parse_boundaries(&open, None, &rules()).expect_err("refused");
        assert_eq!(errors[0].field, "features[0].geometry");
    }
}
