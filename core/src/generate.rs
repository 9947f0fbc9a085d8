//! A deterministic synthetic lineup: the benchmark catalog plus N channels of mixed shapes.
//!
//! Benchmarks, property tests and demos need large, varied, valid lineups without media files.
//! Everything is drawn from one `SplitMix64` seeded by the caller, so the same arguments give the
//! same lineup on every machine (contracts/generator.md).

use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;

use crate::model::{
    Asset, AssetKind, BreakPolicy, Catalog, Channel, ItemRef, Lineup, PlayMode, Program,
    SchedulePlan, VirtualAsset, Zone,
};
use crate::stable::SplitMix64;

pub const SERIES_COUNT: usize = 40;
pub const EPISODES_PER_SERIES: usize = 50;
pub const MOVIE_COUNT: usize = 300;
pub const COMMERCIAL_COUNT: usize = 320;
pub const PROMO_COUNT: usize = 90;
pub const BUMPER_COUNT: usize = 50;
pub const STATION_ID_COUNT: usize = 40;
pub const VIRTUAL_ASSET_COUNT: usize = 12;

/// Time zones the channels cycle through: DST rules north and south, half- and 45-minute
/// offsets, and a half-hour DST shift (Lord Howe).
pub const TIME_ZONES: [Tz; 7] = [
    chrono_tz::America::New_York,
    chrono_tz::Europe::London,
    chrono_tz::Asia::Kolkata,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Pacific::Chatham,
    chrono_tz::America::Los_Angeles,
    chrono_tz::UTC,
];

const ADJECTIVES: [&str; 10] = [
    "Happy", "Midnight", "Lucky", "Golden", "Crazy", "Little", "Brave", "Second", "Sunny", "Wild",
];
const NOUNS: [&str; 10] = [
    "Diner",
    "Neighbors",
    "Precinct",
    "Garage",
    "Family",
    "Station",
    "Hotel",
    "Ranch",
    "Office",
    "Academy",
];
const EPISODE_WORDS: [&str; 16] = [
    "Wedding",
    "Heist",
    "Birthday",
    "Audit",
    "Storm",
    "Reunion",
    "Bet",
    "Contest",
    "Visitor",
    "Promotion",
    "Blackout",
    "Road Trip",
    "Secret",
    "Recital",
    "Mix-Up",
    "Parade",
];
const MOVIE_FIRST: [&str; 12] = [
    "Night",
    "Return",
    "Shadow",
    "Legend",
    "Ballad",
    "Escape",
    "Edge",
    "Summer",
    "Ghost",
    "Last Train",
    "Heart",
    "Empire",
];
const MOVIE_SECOND: [&str; 10] = [
    "the Canyon",
    "Silver City",
    "the Iron Coast",
    "Tomorrow",
    "the Red River",
    "Paradise",
    "the Glass Tower",
    "the North",
    "Eldorado",
    "the Long Night",
];
const MOVIE_GENRES: [&str; 5] = ["action", "drama", "comedy", "western", "scifi"];
const BRANDS: [&str; 12] = [
    "Fizz Cola",
    "Zoom Cars",
    "Crunchos",
    "Sparkle Soap",
    "Dino Gum",
    "Acme Insurance",
    "Blue Sky Air",
    "Maple Bank",
    "Kool Shoes",
    "Pop Tarts Co",
    "Hearth Pizza",
    "Vista TV",
];

/// Uniform pick from a non-empty slice.
fn pick<'a, T>(rng: &mut SplitMix64, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len() as u64) as usize]
}

fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// The catalog part of the benchmark lineup, with the ids channels draw from.
struct Built {
    catalog: Catalog,
    series_programs: Vec<String>,
    movie_programs: Vec<String>,
    virtual_assets: Vec<String>,
}

fn build_catalog(rng: &mut SplitMix64) -> Built {
    let mut catalog = Catalog::default();
    let mut series_programs = Vec::new();

    // 40 distinct series names out of the 100 adjective × noun pairs.
    let order = crate::stable::permutation(ADJECTIVES.len() * NOUNS.len(), rng.next_u64());
    for (s, &pair) in order.iter().take(SERIES_COUNT).enumerate() {
        let name = format!(
            "The {} {}",
            ADJECTIVES[pair / NOUNS.len()],
            NOUNS[pair % NOUNS.len()]
        );
        let series_slug = slug(&name);
        let rating = pick(rng, &["TV-G", "TV-PG", "TV-PG", "TV-14"]).to_string();
        let genre = if s % 4 == 3 { "drama" } else { "comedy" };
        let year = 1972 + rng.below(22) as i32;
        for e in 0..EPISODES_PER_SERIES {
            let (season, episode) = (e / 25 + 1, e % 25 + 1);
            let id = format!("{series_slug}-s{season:02}e{episode:02}");
            let seconds = 21 * 60 + rng.below(121) as i64;
            let duration_ms = seconds * 1000;
            let title = format!(
                "The {} {}",
                pick(rng, &EPISODE_WORDS),
                pick(rng, &["", "Returns", "Problem", "Affair", "Job"])
            )
            .trim()
            .to_string();
            let mut asset = Asset::new(&id, AssetKind::Episode, &title, duration_ms);
            asset.series = Some(name.clone());
            asset.season = Some(season as u32);
            asset.episode = Some(episode as u32);
            asset.rating = Some(rating.clone());
            asset.genres = vec![genre.to_string()];
            asset.year = Some(year + season as i32 - 1);
            // Three act breaks at roughly the quarter points, on whole seconds.
            asset.chapters_ms = (1..=3).map(|q| seconds * q / 4 * 1000).collect();
            catalog.assets.insert(id, asset);
        }
        let play_mode = if s % 5 == 4 {
            PlayMode::Shuffle
        } else {
            PlayMode::Sequential
        };
        catalog.programs.insert(
            series_slug.clone(),
            Program {
                id: series_slug.clone(),
                title: name.clone(),
                play_mode,
                series: Some(name),
                assets: Vec::new(),
            },
        );
        series_programs.push(series_slug);
    }

    let mut movies_by_genre: Vec<Vec<String>> = vec![Vec::new(); MOVIE_GENRES.len()];
    let mut all_movies = Vec::new();
    for m in 0..MOVIE_COUNT {
        let id = format!("movie-{:03}", m + 1);
        let title = format!(
            "{} of {}",
            MOVIE_FIRST[m % MOVIE_FIRST.len()],
            MOVIE_SECOND[(m / MOVIE_FIRST.len()) % MOVIE_SECOND.len()]
        );
        // Titles repeat after 120 movies: remakes get a roman numeral.
        let title = match m / (MOVIE_FIRST.len() * MOVIE_SECOND.len()) {
            0 => title,
            1 => format!("{title} II"),
            _ => format!("{title} III"),
        };
        let duration_ms = (90 * 60 + rng.below(40 * 60 + 1) as i64) * 1000;
        let genre_index = rng.below(MOVIE_GENRES.len() as u64) as usize;
        let mut asset = Asset::new(&id, AssetKind::Movie, &title, duration_ms);
        asset.genres = vec![MOVIE_GENRES[genre_index].to_string()];
        asset.rating = Some(pick(rng, &["G", "PG", "PG", "PG-13", "R"]).to_string());
        asset.year = Some(1950 + rng.below(45) as i32);
        catalog.assets.insert(id.clone(), asset);
        movies_by_genre[genre_index].push(id.clone());
        all_movies.push(id);
    }

    let mut bumpers = Vec::new();
    let spot_kinds = [
        (
            AssetKind::Commercial,
            COMMERCIAL_COUNT,
            "com",
            &[15i64, 30, 30, 60][..],
        ),
        (AssetKind::Promo, PROMO_COUNT, "promo", &[15, 30, 60][..]),
        (AssetKind::Bumper, BUMPER_COUNT, "bump", &[15, 20, 30][..]),
        (AssetKind::StationId, STATION_ID_COUNT, "id", &[15, 20][..]),
    ];
    for (kind, count, short, lengths) in spot_kinds {
        for n in 0..count {
            let id = format!("spot-{short}-{:04}", n + 1);
            let seconds = *pick(rng, lengths);
            let title = match kind {
                AssetKind::Commercial => format!("{} :{seconds}", pick(rng, &BRANDS)),
                AssetKind::Promo => format!("Coming Up Promo {}", n + 1),
                AssetKind::Bumper => format!("We'll Be Right Back {}", n + 1),
                _ => format!("Station Identification {}", n + 1),
            };
            catalog
                .assets
                .insert(id.clone(), Asset::new(&id, kind, &title, seconds * 1000));
            if kind == AssetKind::Bumper {
                bumpers.push(id);
            }
        }
    }

    let mut movie_programs = Vec::new();
    let mut add_movie_program = |id: &str, title: &str, mode: PlayMode, assets: Vec<String>| {
        catalog.programs.insert(
            id.to_string(),
            Program {
                id: id.to_string(),
                title: title.to_string(),
                play_mode: mode,
                series: None,
                assets,
            },
        );
        movie_programs.push(id.to_string());
    };
    add_movie_program(
        "movies-shuffle",
        "Movie Classics",
        PlayMode::Shuffle,
        all_movies.clone(),
    );
    add_movie_program(
        "movies-random",
        "Late Movie",
        PlayMode::Random,
        all_movies.clone(),
    );
    for (g, genre) in MOVIE_GENRES.iter().enumerate() {
        if !movies_by_genre[g].is_empty() {
            add_movie_program(
                &format!("movies-{genre}"),
                &format!("{} Theater", genre[..1].to_uppercase() + &genre[1..]),
                PlayMode::Shuffle,
                movies_by_genre[g].clone(),
            );
        }
    }

    let mut virtual_assets = Vec::new();
    for v in 0..VIRTUAL_ASSET_COUNT {
        let movie = &all_movies[(v * 23) % all_movies.len()];
        let id = format!("presents-{}", movie);
        let title = format!("Saturday Night Presents: {}", catalog.assets[movie].title);
        catalog.virtual_assets.insert(
            id.clone(),
            VirtualAsset {
                id: id.clone(),
                title,
                parts: vec![bumpers[v % bumpers.len()].clone(), movie.clone()],
            },
        );
        virtual_assets.push(id);
    }

    Built {
        catalog,
        series_programs,
        movie_programs,
        virtual_assets,
    }
}

/// What a zone airs.
#[derive(Clone, Copy)]
enum Block {
    Sitcoms,
    Movies,
    Overnight,
    Presentation,
}

fn zone_items(rng: &mut SplitMix64, built: &Built, block: Block) -> Vec<ItemRef> {
    let program = |id: &String| ItemRef::Program { id: id.clone() };
    match block {
        Block::Sitcoms => {
            let count = 2 + rng.below(3) as usize;
            let mut items: Vec<ItemRef> = Vec::new();
            while items.len() < count {
                let candidate = program(pick(rng, &built.series_programs));
                if !items.contains(&candidate) {
                    items.push(candidate);
                }
            }
            items
        }
        Block::Movies => vec![program(pick(rng, &built.movie_programs))],
        Block::Overnight => {
            let mut items = vec![ItemRef::Program {
                id: "movies-random".to_string(),
            }];
            if rng.below(4) == 0 {
                items.push(program(pick(rng, &built.series_programs)));
            }
            items
        }
        Block::Presentation => vec![
            ItemRef::Virtual {
                id: pick(rng, &built.virtual_assets).clone(),
            },
            program(pick(rng, &built.movie_programs)),
        ],
    }
}

/// Zones covering the whole programming day: `cuts` are hours after the day start (0 … 24).
fn day_zones(
    rng: &mut SplitMix64,
    built: &Built,
    day_start_minute: u32,
    layout: &[(u32, &str, Block)],
) -> Vec<Zone> {
    let mut zones = Vec::new();
    for (i, &(from_hour, name, block)) in layout.iter().enumerate() {
        let to_hour = layout.get(i + 1).map(|l| l.0).unwrap_or(24);
        let start_minute = (day_start_minute + from_hour * 60) % 1440;
        // A zone that ends at local midnight reads better as "24:00" than "00:00".
        let end_minute = match (day_start_minute + to_hour * 60) % 1440 {
            0 => 1440,
            m => m,
        };
        zones.push(Zone {
            name: name.to_string(),
            start_minute,
            end_minute,
            items: zone_items(rng, built, block),
            enabled: true,
        });
    }
    zones
}

const WEEKDAY_LAYOUTS: [&[(u32, &str, Block)]; 3] = [
    &[
        (0, "Morning", Block::Sitcoms),
        (6, "Daytime", Block::Sitcoms),
        (11, "Early Fringe", Block::Sitcoms),
        (14, "Prime Time", Block::Sitcoms),
        (17, "Late Movie", Block::Movies),
        (20, "Overnight", Block::Overnight),
    ],
    &[
        (0, "Matinee", Block::Movies),
        (8, "Afternoon Movie", Block::Movies),
        (14, "Prime Movie", Block::Presentation),
        (18, "Overnight", Block::Overnight),
    ],
    &[
        (0, "Breakfast Sitcoms", Block::Sitcoms),
        (4, "Afternoon Movie", Block::Movies),
        (10, "Sitcom Block", Block::Sitcoms),
        (16, "Night Movie", Block::Movies),
        (19, "Overnight", Block::Overnight),
    ],
];

const WEEKEND_LAYOUT: &[(u32, &str, Block)] = &[
    (0, "Weekend Morning", Block::Sitcoms),
    (5, "Weekend Matinee", Block::Movies),
    (12, "Saturday Night Presents", Block::Presentation),
    (16, "Weekend Late", Block::Overnight),
];

fn plan(name: &str, days: &[Weekday], priority: u32, zones: Vec<Zone>) -> SchedulePlan {
    SchedulePlan {
        name: name.to_string(),
        priority,
        days: days.to_vec(),
        start_date: None,
        end_date: None,
        active: true,
        zones,
    }
}

fn build_channel(rng: &mut SplitMix64, built: &Built, index: usize) -> Channel {
    let grid = *pick(rng, &[15u32, 30, 30, 60]);
    let offsets: Vec<u32> = (0..60).step_by(grid as usize).collect();
    let day_start_minute = *pick(rng, &[0u32, 300, 360, 360]);
    let break_policy = *pick(rng, &[BreakPolicy::Chapters, BreakPolicy::End]);
    let mut interstitials: Vec<AssetKind> = [
        AssetKind::Commercial,
        AssetKind::Promo,
        AssetKind::Bumper,
        AssetKind::StationId,
    ]
    .into_iter()
    .filter(|_| rng.below(10) < 7)
    .collect();
    if interstitials.is_empty() {
        interstitials.push(AssetKind::Commercial);
    }
    // A 22-minute episode in a 60-minute block is mostly avail: hour-grid channels run movies.
    let layout = if grid == 60 {
        WEEKDAY_LAYOUTS[1]
    } else {
        *pick(rng, &WEEKDAY_LAYOUTS)
    };
    let plan_count = 1 + rng.below(3);
    let all_days = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    let mut plans = Vec::new();
    if plan_count == 1 {
        let zones = day_zones(rng, built, day_start_minute, layout);
        plans.push(plan("Daily", &all_days, 0, zones));
    } else {
        let zones = day_zones(rng, built, day_start_minute, layout);
        plans.push(plan("Weekdays", &all_days[..5], 0, zones));
        let zones = day_zones(rng, built, day_start_minute, WEEKEND_LAYOUT);
        plans.push(plan("Weekend", &all_days[5..], 10, zones));
    }
    if plan_count == 3 {
        let zones = day_zones(rng, built, day_start_minute, WEEKDAY_LAYOUTS[1]);
        let mut special = plan("Holiday Movie Marathon", &all_days, 20, zones);
        special.start_date = NaiveDate::from_ymd_opt(2026, 12, 24);
        special.end_date = NaiveDate::from_ymd_opt(2026, 12, 26);
        plans.push(special);
    }
    let name = format!(
        "{} {} {}",
        pick(rng, &["Retro", "Classic", "Vintage", "Rewind"]),
        pick(rng, &NOUNS),
        pick(rng, &["TV", "Network", "Channel", "Television"])
    );
    Channel {
        id: format!("ch-{:03}", index + 1),
        number: (index + 2).to_string(),
        name,
        group: Some(pick(rng, &["Classics", "Movies", "Comedy", "Variety"]).to_string()),
        logo: None,
        timezone: TIME_ZONES[index % TIME_ZONES.len()],
        grid_block_minutes: grid,
        block_start_offsets_minutes: offsets,
        programming_day_start_minute: day_start_minute,
        break_policy,
        interstitials,
        active: true,
        filler_title: None,
        spot_cooldown_minutes: *pick(rng, &[15u32, 30, 30, 60]),
        output_profile: None,
        plans,
    }
}

/// The benchmark lineup: the fixed-size catalog (whatever `channels` is) and `channels`
/// channels. Same `(channels, seed)` → identical lineup.
pub fn generate_lineup(channels: u32, seed: u64) -> Lineup {
    let mut rng = SplitMix64::new(seed);
    let built = build_catalog(&mut rng);
    let channels = (0..channels as usize)
        .map(|i| build_channel(&mut rng, &built, i))
        .collect();
    Lineup {
        catalog: built.catalog,
        channels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_slugs() {
        assert_eq!(slug("The Happy Diner"), "the-happy-diner");
        assert!(crate::validate::is_slug(&slug("Pop Tarts Co :30")));
    }
}
