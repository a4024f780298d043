//! Helpers that walk an error's `source()` chain, so any layer can ask what an error was
//! at bottom (a body-cap overrun surfaces from the upstream client wrapped in hyper errors).

use std::error::Error;

/// The first error of type `E` in `err`'s source chain, `err` included.
pub fn cause_ref<'a, E: Error + 'static>(err: &'a (dyn Error + 'static)) -> Option<&'a E> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// Whether an `E` is anywhere in `err`'s source chain.
pub fn is_caused_by<E: Error + 'static>(err: &(dyn Error + 'static)) -> bool {
    cause_ref::<E>(err).is_some()
}
