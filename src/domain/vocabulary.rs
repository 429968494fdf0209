//! The controlled vocabulary: every list a user picks from, with its stable
//! code and its English and Welsh labels, in one place.
//!
//! Clients read it from `GET /api/vocabulary` and never hard-code it. The
//! codes are what the stores keep and the APIs speak; labels are for people.

use serde::Serialize;

/// A bilingual label. Councils in Wales must offer services in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Label {
    /// English.
    pub en: &'static str,
    /// Welsh (Cymraeg).
    pub cy: &'static str,
}

/// Declares a vocabulary enum: variants with stable codes and bilingual labels.
///
/// Generates `ALL`, `code()`, `label()`, `from_code()` and a compact
/// `index()`/`from_index()` pair used by the spatial index, plus serde
/// serialisation as the code.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = ($code:literal, $en:literal, $cy:literal) ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every term, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable machine-readable code.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// The English and Welsh labels.
            pub fn label(self) -> Label {
                match self { $($name::$variant => Label { en: $en, cy: $cy }),+ }
            }

            /// Looks a term up by its code.
            pub fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// Position in `ALL`, for compact storage in the spatial index.
            pub fn index(self) -> u8 {
                self as u8
            }

            /// The term at a position in `ALL`.
            pub fn from_index(index: u8) -> Option<Self> {
                Self::ALL.get(usize::from(index)).copied()
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.code())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

vocabulary! {
    /// What kind of concern (or protective factor) an observation records.
    pub enum Category {
        SexualExploitation = ("child-sexual-exploitation", "Child sexual exploitation concern", "Pryder am gamfanteisio'n rhywiol ar blant"),
        CriminalExploitation = ("child-criminal-exploitation", "Child criminal exploitation / county lines", "Camfanteisio troseddol ar blant / llinellau cyffuriau"),
        Trafficking = ("trafficking-modern-slavery", "Trafficking or modern slavery indicators", "Arwyddion masnachu pobl neu gaethwasiaeth fodern"),
        PeerViolence = ("peer-violence-weapons", "Peer violence or weapons", "Trais rhwng cyfoedion neu arfau"),
        HarmfulSexualBehaviour = ("harmful-sexual-behaviour", "Harmful sexual behaviour", "Ymddygiad rhywiol niweidiol"),
        Bullying = ("bullying-harassment", "Bullying or harassment", "Bwlio neu aflonyddu"),
        SubstanceMisuse = ("substance-misuse", "Substance misuse involving young people", "Camddefnyddio sylweddau gan bobl ifanc"),
        MissingSighting = ("missing-person-sighting", "Missing person sighting", "Gweld person sydd ar goll"),
        UnsafeEnvironment = ("unsafe-environment", "Unsafe environment (poor lighting, isolated, blind spots, no CCTV, derelict)", "Amgylchedd anniogel (golau gwael, anghysbell, mannau cudd, dim teledu cylch cyfyng, adfeiliedig)"),
        DrugWeaponLitter = ("drug-weapon-litter", "Drug or weapon litter found", "Sbwriel cyffuriau neu arfau wedi'i ganfod"),
        LicensedPremises = ("licensed-premises-concern", "Licensed premises concern", "Pryder am safle trwyddedig"),
        HotelShortStay = ("hotel-short-stay-concern", "Hotel or short-stay concern", "Pryder am westy neu lety tymor byr"),
        TakeawayShop = ("takeaway-shop-concern", "Takeaway or shop concern", "Pryder am siop têc-awê neu siop"),
        TaxiPrivateHire = ("taxi-private-hire-concern", "Taxi or private hire concern", "Pryder am dacsi neu gerbyd hurio preifat"),
        YoungPeopleCongregating = ("young-people-congregating", "Young people congregating (neutral)", "Pobl ifanc yn ymgynnull (niwtral)"),
        SafePlace = ("safe-place", "Safe place or protective factor", "Lle diogel neu ffactor amddiffynnol"),
    }
}

impl Category {
    /// The sensitivity a new observation gets when the officer does not choose.
    pub fn default_sensitivity(self) -> Sensitivity {
        use Category::*;
        match self {
            SexualExploitation | Trafficking | HarmfulSexualBehaviour | MissingSighting => {
                Sensitivity::Sensitive
            }
            CriminalExploitation | PeerViolence | Bullying | SubstanceMisuse | LicensedPremises
            | HotelShortStay | TakeawayShop | TaxiPrivateHire => Sensitivity::Standard,
            UnsafeEnvironment | DrugWeaponLitter | YoungPeopleCongregating | SafePlace => {
                Sensitivity::Standard
            }
        }
    }

    /// Months after recording when an observation must be reviewed: kept
    /// with a reason, or erased (data minimisation, DPA 2018 s.39).
    pub fn review_months(self) -> u32 {
        use Category::*;
        match self {
            SexualExploitation | CriminalExploitation | Trafficking | HarmfulSexualBehaviour => 24,
            PeerViolence | MissingSighting | LicensedPremises | HotelShortStay | TakeawayShop
            | TaxiPrivateHire | SafePlace => 12,
            Bullying | SubstanceMisuse | UnsafeEnvironment => 12,
            DrugWeaponLitter | YoungPeopleCongregating => 6,
        }
    }
}

vocabulary! {
    /// The kind of place where something was seen.
    pub enum SettingType {
        Park = ("park", "Park or open space", "Parc neu fan agored"),
        Takeaway = ("takeaway", "Takeaway", "Siop têc-awê"),
        Hotel = ("hotel", "Hotel or short-stay", "Gwesty neu lety tymor byr"),
        TaxiRank = ("taxi-rank", "Taxi rank", "Safle tacsis"),
        TransportHub = ("transport-hub", "Transport hub", "Canolfan drafnidiaeth"),
        SchoolPerimeter = ("school-perimeter", "School perimeter", "Ffin ysgol"),
        LicensedPremises = ("licensed-premises", "Licensed premises", "Safle trwyddedig"),
        Street = ("street", "Street", "Stryd"),
        DerelictBuilding = ("derelict-building", "Derelict building", "Adeilad adfeiliedig"),
        ShoppingCentre = ("shopping-centre", "Shopping centre", "Canolfan siopa"),
        Other = ("other", "Other", "Arall"),
    }
}

vocabulary! {
    /// Indicator tags: what was seen, in plain words.
    pub enum Indicator {
        OlderAdultsWithYoungPeople = ("older-adults-with-young-people", "Older adults with young people", "Oedolion hŷn gyda phobl ifanc"),
        YoungPeopleInVehicles = ("young-people-in-vehicles", "Young people getting into vehicles", "Pobl ifanc yn mynd i mewn i gerbydau"),
        CashOrGifts = ("cash-or-gifts", "Cash, phones or gifts handed over", "Arian parod, ffonau neu roddion yn cael eu rhoi"),
        UnfamiliarAdults = ("unfamiliar-adults", "Unfamiliar adults frequenting", "Oedolion anghyfarwydd yn mynychu"),
        SchoolAgeInSchoolHours = ("school-age-in-school-hours", "School-age children here in school hours", "Plant oed ysgol yma yn ystod oriau ysgol"),
        DrugsVisible = ("drugs-visible", "Drugs or paraphernalia visible", "Cyffuriau neu offer cyffuriau i'w gweld"),
        WeaponsVisible = ("weapons-visible", "Weapons visible", "Arfau i'w gweld"),
        AlcoholUse = ("alcohol-use", "Alcohol use by young people", "Pobl ifanc yn yfed alcohol"),
        PoorLighting = ("poor-lighting", "Poor lighting", "Golau gwael"),
        NoCctv = ("no-cctv", "No CCTV", "Dim teledu cylch cyfyng"),
        Isolated = ("isolated", "Isolated or blind spot", "Anghysbell neu fan cudd"),
        Derelict = ("derelict", "Derelict or rundown", "Adfeiliedig neu wedi dirywio"),
        LateNightPresence = ("late-night-presence", "Young people out late at night", "Pobl ifanc allan yn hwyr y nos"),
        TrustedAdultPresent = ("trusted-adult-present", "Trusted adult present", "Oedolyn dibynadwy yn bresennol"),
        TrainedStaff = ("trained-staff", "Staff trained in safeguarding", "Staff wedi'u hyfforddi mewn diogelu"),
    }
}

vocabulary! {
    /// How serious the concern is, in the recorder's judgement.
    pub enum Severity {
        Low = ("low", "Low", "Isel"),
        Medium = ("medium", "Medium", "Canolig"),
        High = ("high", "High", "Uchel"),
    }
}

vocabulary! {
    /// 3×5×2 grading: how reliable the source is.
    pub enum SourceReliability {
        Reliable = ("reliable", "Reliable", "Dibynadwy"),
        Untested = ("untested", "Untested", "Heb ei brofi"),
        NotReliable = ("not-reliable", "Not reliable", "Annibynadwy"),
    }
}

vocabulary! {
    /// 3×5×2 grading: how the information is known.
    pub enum InformationAssessment {
        KnownDirectly = ("known-directly", "Known directly", "Yn hysbys yn uniongyrchol"),
        KnownIndirectlyCorroborated = ("known-indirectly-corroborated", "Known indirectly and corroborated", "Yn hysbys yn anuniongyrchol ac wedi'i gadarnhau"),
        KnownIndirectly = ("known-indirectly", "Known indirectly", "Yn hysbys yn anuniongyrchol"),
        NotKnown = ("not-known", "Not known", "Ddim yn hysbys"),
        SuspectedFalse = ("suspected-false", "Suspected to be false", "Amheuir ei fod yn anwir"),
    }
}

vocabulary! {
    /// 3×5×2 grading: how the information may be handled.
    pub enum Handling {
        MayBeShared = ("may-be-shared", "May be shared", "Gellir ei rannu"),
        SharedWithConditions = ("shared-with-conditions", "Shared with conditions", "Ei rannu gydag amodau"),
    }
}

vocabulary! {
    /// How widely a record may be seen; decides precision per viewer.
    pub enum Sensitivity {
        Standard = ("standard", "Standard", "Safonol"),
        Sensitive = ("sensitive", "Sensitive", "Sensitif"),
        Restricted = ("restricted", "Restricted", "Cyfyngedig"),
    }
}

vocabulary! {
    /// Where an observation is in its review workflow.
    pub enum Status {
        New = ("new", "New", "Newydd"),
        Reviewed = ("reviewed", "Reviewed", "Wedi'i adolygu"),
        Actioned = ("actioned", "Actioned", "Wedi gweithredu"),
        Closed = ("closed", "Closed", "Wedi cau"),
    }
}

vocabulary! {
    /// Recurring bands of the day, in UK local time, that layers filter by.
    pub enum TimeBand {
        Morning = ("morning", "Morning (06:00–09:00)", "Bore (06:00–09:00)"),
        SchoolDay = ("school-day", "School day (09:00–15:00)", "Diwrnod ysgol (09:00–15:00)"),
        AfterSchool = ("after-school", "After school (15:00–18:00)", "Ar ôl ysgol (15:00–18:00)"),
        Evening = ("evening", "Evening (18:00–22:00)", "Gyda'r nos (18:00–22:00)"),
        LateNight = ("late-night", "Late night (22:00–06:00)", "Hwyr y nos (22:00–06:00)"),
    }
}

impl TimeBand {
    /// The band a local hour of the day (0–23) falls in.
    pub fn of_hour(hour: u8) -> TimeBand {
        match hour {
            6..=8 => TimeBand::Morning,
            9..=14 => TimeBand::SchoolDay,
            15..=17 => TimeBand::AfterSchool,
            18..=21 => TimeBand::Evening,
            _ => TimeBand::LateNight,
        }
    }
}

vocabulary! {
    /// Weekday or weekend, in UK local time.
    pub enum DayKind {
        Weekday = ("weekday", "Weekday", "Yn ystod yr wythnos"),
        Weekend = ("weekend", "Weekend", "Penwythnos"),
    }
}

impl DayKind {
    /// Whether a local weekday (0 = Monday … 6 = Sunday) is a weekday or weekend day.
    pub fn of_weekday(weekday: u8) -> DayKind {
        if weekday >= 5 {
            DayKind::Weekend
        } else {
            DayKind::Weekday
        }
    }
}

vocabulary! {
    /// What a person does with safetymap (DESIGN.md §1).
    pub enum Role {
        FieldOfficer = ("field-officer", "Field officer", "Swyddog maes"),
        PanelMember = ("panel-member", "Panel member", "Aelod panel"),
        Coordinator = ("coordinator", "Safeguarding coordinator", "Cydlynydd diogelu"),
        Admin = ("admin", "Administrator", "Gweinyddwr"),
    }
}

vocabulary! {
    /// What an audit event records (DPA 2018 s.62 and the Seven Golden Rules).
    pub enum AuditAction {
        Collection = ("collection", "Collected", "Casglwyd"),
        Alteration = ("alteration", "Altered", "Newidiwyd"),
        Withdrawal = ("withdrawal", "Withdrawn", "Tynnwyd yn ôl"),
        Consultation = ("consultation", "Consulted", "Ymgynghorwyd"),
        Disclosure = ("disclosure", "Disclosed", "Datgelwyd"),
        Erasure = ("erasure", "Erased", "Dilëwyd"),
        Review = ("review", "Kept after review", "Cadwyd ar ôl adolygiad"),
        Alert = ("alert", "Flagged for coordinators", "Tynnwyd sylw cydgysylltwyr"),
    }
}

vocabulary! {
    /// What kind of place a register entry is.
    pub enum PlaceKind {
        LicensedPremises = ("licensed-premises", "Licensed premises", "Safle trwyddedig"),
        Takeaway = ("takeaway", "Takeaway", "Siop têc-awê"),
        Hotel = ("hotel", "Hotel or short-stay", "Gwesty neu lety tymor byr"),
        TaxiRank = ("taxi-rank", "Taxi rank", "Safle tacsis"),
        Park = ("park", "Park or open space", "Parc neu fan agored"),
        School = ("school", "School", "Ysgol"),
        YouthProvision = ("youth-provision", "Youth provision", "Darpariaeth ieuenctid"),
        TransportHub = ("transport-hub", "Transport hub", "Canolfan drafnidiaeth"),
        ShoppingCentre = ("shopping-centre", "Shopping centre", "Canolfan siopa"),
        Other = ("other", "Other", "Arall"),
    }
}

impl PlaceKind {
    /// The kind of place an observation setting suggests.
    pub fn for_setting(setting: SettingType) -> PlaceKind {
        PlaceKind::ALL
            .iter()
            .copied()
            // Youth provision and "other" share the setting "other": a
            // place of setting "other" is not taken to be youth provision.
            .find(|k| {
                k.setting() == setting && !matches!(k, PlaceKind::Other | PlaceKind::YouthProvision)
            })
            .unwrap_or(PlaceKind::Other)
    }

    /// The observation setting a place of this kind is.
    pub fn setting(self) -> SettingType {
        match self {
            PlaceKind::LicensedPremises => SettingType::LicensedPremises,
            PlaceKind::Takeaway => SettingType::Takeaway,
            PlaceKind::Hotel => SettingType::Hotel,
            PlaceKind::TaxiRank => SettingType::TaxiRank,
            PlaceKind::Park => SettingType::Park,
            PlaceKind::School => SettingType::SchoolPerimeter,
            PlaceKind::TransportHub => SettingType::TransportHub,
            PlaceKind::ShoppingCentre => SettingType::ShoppingCentre,
            PlaceKind::YouthProvision | PlaceKind::Other => SettingType::Other,
        }
    }
}

vocabulary! {
    /// Whether a place's staff are trained in safeguarding.
    pub enum TrainingStatus {
        NotKnown = ("not-known", "Not known", "Ddim yn hysbys"),
        None = ("none", "Not trained", "Heb eu hyfforddi"),
        Booked = ("booked", "Training booked", "Hyfforddiant wedi'i drefnu"),
        Trained = ("trained", "Trained", "Wedi'u hyfforddi"),
        Lapsed = ("lapsed", "Training lapsed", "Hyfforddiant wedi dod i ben"),
    }
}

vocabulary! {
    /// What kind of area a boundary is.
    pub enum AreaKind {
        Ward = ("ward", "Electoral ward", "Ward etholiadol"),
        Lsoa = ("lsoa", "Lower layer super output area (LSOA)", "Ardal gynnyrch ehangach haen is (AGEHI)"),
        Msoa = ("msoa", "Middle layer super output area (MSOA)", "Ardal gynnyrch ehangach haen ganol (AGEHG)"),
        OutputArea = ("output-area", "Output area", "Ardal gynnyrch"),
        LocalAuthority = ("local-authority", "Local authority", "Awdurdod lleol"),
        Constituency = ("constituency", "Constituency", "Etholaeth"),
        Neighbourhood = ("neighbourhood", "Neighbourhood", "Cymdogaeth"),
        Drawn = ("drawn", "Drawn by hand", "Wedi'i thynnu â llaw"),
    }
}

vocabulary! {
    /// What kind of exercise a panel runs.
    pub enum ExerciseKind {
        MappingExercise = ("mapping-exercise", "Mapping exercise", "Ymarfer mapio"),
        LocationAssessment = ("location-assessment", "Location assessment", "Asesiad lleoliad"),
    }
}

vocabulary! {
    /// Where an agreed action stands.
    pub enum ActionStatus {
        Open = ("open", "Open", "Ar agor"),
        InProgress = ("in-progress", "In progress", "Ar y gweill"),
        Done = ("done", "Done", "Wedi'i wneud"),
        Dropped = ("dropped", "Dropped", "Wedi'i ollwng"),
    }
}

vocabulary! {
    /// Why a young person marked a place, in a safety-mapping session: a
    /// fixed list, so marks can be counted and nothing identifying is typed.
    pub enum PerceptionReason {
        NoCctv = ("no-cctv", "No CCTV", "Dim teledu cylch cyfyng"),
        BadlyLit = ("badly-lit", "Badly lit", "Golau gwael"),
        Isolated = ("isolated", "Isolated", "Anghysbell"),
        Rundown = ("rundown", "Rundown", "Wedi dirywio"),
        DrugsOrAlcohol = ("drugs-or-alcohol", "Signs of drugs or alcohol", "Arwyddion cyffuriau neu alcohol"),
        Harassment = ("harassment", "Harassment", "Aflonyddu"),
        BeingFollowed = ("being-followed", "Being followed", "Cael fy nilyn"),
        OlderGroups = ("older-groups", "Groups of older people", "Grwpiau o bobl hŷn"),
        Traffic = ("traffic", "Dangerous traffic", "Traffig peryglus"),
        TrustedAdult = ("trusted-adult", "Trusted adult here", "Oedolyn dibynadwy yma"),
        FeelsSafe = ("feels-safe", "Feels safe here", "Teimlo'n ddiogel yma"),
        BusyAndLit = ("busy-and-lit", "Busy and well lit", "Prysur a golau da"),
    }
}

vocabulary! {
    /// A safety-mapping participant's age band (optional).
    pub enum AgeBand {
        Under11 = ("under-11", "Under 11", "Dan 11"),
        From11To13 = ("11-13", "11 to 13", "11 i 13"),
        From14To15 = ("14-15", "14 to 15", "14 i 15"),
        From16To17 = ("16-17", "16 to 17", "16 i 17"),
        From18To24 = ("18-24", "18 to 24", "18 i 24"),
    }
}

vocabulary! {
    /// When in the day a mark applies.
    pub enum TimeOfDay {
        Any = ("any", "Any time", "Unrhyw bryd"),
        Morning = ("morning", "Morning", "Bore"),
        Afternoon = ("afternoon", "Afternoon", "Prynhawn"),
        Evening = ("evening", "Evening", "Gyda'r nos"),
        Night = ("night", "Night", "Nos"),
    }
}

vocabulary! {
    /// How safe a place feels: red, amber or green.
    pub enum Rating {
        Red = ("red", "Red — feels unsafe", "Coch — teimlo'n anniogel"),
        Amber = ("amber", "Amber — unsure", "Ambr — ansicr"),
        Green = ("green", "Green — feels safe", "Gwyrdd — teimlo'n ddiogel"),
    }
}

vocabulary! {
    /// Whether a route is used or avoided.
    pub enum RouteUse {
        Used = ("used", "Route used", "Llwybr a ddefnyddir"),
        Avoided = ("avoided", "Route avoided", "Llwybr a osgoir"),
    }
}

vocabulary! {
    /// What kind of organisation an agency is.
    pub enum AgencyKind {
        CouncilDirectorate = ("council-directorate", "Council directorate", "Cyfarwyddiaeth cyngor"),
        Police = ("police", "Police", "Heddlu"),
        Health = ("health", "Health", "Iechyd"),
        Education = ("education", "Education", "Addysg"),
        YouthJustice = ("youth-justice", "Youth justice", "Cyfiawnder ieuenctid"),
        ThirdSector = ("third-sector", "Third sector", "Trydydd sector"),
    }
}

/// One term as served to clients: code and labels.
#[derive(Debug, Serialize)]
pub struct Term {
    /// Stable code.
    pub code: &'static str,
    /// Bilingual label.
    pub label: Label,
}

/// A category as served to clients, with its defaults.
#[derive(Debug, Serialize)]
pub struct CategoryTerm {
    /// Stable code.
    pub code: &'static str,
    /// Bilingual label.
    pub label: Label,
    /// Sensitivity applied when none is given.
    pub default_sensitivity: Sensitivity,
    /// Months until the record must be reviewed.
    pub review_months: u32,
}

/// The whole vocabulary, as served at `GET /api/vocabulary`.
#[derive(Debug, Serialize)]
pub struct VocabularyDocument {
    /// Observation categories.
    pub categories: Vec<CategoryTerm>,
    /// Setting types.
    pub settings: Vec<Term>,
    /// Indicator tags.
    pub indicators: Vec<Term>,
    /// Severities.
    pub severities: Vec<Term>,
    /// Source reliability (3×5×2).
    pub source_reliability: Vec<Term>,
    /// Information assessment (3×5×2).
    pub information_assessment: Vec<Term>,
    /// Handling codes (3×5×2).
    pub handling: Vec<Term>,
    /// Sensitivities.
    pub sensitivities: Vec<Term>,
    /// Statuses.
    pub statuses: Vec<Term>,
    /// Recurring time bands.
    pub time_bands: Vec<Term>,
    /// Weekday or weekend.
    pub days: Vec<Term>,
    /// Roles.
    pub roles: Vec<Term>,
    /// Audit actions.
    pub audit_actions: Vec<Term>,
    /// Kinds of agency.
    pub agency_kinds: Vec<Term>,
    /// Kinds of registered place.
    pub place_kinds: Vec<Term>,
    /// Safeguarding-training statuses of places.
    pub training: Vec<Term>,
    /// Kinds of area.
    pub area_kinds: Vec<Term>,
    /// Kinds of exercise.
    pub exercise_kinds: Vec<Term>,
    /// Statuses of agreed actions.
    pub action_statuses: Vec<Term>,
    /// Reasons young people give in safety mapping.
    pub perception_reasons: Vec<Term>,
    /// Age bands of safety-mapping participants.
    pub age_bands: Vec<Term>,
    /// Times of day for safety-mapping marks.
    pub times_of_day: Vec<Term>,
    /// Red, amber, green.
    pub ratings: Vec<Term>,
    /// Route used or avoided.
    pub route_uses: Vec<Term>,
}

fn terms<T: Copy>(all: &[T], code: fn(T) -> &'static str, label: fn(T) -> Label) -> Vec<Term> {
    all.iter()
        .map(|&t| Term {
            code: code(t),
            label: label(t),
        })
        .collect()
}

impl VocabularyDocument {
    /// Builds the document from the enums above.
    pub fn build() -> Self {
        VocabularyDocument {
            categories: Category::ALL
                .iter()
                .map(|&c| CategoryTerm {
                    code: c.code(),
                    label: c.label(),
                    default_sensitivity: c.default_sensitivity(),
                    review_months: c.review_months(),
                })
                .collect(),
            settings: terms(SettingType::ALL, SettingType::code, SettingType::label),
            indicators: terms(Indicator::ALL, Indicator::code, Indicator::label),
            severities: terms(Severity::ALL, Severity::code, Severity::label),
            source_reliability: terms(
                SourceReliability::ALL,
                SourceReliability::code,
                SourceReliability::label,
            ),
            information_assessment: terms(
                InformationAssessment::ALL,
                InformationAssessment::code,
                InformationAssessment::label,
            ),
            handling: terms(Handling::ALL, Handling::code, Handling::label),
            sensitivities: terms(Sensitivity::ALL, Sensitivity::code, Sensitivity::label),
            statuses: terms(Status::ALL, Status::code, Status::label),
            time_bands: terms(TimeBand::ALL, TimeBand::code, TimeBand::label),
            days: terms(DayKind::ALL, DayKind::code, DayKind::label),
            roles: terms(Role::ALL, Role::code, Role::label),
            audit_actions: terms(AuditAction::ALL, AuditAction::code, AuditAction::label),
            agency_kinds: terms(AgencyKind::ALL, AgencyKind::code, AgencyKind::label),
            place_kinds: terms(PlaceKind::ALL, PlaceKind::code, PlaceKind::label),
            training: terms(
                TrainingStatus::ALL,
                TrainingStatus::code,
                TrainingStatus::label,
            ),
            area_kinds: terms(AreaKind::ALL, AreaKind::code, AreaKind::label),
            exercise_kinds: terms(ExerciseKind::ALL, ExerciseKind::code, ExerciseKind::label),
            action_statuses: terms(ActionStatus::ALL, ActionStatus::code, ActionStatus::label),
            perception_reasons: terms(
                PerceptionReason::ALL,
                PerceptionReason::code,
                PerceptionReason::label,
            ),
            age_bands: terms(AgeBand::ALL, AgeBand::code, AgeBand::label),
            times_of_day: terms(TimeOfDay::ALL, TimeOfDay::code, TimeOfDay::label),
            ratings: terms(Rating::ALL, Rating::code, Rating::label),
            route_uses: terms(RouteUse::ALL, RouteUse::code, RouteUse::label),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_every_label_has_welsh() {
        for c in Category::ALL {
            assert_eq!(Category::from_code(c.code()), Some(*c));
            assert_eq!(Category::from_index(c.index()), Some(*c));
            assert!(!c.label().cy.is_empty() && c.label().cy != c.label().en);
        }
        for s in SettingType::ALL {
            assert_eq!(SettingType::from_code(s.code()), Some(*s));
        }
    }

    #[test]
    fn hours_fall_into_the_expected_time_bands() {
        assert_eq!(TimeBand::of_hour(5), TimeBand::LateNight);
        assert_eq!(TimeBand::of_hour(6), TimeBand::Morning);
        assert_eq!(TimeBand::of_hour(15), TimeBand::AfterSchool);
        assert_eq!(TimeBand::of_hour(21), TimeBand::Evening);
        assert_eq!(TimeBand::of_hour(22), TimeBand::LateNight);
        assert_eq!(DayKind::of_weekday(5), DayKind::Weekend);
        assert_eq!(DayKind::of_weekday(4), DayKind::Weekday);
    }
}
