//! GDAL's OAPIF driver reads the layer over a real socket.

use std::future::IntoFuture;
use std::process::Command;

use safetymap::api::app;
use safetymap::domain::vocabulary::Role;
use serde_json::json;

use crate::common::{observation, TestApp};

on_both_stores! {
    async fn gdal_ogrinfo_lists_the_observations_collection_and_reads_its_features(backend) {
        let test = TestApp::new(backend).await;
        let token = test.token(Role::Coordinator, "council").await;
        for i in 0..5 {
            test.create(&token, &observation(json!({"longitude": -2.99 - f64::from(i) * 0.001, "severity": "high"}))).await;
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(axum::serve(listener, app(test.state.clone())).into_future());
        let header = format!("Authorization: Bearer {token}");
        let source = format!("OAPIF:http://{addr}/ogc");
        let ogrinfo = |extra: &[&str]| {
            let mut args = vec!["-ro".to_owned(), "--config".to_owned(), "GDAL_HTTP_HEADERS".to_owned(), header.clone(), source.clone()];
            args.extend(extra.iter().map(|s| (*s).to_owned()));
            tokio::task::spawn_blocking(move || Command::new("ogrinfo").args(&args).output())
        };
        let listing = ogrinfo(&[]).await.expect("join").expect("ogrinfo must be installed (gdal-bin; scripts/test installs it)");
        let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
        assert!(listing.contains("observations"), "{listing}");
        let features = ogrinfo(&["observations"]).await.expect("join").expect("ogrinfo");
        let text = String::from_utf8_lossy(&features.stdout).into_owned();
        assert_eq!(text.matches("OGRFeature(observations)").count(), 5, "{text}");
        assert!(text.contains("severity (String) = high"), "{text}");
        assert!(text.contains("POINT (-2.99 51.5886)"), "{text}");
        server.abort();
    }
}

on_both_stores! {
    async fn gdal_copies_every_collection_into_a_geopackage_with_every_feature_the_api_lists(backend) {
        let (test, token) = crate::collections::app_with_every_layer_for(backend).await;
        let token = token.as_str();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(axum::serve(listener, app(test.state.clone())).into_future());
        let dir = tempfile::tempdir().expect("dir");
        for id in ["observations", "grid", "hotspots", "clusters", "police-crimes", "places", "areas", "perceptions", "exercise-annotations"] {
            let listed = test.get(&format!("/ogc/collections/{id}/items?limit=1"), token).await.json()["numberMatched"].as_u64().expect("matched");
            let out = dir.path().join(format!("{id}.gpkg"));
            let args: Vec<String> = vec![
                "--config".into(), "GDAL_HTTP_HEADERS".into(), format!("Authorization: Bearer {token}"),
                "-f".into(), "GPKG".into(), out.display().to_string(), format!("OAPIF:http://{addr}/ogc"), id.into(),
            ];
            let copy = tokio::task::spawn_blocking(move || Command::new("ogr2ogr").args(&args).output()).await.expect("join").expect("ogr2ogr");
            assert!(copy.status.success(), "{id}: {}", String::from_utf8_lossy(&copy.stderr));
            let info = Command::new("ogrinfo").args(["-so", &out.display().to_string(), id]).output().expect("ogrinfo");
            let text = String::from_utf8_lossy(&info.stdout).into_owned();
            assert!(text.contains(&format!("Feature Count: {listed}")), "{id}: GDAL copied other than the {listed} features listed:\n{text}");
        }
        server.abort();
    }
}
