//! The web guide at `/` and its embedded assets (HTTP-030, HTTP-031), channel logos (HTTP-032)
//! and programme art found beside the media (HTTP-038). Everything the page needs is compiled
//! into the binary: it works offline, from no host but the daemon.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use retrovue_core::model::{Asset, Channel};

use crate::xmltv::escape;

const INDEX_HTML: &str = include_str!("assets/index.html");
const GUIDE_JS: &str = include_str!("assets/guide.js");
const GUIDE_CSS: &str = include_str!("assets/guide.css");
/// hls.js 1.7.4, `dist/hls.min.js` of the npm package, unmodified (LICENSE beside it).
const HLS_JS: &str = include_str!("assets/vendor/hls.min.js");
const HLS_LICENSE: &str = include_str!("assets/vendor/hls.js.LICENSE");

/// The page at `/`.
pub fn index_html() -> &'static str {
    INDEX_HTML
}

/// An embedded asset under `/static/`: (content type, body).
pub fn static_asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "guide.js" => Some(("text/javascript; charset=utf-8", GUIDE_JS)),
        "guide.css" => Some(("text/css; charset=utf-8", GUIDE_CSS)),
        "hls.min.js" => Some(("text/javascript; charset=utf-8", HLS_JS)),
        "hls.js.LICENSE" => Some(("text/plain; charset=utf-8", HLS_LICENSE)),
        _ => None,
    }
}

/// The content type of an image file extension the daemon serves.
pub fn image_type(ext: &str) -> Option<&'static str> {
    match ext.to_ascii_lowercase().as_str() {
        "png" => Some("image/png"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "gif" => Some("image/gif"),
        "webp" => Some("image/webp"),
        "svg" => Some("image/svg+xml"),
        _ => None,
    }
}

fn is_url(logo: &str) -> bool {
    logo.starts_with("http://") || logo.starts_with("https://")
}

/// A configured logo that is an image file path: (path, lower-case extension).
pub fn logo_file(channel: &Channel) -> Option<(PathBuf, String)> {
    let logo = channel
        .logo
        .as_deref()
        .filter(|l| !l.is_empty() && !is_url(l))?;
    let path = PathBuf::from(logo);
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    image_type(&ext)?;
    Some((path, ext))
}

/// HTTP-032: the URL of the channel's logo.
pub fn logo_url(channel: &Channel, base: &str) -> String {
    if let Some(logo) = channel.logo.as_deref().filter(|l| is_url(l)) {
        return logo.to_string();
    }
    match logo_file(channel) {
        Some((_, ext)) => format!("{base}/logo/{}.{ext}", channel.id),
        None => format!("{base}/logo/{}.svg", channel.id),
    }
}

/// HTTP-032: a logo generated from the channel's number and name: the number large, the name
/// below it, on a colour of its own (from the id).
pub fn generated_logo(channel: &Channel) -> String {
    let hue = channel
        .id
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 360;
    let name: String = channel.name.chars().take(18).collect();
    let number: String = channel.number.chars().take(6).collect();
    format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="160" height="90" viewBox="0 0 160 90" role="img" aria-label="{label}">
  <title>{label}</title>
  <rect width="160" height="90" rx="12" fill="hsl({hue},55%,30%)"/>
  <rect x="4" y="4" width="152" height="82" rx="9" fill="none" stroke="#ffffff" stroke-opacity="0.35" stroke-width="2"/>
  <text x="80" y="50" font-family="DejaVu Sans, Arial, sans-serif" font-size="36" font-weight="bold" fill="#ffffff" text-anchor="middle">{number}</text>
  <text x="80" y="75" font-family="DejaVu Sans, Arial, sans-serif" font-size="13" fill="#ffffff" text-anchor="middle">{name}</text>
</svg>
"##,
        label = escape(&format!("{} {}", channel.number, channel.name)),
        number = escape(&number),
        name = escape(&name),
    )
}

/// What the surface knows of an asset beyond the guide rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetInfo {
    pub year: Option<i32>,
    /// Art found beside the media (HTTP-038) and its lower-case extension.
    pub art: Option<(PathBuf, String)>,
}

/// What the HTTP surface is configured with beyond the runtime's shared state.
#[derive(Debug, Clone, Default)]
pub struct Surface {
    /// `TunerCount` of `/discover.json` (HTTP-036).
    pub tuner_count: usize,
    pub assets: BTreeMap<String, AssetInfo>,
}

impl Surface {
    /// The surface for these catalog assets: their years, and their art looked up on disk now.
    pub fn new<'a>(tuner_count: usize, assets: impl IntoIterator<Item = &'a Asset>) -> Surface {
        let assets = assets
            .into_iter()
            .filter_map(|a| {
                let art = a
                    .path
                    .as_deref()
                    .filter(|_| plain_segment(&a.id))
                    .and_then(|p| find_art(Path::new(p)));
                (a.year.is_some() || art.is_some())
                    .then(|| (a.id.clone(), AssetInfo { year: a.year, art }))
            })
            .collect();
        Surface {
            tuner_count: tuner_count.max(1),
            assets,
        }
    }

    /// The year of an asset, when known.
    pub fn year(&self, asset: Option<&str>) -> Option<i32> {
        self.assets.get(asset?)?.year
    }

    /// The art URL of an asset, when it has art (HTTP-038).
    pub fn art_url(&self, asset: Option<&str>, base: &str) -> Option<String> {
        let asset = asset?;
        let (_, ext) = self.assets.get(asset)?.art.as_ref()?;
        Some(format!("{base}/art/{asset}.{ext}"))
    }

    /// The art file of `/art/{asset}.{ext}`.
    pub fn art_file(&self, asset: &str, ext: &str) -> Option<&Path> {
        let (path, have) = self.assets.get(asset)?.art.as_ref()?;
        (have == ext).then_some(path.as_path())
    }
}

/// An id usable as one path segment (HTTP-008's characters, no slash).
fn plain_segment(id: &str) -> bool {
    !id.is_empty()
        && !id.contains("..")
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._~-".contains(c))
}

const ART_EXTS: [&str; 4] = ["jpg", "jpeg", "png", "webp"];

/// HTTP-038: art beside a media file, first found wins: `{stem}-thumb`, `{stem}-poster`,
/// `{stem}`, then `poster`, `folder`, `cover` in the same folder, each `.jpg/.jpeg/.png/.webp`.
pub fn find_art(media: &Path) -> Option<(PathBuf, String)> {
    let dir = media.parent()?;
    let stem = media.file_stem()?.to_str()?;
    let own = media.extension().and_then(|e| e.to_str()).unwrap_or("");
    let names = [
        format!("{stem}-thumb"),
        format!("{stem}-poster"),
        stem.to_string(),
        "poster".to_string(),
        "folder".to_string(),
        "cover".to_string(),
    ];
    for name in &names {
        for ext in ART_EXTS {
            if name == stem && ext.eq_ignore_ascii_case(own) {
                continue;
            }
            let path = dir.join(format!("{name}.{ext}"));
            if path.is_file() {
                return Some((path, ext.to_string()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logos_are_configured_urls_files_or_generated_svg() {
        // contract: HTTP-032
        let lineup = retrovue_core::lineup::parse_lineup(
            include_str!("../../fixtures/demo/lineup.toml"),
            "demo",
        )
        .unwrap();
        let mut c = lineup.channels[0].clone();
        c.name = "Tom & Jerry <TV>".into();
        c.logo = None;
        assert_eq!(
            logo_url(&c, "http://h"),
            format!("http://h/logo/{}.svg", c.id)
        );
        let svg = generated_logo(&c);
        assert!(svg.contains("<svg ") && svg.contains("Tom &amp; Jerry &lt;TV&gt;"));
        c.logo = Some("/srv/logos/one.PNG".into());
        assert_eq!(
            logo_url(&c, "http://h"),
            format!("http://h/logo/{}.png", c.id)
        );
        c.logo = Some("https://example.com/l.png".into());
        assert_eq!(logo_url(&c, "http://h"), "https://example.com/l.png");
        c.logo = Some("logo.txt".into());
        assert_eq!(
            logo_url(&c, "http://h"),
            format!("http://h/logo/{}.svg", c.id)
        );
    }

    #[test]
    fn art_is_found_beside_the_media() {
        // contract: HTTP-038
        let dir = std::env::temp_dir().join(format!("rv-art-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let media = dir.join("pilot.mkv");
        std::fs::write(&media, b"x").unwrap();
        assert_eq!(find_art(&media), None);
        std::fs::write(dir.join("poster.png"), b"x").unwrap();
        assert_eq!(
            find_art(&media),
            Some((dir.join("poster.png"), "png".into()))
        );
        std::fs::write(dir.join("pilot-thumb.jpg"), b"x").unwrap();
        assert_eq!(
            find_art(&media),
            Some((dir.join("pilot-thumb.jpg"), "jpg".into()))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
