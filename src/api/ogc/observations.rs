//! The observations collection: the records the viewer may see, at their
//! shown positions, paged by id straight into one buffer; the full record
//! is the single-item read, audited as a consultation.

use std::io::Write;

use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::collection::{
    page_links, selected_page, single, with_crs, Answer, Collection, Description, Queryable,
    Request, Selection,
};
use super::cql2::Kind;
use crate::api::disclosure::{audited, disclosed};
use crate::api::features::{geojson_response, link, GEOJSON, OBSERVATION_FILTERS};
use crate::api::observations::parse_id;
use crate::api::problem::Problem;
use crate::api::AppState;
use crate::domain::crs::Crs;
use crate::domain::observation::ObservationId;
use crate::domain::vocabulary::{
    Category, DayKind, Sensitivity, SettingType, Severity, Status, TimeBand,
};
use crate::index::LayerFilter;
use crate::index::ShownObservation;
use crate::privacy::Precision;

/// The observations collection.
pub struct Observations;

#[derive(Serialize)]
struct PointGeometry {
    #[serde(rename = "type")]
    kind: &'static str,
    coordinates: [f64; 2],
}

/// Formats observed-at (milliseconds) without an intermediate string per feature.
struct LayerTime(i64);

impl Serialize for LayerTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = DateTime::from_timestamp_millis(self.0).unwrap_or_default();
        s.collect_str(&t.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
    }
}

#[derive(Serialize)]
struct LayerProperties<'a> {
    category: Category,
    setting: SettingType,
    severity: Severity,
    status: Status,
    sensitivity: Sensitivity,
    agency: &'a str,
    observed_at: LayerTime,
    time_band: TimeBand,
    day: DayKind,
    precision: Precision,
    /// For a generalised position: the 100 m square it stands for, so maps
    /// can draw the square rather than a pin.
    #[serde(skip_serializing_if = "Option::is_none")]
    cell: Option<[[f64; 2]; 5]>,
}

#[derive(Serialize)]
struct LayerFeature<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: i64,
    geometry: PointGeometry,
    properties: LayerProperties<'a>,
}

/// One bulk feature in `crs`; `o.position` is already the position as
/// shown. `None` where the CRS cannot express it.
fn layer_feature<'a>(
    o: &ShownObservation,
    agencies: &'a [String],
    crs: Crs,
) -> Option<LayerFeature<'a>> {
    let precision = o.precision;
    let cell = match precision {
        Precision::Generalised => crate::bng::square_outline(o.position[0], o.position[1], 100.0)
            .and_then(|ring| {
                let mut out = [[0.0; 2]; 5];
                for (to, from) in out.iter_mut().zip(ring) {
                    *to = crs.from_crs84(from)?;
                }
                Some(out)
            }),
        _ => None,
    };
    Some(LayerFeature {
        kind: "Feature",
        id: o.id,
        geometry: PointGeometry {
            kind: "Point",
            coordinates: crs.from_crs84(o.position)?,
        },
        properties: LayerProperties {
            category: o.category,
            setting: o.setting,
            severity: o.severity,
            status: o.status,
            sensitivity: o.sensitivity,
            agency: agencies
                .get(usize::from(o.agency))
                .map_or("", String::as_str),
            observed_at: LayerTime(o.observed_at),
            time_band: TimeBand::of_hour(o.local_hour),
            day: DayKind::of_weekday(o.local_weekday),
            precision,
            cell,
        },
    })
}

impl Observations {
    /// One record as the items show it, to this viewer.
    fn listed(&self, request: &Request<'_>, id: ObservationId) -> Result<Response, Problem> {
        let scope = request.state.index.scope(request.viewer);
        let agencies = scope.agency_names();
        let found = scope.page(&LayerFilter::default(), Some(id.0 - 1), 1);
        let shown = found
            .items
            .first()
            .filter(|o| o.id == id.0)
            .ok_or_else(Problem::not_found)?;
        let feature = layer_feature(shown, &agencies, Crs::Crs84)
            .map(serde_json::to_value)
            .transpose()
            .map_err(|_| Problem::internal())?
            .ok_or_else(Problem::not_found)?;
        single(
            self.id(),
            self.disclosed_as(),
            request,
            feature,
            &id.to_string(),
        )
    }
}

impl Collection for Observations {
    fn id(&self) -> &'static str {
        "observations"
    }

    fn describe(&self, state: &AppState) -> Description {
        let area = state.observations.rules().service_area;
        Description {
            title: "Observations",
            description:
                "Place-based safeguarding observations, at the precision your role allows. \
                          Arsylwadau diogelu, ar y manylder a ganiateir gan eich rôl.",
            bbox: Some([area.min().x, area.min().y, area.max().x, area.max().y]),
            temporal: true,
            more: Default::default(),
        }
    }

    fn parameters(&self) -> Vec<&'static str> {
        OBSERVATION_FILTERS.to_vec()
    }

    fn item_parameters(&self) -> Vec<&'static str> {
        vec!["purpose"]
    }

    fn queryables(&self) -> Vec<Queryable> {
        use crate::domain::vocabulary as v;
        fn codes<T: Copy>(all: &[T], code: fn(T) -> &'static str) -> Vec<&'static str> {
            all.iter().map(|t| code(*t)).collect()
        }
        vec![
            Queryable::geometry(),
            Queryable::new("category", Kind::Text, "Category")
                .codes(codes(v::Category::ALL, v::Category::code)),
            Queryable::new("setting", Kind::Text, "Setting")
                .codes(codes(v::SettingType::ALL, v::SettingType::code)),
            Queryable::new("severity", Kind::Text, "Severity")
                .codes(codes(v::Severity::ALL, v::Severity::code)),
            Queryable::new("status", Kind::Text, "Status")
                .codes(codes(v::Status::ALL, v::Status::code)),
            Queryable::new("sensitivity", Kind::Text, "Sensitivity")
                .codes(codes(v::Sensitivity::ALL, v::Sensitivity::code)),
            Queryable::new("agency", Kind::Text, "Recording agency (code)"),
            Queryable::new("observed_at", Kind::Time, "When it was seen"),
            Queryable::new("time_band", Kind::Text, "Band of the day, UK time")
                .codes(codes(v::TimeBand::ALL, v::TimeBand::code)),
            Queryable::new("day", Kind::Text, "Weekday or weekend, UK time")
                .codes(codes(v::DayKind::ALL, v::DayKind::code)),
            Queryable::new("precision", Kind::Text, "How precisely it is shown to you")
                .codes(vec!["exact", "bng-100m"]),
        ]
    }

    fn disclosed_as(&self) -> &'static str {
        "observations-layer"
    }

    fn select<'a>(&'a self, request: &'a Request<'a>) -> Answer<'a, Selection> {
        Box::pin(async move {
            let scope = request.state.index.scope(request.viewer);
            let agencies = scope.agency_names();
            // Kept as the index gave them (a few dozen bytes each); a
            // feature is written only when a page, a filter or a file needs
            // it, so a download's size is known before anything is written.
            let shown = scope.collect(&request.query.filter);
            Ok(Selection::lazy(shown.len(), move |i| {
                layer_feature(&shown[i], &agencies, Crs::Crs84)
                    .and_then(|f| serde_json::to_value(f).ok())
                    .unwrap_or(serde_json::Value::Null)
            }))
        })
    }

    /// A page by id (`cursor` is the last id of the previous page), written
    /// straight into one buffer.
    fn items<'a>(&'a self, request: Request<'a>) -> Answer<'a, Response> {
        Box::pin(async move {
            // A filter is evaluated on each feature as shown: the selection,
            // filtered, then paged.
            if request.filter.is_some() {
                return selected_page(self.id(), self.disclosed_as(), self, request).await;
            }
            let query = &request.query;
            let cursor = match &query.cursor {
                None => None,
                Some(c) => Some(c.parse::<i64>().map_err(|_| {
                    Problem::bad_parameter("invalid-cursor", "cursor", "use the next link as given")
                })?),
            };
            let scope = request.state.index.scope(request.viewer);
            let page = scope.page(&query.filter, cursor, query.limit);
            let agencies = scope.agency_names();
            let next = page
                .more
                .then(|| page.items.last().map(|last| last.id.to_string()))
                .flatten();
            let links = page_links(&request.base, self.id(), query, next, None);
            // About 330 bytes a feature; one allocation up front.
            let mut body = Vec::with_capacity(256 + page.items.len() * 340);
            body.extend_from_slice(b"{\"type\":\"FeatureCollection\",\"features\":[");
            let mut returned = 0;
            for feature in page
                .items
                .iter()
                .filter_map(|o| layer_feature(o, &agencies, query.crs))
            {
                if returned > 0 {
                    body.push(b',');
                }
                serde_json::to_writer(&mut body, &feature).map_err(|_| Problem::internal())?;
                returned += 1;
            }
            let _ = write!(
                body,
                "],\"numberMatched\":{},\"numberReturned\":{},\"timeStamp\":\"{}\",\"links\":",
                page.matched,
                returned,
                Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
            );
            serde_json::to_writer(&mut body, &links).map_err(|_| Problem::internal())?;
            body.push(b'}');
            Ok(disclosed(
                with_crs(geojson_response(body), query.crs),
                self.disclosed_as(),
                returned,
            ))
        })
    }

    /// The full record as a Feature, at the viewer's precision, audited as
    /// a consultation; a sensitive or restricted record needs `?purpose=…`
    /// for that, and without one is the record as the items show it.
    fn item<'a>(&'a self, request: Request<'a>, id: String) -> Answer<'a, Response> {
        Box::pin(async move {
            let id = parse_id(&id)?;
            let purpose = request
                .query
                .extra
                .iter()
                .find(|(name, _)| name == "purpose")
                .map(|(_, value)| value.as_str());

            if purpose.is_some_and(|p| p.chars().count() > 500) {
                return Err(Problem::bad_parameter(
                    "too-long",
                    "purpose",
                    "a purpose is at most 500 characters",
                ));
            }
            let opened = request
                .state
                .observations
                .open(request.viewer, id, purpose, true, Utc::now())
                .await;
            let shown = match opened {
                Ok(shown) => shown,
                // Without a purpose, a record that needs one is answered as
                // the items show it (a disclosure, like them), so clients
                // that follow item links get the feature they listed.
                Err(crate::service::ServiceError::PurposeRequired) if purpose.is_none() => {
                    return self.listed(&request, id);
                }
                Err(e) => return Err(e.into()),
            };
            let observation = shown.observation;
            if observation.withdrawn.is_some() {
                return Err(Problem::not_found().detail("this observation was withdrawn"));
            }
            let base = &request.base;
            let crs = request.query.crs;
            let location = observation.details.location;
            let coordinates = crs
                .from_crs84([location.lon, location.lat])
                .ok_or_else(|| {
                    Problem::bad_parameter(
                        "unsupported-crs",
                        "crs",
                        "this record lies outside the CRS's cover",
                    )
                })?;
            let mut properties =
                serde_json::to_value(&observation).map_err(|_| Problem::internal())?;
            if let Some(map) = properties.as_object_mut() {
                map.remove("location");
                map.remove("id");
                map.remove("withdrawn");
                map.insert("precision".into(), json!(shown.precision));
                // The extent is a geometry too: in the answer's CRS.
                if let Some(extent) = map.get_mut("extent").filter(|e| !e.is_null()) {
                    let mut holder = json!({ "geometry": extent.take() });
                    crs.transform_feature(&mut holder);
                    *extent = holder["geometry"].take();
                }
            }
            let feature = json!({
                "type": "Feature",
                "id": observation.id.0,
                "geometry": { "type": "Point", "coordinates": coordinates },
                "properties": properties,
                "links": [
                    link(format!("{base}/ogc/collections/observations/items/{id}"), "self", GEOJSON, "This observation"),
                    link(format!("{base}/ogc/collections/observations"), "collection", "application/json", "The collection"),
                ]
            });
            // Opening it was recorded as a consultation, with its purpose.
            Ok(audited(with_crs(
                geojson_response(serde_json::to_vec(&feature).map_err(|_| Problem::internal())?),
                crs,
            )))
        })
    }
}
