//! Analysis over what a viewer may see: grid counts, Getis–Ord Gi\* hot
//! spots, DBSCAN clusters and time profiles.
//!
//! Every function here works on positions *as shown* to the viewer (see
//! `privacy`), so an aggregate never carries finer detail than the points
//! layer would; small counts are then suppressed for roles below
//! coordinator by [`Suppression`].

pub mod dbscan;
pub mod gistar;
pub mod grid;

use serde::Serialize;

use crate::domain::vocabulary::Role;

/// Small-count suppression: counts from 1 to `threshold − 1` are withheld
/// from everyone below coordinator, and shown as "fewer than `threshold`".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppression {
    /// The smallest count shown as it is.
    pub threshold: u32,
    /// Whether this viewer sees every count (coordinators).
    pub exempt: bool,
}

/// A count as one viewer may see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ShownCount {
    /// The count itself.
    Exact(u32),
    /// Withheld: between 1 and the threshold.
    Suppressed,
}

/// A count's properties in a feature: the count (`null` when withheld),
/// whether it is withheld, and "fewer than 5" / "llai na 5" when it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountView {
    /// The count, or `null`.
    pub count: ShownCount,
    /// Whether the count is withheld.
    pub suppressed: bool,
    /// "fewer than N", when withheld.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count_label: Option<String>,
    /// "llai na N", when withheld.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count_label_cy: Option<String>,
}

impl Suppression {
    /// The rule for a viewer in `role`.
    pub fn for_role(role: Role, threshold: u32) -> Suppression {
        Suppression {
            threshold,
            exempt: role == Role::Coordinator,
        }
    }

    /// How `count` is shown.
    pub fn show(&self, count: u32) -> ShownCount {
        if self.exempt || count == 0 || count >= self.threshold {
            ShownCount::Exact(count)
        } else {
            ShownCount::Suppressed
        }
    }

    /// `count` as this viewer sees it, with the words for it when withheld.
    pub fn view(&self, count: u32) -> CountView {
        let shown = self.show(count);
        let suppressed = shown == ShownCount::Suppressed;
        let (en, cy) = self.label();
        CountView {
            count: shown,
            suppressed,
            count_label: suppressed.then_some(en),
            count_label_cy: suppressed.then_some(cy),
        }
    }

    /// The words for a suppressed count, in English and Welsh.
    pub fn label(&self) -> (String, String) {
        (
            format!("fewer than {}", self.threshold),
            format!("llai na {}", self.threshold),
        )
    }
}

/// A Gi\* run on a grid: every cell of a study area, its count, and the
/// statistics.
#[derive(Debug, Clone)]
pub struct HotspotRun {
    /// The grid.
    pub grid: grid::Grid,
    /// Every cell of the study area, in row-major order.
    pub cells: Vec<grid::Cell>,
    /// Points per cell.
    pub counts: Vec<u32>,
    /// The statistics, per cell.
    pub result: gistar::HotSpots,
    /// Cells whose statistics the viewer may not be shown (their counts
    /// are withheld); empty: none.
    pub withheld: Vec<bool>,
}

impl HotspotRun {
    /// Whether cell `i`'s statistics are withheld from the viewer (its
    /// count is).
    pub fn is_withheld(&self, i: usize) -> bool {
        self.withheld.get(i).copied().unwrap_or(false)
    }
}

/// The box `[min_x, min_y, max_x, max_y]` around some positions.
pub fn extent(points: impl IntoIterator<Item = (f64, f64)>) -> Option<[f64; 4]> {
    points.into_iter().fold(None, |b, (x, y)| {
        Some(match b {
            None => [x, y, x, y],
            Some([a, b, c, d]) => [a.min(x), b.min(y), c.max(x), d.max(y)],
        })
    })
}

/// How long one request's analysis may run, and which parameter to name
/// when it runs out.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    deadline: Option<std::time::Instant>,
    /// The parameter a client should change when the budget runs out.
    pub parameter: &'static str,
}

/// The budget ran out; change `parameter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    /// The parameter to change.
    pub parameter: &'static str,
}

impl Budget {
    /// No limit (benchmarks, tests, the command line).
    pub fn unlimited() -> Budget {
        Budget {
            deadline: None,
            parameter: "",
        }
    }

    /// Until `limit` from now; `parameter` is named when it runs out.
    pub fn for_(limit: std::time::Duration, parameter: &'static str) -> Budget {
        Budget {
            deadline: Some(std::time::Instant::now() + limit),
            parameter,
        }
    }

    /// Whether the time is up.
    pub fn spent(&self) -> bool {
        self.deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
    }

    /// `Err` once the time is up.
    pub fn check(&self) -> Result<(), OverBudget> {
        if self.spent() {
            Err(OverBudget {
                parameter: self.parameter,
            })
        } else {
            Ok(())
        }
    }
}

/// Counts `points` (grid metres) on every cell of `cells` (empty cells
/// count as zeros, as they must for the statistic to mean anything; points
/// outside them are left out) and runs Gi\*.
pub fn hot_spots_on(
    grid: grid::Grid,
    cells: Vec<grid::Cell>,
    points: impl IntoIterator<Item = (f64, f64)>,
    weights: gistar::Weights,
    fdr: bool,
) -> HotspotRun {
    hot_spots_within(
        grid,
        cells,
        points,
        weights,
        fdr,
        None,
        &Budget::unlimited(),
    )
    .expect("an unlimited budget never runs out")
}

/// [`hot_spots_on`] within a time budget, for a viewer under
/// `suppression` (`None`: every count as it is). Distance bands on a
/// lattice sum rows of prefix sums (O(cells × rows in the band)); nearest
/// neighbours walk an R-tree; neither keeps neighbour lists.
///
/// For a viewer whose small counts are withheld, each withheld count
/// enters the statistic as the middle of the withheld range (2.5 below a
/// threshold of 5), not as itself: a z-score sums its neighbours' counts
/// and every count moves the study area's mean and variance, so otherwise
/// the z of a shown cell next to a withheld one, compared with another,
/// would give the withheld count back. The withheld cells' own statistics
/// are withheld too ([`HotspotRun::is_withheld`]).
pub fn hot_spots_within(
    grid: grid::Grid,
    cells: Vec<grid::Cell>,
    points: impl IntoIterator<Item = (f64, f64)>,
    weights: gistar::Weights,
    fdr: bool,
    suppression: Option<&Suppression>,
    budget: &Budget,
) -> Result<HotspotRun, OverBudget> {
    let position: std::collections::HashMap<grid::Cell, usize> =
        cells.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let mut counts = vec![0u32; cells.len()];
    for (e, n) in points {
        if let Some(&i) = position.get(&grid.cell_of(e, n)) {
            counts[i] += 1;
        }
    }
    drop(position);
    budget.check()?;
    let small = |c: u32| suppression.is_some_and(|s| s.show(c) == ShownCount::Suppressed);
    let middle = suppression.map_or(0.0, |s| f64::from(s.threshold) / 2.0);
    let values: Vec<f64> = counts
        .iter()
        .map(|&c| if small(c) { middle } else { f64::from(c) })
        .collect();
    let withheld = if counts.iter().any(|&c| small(c)) {
        counts.iter().map(|&c| small(c)).collect()
    } else {
        Vec::new()
    };
    let stop = || budget.spent();
    let sums = match weights {
        gistar::Weights::DistanceBand(band) => {
            gistar::lattice_band_sums(grid, &cells, &values, band, &stop)
        }
        gistar::Weights::Nearest(_) => {
            let centres: Vec<(f64, f64)> = cells.iter().map(|&c| grid.centre(c)).collect();
            gistar::tree_sums(&centres, &values, weights, &stop)
        }
    };
    let (local, cardinality) = sums.ok_or(OverBudget {
        parameter: budget.parameter,
    })?;
    let result = gistar::statistics(&values, &local, cardinality, fdr);
    Ok(HotspotRun {
        grid,
        cells,
        counts,
        result,
        withheld,
    })
}

/// How many observations fell in each local hour (columns 0–23) of each
/// weekday (rows, Monday first), from `(hour, weekday)` pairs.
pub fn time_profile(times: impl IntoIterator<Item = (u8, u8)>) -> [[u32; 24]; 7] {
    let mut table = [[0u32; 24]; 7];
    for (hour, weekday) in times {
        if let Some(cell) = table
            .get_mut(usize::from(weekday))
            .and_then(|row| row.get_mut(usize::from(hour)))
        {
            *cell += 1;
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panel_members_see_small_counts_as_fewer_than_the_threshold() {
        let panel = Suppression::for_role(Role::PanelMember, 5);
        assert_eq!(panel.show(4), ShownCount::Suppressed);
        assert_eq!(panel.show(5), ShownCount::Exact(5));
        assert_eq!(panel.show(0), ShownCount::Exact(0));
        let coordinator = Suppression::for_role(Role::Coordinator, 5);
        assert_eq!(coordinator.show(1), ShownCount::Exact(1));
    }

    #[test]
    fn a_time_profile_counts_by_weekday_and_hour() {
        let table = time_profile([(23, 6), (23, 6), (0, 0)]);
        assert_eq!(table[6][23], 2);
        assert_eq!(table[0][0], 1);
        assert_eq!(table.iter().flatten().sum::<u32>(), 3);
    }
}
