//! "Did you mean ...?": the closest known name to a misspelt one.
//!
//! Edit distance is Levenshtein over characters, compared case-insensitively; a candidate is
//! close enough when its distance is at most a third of the name's length (at least 1). Ties go
//! to the first candidate in iteration order after sorting, so the answer is deterministic.

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `name`, if any is close enough (never `name` itself).
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let limit = (name.chars().count() / 3).max(1);
    let mut all: Vec<&str> = candidates.into_iter().filter(|c| *c != name).collect();
    all.sort_unstable();
    all.dedup();
    all.into_iter()
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_basics() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn closest_is_close_enough_and_deterministic() {
        assert_eq!(closest("exprr", ["expr", "term", "exp"]), Some("expr"));
        assert_eq!(closest("NUMBR", ["NUMBER", "NAME"]), Some("NUMBER"));
        assert_eq!(closest("expression", ["x", "atom"]), None);
        assert_eq!(closest("ab", ["ac", "ad"]), Some("ac"));
        assert_eq!(closest("ws", ["WS"]), Some("WS"), "case differences are free");
    }
}
