//! The clusters collection: DBSCAN over what the viewer is shown, as
//! convex hulls with their counts (small ones withheld below coordinator),
//! run on the bounded analysis pool.

use super::collection::{Answer, Collection, Description, Queryable, Request, Selection};
use super::cql2::Kind;
use crate::api::analysis::cluster_selection;
use crate::api::features::OBSERVATION_FILTERS;
use crate::api::AppState;

/// The clusters collection.
pub struct Clusters;

impl Collection for Clusters {
    fn id(&self) -> &'static str {
        "clusters"
    }

    fn describe(&self, state: &AppState) -> Description {
        Description {
            title: "Clusters (DBSCAN)",
            description: "DBSCAN clusters of observations (eps metres, min points) as convex hulls. Clystyrau.",
            bbox: Some(super::service_area(state)),
            temporal: true,
            more: Default::default(),
        }
    }

    fn parameters(&self) -> Vec<&'static str> {
        [OBSERVATION_FILTERS, &["eps", "min"]].concat()
    }

    fn queryables(&self) -> Vec<Queryable> {
        vec![
            Queryable::geometry(),
            Queryable::new("cluster", Kind::Number, "The cluster's number"),
            Queryable::new(
                "count",
                Kind::Number,
                "Observations in it (null when withheld)",
            ),
            Queryable::new("suppressed", Kind::Bool, "Whether the count is withheld"),
            Queryable::new("first_observed", Kind::Time, "Its first observation"),
            Queryable::new("last_observed", Kind::Time, "Its last observation"),
        ]
    }

    fn disclosed_as(&self) -> &'static str {
        "clusters-layer"
    }

    fn select<'a>(&'a self, request: &'a Request<'a>) -> Answer<'a, Selection> {
        Box::pin(cluster_selection(
            request.state,
            request.viewer,
            &request.query,
        ))
    }
}
