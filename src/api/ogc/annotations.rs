//! The exercise annotations collection: the points, lines and shapes
//! panels drew in their mapping exercises, with the note written on each.
//! Only the exercises the viewer may read (`service::exercises` decides)
//! contribute; an annotation is part of its exercise's meeting view.

use geo::BoundingRect;
use serde_json::json;

use super::collection::{Answer, Collection, Description, Queryable, Request, Selection};
use super::cql2::Kind;
use crate::api::AppState;
use crate::domain::time::{parse_instant, unix_millis};

/// The exercise annotations collection.
pub struct Annotations;

impl Collection for Annotations {
    fn id(&self) -> &'static str {
        "exercise-annotations"
    }

    fn describe(&self, state: &AppState) -> Description {
        Description {
            title: "Exercise annotations",
            description: "What panels drew in the mapping exercises you may see — points, routes and areas, each with its note and its exercise (exercise=ID). Anodiadau ymarferion mapio.",
            bbox: Some(super::service_area(state)),
            temporal: true,
            more: Default::default(),
        }
    }

    fn parameters(&self) -> Vec<&'static str> {
        vec!["exercise"]
    }

    fn queryables(&self) -> Vec<Queryable> {
        vec![
            Queryable::geometry(),
            Queryable::new("exercise_id", Kind::Number, "The exercise drawn in"),
            Queryable::new("exercise_title", Kind::Text, "The exercise's title"),
            Queryable::new("note", Kind::Text, "What the panel noted"),
            Queryable::new("created_at", Kind::Time, "When it was drawn"),
        ]
    }

    fn disclosed_as(&self) -> &'static str {
        "exercise-annotations"
    }

    fn select<'a>(&'a self, request: &'a Request<'a>) -> Answer<'a, Selection> {
        Box::pin(async move {
            let (state, query) = (request.state, &request.query);
            let mut exercises = Vec::new();
            for (_, value) in query.extra.iter().filter(|(name, _)| name == "exercise") {
                for id in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                    exercises.push(id.parse::<i64>().map_err(|_| {
                        crate::api::problem::Problem::bad_parameter(
                            "invalid-parameter",
                            "exercise",
                            "exercise ids, separated by commas",
                        )
                    })?);
                }
            }
            let drawn = state.exercises.annotations(request.viewer).await?;
            let features = drawn
                .into_iter()
                .filter(|(e, _)| exercises.is_empty() || exercises.contains(&e.id))
                .filter(|(_, a)| {
                    let at = parse_instant(&a.created_at).map(unix_millis);
                    let after = query.filter.from.is_none_or(|f| at.is_some_and(|t| t >= f));
                    let before = query.filter.to.is_none_or(|t0| at.is_some_and(|t| t <= t0));
                    after && before
                })
                .filter(|(_, a)| query.filter.bbox.is_none_or(|b| meets(&a.geometry, b)))
                .map(|(e, a)| {
                    json!({
                        "type": "Feature",
                        "id": a.id,
                        "geometry": a.geometry,
                        "properties": {
                            "exercise_id": e.id,
                            "exercise_title": e.title,
                            "note": a.note,
                            "created_at": a.created_at,
                        },
                    })
                })
                .collect();
            Ok(Selection::of(features))
        })
    }
}

/// Whether a drawn shape's envelope meets a box.
fn meets(geometry: &serde_json::Value, [x0, y0, x1, y1]: [f64; 4]) -> bool {
    let shape = geojson::Geometry::from_json_value(geometry.clone())
        .ok()
        .and_then(|g| geo::Geometry::<f64>::try_from(g).ok());
    shape
        .and_then(|g| g.bounding_rect())
        .is_some_and(|r| r.min().x <= x1 && r.max().x >= x0 && r.min().y <= y1 && r.max().y >= y0)
}
