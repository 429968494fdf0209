//! The places register: premises and spaces observations link to, with
//! what a licensing officer or panel needs to know about each — its licence,
//! the place manager's role, safeguarding training and safe-place scheme
//! membership — and the checks a new or edited entry, or an imported file,
//! must pass.

use serde::{Deserialize, Serialize};

use super::lint::lint;
use super::observation::{FieldError, LonLat, ValidationRules};
use super::vocabulary::{PlaceKind, TrainingStatus};

/// Longest name, address or role accepted, in characters.
const MAX_TEXT: usize = 200;
/// Longest licence or source reference, in characters.
const MAX_REFERENCE: usize = 64;

/// What the register says about a place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaceDetails {
    /// English name.
    pub name_en: String,
    /// Welsh name (the English one when a source has none).
    pub name_cy: String,
    /// What kind of place.
    pub kind: PlaceKind,
    /// Where, WGS84.
    pub location: LonLat,
    /// Street address, free text.
    pub address: String,
    /// Premises licence reference, for licensed places.
    pub licence_reference: Option<String>,
    /// The place manager's role ("designated premises supervisor"), never
    /// a person's name.
    pub manager_role: String,
    /// Safeguarding training of the staff.
    pub training: TrainingStatus,
    /// Member of a safe-place scheme.
    pub safe_place: bool,
}

/// A registered place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Place {
    /// Id.
    pub id: i64,
    /// The register entry.
    #[serde(flatten)]
    pub details: PlaceDetails,
    /// Where an imported place came from (its reference in the source).
    pub source_ref: Option<String>,
    /// Edit counter, for optimistic concurrency.
    pub version: i64,
    /// When added (RFC 3339).
    pub created_at: String,
    /// When last changed (RFC 3339).
    pub updated_at: String,
    /// Who last changed it (principal).
    pub updated_by: String,
}

/// A place as a client sends it (create, edit and each imported row).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceInput {
    /// English name.
    #[serde(default)]
    pub name_en: String,
    /// Welsh name; the English one when absent.
    #[serde(default)]
    pub name_cy: Option<String>,
    /// Kind code.
    #[serde(default)]
    pub kind: String,
    /// Longitude, degrees.
    #[serde(default)]
    pub longitude: Option<f64>,
    /// Latitude, degrees.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Street address.
    #[serde(default)]
    pub address: Option<String>,
    /// Premises licence reference.
    #[serde(default)]
    pub licence_reference: Option<String>,
    /// The place manager's role.
    #[serde(default)]
    pub manager_role: Option<String>,
    /// Training status code; "not-known" when absent.
    #[serde(default)]
    pub training: Option<String>,
    /// Safe-place scheme member.
    #[serde(default)]
    pub safe_place: Option<bool>,
    /// The version being edited (edits only).
    #[serde(default)]
    pub version: Option<i64>,
    /// The place's reference in an imported file.
    #[serde(default, rename = "ref")]
    pub source_ref: Option<String>,
}

fn text(errors: &mut Vec<FieldError>, field: &str, value: &str, required: bool) -> String {
    let value = value.trim();
    if (required && value.is_empty()) || value.chars().count() > MAX_TEXT {
        errors.push(FieldError::new(
            field,
            "invalid-length",
            format!("{} to {MAX_TEXT} characters", if required { 1 } else { 0 }),
        ));
    }
    value.to_owned()
}

fn reference(errors: &mut Vec<FieldError>, field: &str, value: Option<&str>) -> Option<String> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    if value.chars().count() > MAX_REFERENCE || value.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            "invalid-reference",
            format!("at most {MAX_REFERENCE} printable characters"),
        ));
    }
    Some(value.to_owned())
}

impl PlaceInput {
    /// Checks the input against `rules`; every fault is reported, with its
    /// field prefixed by `at` (e.g. `features[3].`), and nothing is kept
    /// when there is one.
    pub fn validate(
        &self,
        rules: &ValidationRules,
        at: &str,
    ) -> Result<PlaceDetails, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name_en = text(&mut errors, "name_en", &self.name_en, true);
        let name_cy = match self.name_cy.as_deref().map(str::trim) {
            Some(cy) if !cy.is_empty() => text(&mut errors, "name_cy", cy, true),
            _ => name_en.clone(),
        };
        let kind = PlaceKind::from_code(self.kind.trim());
        if kind.is_none() {
            errors.push(FieldError::new(
                "kind",
                "not-in-vocabulary",
                "kind must be a place kind from /api/vocabulary",
            ));
        }
        let location = match (self.longitude, self.latitude) {
            (Some(lon), Some(lat)) => rules.location(lon, lat, &mut errors),
            _ => {
                errors.push(FieldError::new(
                    if self.longitude.is_none() {
                        "longitude"
                    } else {
                        "latitude"
                    },
                    "missing-field",
                    "a place needs a longitude and a latitude",
                ));
                None
            }
        };
        let address = text(
            &mut errors,
            "address",
            self.address.as_deref().unwrap_or(""),
            false,
        );
        let licence_reference = reference(
            &mut errors,
            "licence_reference",
            self.licence_reference.as_deref(),
        );
        let manager_role = text(
            &mut errors,
            "manager_role",
            self.manager_role.as_deref().unwrap_or(""),
            false,
        );
        // A role, not a person: the register is read by every panel.
        if !lint("manager_role", &manager_role).is_empty() {
            errors.push(FieldError::new(
                "manager_role",
                "looks-like-personal-data",
                "give the place manager's role (e.g. designated premises supervisor), not a name or contact details",
            ));
        }
        let training = match self.training.as_deref().map(str::trim) {
            None | Some("") => Some(TrainingStatus::NotKnown),
            Some(code) => TrainingStatus::from_code(code),
        };
        if training.is_none() {
            errors.push(FieldError::new(
                "training",
                "not-in-vocabulary",
                "training must be a training status from /api/vocabulary",
            ));
        }
        match (kind, location, training) {
            (Some(kind), Some(location), Some(training)) if errors.is_empty() => Ok(PlaceDetails {
                name_en,
                name_cy,
                kind,
                location,
                address,
                licence_reference,
                manager_role,
                training,
                safe_place: self.safe_place.unwrap_or(false),
            }),
            _ => {
                for e in &mut errors {
                    e.field = format!("{at}{}", e.field);
                }
                Err(errors)
            }
        }
    }
}

/// One place read from an import file, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedPlace {
    /// Its reference in the file, or one made from its licence, or from
    /// its kind, name and position, so that importing the same file again
    /// updates each place rather than adding it twice.
    pub source_ref: String,
    /// What the register will say.
    pub details: PlaceDetails,
}

impl ImportedPlace {
    fn from_input(
        input: &PlaceInput,
        details: PlaceDetails,
        errors: &mut Vec<FieldError>,
        at: &str,
    ) -> Self {
        let given = reference(errors, &format!("{at}ref"), input.source_ref.as_deref());
        let source_ref = given
            .or_else(|| {
                details
                    .licence_reference
                    .as_ref()
                    .map(|l| format!("licence:{l}"))
            })
            .unwrap_or_else(|| {
                format!(
                    "{}:{:.5},{:.5}:{}",
                    details.kind.code(),
                    details.location.lon,
                    details.location.lat,
                    details.name_en.to_lowercase()
                )
            });
        ImportedPlace {
            source_ref,
            details,
        }
    }
}

/// The most rows one import takes.
pub const MAX_IMPORT_ROWS: usize = 20_000;

/// Reads places from GeoJSON (a FeatureCollection of Points whose
/// properties are [`PlaceInput`]'s fields, `name` accepted for `name_en`)
/// or CSV (a header row naming the same fields, with `longitude` and
/// `latitude` columns). Every row is checked; any fault refuses the whole
/// file, with each fault's row in its field (`features[3].kind`,
/// `rows[3].kind`), so an import is all or nothing.
pub fn parse_import(
    text: &str,
    rules: &ValidationRules,
) -> Result<Vec<ImportedPlace>, Vec<FieldError>> {
    let trimmed = text.trim_start();
    let inputs = if trimmed.starts_with('{') {
        geojson_inputs(trimmed)?
    } else {
        csv_inputs(text)?
    };
    if inputs.len() > MAX_IMPORT_ROWS {
        return Err(vec![FieldError::new(
            "file",
            "too-many-rows",
            format!("at most {MAX_IMPORT_ROWS} places per import"),
        )]);
    }
    let mut errors = Vec::new();
    let mut places = Vec::with_capacity(inputs.len());
    let mut seen = std::collections::HashSet::new();
    for (at, input) in &inputs {
        match input.validate(rules, at) {
            Ok(details) => {
                let place = ImportedPlace::from_input(input, details, &mut errors, at);
                if !seen.insert(place.source_ref.clone()) {
                    errors.push(FieldError::new(
                        format!("{at}ref"),
                        "duplicate-reference",
                        format!(
                            "the reference {} appears twice in the file",
                            place.source_ref
                        ),
                    ));
                }
                places.push(place);
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(places)
    } else {
        Err(errors)
    }
}

fn file_error(code: &'static str, message: impl Into<String>) -> Vec<FieldError> {
    vec![FieldError::new("file", code, message)]
}

fn geojson_inputs(text: &str) -> Result<Vec<(String, PlaceInput)>, Vec<FieldError>> {
    let collection: geojson::FeatureCollection = text
        .parse::<geojson::GeoJson>()
        .ok()
        .and_then(|g| geojson::FeatureCollection::try_from(g).ok())
        .ok_or_else(|| file_error("invalid-geojson", "expected a GeoJSON FeatureCollection"))?;
    let mut out = Vec::with_capacity(collection.features.len());
    let mut errors = Vec::new();
    for (i, feature) in collection.features.into_iter().enumerate() {
        let at = format!("features[{i}].");
        let mut properties = feature.properties.unwrap_or_default();
        if let Some(name) = properties.remove("name") {
            properties.entry("name_en").or_insert(name);
        }
        if !properties.contains_key("ref") {
            if let Some(id) = &feature.id {
                let id = match id {
                    geojson::feature::Id::String(s) => s.clone(),
                    geojson::feature::Id::Number(n) => n.to_string(),
                };
                properties.insert("ref".into(), serde_json::Value::String(id));
            }
        }
        let point = match feature.geometry.map(|g| g.value) {
            Some(geojson::Value::Point(p)) if matches!(p.len(), 2 | 3) => Some((p[0], p[1])),
            _ => {
                errors.push(FieldError::new(
                    format!("{at}geometry"),
                    "not-a-point",
                    "each place is a Point of two or three numbers",
                ));
                None
            }
        };
        match serde_json::from_value::<PlaceInput>(serde_json::Value::Object(properties)) {
            Ok(mut input) => {
                if let Some((lon, lat)) = point {
                    input.longitude = Some(lon);
                    input.latitude = Some(lat);
                    out.push((at, input));
                }
            }
            Err(e) => errors.push(FieldError::new(
                format!("{at}properties"),
                "invalid-properties",
                e.to_string(),
            )),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn csv_inputs(text: &str) -> Result<Vec<(String, PlaceInput)>, Vec<FieldError>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| file_error("invalid-csv", e.to_string()))?
        .clone();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let at = format!("rows[{}].", i + 1);
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(FieldError::new(
                    format!("{at}row"),
                    "invalid-csv",
                    e.to_string(),
                ));
                continue;
            }
        };
        let mut object = serde_json::Map::new();
        for (name, value) in headers.iter().zip(record.iter()) {
            if value.is_empty() {
                continue;
            }
            let name = if name == "name" { "name_en" } else { name };
            let value = match name {
                "longitude" | "latitude" => match value.parse::<f64>() {
                    Ok(v) => serde_json::json!(v),
                    Err(_) => {
                        errors.push(FieldError::new(
                            format!("{at}{name}"),
                            "invalid-number",
                            "a decimal number of degrees",
                        ));
                        continue;
                    }
                },
                "safe_place" => match value.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "y" | "1" | "ie" => serde_json::Value::Bool(true),
                    "false" | "no" | "n" | "0" | "na" => serde_json::Value::Bool(false),
                    _ => {
                        errors.push(FieldError::new(
                            format!("{at}safe_place"),
                            "invalid-boolean",
                            "yes or no",
                        ));
                        continue;
                    }
                },
                _ => serde_json::Value::String(value.to_owned()),
            };
            object.insert(name.to_owned(), value);
        }
        match serde_json::from_value::<PlaceInput>(serde_json::Value::Object(object)) {
            Ok(input) => out.push((at, input)),
            Err(e) => errors.push(FieldError::new(
                format!("{at}row"),
                "invalid-columns",
                e.to_string(),
            )),
        }
    }
    if errors.is_empty() {
        Ok(out)
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

    #[test]
    fn a_csv_row_with_a_bad_kind_refuses_the_file_naming_the_row() {
        let csv = "ref,name_en,kind,longitude,latitude\nA1,The Anchor,licensed-premises,-2.99,51.58\nA2,Chip shop,chippy,-2.99,51.58\n";
        let errors = parse_import(csv, &rules()).expect_err("refused");
        assert_eq!(errors[0].field, "rows[2].kind");
    }

    #[test]
    fn a_place_without_a_reference_gets_one_from_its_licence() {
        let csv = "name,kind,longitude,latitude,licence_reference,safe_place\nThe Anchor,licensed-premises,-2.99,51.58,PL/0001,yes\n";
        let places = parse_import(csv, &rules()).expect("accepted");
        assert_eq!(places[0].source_ref, "licence:PL/0001");
        assert!(places[0].details.safe_place);
        assert_eq!(places[0].details.name_cy, "The Anchor");
    }

    #[test]
    fn a_manager_named_rather_than_described_is_refused() {
        let input = PlaceInput {
            name_en: "The Anchor".into(),
            kind: "licensed-premises".into(),
            longitude: Some(-2.99),
            latitude: Some(51.58),
            manager_role: Some("Mr John Smith 07700 900123".into()),
            ..PlaceInput::default()
        };
        let errors = input.validate(&rules(), "").expect_err("refused");
        assert_eq!(errors[0].code, "looks-like-personal-data");
    }
}
