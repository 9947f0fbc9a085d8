//! XMLTV rendering (HTTP-004): a pure function from channels and guide rows to an XMLTV document
//! valid against the XMLTV DTD, times in UTC. Used by `/epg.xml` and by `epg export`; the
//! daemon adds what only it knows (logo and art URLs, years) through [`Extras`] (HTTP-034).

use std::fmt::Write as _;

use retrovue_core::model::{Channel, EpgRow};
use retrovue_core::time::fmt_xmltv;

/// Escape text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// What a renderer may add beyond the guide rows (HTTP-034). The defaults add nothing but the
/// configured logo as the channel icon.
pub trait Extras {
    /// The channel's `<icon src>`.
    fn channel_icon(&self, channel: &Channel) -> Option<String> {
        channel.logo.clone().filter(|l| !l.is_empty())
    }
    /// The programme's `<date>` (its asset's year).
    fn year(&self, _row: &EpgRow) -> Option<i32> {
        None
    }
    /// The programme's `<icon src>` (its asset's art).
    fn icon(&self, _row: &EpgRow) -> Option<String> {
        None
    }
}

/// Nothing beyond the guide rows and configured logos.
pub struct Plain;

impl Extras for Plain {}

/// The XMLTV document: every channel, then every row of a listed channel, in the order given
/// (the DTD wants all `<channel>` elements before the `<programme>` elements).
pub fn render(channels: &[Channel], rows: &[EpgRow]) -> String {
    render_with(channels, rows, &Plain)
}

/// [`render`] with what `extras` knows: channel icons, programme years and icons. Element order
/// follows the DTD: title, sub-title, desc, date, category, icon, episode-num,
/// previously-shown, rating.
pub fn render_with(channels: &[Channel], rows: &[EpgRow], extras: &dyn Extras) -> String {
    let mut out = String::with_capacity(256 + rows.len() * 300);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<!DOCTYPE tv SYSTEM \"xmltv.dtd\">\n");
    out.push_str("<tv generator-info-name=\"RetroVue\">\n");
    for c in channels {
        let _ = writeln!(out, "  <channel id=\"{}\">", escape(&c.id));
        let _ = writeln!(out, "    <display-name>{}</display-name>", escape(&c.name));
        let _ = writeln!(
            out,
            "    <display-name>{}</display-name>",
            escape(&c.number)
        );
        if let Some(icon) = extras.channel_icon(c) {
            let _ = writeln!(out, "    <icon src=\"{}\"/>", escape(&icon));
        }
        out.push_str("  </channel>\n");
    }
    for row in rows {
        if !channels.iter().any(|c| c.id == row.channel) {
            continue;
        }
        let _ = writeln!(
            out,
            "  <programme start=\"{}\" stop=\"{}\" channel=\"{}\">",
            fmt_xmltv(row.start),
            fmt_xmltv(row.end),
            escape(&row.channel)
        );
        let _ = writeln!(out, "    <title>{}</title>", escape(&row.title));
        if let Some(sub) = &row.episode_title {
            let _ = writeln!(out, "    <sub-title>{}</sub-title>", escape(sub));
        }
        if let Some(desc) = &row.description {
            let _ = writeln!(out, "    <desc>{}</desc>", escape(desc));
        }
        if let Some(year) = extras.year(row) {
            let _ = writeln!(out, "    <date>{year:04}</date>");
        }
        if let Some(category) = &row.category {
            let _ = writeln!(out, "    <category>{}</category>", escape(category));
        }
        if let Some(icon) = extras.icon(row) {
            let _ = writeln!(out, "    <icon src=\"{}\"/>", escape(&icon));
        }
        if row.season.is_some() || row.episode.is_some() {
            // xmltv_ns is zero-based: "season.episode.part".
            let zero = |n: Option<u32>| n.map(|n| n.saturating_sub(1).to_string());
            let _ = writeln!(
                out,
                "    <episode-num system=\"xmltv_ns\">{}.{}.</episode-num>",
                zero(row.season).unwrap_or_default(),
                zero(row.episode).unwrap_or_default()
            );
            if let (Some(s), Some(e)) = (row.season, row.episode) {
                let _ = writeln!(
                    out,
                    "    <episode-num system=\"onscreen\">S{s:02}E{e:02}</episode-num>"
                );
            }
        }
        if !row.filler {
            out.push_str("    <previously-shown/>\n");
        }
        if let Some(rating) = &row.rating {
            let _ = writeln!(
                out,
                "    <rating><value>{}</value></rating>",
                escape(rating)
            );
        }
        out.push_str("  </programme>\n");
    }
    out.push_str("</tv>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_render_in_utc_with_escaping() {
        // contract: HTTP-004
        let lineup = retrovue_core::lineup::parse_lineup(
            include_str!("../fixtures/demo/lineup.toml"),
            "demo",
        )
        .unwrap();
        let channel = lineup.channels[0].clone();
        let row = EpgRow {
            channel: channel.id.clone(),
            start: 1_772_452_800_000, // 2026-03-02T12:00:00Z
            end: 1_772_454_600_000,
            title: "Tom & Jerry <live>".into(),
            episode_title: Some("Pilot".into()),
            season: Some(1),
            episode: Some(2),
            description: None,
            rating: Some("TV-G".into()),
            category: Some("comedy".into()),
            asset: None,
            program: None,
            filler: false,
        };
        let xml = render(&[channel], &[row]);
        assert!(xml.contains("start=\"20260302120000 +0000\" stop=\"20260302123000 +0000\""));
        assert!(xml.contains("<title>Tom &amp; Jerry &lt;live&gt;</title>"));
        assert!(xml.contains("<episode-num system=\"xmltv_ns\">0.1.</episode-num>"));
        assert!(xml.find("<channel").unwrap() < xml.find("<programme").unwrap());
        assert!(xml.contains("<previously-shown/>"));
    }

    #[test]
    fn extras_add_year_icons_in_dtd_order() {
        // contract: HTTP-034
        struct Known;
        impl Extras for Known {
            fn channel_icon(&self, c: &Channel) -> Option<String> {
                Some(format!("http://h/logo/{}.svg", c.id))
            }
            fn year(&self, _row: &EpgRow) -> Option<i32> {
                Some(1987)
            }
            fn icon(&self, _row: &EpgRow) -> Option<String> {
                Some("http://h/art/a&b.jpg".into())
            }
        }
        let lineup = retrovue_core::lineup::parse_lineup(
            include_str!("../fixtures/demo/lineup.toml"),
            "demo",
        )
        .unwrap();
        let channel = lineup.channels[0].clone();
        let row = |filler| EpgRow {
            channel: channel.id.clone(),
            start: 0,
            end: 1_800_000,
            title: "T".into(),
            episode_title: None,
            season: Some(1),
            episode: Some(1),
            description: Some("d".into()),
            rating: Some("TV-G".into()),
            category: Some("comedy".into()),
            asset: None,
            program: None,
            filler,
        };
        let xml = render_with(
            std::slice::from_ref(&channel),
            &[row(false), row(true)],
            &Known,
        );
        assert!(xml.contains(&format!("<icon src=\"http://h/logo/{}.svg\"/>", channel.id)));
        let order = [
            "<desc>",
            "<date>1987</date>",
            "<category>",
            "<icon src=\"http://h/art/a&amp;b.jpg\"/>",
            "<episode-num",
            "<previously-shown/>",
            "<rating>",
        ];
        let at: Vec<usize> = order.iter().map(|t| xml.find(t).unwrap()).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{xml}");
        assert_eq!(
            xml.matches("<previously-shown/>").count(),
            1,
            "filler is not a rerun"
        );
    }
}
