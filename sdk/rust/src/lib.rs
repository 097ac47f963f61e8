//! Write [Sluice](https://github.com/sluice-mail/sluice) SMTP filter plugins
//! in Rust.
//!
//! A plugin is a WebAssembly module the gateway calls at the SMTP phases
//! `connect`, `helo`, `mail`, `rcpt` and `data`; each call returns a
//! [`Verdict`]. This crate is the plugin ABI v1 (`sdk/ABI.md`) in three
//! layers:
//!
//! - [`raw`]: the `sluice` host imports with their exact `i32` signatures
//!   (wasm32 only);
//! - [`Host`]: a typed handle over them: byte slices in, `Option<Vec<u8>>`
//!   out, the `(buf, cap)` retry protocol handled for you;
//! - [`Plugin`] and [`plugin!`]: a trait with one default method per hook,
//!   and a macro that generates every export.
//!
//! Natively (`cargo test`), [`testing::Session`] replaces the gateway with
//! an in-memory host, so plugin logic is unit-tested without WebAssembly.
//!
//! The crate is `no_std` + `alloc` and has no dependencies. Your plugin crate
//! may use `std`, which on `wasm32-unknown-unknown` brings the allocator and
//! the panic handler (a panic traps: a plugin error the gateway handles).
//! See the README for the tutorial and the build commands.

#![no_std]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(not(target_arch = "wasm32"))]
extern crate std;

mod caps;
mod host;
pub mod json;
mod plugin;
#[cfg(target_arch = "wasm32")]
pub mod raw;
mod sys;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
mod verdict;

pub use caps::{parse_dkim_keys, AuthChecks, DkimKey, DkimRefusal, DnsError, KvError, ScanError};
pub use host::{info, Body, Headers, Host, NOT_FOUND, QUOTA, REFUSED, TEMPERROR};
#[doc(hidden)]
pub use plugin::__private;
pub use plugin::Plugin;
pub use verdict::{Hooks, Level, Phase, Verdict};

/// The ABI version this SDK speaks; `sluice_abi_version` returns it.
pub const ABI_VERSION: i32 = 1;

/// The local part of an address: the bytes before the last `@` (all of it
/// if there is no `@`).
///
/// ```
/// assert_eq!(sluice::local_part(b"blocked@example.net"), b"blocked");
/// assert_eq!(sluice::local_part(b"\"a@b\"@example.net"), b"\"a@b\"");
/// ```
pub fn local_part(addr: &[u8]) -> &[u8] {
    match addr.iter().rposition(|&c| c == b'@') {
        Some(i) => &addr[..i],
        None => addr,
    }
}

/// The domain of an address: the bytes after the last `@` (empty if there
/// is none). Compare domains case-insensitively (`eq_ignore_ascii_case`).
///
/// ```
/// assert_eq!(sluice::domain(b"bob@Example.NET"), b"Example.NET");
/// assert_eq!(sluice::domain(b""), b"");
/// ```
pub fn domain(addr: &[u8]) -> &[u8] {
    match addr.iter().rposition(|&c| c == b'@') {
        Some(i) => &addr[i + 1..],
        None => &[],
    }
}
