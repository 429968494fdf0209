//! The areas collection: wards, LSOAs, neighbourhoods and drawn areas, each
//! with the number of observations in it for the layer filter — counted at
//! the positions the viewer is shown, and below the small-count threshold
//! shown as "fewer than 5" to every role below coordinator.

use serde_json::json;

use super::collection::{Answer, Collection, Description, Queryable, Request, Selection};
use super::cql2::Kind;
use crate::analysis::Suppression;
use crate::api::features::OBSERVATION_FILTERS;
use crate::api::problem::Problem;
use crate::api::AppState;
use crate::areas::count_in;
use crate::domain::vocabulary::AreaKind;

/// The areas collection.
pub struct Areas;

impl Collection for Areas {
    fn id(&self) -> &'static str {
        "areas"
    }

    fn describe(&self, state: &AppState) -> Description {
        Description {
            title: "Areas, with observation counts",
            description: "Wards, LSOAs, neighbourhoods and drawn areas, each with the number of observations in it for any observation filter (kind=ward|lsoa|…); counts below the small-count threshold read \"fewer than\" for roles below coordinator. Ardaloedd, gyda chyfrifon.",
            bbox: Some(super::service_area(state)),
            temporal: false,
            more: Default::default(),
        }
    }

    fn parameters(&self) -> Vec<&'static str> {
        [OBSERVATION_FILTERS, &["kind"]].concat()
    }

    fn queryables(&self) -> Vec<Queryable> {
        vec![
            Queryable::geometry(),
            Queryable::new(
                "code",
                Kind::Text,
                "The area's code (an ONS code for wards and LSOAs)",
            ),
            Queryable::new("name_en", Kind::Text, "Name"),
            Queryable::new("name_cy", Kind::Text, "Enw"),
            Queryable::new(
                "count",
                Kind::Number,
                "Observations in it, as shown to you (null when withheld)",
            ),
            Queryable::new("suppressed", Kind::Bool, "Whether the count is withheld"),
        ]
    }

    fn disclosed_as(&self) -> &'static str {
        "areas"
    }

    fn select<'a>(&'a self, request: &'a Request<'a>) -> Answer<'a, Selection> {
        Box::pin(async move {
            let (state, viewer, query) = (request.state, request.viewer, &request.query);
            let mut kinds = Vec::new();
            for (_, list) in query.extra.iter().filter(|(name, _)| name == "kind") {
                for c in list.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                    kinds.push(AreaKind::from_code(c).ok_or_else(|| {
                        Problem::bad_parameter(
                            "not-in-vocabulary",
                            "kind",
                            format!("unknown area kind `{c}`"),
                        )
                    })?);
                }
            }
            state
                .charge(viewer, crate::service::budget::Kind::Aggregate)
                .await?;
            let suppression =
                Suppression::for_role(viewer.role, state.settings.small_count_threshold);
            let areas: Vec<_> = state
                .areas
                .snapshot()
                .iter()
                .filter(|a| kinds.is_empty() || kinds.contains(&a.kind))
                .filter(|a| query.filter.bbox.is_none_or(|b| a.meets(b)))
                .cloned()
                .collect();
            // Point-in-polygon over large shapes is seconds of CPU: on the
            // analysis pool, within its budget, never on an HTTP worker.
            let (work_state, work_viewer, filter) =
                (state.clone(), viewer.clone(), query.filter.clone());
            let counted = state
                .analysis
                .run("bbox", move |budget| {
                    let scope = work_state.index.scope(&work_viewer);
                    let mut counts = Vec::with_capacity(areas.len());
                    for area in &areas {
                        counts.push(count_in(&scope, area, &filter, budget)?);
                    }
                    Ok((areas, counts))
                })
                .await?;
            let features = counted
                .0
                .iter()
                .zip(counted.1)
                .map(|(a, n)| {
                    let mut properties = crate::api::areas::summary(a);
                    if let (Some(p), Ok(serde_json::Value::Object(c))) =
                        (properties.as_object_mut(), serde_json::to_value(suppression.view(n)))
                    {
                        p.remove("bbox");
                        p.extend(c);
                    }
                    json!({"type": "Feature", "id": a.id, "geometry": a.geometry, "bbox": a.bbox, "properties": properties})
                })
                .collect();
            let mut extra = serde_json::Map::new();
            extra.insert(
                "threshold".into(),
                json!(state.settings.small_count_threshold),
            );
            Ok(Selection::of(features).with(extra))
        })
    }
}
