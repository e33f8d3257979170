//! NOTIFY from Rust, without a statement: PostgreSQL's own Async_Notify, which is what
//! pg_notify() calls. It queues the notification in the current transaction; identical ones are
//! folded, and they are sent at commit (none on rollback).

use std::ffi::{c_char, CString};

unsafe extern "C-unwind" {
    fn Async_Notify(channel: *const c_char, payload: *const c_char);
}

/// NOTIFY `channel`, `payload` at the end of the current transaction. Both are ours (a queue
/// name and its channel): no NUL bytes, well under the 8000-byte limit.
pub fn send(channel: &str, payload: &str) {
    let (Ok(channel), Ok(payload)) = (CString::new(channel), CString::new(payload)) else { return };
    // SAFETY: valid C strings for the duration of the call, which copies them; an ERROR it raises
    // (out of memory) crosses into Rust through the guard, as for every binding pgrx makes.
    unsafe { pgrx::pg_sys::ffi::pg_guard_ffi_boundary(|| Async_Notify(channel.as_ptr(), payload.as_ptr())) };
}
