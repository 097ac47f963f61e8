//! The [`Plugin`] trait and the [`plugin!`](crate::plugin) macro that turns an
//! implementation into the exports of sdk/ABI.md §2.

use alloc::string::String;

use crate::host::Host;
use crate::verdict::{Hooks, Verdict};

/// A Sluice plugin.
///
/// Implement [`configure`](Plugin::configure), declare the hooks you
/// implement in [`HOOKS`](Plugin::HOOKS), override those hook methods, and
/// export the type with [`sluice::plugin!`](crate::plugin).
///
/// ```
/// use sluice::{Host, Hooks, Plugin, Verdict};
///
/// struct Hello;
///
/// impl Plugin for Hello {
///     const HOOKS: Hooks = Hooks::DATA;
///
///     fn configure(_host: &Host) -> Result<Self, String> {
///         Ok(Hello)
///     }
///
///     fn on_data(&self, host: &Host) -> Verdict {
///         host.add_header("X-Hello", "world");
///         Verdict::Continue
///     }
/// }
///
/// sluice::plugin!(Hello);
/// ```
///
/// **State.** The value `configure` returns lives as long as the instance
/// and serves every call, of any session: keep only configuration in it.
/// What must travel between phases of one message goes in tags.
pub trait Plugin: Sized + 'static {
    /// The hooks this plugin implements: the `sluice_hooks` mask. A hook
    /// whose bit is clear is never called, even if you override it, and the
    /// test harness ([`testing::Session`](crate::testing)) behaves the same.
    const HOOKS: Hooks;

    /// Builds the plugin from its configuration, once per instance, before
    /// any hook. Read it with [`Host::config`]. An `Err` is logged and
    /// refuses the configuration: the policy does not load.
    fn configure(host: &Host) -> Result<Self, String>;

    /// `connect`: a client connected.
    fn on_connect(&self, host: &Host) -> Verdict {
        let _ = host;
        Verdict::Continue
    }

    /// `helo`: HELO or EHLO.
    fn on_helo(&self, host: &Host) -> Verdict {
        let _ = host;
        Verdict::Continue
    }

    /// `mail`: MAIL FROM, the start of a transaction.
    fn on_mail(&self, host: &Host) -> Verdict {
        let _ = host;
        Verdict::Continue
    }

    /// `rcpt`: RCPT TO, once per recipient.
    fn on_rcpt(&self, host: &Host) -> Verdict {
        let _ = host;
        Verdict::Continue
    }

    /// `data`: the message, once per transaction. The only phase where the
    /// header, the body and the recipients can change.
    fn on_data(&self, host: &Host) -> Verdict {
        let _ = host;
        Verdict::Continue
    }
}

/// Exports a [`Plugin`] type as a Sluice module: `sluice_abi_version`,
/// `sluice_hooks`, `sluice_configure` and the five `sluice_on_*` hooks.
///
/// Use it once, in a crate of type `cdylib`. It expands to nothing but a
/// type check when not compiling for `wasm32`, so the same crate runs its
/// native unit tests.
#[macro_export]
macro_rules! plugin {
    ($ty:ty) => {
        const _: fn() = || {
            fn is_plugin<P: $crate::Plugin>() {}
            is_plugin::<$ty>();
        };

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            static SLOT: $crate::__private::Slot<$ty> = $crate::__private::Slot::new();

            #[no_mangle]
            pub extern "C" fn sluice_abi_version() -> i32 {
                $crate::ABI_VERSION
            }
            #[no_mangle]
            pub extern "C" fn sluice_hooks() -> i32 {
                <$ty as $crate::Plugin>::HOOKS.bits() as i32
            }
            #[no_mangle]
            pub extern "C" fn sluice_configure() -> i32 {
                // A panic logs its message through the host before the
                // trap, which alone says only "unreachable". std is in
                // every plugin crate that is not #![no_std].
                ::std::panic::set_hook(::std::boxed::Box::new(|info| $crate::__private::log_panic(info)));
                SLOT.configure()
            }
            #[no_mangle]
            pub extern "C" fn sluice_on_connect() -> i32 {
                SLOT.call(<$ty as $crate::Plugin>::on_connect)
            }
            #[no_mangle]
            pub extern "C" fn sluice_on_helo() -> i32 {
                SLOT.call(<$ty as $crate::Plugin>::on_helo)
            }
            #[no_mangle]
            pub extern "C" fn sluice_on_mail() -> i32 {
                SLOT.call(<$ty as $crate::Plugin>::on_mail)
            }
            #[no_mangle]
            pub extern "C" fn sluice_on_rcpt() -> i32 {
                SLOT.call(<$ty as $crate::Plugin>::on_rcpt)
            }
            #[no_mangle]
            pub extern "C" fn sluice_on_data() -> i32 {
                SLOT.call(<$ty as $crate::Plugin>::on_data)
            }
        };
    };
}

/// Support for the [`plugin!`](crate::plugin) expansion; not a public API.
#[doc(hidden)]
pub mod __private {
    use core::cell::UnsafeCell;

    use super::Plugin;
    use crate::host::Host;
    use crate::verdict::{Level, Verdict};

    /// The configured plugin of this instance. `sluice_configure` fills it
    /// once; hooks read it.
    pub struct Slot<P>(UnsafeCell<Option<P>>);

    // SAFETY: only compiled for wasm32, where a module instance runs one
    // call at a time on one thread (the host never re-enters the guest,
    // sdk/ABI.md §3).
    #[cfg(target_arch = "wasm32")]
    unsafe impl<P> Sync for Slot<P> {}

    impl<P> Slot<P> {
        #[allow(clippy::new_without_default)]
        pub const fn new() -> Slot<P> {
            Slot(UnsafeCell::new(None))
        }
    }

    impl<P: Plugin> Slot<P> {
        /// `sluice_configure`: 0 accepts the configuration.
        pub fn configure(&self) -> i32 {
            let host = Host::new();
            match P::configure(&host) {
                Ok(p) => {
                    // SAFETY: no reference into the slot is alive during an
                    // export call other than this one (see Sync above).
                    unsafe { *self.0.get() = Some(p) };
                    0
                }
                Err(msg) => {
                    host.log(Level::Error, msg.as_bytes());
                    1
                }
            }
        }

        /// A hook export: runs `hook` on the configured plugin.
        pub fn call(&self, hook: fn(&P, &Host) -> Verdict) -> i32 {
            // SAFETY: as in configure; hooks only read the slot.
            let p = match unsafe { &*self.0.get() } {
                Some(p) => p,
                None => trap(), // the host always configures first
            };
            hook(p, &Host::new()).to_raw()
        }
    }

    /// Logs a panic at error level through the host's `log`, before the
    /// trap: `panicked at 'clock not available', src/lib.rs:12:5`. Takes
    /// `Display` so it serves both `PanicInfo` and newer Rust's
    /// `PanicHookInfo`.
    pub fn log_panic(info: &dyn core::fmt::Display) {
        let msg = alloc::format!("{}", info);
        Host::new().log(Level::Error, msg.as_bytes());
    }

    fn trap() -> ! {
        #[cfg(target_arch = "wasm32")]
        core::arch::wasm32::unreachable();
        #[cfg(not(target_arch = "wasm32"))]
        unreachable!("sluice: hook called before sluice_configure");
    }
}
