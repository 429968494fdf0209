//! The hot-spots collection: Getis–Ord Gi\* on a grid over what the viewer
//! is shown, run on the bounded analysis pool; wherever a count is withheld
//! so are its z, p and class. A feature's id is its cell code.

use super::collection::{Answer, Collection, Description, Queryable, Request, Selection};
use super::cql2::Kind;
use crate::api::analysis::{hotspot_selection, HOTSPOT_PARAMETERS};
use crate::api::features::OBSERVATION_FILTERS;
use crate::api::AppState;

/// The hot-spots collection.
pub struct HotSpots;

impl Collection for HotSpots {
    fn id(&self) -> &'static str {
        "hotspots"
    }

    fn describe(&self, state: &AppState) -> Description {
        Description {
            title: "Hot and cold spots (Getis–Ord Gi*)",
            description: "Gi* z-scores, p-values and 90/95/99% classes on a grid (cell, shape, weights=distance|nearest, band, k, fdr). Mannau poeth ac oer.",
            bbox: Some(super::service_area(state)),
            temporal: true,
            more: Default::default(),
        }
    }

    fn parameters(&self) -> Vec<&'static str> {
        [OBSERVATION_FILTERS, HOTSPOT_PARAMETERS].concat()
    }

    fn queryables(&self) -> Vec<Queryable> {
        let mut queryables = super::grid::cell_queryables();
        queryables.extend([
            Queryable::new("z", Kind::Number, "Gi* z-score (null when withheld)"),
            Queryable::new("p", Kind::Number, "p-value (null when withheld)"),
            Queryable::new(
                "class",
                Kind::Number,
                "-3 … 3: cold or hot at 99, 95 or 90 %",
            ),
            Queryable::new("label", Kind::Text, "The class in words"),
        ]);
        queryables
    }

    fn disclosed_as(&self) -> &'static str {
        "hotspots-layer"
    }

    fn select<'a>(&'a self, request: &'a Request<'a>) -> Answer<'a, Selection> {
        Box::pin(hotspot_selection(
            request.state,
            request.viewer,
            &request.query,
        ))
    }
}
