//! Rendering what services compute: report pages, downloads and the QR
//! code of a second factor. (Packs and vector tiles are still in `pack.rs`
//! and `mvt.rs`.)

pub mod download;
pub mod map;
pub mod report;

/// `text` as a QR code drawn in SVG (black on white, with the quiet zone
/// scanners need), for an authenticator app to read an `otpauth:` URI from
/// the screen. Empty if the text is too long for a QR code.
pub fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(220, 220)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}
