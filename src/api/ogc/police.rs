//! The police.uk context layer as a collection: street-level crime at
//! police.uk's anonymised map points, by month, kept apart from
//! observations and always labelled with its source and licence.

use serde_json::json;

use super::collection::{Answer, Collection, Description, Queryable, Request, Selection};
use super::cql2::Kind;
use crate::api::features::link;
use crate::api::police::PoliceQuery;
use crate::api::AppState;
use crate::import::police::{month_text, type_code, ATTRIBUTION, ATTRIBUTION_CY};
use crate::index::police::PolicePoint;

/// The police.uk collection.
pub struct PoliceCrimes;

/// A crime's id: stable while the layer holds the same rows. police.uk
/// gives anti-social behaviour no crime id, and several crimes of a month
/// and type often share one anonymised point, so the id is the point's
/// month, type and position with the crime's place among those alike.
fn crime_id(p: &PolicePoint, type_code: &str, nth: u32) -> String {
    let [lon, lat] = p.position;
    format!(
        "{}.{type_code}.{:.5}.{:.5}.{nth}",
        month_text(p.month),
        lon,
        lat
    )
}

impl Collection for PoliceCrimes {
    fn id(&self) -> &'static str {
        "police-crimes"
    }

    fn describe(&self, state: &AppState) -> Description {
        let snapshot = state.police.snapshot();
        let months = snapshot.tree.iter().map(|p| p.month);
        let (first, last) = months.fold((u32::MAX, 0), |(a, b), m| (a.min(m), b.max(m)));
        let mut more = serde_json::Map::new();
        more.insert("attribution".into(), json!(ATTRIBUTION));
        more.insert("attribution_cy".into(), json!(ATTRIBUTION_CY));
        more.insert("license".into(), json!("OGL-UK-3.0"));
        if first <= last {
            more.insert(
                "months".into(),
                json!({ "first": month_text(first), "last": month_text(last) }),
            );
        }
        more.insert(
            "links".into(),
            json!([link(
                "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/".into(),
                "license",
                "text/html",
                "Open Government Licence v3.0"
            )]),
        );
        Description {
            title: "Recorded crime (police.uk) — context",
            description: "Street-level crime from data.police.uk, at police.uk's anonymised map points, by month (crime_type=…). A context layer: kept apart from observations. Troseddau a gofnodwyd (police.uk) — haen gyd-destun.",
            bbox: Some(super::service_area(state)),
            temporal: true,
            more,
        }
    }

    fn parameters(&self) -> Vec<&'static str> {
        vec!["crime_type"]
    }

    fn queryables(&self) -> Vec<Queryable> {
        vec![
            Queryable::geometry(),
            Queryable::new("crime_type", Kind::Text, "police.uk crime type (code)"),
            Queryable::new("crime_type_name", Kind::Text, "police.uk crime type"),
            Queryable::new("month", Kind::Time, "The month (YYYY-MM)"),
        ]
    }

    fn disclosed_as(&self) -> &'static str {
        "police-crimes-layer"
    }

    fn select<'a>(&'a self, request: &'a Request<'a>) -> Answer<'a, Selection> {
        Box::pin(async move {
            let snapshot = request.state.police.snapshot();
            // Months, not instants: the layer's own reading of its time
            // and type parameters (the rest are the collection's).
            let raw = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(
                    request
                        .query
                        .kept
                        .iter()
                        .filter(|(name, _)| matches!(name.as_str(), "datetime" | "crime_type")),
                )
                .finish();
            let mut query = PoliceQuery::parse(Some(&raw), &snapshot)?;
            // The box as the collection read it, in whatever CRS it came.
            query.bbox = request.query.filter.bbox;
            let mut matches: Vec<PolicePoint> = match query.bbox {
                Some([x0, y0, x1, y1]) => snapshot
                    .tree
                    .locate_in_envelope(&rstar::AABB::from_corners([x0, y0], [x1, y1]))
                    .filter(|p| query.keeps(p))
                    .copied()
                    .collect(),
                None => snapshot
                    .tree
                    .iter()
                    .filter(|p| query.keeps(p))
                    .copied()
                    .collect(),
            };
            // A stable order for paging and ids.
            matches.sort_unstable_by(|a, b| {
                (a.month, a.crime_type)
                    .cmp(&(b.month, b.crime_type))
                    .then(a.position[0].total_cmp(&b.position[0]))
                    .then(a.position[1].total_cmp(&b.position[1]))
            });
            // Each crime's place among those alike (same month, type and
            // point), counted once for the whole selection.
            let mut nth = vec![0u32; matches.len()];
            for i in 1..matches.len() {
                if matches[i - 1] == matches[i] {
                    nth[i] = nth[i - 1] + 1;
                }
            }
            let types = snapshot.types.clone();
            let mut extra = serde_json::Map::new();
            extra.insert("attribution".into(), json!(ATTRIBUTION));
            Ok(Selection::lazy(matches.len(), move |i| {
                let p = &matches[i];
                let name = types
                    .get(usize::from(p.crime_type))
                    .map_or("", String::as_str);
                let code = type_code(name);
                json!({
                    "type": "Feature",
                    "id": crime_id(p, &code, nth[i]),
                    "geometry": { "type": "Point", "coordinates": p.position },
                    "properties": {
                        "crime_type": code,
                        "crime_type_name": name,
                        "month": month_text(p.month),
                        "source": "police.uk",
                    }
                })
            })
            .with(extra))
        })
    }
}
