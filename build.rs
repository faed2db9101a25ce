//! Linker settings of the shared library.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Without a DT_SONAME, a program that links libudp_relay.so by its path (as Unreal's
    // plugin build does) records that absolute build path and looks there at run time. With
    // the soname it records `libudp_relay.so` and finds it through its rpath or the loader
    // path, wherever the library is staged.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libudp_relay.so");
    }
}
