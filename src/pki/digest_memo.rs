//! SHA-256 digests of signed byte ranges already computed while hashing the whole file, so a PDF
//! is hashed once, not once for its document hash and again for every signature and document
//! timestamp that covers (almost) all of it.
//!
//! The verification engine computes them in one pass (a running hash of the file, forked at the
//! end of each signature's first range: see `verify::engine`) and runs the checks inside
//! [`with_known`]; the CMS and timestamp checks then ask [`lookup`] before hashing. A digest is
//! found only for the very same slices (same address, same length, in the same order) of a
//! buffer that stays borrowed, unchanged, for as long as the memo is set, so it can never stand
//! for other bytes. Outside [`with_known`] nothing is found and everything is hashed as before.

use std::cell::RefCell;

type Key = Vec<(usize, usize)>;

/// Pieces of one buffer and the SHA-256 of them, in order.
pub type Known<'a> = (Vec<&'a [u8]>, [u8; 32]);

thread_local! {
    static KNOWN: RefCell<Vec<(Key, [u8; 32])>> = const { RefCell::new(Vec::new()) };
}

fn key(pieces: &[&[u8]]) -> Key {
    pieces
        .iter()
        .map(|p| (p.as_ptr() as usize, p.len()))
        .collect()
}

/// Runs `f` with the SHA-256 digests of these piece lists known; forgets them afterwards (also
/// if `f` panics).
pub fn with_known<R>(known: &[Known<'_>], f: impl FnOnce() -> R) -> R {
    struct Reset(Vec<(Key, [u8; 32])>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let before = std::mem::take(&mut self.0);
            KNOWN.with(|k| *k.borrow_mut() = before);
        }
    }
    let entries: Vec<(Key, [u8; 32])> = known.iter().map(|(p, d)| (key(p), *d)).collect();
    let before = KNOWN.with(|k| std::mem::replace(&mut *k.borrow_mut(), entries));
    let _reset = Reset(before);
    f()
}

/// The SHA-256 of exactly these pieces, if [`with_known`] was given it.
pub fn lookup(pieces: &[&[u8]]) -> Option<[u8; 32]> {
    let k = key(pieces);
    KNOWN.with(|known| {
        known
            .borrow()
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, d)| *d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_only_for_the_same_slices_and_only_inside() {
        let a = b"hello world".to_vec();
        let b = a.clone();
        let pieces: Vec<&[u8]> = vec![&a[..5], &a[6..]];
        let d = [7u8; 32];
        assert_eq!(lookup(&pieces), None);
        with_known(&[(pieces.clone(), d)], || {
            assert_eq!(lookup(&pieces), Some(d));
            // Equal bytes elsewhere, or other ranges of the same buffer: not the same slices.
            assert_eq!(lookup(&[&b[..5], &b[6..]]), None);
            assert_eq!(lookup(&[&a[..4], &a[6..]]), None);
            assert_eq!(lookup(&[&a[6..], &a[..5]]), None);
        });
        assert_eq!(lookup(&pieces), None);
    }
}
