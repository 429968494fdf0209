//! The perceptions collection: young people's safety mapping — how many
//! participants marked each 100 m square red, amber or green, the areas
//! they marked and the routes they use or avoid. Anonymous; the privacy
//! rules are in `service::perceptions`.

use super::collection::{Answer, Collection, Description, Queryable, Request, Selection};
use super::cql2::Kind;
use crate::api::problem::Problem;
use crate::api::AppState;
use crate::domain::vocabulary::TimeOfDay;
use crate::service::perceptions::LayerQuery;

/// The perceptions collection.
pub struct Perceptions;

impl Collection for Perceptions {
    fn id(&self) -> &'static str {
        "perceptions"
    }

    fn describe(&self, state: &AppState) -> Description {
        Description {
            title: "Young people's safety mapping",
            description: "How many participants marked each 100 m square red, amber or green (kind=pin), the areas they marked (kind=area) and the routes they use or avoid (kind=route); time_of_day filters. Anonymous. Mapio diogelwch pobl ifanc.",
            bbox: Some(super::service_area(state)),
            temporal: false,
            more: Default::default(),
        }
    }

    fn parameters(&self) -> Vec<&'static str> {
        vec!["kind", "time_of_day"]
    }

    fn queryables(&self) -> Vec<Queryable> {
        vec![
            Queryable::geometry(),
            Queryable::new("rating", Kind::Text, "Red, amber or green (areas)")
                .codes(vec!["red", "amber", "green"]),
            Queryable::new("route_use", Kind::Text, "Used or avoided (routes)")
                .codes(vec!["used", "avoided"]),
            Queryable::new(
                "red",
                Kind::Number,
                "Participants who marked the square red",
            ),
            Queryable::new(
                "amber",
                Kind::Number,
                "Participants who marked the square amber",
            ),
            Queryable::new(
                "green",
                Kind::Number,
                "Participants who marked the square green",
            ),
            Queryable::new(
                "participants",
                Kind::Number,
                "Participants who marked the square",
            ),
        ]
    }

    fn disclosed_as(&self) -> &'static str {
        "perceptions-layer"
    }

    fn select<'a>(&'a self, request: &'a Request<'a>) -> Answer<'a, Selection> {
        Box::pin(async move {
            let mut layer = LayerQuery {
                bbox: request.query.filter.bbox,
                ..LayerQuery::default()
            };
            for (name, value) in &request.query.extra {
                let codes = value.split(',').map(str::trim).filter(|c| !c.is_empty());
                match name.as_str() {
                    "kind" => {
                        for k in codes {
                            if !matches!(k, "pin" | "area" | "route") {
                                return Err(Problem::bad_parameter(
                                    "not-in-vocabulary",
                                    "kind",
                                    "pin, area or route",
                                ));
                            }
                            layer.kinds.insert(k.to_owned());
                        }
                    }
                    "time_of_day" => {
                        for t in codes {
                            layer.times.push(TimeOfDay::from_code(t).ok_or_else(|| {
                                Problem::bad_parameter(
                                    "not-in-vocabulary",
                                    "time_of_day",
                                    "a time of day from /api/vocabulary",
                                )
                            })?);
                        }
                    }
                    // Queryables given as parameters: the collection's filter.
                    _ => {}
                }
            }
            request
                .state
                .charge(request.viewer, crate::service::budget::Kind::Aggregate)
                .await?;
            let features = request
                .state
                .perceptions
                .layer(request.viewer, &layer)
                .await?;
            Ok(Selection::of(features))
        })
    }
}
