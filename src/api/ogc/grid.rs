//! The grid collection: observation counts per British National Grid
//! square or hexagon, over what the viewer is shown, small counts withheld
//! below coordinator. A feature's id is its cell code.

use super::collection::{Answer, Collection, Description, Queryable, Request, Selection};
use super::cql2::Kind;
use crate::api::analysis::grid_selection;
use crate::api::features::OBSERVATION_FILTERS;
use crate::api::AppState;

/// The grid collection.
pub struct Grid;

/// What every grid cell can be filtered on (hot-spot cells add their
/// statistics).
pub(super) fn cell_queryables() -> Vec<Queryable> {
    vec![
        Queryable::geometry(),
        Queryable::new("cell", Kind::Text, "The cell's code"),
        Queryable::new(
            "count",
            Kind::Number,
            "Observations in it, as shown to you (null when withheld)",
        ),
        Queryable::new("suppressed", Kind::Bool, "Whether the count is withheld"),
    ]
}

impl Collection for Grid {
    fn id(&self) -> &'static str {
        "grid"
    }

    fn describe(&self, state: &AppState) -> Description {
        Description {
            title: "Observation counts on a grid",
            description: "Counts per British National Grid square or hexagon (cell=100|250|500, shape=square|hexagon) for any observation filter; counts below the small-count threshold read \"fewer than\" for roles below coordinator. Cyfrifon ar grid.",
            bbox: Some(super::service_area(state)),
            temporal: true,
            more: Default::default(),
        }
    }

    fn parameters(&self) -> Vec<&'static str> {
        [OBSERVATION_FILTERS, &["cell", "shape"]].concat()
    }

    fn queryables(&self) -> Vec<Queryable> {
        cell_queryables()
    }

    fn disclosed_as(&self) -> &'static str {
        "grid-layer"
    }

    fn select<'a>(&'a self, request: &'a Request<'a>) -> Answer<'a, Selection> {
        Box::pin(grid_selection(
            request.state,
            request.viewer,
            &request.query,
        ))
    }
}
