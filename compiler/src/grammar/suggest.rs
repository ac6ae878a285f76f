//! "Did you mean ...?": the closest known name to a misspelt one.
//!
//! The distance is Levenshtein's over characters plus the swap of two adjacent characters as
//! one edit (the "optimal string alignment" distance, so `itme` is one edit from `item`),
//! compared case-insensitively; a candidate is close enough when its distance is at most a
//! third of the name's length (at least 1). Ties go to the smallest candidate in byte order, so
//! the answer does not depend on the order of the candidates.
//!
//! **Cost bound:** a search compares the name with every candidate, so a grammar with many
//! undefined names over many definitions would be quadratic. A [`Suggester`] is shared by the
//! searches of one grammar and spends at most [`MAX_WORK`] units in all (a unit is one
//! candidate looked at or one cell of the distance table); once that is spent, it suggests
//! nothing more and the callers fall back to their plain help.

/// Total work of the searches of one [`Suggester`] (well under a second).
pub const MAX_WORK: usize = 50_000_000;

/// Levenshtein distance over characters, a swap of two adjacent characters counting as one edit.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    Distance::default().between(&a, &b, usize::MAX)
}

/// The candidate closest to `name`, if any is close enough (never `name` itself). A one-off
/// search with a budget of its own, for short fixed lists; use a [`Suggester`] for searches
/// that repeat with input-sized lists.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    Suggester::default().closest(name, candidates)
}

/// Did-you-mean searches sharing one work budget ([`MAX_WORK`]).
#[derive(Debug, Clone)]
pub struct Suggester {
    work_left: usize,
    distance: Distance,
}

impl Default for Suggester {
    fn default() -> Suggester {
        Suggester { work_left: MAX_WORK, distance: Distance::default() }
    }
}

impl Suggester {
    /// The candidate closest to `name`, if any is close enough (never `name` itself); `None`
    /// as well when the budget runs out during or before this search.
    pub fn closest<'a>(&mut self, name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
        let lower: Vec<char> = name.chars().flat_map(char::to_lowercase).collect();
        let limit = (name.chars().count() / 3).max(1);
        let mut best: Option<(usize, &'a str)> = None;
        let mut candidate_lower: Vec<char> = Vec::new();
        for candidate in candidates {
            self.spend(1)?;
            if candidate == name {
                continue;
            }
            candidate_lower.clear();
            candidate_lower.extend(candidate.chars().flat_map(char::to_lowercase));
            // The distance is at least the difference in length.
            if candidate_lower.len().abs_diff(lower.len()) > limit {
                continue;
            }
            let cells = (lower.len() + 1).saturating_mul(candidate_lower.len() + 1);
            self.spend(cells)?;
            let d = self.distance.between(&lower, &candidate_lower, limit);
            if d <= limit && best.is_none_or(|b| (d, candidate) < b) {
                best = Some((d, candidate));
            }
        }
        best.map(|(_, c)| c)
    }

    /// Takes `units` from the budget; `None` (and an empty budget) when there are not enough.
    fn spend(&mut self, units: usize) -> Option<()> {
        match self.work_left.checked_sub(units) {
            Some(left) => {
                self.work_left = left;
                Some(())
            }
            None => {
                self.work_left = 0;
                None
            }
        }
    }
}

/// The rows of the distance table, kept between comparisons to spare allocations.
#[derive(Debug, Clone, Default)]
struct Distance {
    before_previous: Vec<usize>,
    previous: Vec<usize>,
    current: Vec<usize>,
}

impl Distance {
    /// The distance of `a` and `b`, or some value above `limit` as soon as a row shows that
    /// the distance exceeds `limit`.
    fn between(&mut self, a: &[char], b: &[char], limit: usize) -> usize {
        let width = b.len() + 1;
        self.before_previous.clear();
        self.before_previous.resize(width, 0);
        self.previous.clear();
        self.previous.extend(0..width);
        self.current.clear();
        self.current.resize(width, 0);
        for (i, &ca) in a.iter().enumerate() {
            self.current[0] = i + 1;
            for (j, &cb) in b.iter().enumerate() {
                let substitute = self.previous[j] + usize::from(ca != cb);
                let mut d = substitute.min(self.previous[j + 1] + 1).min(self.current[j] + 1);
                // `ab` -> `ba`: the cell two rows and two columns back, plus one swap.
                if i > 0 && j > 0 && a[i - 1] == cb && b[j - 1] == ca {
                    d = d.min(self.before_previous[j - 1] + 1);
                }
                self.current[j + 1] = d;
            }
            // Row minima never decrease (a swap's cell costs no less than the substitution cell
            // it skips over), so a row whose minimum passes the limit ends the comparison.
            let row_min = self.current.iter().copied().min().unwrap_or(0);
            std::mem::swap(&mut self.before_previous, &mut self.previous);
            std::mem::swap(&mut self.previous, &mut self.current);
            if row_min > limit {
                return row_min;
            }
        }
        self.previous[b.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_basics() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("itme", "item"), 1, "a swap of neighbours is one edit");
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("abc", "ca"), 3, "optimal string alignment, not full Damerau");
    }

    #[test]
    fn closest_is_close_enough_and_deterministic() {
        assert_eq!(closest("exprr", ["expr", "term", "exp"]), Some("expr"));
        assert_eq!(closest("NUMBR", ["NUMBER", "NAME"]), Some("NUMBER"));
        assert_eq!(closest("expression", ["x", "atom"]), None);
        assert_eq!(closest("ab", ["ac", "ad"]), Some("ac"));
        assert_eq!(closest("ab", ["ad", "ac"]), Some("ac"), "ties go to the smallest, whatever the order");
        assert_eq!(closest("ws", ["WS"]), Some("WS"), "case differences are free");
        assert_eq!(closest("itme", ["item", "atom"]), Some("item"));
        assert_eq!(closest("ITME", ["ITEM"]), Some("ITEM"));
        assert_eq!(closest("item", ["item"]), None, "never the name itself");
    }

    #[test]
    fn a_suggester_stops_when_its_budget_is_spent() {
        let names: Vec<String> = (0..1000).map(|i| format!("name{i}")).collect();
        let mut suggester = Suggester::default();
        assert_eq!(suggester.closest("nmae7", names.iter().map(String::as_str)), Some("name7"));
        suggester.work_left = 10;
        assert_eq!(suggester.closest("nmae7", names.iter().map(String::as_str)), None);
        assert_eq!(suggester.work_left, 0);
        assert_eq!(suggester.closest("nmae7", ["name7"]), None, "a spent budget stays spent");
    }
}
