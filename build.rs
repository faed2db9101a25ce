//! Linker settings of the shared library.

/// Where the C ABI's version is defined; the soname is numbered by it.
const ABI_VERSION_SOURCE: &str = "src/ffi/types.rs";
const ABI_VERSION_ITEM: &str = "pub const RELAY_ABI_VERSION: u32 = ";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={ABI_VERSION_SOURCE}");
    // The soname is what a program linked against the library records and looks for at run
    // time. Without one, a program that links libudp_relay.so by its path (as Unreal's
    // plugin build does) records that absolute build path. Numbered by the ABI version, it
    // changes exactly when the ABI does: a program built against ABI 4 looks for
    // libudp_relay.so.4 and is never handed an incompatible library, and libraries of two
    // ABIs can be installed side by side.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let abi = abi_version();
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libudp_relay.so.{abi}");
    }
}

/// `RELAY_ABI_VERSION` as `src/ffi/types.rs` defines it.
fn abi_version() -> u32 {
    let source = std::fs::read_to_string(ABI_VERSION_SOURCE)
        .unwrap_or_else(|e| panic!("build.rs: cannot read {ABI_VERSION_SOURCE}: {e}"));
    source
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix(ABI_VERSION_ITEM)?
                .strip_suffix(';')?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| {
            panic!(
                "build.rs: no `{ABI_VERSION_ITEM}<number>;` in {ABI_VERSION_SOURCE}: the soname \
                 is numbered by it (update build.rs if it moved)"
            )
        })
}
