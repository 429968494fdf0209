//! The places collection: the register of premises and spaces (licensed
//! premises, takeaways, hotels, parks, schools, youth provision …), with
//! licence, training and safe-place scheme membership. No observations.

use serde_json::json;

use super::collection::{Answer, Collection, Description, Queryable, Request, Selection};
use super::cql2::Kind;
use crate::api::problem::Problem;
use crate::api::AppState;
use crate::domain::vocabulary::PlaceKind;

/// The places collection.
pub struct Places;

impl Collection for Places {
    fn id(&self) -> &'static str {
        "places"
    }

    fn describe(&self, state: &AppState) -> Description {
        Description {
            title: "Places register",
            description: "Premises and spaces — licensed premises, takeaways, hotels, taxi ranks, parks, schools, youth provision, transport hubs — with licence, training and safe-place scheme membership (kind=…). Cofrestr lleoedd.",
            bbox: Some(super::service_area(state)),
            temporal: false,
            more: Default::default(),
        }
    }

    fn parameters(&self) -> Vec<&'static str> {
        vec!["kind"]
    }

    fn queryables(&self) -> Vec<Queryable> {
        vec![
            Queryable::geometry(),
            Queryable::new("name_en", Kind::Text, "Name"),
            Queryable::new("name_cy", Kind::Text, "Enw"),
            Queryable::new("kind", Kind::Text, "Kind of place")
                .codes(PlaceKind::ALL.iter().map(|k| k.code()).collect()),
            Queryable::new("address", Kind::Text, "Address"),
            Queryable::new("safe_place", Kind::Bool, "In a safe-place scheme"),
        ]
    }

    fn disclosed_as(&self) -> &'static str {
        "places-layer"
    }

    fn select<'a>(&'a self, request: &'a Request<'a>) -> Answer<'a, Selection> {
        Box::pin(async move {
            let query = &request.query;
            let mut kinds = Vec::new();
            for (_, value) in query.extra.iter().filter(|(name, _)| name == "kind") {
                for code in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                    kinds.push(PlaceKind::from_code(code).ok_or_else(|| {
                        Problem::bad_parameter(
                            "not-in-vocabulary",
                            "kind",
                            format!("unknown place kind `{code}`"),
                        )
                    })?);
                }
            }
            let places = request.state.places.list(request.viewer).await?;
            let features = places
                .iter()
                .filter(|p| kinds.is_empty() || kinds.contains(&p.details.kind))
                .filter(|p| {
                    query.filter.bbox.is_none_or(|[x0, y0, x1, y1]| {
                        let l = p.details.location;
                        l.lon >= x0 && l.lon <= x1 && l.lat >= y0 && l.lat <= y1
                    })
                })
                .map(|p| {
                    let mut properties = serde_json::to_value(p).unwrap_or_default();
                    if let Some(o) = properties.as_object_mut() {
                        o.remove("location");
                    }
                    let at = p.details.location;
                    json!({
                        "type": "Feature",
                        "id": p.id,
                        "geometry": {"type": "Point", "coordinates": [at.lon, at.lat]},
                        "properties": properties,
                    })
                })
                .collect();
            Ok(Selection::of(features))
        })
    }
}
