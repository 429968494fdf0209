//! Project-made demo data: synthetic observations at public places in
//! Newport (`fixtures/newport-places.json`), over every category. It invents
//! no people: recorders are agency placeholders, descriptions speak of
//! places, case references are obviously fake.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

use crate::domain::observation::{Grading, LonLat, ObservationDetails};
use crate::domain::place::PlaceDetails;
use crate::domain::viewer::Viewer;
use crate::domain::vocabulary::{
    AgencyKind, AuditAction, Category, Handling, Indicator, InformationAssessment, Role,
    Sensitivity, SettingType, Severity, SourceReliability, Status,
};
use crate::domain::vocabulary::{PlaceKind, TrainingStatus};
use crate::store::{Agency, AuditEntry, NewPlace, NewUser, Provenance, Store, StoreError, User};

/// The places the demo uses, made by the project for it.
const NEWPORT_PLACES: &str = include_str!("../fixtures/newport-places.json");

#[derive(Debug, Deserialize)]
struct FixturePlace {
    name_en: String,
    name_cy: String,
    setting: String,
    lon: f64,
    lat: f64,
}

/// The demo's agencies.
pub const DEMO_AGENCIES: &[&str] = &[
    "newport-council-parks",
    "newport-council-licensing",
    "newport-council-housing",
    "newport-youth-service",
    "gwent-police",
    "aneurin-bevan-health",
];

/// The demo agencies' names and kinds (plus the council's corporate
/// directorate, home of the demo administrator).
const DEMO_AGENCY_DETAILS: &[(&str, &str, &str, AgencyKind)] = &[
    (
        "newport-council",
        "Newport City Council",
        "Cyngor Dinas Casnewydd",
        AgencyKind::CouncilDirectorate,
    ),
    (
        "newport-council-parks",
        "Newport City Council – Parks",
        "Cyngor Dinas Casnewydd – Parciau",
        AgencyKind::CouncilDirectorate,
    ),
    (
        "newport-council-licensing",
        "Newport City Council – Licensing",
        "Cyngor Dinas Casnewydd – Trwyddedu",
        AgencyKind::CouncilDirectorate,
    ),
    (
        "newport-council-housing",
        "Newport City Council – Housing",
        "Cyngor Dinas Casnewydd – Tai",
        AgencyKind::CouncilDirectorate,
    ),
    (
        "newport-youth-service",
        "Newport Youth Service",
        "Gwasanaeth Ieuenctid Casnewydd",
        AgencyKind::CouncilDirectorate,
    ),
    (
        "gwent-police",
        "Gwent Police",
        "Heddlu Gwent",
        AgencyKind::Police,
    ),
    (
        "aneurin-bevan-health",
        "Aneurin Bevan University Health Board",
        "Bwrdd Iechyd Prifysgol Aneurin Bevan",
        AgencyKind::Health,
    ),
];

/// The demo accounts: one per role, invented, in demo agencies.
pub const DEMO_ACCOUNTS: &[(&str, &str, Role, &str)] = &[
    (
        "demo.panel",
        "Demo panel member",
        Role::PanelMember,
        "gwent-police",
    ),
    (
        "demo.officer",
        "Demo field officer",
        Role::FieldOfficer,
        "newport-council-parks",
    ),
    (
        "demo.coordinator",
        "Demo coordinator",
        Role::Coordinator,
        "newport-council-licensing",
    ),
    (
        "demo.admin",
        "Demo administrator",
        Role::Admin,
        "newport-council",
    ),
];

/// Registers the demo agencies and accounts (those not there yet), all with
/// one freshly generated password, which is returned to be shown once.
pub async fn load_people(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<(String, Vec<User>), StoreError> {
    let console = Viewer::console();
    for (code, en, cy, kind) in DEMO_AGENCY_DETAILS {
        if store.agency(code).await?.is_none() {
            let agency = Agency {
                code: (*code).to_owned(),
                name_en: (*en).to_owned(),
                name_cy: (*cy).to_owned(),
                kind: *kind,
            };
            let audit = AuditEntry::by(
                &console,
                AuditAction::Collection,
                "agency",
                *code,
                code,
                Some("demo data"),
                now,
            );
            store.create_agency(&agency, audit).await?;
        }
    }
    let password = format!("demo-{}", crate::security::random_hex(10));
    let hash = crate::security::password::hash(&password).map_err(|e| StoreError::Corrupt {
        id: 0,
        what: format!("cannot hash the demo password: {e}"),
    })?;
    let mut users = Vec::new();
    for (username, name, role, agency) in DEMO_ACCOUNTS {
        if store.user_by_name(username).await?.is_some() {
            continue;
        }
        let new = NewUser {
            username: (*username).to_owned(),
            display_name: (*name).to_owned(),
            agency: (*agency).to_owned(),
            role: *role,
            admin: *role == Role::Admin,
            password_hash: hash.clone(),
        };
        let audit = AuditEntry::by(
            &console,
            AuditAction::Collection,
            "user",
            "",
            agency,
            Some("demo data"),
            now,
        );
        users.push(store.create_user(&new, audit).await?);
    }
    Ok((password, users))
}

/// How many observations the demo records.
pub const DEMO_OBSERVATIONS: usize = 320;

fn places() -> Vec<NewPlace> {
    let fixture: Vec<FixturePlace> = serde_json::from_str(NEWPORT_PLACES).unwrap_or_default();
    fixture
        .into_iter()
        .filter_map(|p| {
            Some(NewPlace {
                setting: SettingType::from_code(&p.setting)?,
                name_en: p.name_en,
                name_cy: p.name_cy,
                lon: p.lon,
                lat: p.lat,
            })
        })
        .collect()
}

/// The register entry the demo gives a place: made-up licence references,
/// a manager's role and training for premises, and safe-place scheme
/// membership for some, varied by the place's position in the fixture.
fn register_entry(i: usize, p: &NewPlace) -> PlaceDetails {
    use PlaceKind::*;
    let kind = PlaceKind::for_setting(p.setting);
    let premises = matches!(kind, LicensedPremises | Takeaway | Hotel);
    PlaceDetails {
        name_en: p.name_en.clone(),
        name_cy: p.name_cy.clone(),
        kind,
        location: crate::domain::observation::LonLat {
            lon: p.lon,
            lat: p.lat,
        },
        address: String::new(),
        licence_reference: premises.then(|| format!("DEMO/{}/{:04}", kind.code(), i + 1)),
        manager_role: match kind {
            LicensedPremises => "Designated premises supervisor",
            Hotel => "Duty manager",
            Takeaway => "Shop manager",
            Park => "Parks officer",
            TransportHub => "Station manager",
            ShoppingCentre => "Centre security manager",
            _ => "",
        }
        .to_owned(),
        training: TrainingStatus::ALL[i % TrainingStatus::ALL.len()],
        safe_place: (premises && i.is_multiple_of(3)) || (kind == Other && i.is_multiple_of(2)),
    }
}

/// Categories plausible at each kind of place.
fn categories_for(setting: SettingType) -> &'static [Category] {
    use Category::*;
    match setting {
        SettingType::Park => &[
            UnsafeEnvironment,
            YoungPeopleCongregating,
            DrugWeaponLitter,
            SubstanceMisuse,
            PeerViolence,
            SafePlace,
            CriminalExploitation,
        ],
        SettingType::Takeaway => &[
            TakeawayShop,
            CriminalExploitation,
            YoungPeopleCongregating,
            SexualExploitation,
            SafePlace,
        ],
        SettingType::Hotel => &[
            HotelShortStay,
            SexualExploitation,
            Trafficking,
            MissingSighting,
        ],
        SettingType::TaxiRank => &[
            TaxiPrivateHire,
            SexualExploitation,
            MissingSighting,
            SafePlace,
        ],
        SettingType::TransportHub => &[
            CriminalExploitation,
            MissingSighting,
            Trafficking,
            Bullying,
            SafePlace,
            YoungPeopleCongregating,
        ],
        SettingType::SchoolPerimeter => &[
            Bullying,
            PeerViolence,
            HarmfulSexualBehaviour,
            CriminalExploitation,
            SafePlace,
        ],
        SettingType::LicensedPremises => &[
            LicensedPremises,
            SexualExploitation,
            SubstanceMisuse,
            SafePlace,
        ],
        SettingType::Street => &[
            PeerViolence,
            CriminalExploitation,
            DrugWeaponLitter,
            UnsafeEnvironment,
            YoungPeopleCongregating,
        ],
        SettingType::DerelictBuilding => &[
            UnsafeEnvironment,
            DrugWeaponLitter,
            SubstanceMisuse,
            SexualExploitation,
        ],
        SettingType::ShoppingCentre => &[
            YoungPeopleCongregating,
            Bullying,
            CriminalExploitation,
            SafePlace,
            TakeawayShop,
        ],
        SettingType::Other => &[
            YoungPeopleCongregating,
            SafePlace,
            Bullying,
            UnsafeEnvironment,
        ],
    }
}

/// What an officer might write about a place, per category: places, not people.
fn describe(category: Category) -> (&'static str, &'static [Indicator]) {
    use Category::*;
    use Indicator::*;
    match category {
        SexualExploitation => ("Adults in their twenties seen repeatedly collecting teenagers here in cars late in the evening.", &[OlderAdultsWithYoungPeople, YoungPeopleInVehicles, LateNightPresence]),
        CriminalExploitation => ("Young people appear to be running packages between here and a waiting car; several phones seen.", &[CashOrGifts, YoungPeopleInVehicles, UnfamiliarAdults]),
        Trafficking => ("Staff report groups arriving with one adult holding everyone's documents and doing all the talking.", &[UnfamiliarAdults, OlderAdultsWithYoungPeople]),
        PeerViolence => ("Fights between groups of teenagers reported after school; a bladed item was seen dropped.", &[WeaponsVisible]),
        HarmfulSexualBehaviour => ("Reports of sexualised harassment between pupils on the walk home along this stretch.", &[SchoolAgeInSchoolHours]),
        Bullying => ("Younger children say they avoid this spot because older pupils wait here to intimidate them.", &[Isolated]),
        SubstanceMisuse => ("Cannabis smell and cans left where under-16s gather at weekends.", &[DrugsVisible, AlcoholUse]),
        MissingSighting => ("A young person reported missing is believed to have been seen here; details passed to police.", &[LateNightPresence]),
        UnsafeEnvironment => ("Path unlit after dusk, overgrown hedges create blind spots, no CCTV coverage.", &[PoorLighting, NoCctv, Isolated]),
        DrugWeaponLitter => ("Needles and small snap bags found during litter picking; area cleared and reported.", &[DrugsVisible]),
        LicensedPremises => ("Under-age customers appear to be served; door staff not checking ID on busy nights.", &[AlcoholUse, LateNightPresence]),
        HotelShortStay => ("Rooms booked for cash by adults with young visitors arriving late; staff unsure how to report.", &[OlderAdultsWithYoungPeople, CashOrGifts, LateNightPresence]),
        TakeawayShop => ("Young people given free food and lifts from here; staff seem to know the adults involved.", &[CashOrGifts, OlderAdultsWithYoungPeople]),
        TaxiPrivateHire => ("Private hire vehicles picking up young people from here without bookings late at night.", &[YoungPeopleInVehicles, LateNightPresence]),
        YoungPeopleCongregating => ("Regular after-school gathering point; no concerns seen, worth knowing for outreach.", &[]),
        SafePlace => ("Staff trained in safeguarding; young people know they can come in and ask for help.", &[TrustedAdultPresent, TrainedStaff]),
    }
}

/// An hour of the day weighted towards after school, evening and late night.
fn plausible_hour(rng: &mut StdRng) -> i64 {
    const WEIGHTS: [u32; 24] = [
        3, 2, 1, 1, 0, 0, 1, 2, 3, 2, 2, 3, 4, 4, 5, 9, 10, 9, 9, 10, 10, 8, 6, 4,
    ];
    let total: u32 = WEIGHTS.iter().sum();
    let mut pick = rng.gen_range(0..total);
    for (hour, w) in WEIGHTS.iter().enumerate() {
        if pick < *w {
            return hour as i64;
        }
        pick -= w;
    }
    18
}

fn weighted<T: Copy>(rng: &mut StdRng, choices: &[(T, u32)]) -> T {
    let total: u32 = choices.iter().map(|c| c.1).sum();
    let mut pick = rng.gen_range(0..total.max(1));
    for (value, w) in choices {
        if pick < *w {
            return *value;
        }
        pick -= w;
    }
    choices[0].0
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The demo's observations at the given places (ids from the store),
/// deterministic for a seed.
pub fn demo_observations(
    places: &[(i64, NewPlace)],
    count: usize,
    seed: u64,
    now: DateTime<Utc>,
) -> Vec<(ObservationDetails, Provenance)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(count);
    if places.is_empty() {
        return out;
    }
    for i in 0..count {
        // The first sixteen cover every category once; the rest follow the places.
        let (place_id, place, category) = if i < Category::ALL.len() {
            let category = Category::ALL[i];
            let candidates: Vec<_> = places
                .iter()
                .filter(|(_, p)| categories_for(p.setting).contains(&category))
                .collect();
            let (id, p) = candidates.choose(&mut rng).copied().unwrap_or(&places[0]);
            (*id, p, category)
        } else {
            let (id, p) = &places[rng.gen_range(0..places.len())];
            let category = *categories_for(p.setting)
                .choose(&mut rng)
                .unwrap_or(&Category::YoungPeopleCongregating);
            (*id, p, category)
        };
        let (text, indicators) = describe(category);
        let indicators: Vec<Indicator> = indicators
            .iter()
            .copied()
            .filter(|_| rng.gen_bool(0.7))
            .collect();
        // Most within the last year and not yet due for review; about one
        // in seven seen just before its review period ended, so its review
        // date passed up to a month ago. The review queue has work at
        // first start, and retention (90 days' grace by default) has
        // nothing to erase.
        let review_days = i64::from(category.review_months()) * 366 / 12;
        let days_ago = if rng.gen_bool(0.15) {
            review_days + rng.gen_range(1..30)
        } else {
            rng.gen_range(0..(review_days - 1).min(365))
        };
        let observed_at = (now - Duration::days(days_ago))
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or(now)
            + Duration::hours(plausible_hour(&mut rng))
            + Duration::minutes(rng.gen_range(0..60));
        let observed_at = observed_at.min(now - Duration::minutes(5));
        let sensitivity = if rng.gen_bool(0.08) {
            Sensitivity::Restricted
        } else {
            category.default_sensitivity()
        };
        let agency = DEMO_AGENCIES[rng.gen_range(0..DEMO_AGENCIES.len())];
        out.push((
            ObservationDetails {
                // Within about 40 m of the place, to the 6 decimals (~0.1 m)
                // a phone reports.
                location: LonLat {
                    lon: round6(place.lon + rng.gen_range(-0.0006..0.0006)),
                    lat: round6(place.lat + rng.gen_range(-0.0004..0.0004)),
                },
                extent: None,
                observed_at,
                category,
                indicators,
                setting: place.setting,
                place_id: Some(place_id),
                description: format!("{text} ({})", place.name_en),
                severity: weighted(
                    &mut rng,
                    &[
                        (Severity::Low, 4),
                        (Severity::Medium, 4),
                        (Severity::High, 2),
                    ],
                ),
                grading: Grading {
                    source: weighted(
                        &mut rng,
                        &[
                            (SourceReliability::Reliable, 6),
                            (SourceReliability::Untested, 3),
                            (SourceReliability::NotReliable, 1),
                        ],
                    ),
                    information: weighted(
                        &mut rng,
                        &[
                            (InformationAssessment::KnownDirectly, 6),
                            (InformationAssessment::KnownIndirectlyCorroborated, 2),
                            (InformationAssessment::KnownIndirectly, 2),
                            (InformationAssessment::NotKnown, 1),
                        ],
                    ),
                    handling: weighted(
                        &mut rng,
                        &[
                            (Handling::MayBeShared, 4),
                            (Handling::SharedWithConditions, 1),
                        ],
                    ),
                },
                sensitivity,
                case_reference: rng
                    .gen_bool(0.2)
                    .then(|| format!("DEMO-{:05}", rng.gen_range(0..100_000))),
                status: weighted(
                    &mut rng,
                    &[
                        (Status::New, 5),
                        (Status::Reviewed, 3),
                        (Status::Actioned, 1),
                        (Status::Closed, 1),
                    ],
                ),
            },
            Provenance {
                agency: agency.to_owned(),
                recorded_by: format!("demo:{agency}"),
                recorded_at: (observed_at + Duration::minutes(rng.gen_range(1..240))).min(now),
            },
        ));
    }
    out
}

/// Synthetic observations spread over a box, for benchmarks: `count` of
/// them, standard sensitivity, one agency. Deterministic for a seed.
pub fn synthetic_observations(
    area: [f64; 4],
    count: usize,
    seed: u64,
    now: DateTime<Utc>,
) -> Vec<(ObservationDetails, Provenance)> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let category = Category::ALL[rng.gen_range(0..Category::ALL.len())];
            let observed_at = now - Duration::seconds(rng.gen_range(600..365 * 86_400));
            (
                ObservationDetails {
                    location: LonLat {
                        lon: rng.gen_range(area[0]..area[2]),
                        lat: rng.gen_range(area[1]..area[3]),
                    },
                    extent: None,
                    observed_at,
                    category,
                    indicators: Vec::new(),
                    setting: SettingType::ALL[rng.gen_range(0..SettingType::ALL.len())],
                    place_id: None,
                    description: describe(category).0.to_owned(),
                    severity: Severity::ALL[rng.gen_range(0..Severity::ALL.len())],
                    grading: Grading::default(),
                    sensitivity: Sensitivity::Standard,
                    case_reference: None,
                    status: Status::ALL[rng.gen_range(0..Status::ALL.len())],
                },
                Provenance {
                    agency: "benchmark-agency".to_owned(),
                    recorded_by: "benchmark".to_owned(),
                    // Recorded as they are loaded: their review dates lie
                    // ahead, so retention does not erase a benchmark's data
                    // while it runs.
                    recorded_at: now,
                },
            )
        })
        .collect()
}

/// A made-up safety-mapping session, facilitated by `facilitator` a
/// fortnight before `now` near Newport's city centre: six participants'
/// pins (several in the same squares, so the layer has counts to show), an
/// area and a route. Invents no one: participants are numbers.
pub async fn load_perceptions(
    store: &Store,
    facilitator: &Viewer,
    rules: &crate::domain::observation::ValidationRules,
    now: DateTime<Utc>,
) -> Result<(), crate::service::ServiceError> {
    use crate::domain::perception::{MarkInput, SessionInput};
    let service = crate::service::perceptions::Perceptions::new(store.clone());
    let invalid = crate::service::ServiceError::Invalid;
    let session = SessionInput {
        held_on: (now - Duration::days(14)).date_naive().to_string(),
        area_id: None,
        age_band: Some("14-15".into()),
    }
    .validate()
    .map_err(invalid)?;
    let (row, _) = service.create(facilitator, session, None, now).await?;
    let pin =
        |participant, lon: f64, lat: f64, rating: &str, reasons: &[&str], time: &str| MarkInput {
            participant,
            kind: "pin".into(),
            rating: Some(rating.into()),
            route_use: None,
            geometry: serde_json::json!({ "type": "Point", "coordinates": [lon, lat] }),
            reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
            time_of_day: Some(time.into()),
        };
    let mut marks = Vec::new();
    // The underpass by the station: red for most, after dark.
    for (p, dx) in [(1, 0.0), (2, 0.0002), (3, -0.0001), (4, 0.0001)] {
        marks.push(pin(
            p,
            -2.99920 + dx,
            51.59110,
            "red",
            &["badly-lit", "isolated"],
            "evening",
        ));
    }
    // The bus station: amber.
    for p in [2, 5, 6] {
        marks.push(pin(
            p,
            -2.99650,
            51.58760,
            "amber",
            &["older-groups"],
            "afternoon",
        ));
    }
    // The library and the youth centre: green.
    for p in [1, 3, 5, 6] {
        marks.push(pin(
            p,
            -2.99480,
            51.58610,
            "green",
            &["trusted-adult", "feels-safe"],
            "afternoon",
        ));
    }
    marks.push(MarkInput {
        participant: 4,
        kind: "route".into(),
        rating: None,
        route_use: Some("avoided".into()),
        geometry: serde_json::json!({ "type": "LineString", "coordinates": [[-2.9992, 51.5911], [-2.9985, 51.5901], [-2.9976, 51.5893]] }),
        reasons: vec!["badly-lit".into()],
        time_of_day: Some("evening".into()),
    });
    marks.push(MarkInput {
        participant: 6,
        kind: "area".into(),
        rating: Some("green".into()),
        route_use: None,
        geometry: serde_json::json!({ "type": "Polygon", "coordinates": [[[-2.9955, 51.5858], [-2.9940, 51.5858], [-2.9940, 51.5866], [-2.9955, 51.5866], [-2.9955, 51.5858]]] }),
        reasons: vec!["busy-and-lit".into()],
        time_of_day: Some("afternoon".into()),
    });
    for mark in marks {
        let checked = mark.validate(rules).map_err(invalid)?;
        service
            .mark(facilitator, row.id, checked, None, now)
            .await?;
    }
    Ok(())
}

/// A made-up mapping exercise on the Newport ward holding the city
/// centre, set up by `coordinator` for the demo agencies, with what its
/// panel drew: the underpass they want lit, the route young people use
/// from the bus station, and the green space the youth service runs
/// sessions in. Nothing when no ward holds the centre (no boundaries were
/// imported). Invents no one.
pub async fn load_exercise(
    store: &Store,
    coordinator: &Viewer,
    rules: &crate::domain::observation::ValidationRules,
    now: DateTime<Utc>,
) -> Result<Option<i64>, crate::service::ServiceError> {
    use crate::domain::exercise::{AnnotationInput, NewExercise};
    use crate::domain::vocabulary::{AreaKind, ExerciseKind};
    let centre = [-2.9965, 51.5876];
    let areas = crate::areas::AreaSet::load(store).await?;
    let Some(ward) = areas
        .snapshot()
        .iter()
        .find(|a| a.kind == AreaKind::Ward && a.contains(centre))
        .cloned()
    else {
        return Ok(None);
    };
    let exercise = NewExercise {
        kind: ExerciseKind::MappingExercise,
        title: "City centre evening economy (demo)".into(),
        area_id: ward.id,
        from: now - Duration::days(365),
        to: now,
        // Every agency registered takes part: the demo's panel is all of them.
        agencies: {
            let mut codes: Vec<String> = store
                .agencies()
                .await?
                .into_iter()
                .map(|a| a.code)
                .collect();
            codes.sort();
            codes.dedup();
            codes
        },
        review_on: Some((now + Duration::days(90)).date_naive()),
    };
    let audit = |what: &str, id: i64| {
        AuditEntry::by(
            coordinator,
            AuditAction::Collection,
            "exercise",
            id.to_string(),
            &coordinator.agency,
            Some(what),
            now,
        )
    };
    let (id, _) = store
        .create_exercise(
            &exercise,
            (&coordinator.principal, &coordinator.name),
            None,
            audit("set up an exercise", 0),
        )
        .await?;
    let drawn = [
        (
            serde_json::json!({"type": "Point", "coordinates": [-2.9992, 51.5911]}),
            "Underpass by the station: badly lit after dark. Ask highways for a lighting survey.",
        ),
        (
            serde_json::json!({"type": "LineString", "coordinates": [[-2.9965, 51.5876], [-2.9972, 51.5889], [-2.9985, 51.5901]]}),
            "Route young people use from the bus station in the evening.",
        ),
        (
            serde_json::json!({"type": "Polygon", "coordinates": [[[-2.9955, 51.5858], [-2.9940, 51.5858], [-2.9940, 51.5866], [-2.9955, 51.5866], [-2.9955, 51.5858]]]}),
            "Green space used for youth service sessions: keep as a safe space.",
        ),
    ];
    for (geometry, note) in drawn {
        let checked = AnnotationInput {
            geometry,
            note: note.into(),
        }
        .validate(rules)
        .map_err(crate::service::ServiceError::Invalid)?;
        store
            .add_annotation(id, &checked, None, audit("annotated an exercise", id))
            .await?;
    }
    Ok(Some(id))
}

/// What loading the demo did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLoaded {
    /// Places added.
    pub places: usize,
    /// Observations added.
    pub observations: usize,
}

/// Loads the demo places and observations, unless places already exist
/// (the demo was loaded before, or this is a real register).
pub async fn load(store: &Store, now: DateTime<Utc>) -> Result<DemoLoaded, StoreError> {
    if store.count_places().await? > 0 {
        return Ok(DemoLoaded {
            places: 0,
            observations: 0,
        });
    }
    let mut stored = Vec::new();
    for place in places() {
        let id = store
            .create_place(&register_entry(stored.len(), &place))
            .await?;
        stored.push((id, place));
    }
    let rows = demo_observations(&stored, DEMO_OBSERVATIONS, 2026, now);
    store.create_observations_bulk(&rows).await?;
    Ok(DemoLoaded {
        places: stored.len(),
        observations: rows.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_places_are_all_in_newport_and_cover_every_setting() {
        let places = places();
        assert!(places.len() >= 40);
        for p in &places {
            assert!((-3.124..=-2.803).contains(&p.lon) && (51.502..=51.649).contains(&p.lat));
        }
        for s in SettingType::ALL {
            assert!(places.iter().any(|p| p.setting == *s), "no {s} place");
        }
    }

    #[test]
    fn demo_records_give_the_review_queue_work_but_none_is_old_enough_for_retention_to_erase() {
        let places: Vec<_> = places()
            .into_iter()
            .enumerate()
            .map(|(i, p)| (i as i64, p))
            .collect();
        let now = Utc::now();
        let today = now.date_naive();
        let rows = demo_observations(&places, DEMO_OBSERVATIONS, 2026, now);
        let reviews: Vec<_> = rows
            .iter()
            .map(|(d, p)| crate::domain::observation::review_by(d.category, p.recorded_at))
            .collect();
        let oldest = reviews.iter().min().copied().unwrap_or(today);
        assert!(
            oldest >= today - Duration::days(40),
            "a review date {oldest} would be erased after the grace period"
        );
        let due = reviews.iter().filter(|r| **r <= today).count();
        assert!(due >= 30, "{due} records due for review");
    }

    #[test]
    fn demo_observations_cover_every_category() {
        let places: Vec<_> = places()
            .into_iter()
            .enumerate()
            .map(|(i, p)| (i as i64, p))
            .collect();
        let rows = demo_observations(&places, DEMO_OBSERVATIONS, 1, Utc::now());
        for c in Category::ALL {
            assert!(rows.iter().any(|(d, _)| d.category == *c), "no {c}");
        }
    }
}
