//! The clusters collection: DBSCAN over what the viewer is shown, as
//! convex hulls with their counts (small ones withheld below coordinator),
//! run on the bounded analysis pool.

use super::collection::{Answer, Collection, Description, Request, Selection};
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
