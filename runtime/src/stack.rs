//! A persistent stack: immutable nodes linked towards the bottom and shared through [`Arc`], so
//! that a clone costs O(1) and stacks that grew from one another share the nodes below the point
//! where they part.
//!
//! The parser's LR stack is one ([`crate::parser::Parser`]). A session clones parsers for every
//! rollback checkpoint, every hypothesis and every mask query; with a `Vec` each clone copied the
//! whole stack, so a session of `n` tokens nested `d` deep held O(n × d) states. With shared
//! nodes, a push allocates one node, a pop moves to the node below (freeing the old top when no
//! other stack holds it), and any number of clones hold O(d + pushes since they parted) nodes.
//!
//! **Invariant:** dropping a stack never recurses: the chain of nodes only it holds is freed in a
//! loop, so a million-deep stack cannot overflow the thread's stack. Nothing here panics.

use std::fmt;
use std::sync::Arc;

/// A persistent stack of `T`; see the module docs.
pub(crate) struct SharedStack<T> {
    top: Option<Arc<Node<T>>>,
}

struct Node<T> {
    value: T,
    /// Values from this node down to the bottom, this one included.
    len: usize,
    below: SharedStack<T>,
}

impl<T> SharedStack<T> {
    /// The empty stack.
    pub(crate) const fn new() -> SharedStack<T> {
        SharedStack { top: None }
    }

    /// Number of values. O(1).
    pub(crate) fn len(&self) -> usize {
        self.top.as_ref().map_or(0, |node| node.len)
    }

    /// The top value.
    pub(crate) fn peek(&self) -> Option<&T> {
        self.top.as_deref().map(|node| &node.value)
    }

    /// The stack below the top value (`None` when empty). O(1), no allocation: how a reader walks
    /// down without touching reference counts.
    pub(crate) fn below(&self) -> Option<&SharedStack<T>> {
        self.top.as_deref().map(|node| &node.below)
    }

    /// Pushes `value`: one allocation.
    pub(crate) fn push(&mut self, value: T) {
        let below = SharedStack { top: self.top.take() };
        let len = below.len().saturating_add(1);
        self.top = Some(Arc::new(Node { value, len, below }));
    }

    /// Removes the top value. Frees its node when no other stack holds it; otherwise only moves to
    /// the node below.
    pub(crate) fn pop(&mut self) -> Option<T>
    where
        T: Clone,
    {
        let node = self.top.take()?;
        match Arc::try_unwrap(node) {
            Ok(mut node) => {
                self.top = node.below.top.take();
                Some(node.value)
            }
            Err(shared) => {
                self.top = shared.below.top.clone();
                Some(shared.value.clone())
            }
        }
    }

    /// The values from the top down.
    pub(crate) fn iter(&self) -> Iter<'_, T> {
        Iter { at: self.top.as_deref() }
    }

    /// Whether both are the same stack object (the same top node, or both empty): then they hold
    /// the same values. O(1).
    #[cfg(test)]
    pub(crate) fn ptr_eq(&self, other: &SharedStack<T>) -> bool {
        match (&self.top, &other.top) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }

    /// Adds the addresses of this stack's nodes to `seen` and returns how many were new. Stops
    /// at the first node already seen (everything below it was counted then), so counting the
    /// nodes held by many stacks costs O(distinct nodes). For memory tests.
    #[cfg(test)]
    pub(crate) fn count_new_nodes(&self, seen: &mut std::collections::HashSet<usize>) -> usize {
        let mut new = 0;
        let mut at = self.top.as_ref();
        while let Some(node) = at {
            if !seen.insert(Arc::as_ptr(node) as usize) {
                break;
            }
            new += 1;
            at = node.below.top.as_ref();
        }
        new
    }
}

impl<T> Default for SharedStack<T> {
    fn default() -> SharedStack<T> {
        SharedStack::new()
    }
}

impl<T> Clone for SharedStack<T> {
    /// O(1): shares every node.
    fn clone(&self) -> SharedStack<T> {
        SharedStack { top: self.top.clone() }
    }
}

impl<T> Drop for SharedStack<T> {
    fn drop(&mut self) {
        // Free the nodes only this stack holds, top down, without recursion; stop at the first
        // one another stack also holds (dropping our reference to it is all there is to do).
        let mut next = self.top.take();
        while let Some(node) = next {
            next = Arc::into_inner(node).and_then(|mut node| node.below.top.take());
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for SharedStack<T> {
    /// Bottom first, like a `Vec` used as a stack.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut values: Vec<&T> = self.iter().collect();
        values.reverse();
        f.debug_list().entries(values).finish()
    }
}

/// Iterator over a [`SharedStack`]'s values, top first.
pub(crate) struct Iter<'a, T> {
    at: Option<&'a Node<T>>,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        let node = self.at?;
        self.at = node.below.top.as_deref();
        Some(&node.value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.at.map_or(0, |node| node.len);
        (n, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn values(s: &SharedStack<u32>) -> Vec<u32> {
        s.iter().copied().collect()
    }

    #[test]
    fn push_pop_and_clones_share() {
        let mut a = SharedStack::new();
        assert_eq!((a.len(), a.peek()), (0, None));
        assert_eq!(a.pop(), None);
        for v in 1..=3 {
            a.push(v);
        }
        let mut b = a.clone();
        assert!(a.ptr_eq(&b));
        assert_eq!(b.pop(), Some(3));
        b.push(7);
        assert_eq!(values(&a), [3, 2, 1]);
        assert_eq!(values(&b), [7, 2, 1]);
        assert_eq!((a.len(), b.len()), (3, 3));
        assert_eq!(a.below().map(values), Some(vec![2, 1]));
        // Three nodes shared below the fork point, one of each side's own.
        let mut seen = HashSet::new();
        assert_eq!(a.count_new_nodes(&mut seen) + b.count_new_nodes(&mut seen), 4);
        assert_eq!(format!("{b:?}"), "[1, 2, 7]");
        drop(a);
        assert_eq!(values(&b), [7, 2, 1]);
        while b.pop().is_some() {}
        assert_eq!(b.len(), 0);
    }

    /// A million-deep stack, shared by a clone taken halfway, is freed without recursion.
    #[test]
    fn deep_stacks_drop_without_recursion() {
        let mut a = SharedStack::new();
        let mut half = None;
        for v in 0..1_000_000u32 {
            a.push(v);
            if v == 500_000 {
                half = Some(a.clone());
            }
        }
        assert_eq!(a.len(), 1_000_000);
        drop(a);
        let half = half.unwrap_or_default();
        assert_eq!((half.len(), half.peek()), (500_001, Some(&500_000)));
        drop(half);
    }
}
