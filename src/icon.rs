//! The server's icon: a speech bubble on an indigo rounded square (`src/icon.svg`, 64×64
//! viewBox, under 400 bytes). `serverInfo.icons` carries it as an SVG data URI, so clients that
//! show server icons (VS Code among them) need no network. The MCPB bundle needs a PNG file
//! (`mcpb validate` accepts only PNG icons): `mcpb/icon.png` is this SVG rendered at 512×512,
//! the size Claude Desktop recommends (`rsvg-convert -w 512 -h 512 src/icon.svg -o
//! mcpb/icon.png`; Debian package librsvg2-bin).

use base64::Engine;
use rmcp::model::Icon;

/// The icon's SVG source.
pub const SVG: &str = include_str!("icon.svg");

/// `data:image/svg+xml;base64,…` of [`SVG`].
pub fn data_uri() -> String {
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(SVG.trim_end())
    )
}

/// The icon as `serverInfo.icons` lists it.
pub fn icons() -> Vec<Icon> {
    vec![Icon::new(data_uri())
        .with_mime_type("image/svg+xml")
        .with_sizes(vec!["any".to_owned()])]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_uri_decodes_to_a_small_svg() {
        let uri = data_uri();
        let b64 = uri.strip_prefix("data:image/svg+xml;base64,").unwrap();
        let svg = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(uri.len() < 1024, "keep the icon small: {} bytes", uri.len());
    }
}
