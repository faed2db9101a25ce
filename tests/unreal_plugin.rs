//! What can be checked of the Unreal plugin `bindings/unreal/UdpRelay` without Unreal Engine:
//! the `.uplugin` descriptor, the module layout UnrealBuildTool expects, the library file
//! names agreeing between the Build.cs, the module's loader and the staging script, textual
//! engine conventions of the C++ sources, and that `stage_library.sh` turns the plugin folder
//! into one that can be copied into a project.
//!
//! The plugin's C++ is also compiled, against stand-ins for the engine headers it includes
//! (`bindings/unreal/tests/engine_stub/`, UE 5.3 signatures over the standard library), and
//! run by `bindings/unreal/tests/plugin_harness.cpp`, which plays the engine: it loads the
//! module, maps the settings onto the relay config, runs the embedded relay on its own thread
//! and on the game thread with client components joining through it, and stops it. Built
//! plainly, under AddressSanitizer + UndefinedBehaviorSanitizer and under ThreadSanitizer.
//! What the stand-ins cannot show is whether the engine accepts the code (UnrealHeaderTool,
//! the real headers, MSVC): that needs an engine.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{
    SANITIZER_ENV, SANITIZER_FLAGS, has_sanitizer_report, native_library_dir, native_program,
    repo_root, run_ok, scratch_dir, shared_library_link_args, shared_library_soname,
};

fn plugin_dir() -> PathBuf {
    repo_root().join("bindings/unreal/UdpRelay")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn descriptor() -> Value {
    let path = plugin_dir().join("UdpRelay.uplugin");
    serde_json::from_str(&read(&path))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The plugin's own C++ files (not the staged third-party headers), sorted.
fn unreal_sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["Public", "Private"] {
        let dir = plugin_dir().join("Source/UdpRelay").join(dir);
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if matches!(path.extension().and_then(|e| e.to_str()), Some("h" | "cpp")) {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no sources in Source/UdpRelay");
    files
}

fn name_of(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// The identifier starting at `text` (letters, digits, `_`).
fn identifier(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The first line after the macro invocation at `at`, skipping the macro's own line.
fn declaration_after(text: &str, at: usize) -> &str {
    let rest = &text[at..];
    let line_end = rest.find('\n').unwrap_or(rest.len());
    rest[line_end..].trim_start().lines().next().unwrap_or("")
}

#[test]
fn uplugin_has_the_fields_unreal_reads() {
    let plugin = descriptor();
    assert_eq!(plugin["FileVersion"], 3, "FileVersion");
    assert!(
        plugin["Version"].as_u64().is_some(),
        "Version must be an integer"
    );
    assert_eq!(
        plugin["VersionName"].as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "VersionName follows the library version"
    );
    for field in ["FriendlyName", "Description", "Category", "CreatedBy"] {
        assert!(
            plugin[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field} must be a non-empty string"
        );
    }
    for field in ["CanContainContent", "IsBetaVersion", "Installed"] {
        assert!(plugin[field].is_boolean(), "{field} must be a boolean");
    }
    let modules = plugin["Modules"].as_array().expect("Modules array");
    assert!(!modules.is_empty());
    const TYPES: &[&str] = &[
        "Runtime",
        "RuntimeNoCommandlet",
        "RuntimeAndProgram",
        "ServerOnly",
        "ClientOnly",
        "Editor",
        "EditorNoCommandlet",
        "DeveloperTool",
        "Program",
    ];
    const PHASES: &[&str] = &[
        "EarliestPossible",
        "PostConfigInit",
        "PostSplashScreen",
        "PreEarlyLoadingScreen",
        "PreLoadingScreen",
        "PreDefault",
        "Default",
        "PostDefault",
        "PostEngineInit",
    ];
    for module in modules {
        let name = module["Name"].as_str().expect("module Name");
        let kind = module["Type"].as_str().expect("module Type");
        let phase = module["LoadingPhase"]
            .as_str()
            .expect("module LoadingPhase");
        assert!(TYPES.contains(&kind), "{name}: unknown Type {kind}");
        assert!(
            PHASES.contains(&phase),
            "{name}: unknown LoadingPhase {phase}"
        );
        if let Some(platforms) = module["PlatformAllowList"].as_array() {
            for platform in platforms {
                assert!(
                    matches!(platform.as_str(), Some("Win64" | "Linux" | "Mac")),
                    "{name}: the library is staged only for Win64, Linux and Mac, not {platform}"
                );
            }
        }
    }
}

#[test]
fn every_module_has_its_build_rules() {
    let source = plugin_dir().join("Source");
    let plugin = descriptor();
    let mut wanted: BTreeSet<String> = plugin["Modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap().to_string())
        .collect();
    // The external module is not listed in the .uplugin (UBT finds it as a dependency).
    wanted.insert("ThirdParty/UdpRelayLibrary".into());
    for module in &wanted {
        let name = module.rsplit('/').next().unwrap();
        let rules = source.join(module).join(format!("{name}.Build.cs"));
        let text = read(&rules);
        assert!(
            text.contains(&format!("public class {name} : ModuleRules")),
            "{}: no `public class {name} : ModuleRules`",
            rules.display()
        );
        assert!(
            text.contains(&format!(
                "public {name}(ReadOnlyTargetRules Target) : base(Target)"
            )),
            "{}: no ModuleRules constructor",
            rules.display()
        );
    }
    // The runtime module depends on the library module and on what its sources use.
    let runtime = read(&source.join("UdpRelay/UdpRelay.Build.cs"));
    for dependency in [
        "\"Core\"",
        "\"CoreUObject\"",
        "\"Engine\"",
        "\"DeveloperSettings\"",
        "\"Projects\"",
        "\"UdpRelayLibrary\"",
    ] {
        assert!(
            runtime.contains(dependency),
            "UdpRelay.Build.cs lacks {dependency}"
        );
    }
}

/// The library file names must agree between the Build.cs, the module that loads the
/// library at startup, the staging script and the README.
#[test]
fn library_file_names_agree_everywhere() {
    let module = plugin_dir().join("Source/ThirdParty/UdpRelayLibrary");
    let rules = read(&module.join("UdpRelayLibrary.Build.cs"));
    let loader = read(&plugin_dir().join("Source/UdpRelay/Private/UdpRelayModule.cpp"));
    let stage = read(&repo_root().join("bindings/unreal/stage_library.sh"));
    let readme = read(&plugin_dir().join("README.md"));

    assert!(rules.contains("Type = ModuleType.External;"));
    assert!(
        rules.contains("PublicSystemIncludePaths.Add(Path.Combine(ModuleDirectory, \"include\"))")
    );
    for (platform, link, runtime) in [
        ("Win64", "udp_relay.dll.lib", "udp_relay.dll"),
        ("Linux", "libudp_relay.so", "libudp_relay.so"),
        ("Mac", "libudp_relay.dylib", "libudp_relay.dylib"),
    ] {
        let branch_start = rules
            .find(&format!("UnrealTargetPlatform.{platform})"))
            .unwrap_or_else(|| panic!("no {platform} branch in UdpRelayLibrary.Build.cs"));
        let branch = &rules[branch_start..];
        let branch = &branch[..branch[1..]
            .find("UnrealTargetPlatform.")
            .map_or(branch.len(), |i| i + 1)];
        assert!(
            branch.contains(&format!("\"{platform}\"")),
            "{platform}: lib/{platform}"
        );
        assert!(
            branch.contains(&format!("\"{link}\"")),
            "{platform}: links {link}"
        );
        assert!(
            branch.contains("RuntimeDependencies.Add("),
            "{platform}: stages {runtime}"
        );
        assert!(
            stage.contains(&format!("{platform}) files=(")) && stage.contains(runtime),
            "stage_library.sh does not stage {runtime} for {platform}"
        );
        assert!(
            readme.contains(&format!("lib/{platform}/")) && readme.contains(runtime),
            "README does not say where {runtime} goes"
        );
    }
    let linux = &rules[rules.find("UnrealTargetPlatform.Linux)").unwrap()..];
    assert!(
        linux.contains("Directory.GetFiles(PlatformDir, \"libudp_relay.so.*\")")
            && linux.contains("RuntimeDependencies.Add(Versioned)"),
        "Linux packages the library under its soname, the name the game looks up"
    );
    let win = &rules[rules.find("Win64)").unwrap()..];
    assert!(win.contains("PublicDelayLoadDLLs.Add(\"udp_relay.dll\")"));
    assert!(
        rules.contains("PublicDelayLoadDLLs.Add(SharedLibrary)"),
        "Mac delay-loads the dylib"
    );
    // Delay-loaded on Windows and macOS: the module loads them from where they are staged.
    assert!(loader.contains("TEXT(\"Source/ThirdParty/UdpRelayLibrary/lib\")"));
    assert!(loader.contains("TEXT(\"Win64/udp_relay.dll\")"));
    assert!(loader.contains("TEXT(\"Mac/libudp_relay.dylib\")"));
    assert!(loader.contains("FPlatformProcess::GetDllHandle"));
}

#[test]
fn unreal_sources_follow_engine_conventions() {
    let mut reflected = 0;
    for path in unreal_sources() {
        let text = read(&path);
        let file = name_of(&path);
        let stem = file.rsplit_once('.').unwrap().0.to_string();
        let is_header = file.ends_with(".h");

        if is_header {
            assert!(text.contains("#pragma once"), "{file}: no #pragma once");
        } else {
            // IWYU: a source file includes its own header first.
            let first = text
                .lines()
                .find(|l| l.starts_with("#include"))
                .unwrap_or("");
            assert_eq!(
                first,
                format!("#include \"{stem}.h\""),
                "{file}: own header first"
            );
        }

        let uses_reflection = ["UCLASS(", "USTRUCT(", "UENUM("]
            .iter()
            .any(|m| text.contains(m));
        if uses_reflection {
            reflected += 1;
            assert!(is_header, "{file}: reflected types belong in headers");
            let includes: Vec<&str> = text.lines().filter(|l| l.starts_with("#include")).collect();
            assert_eq!(
                includes.last().copied(),
                Some(format!("#include \"{stem}.generated.h\"").as_str()),
                "{file}: the .generated.h include must be the last include"
            );
        }

        let mut bodies = 0;
        for (at, _) in text.match_indices("UCLASS(") {
            let declaration = declaration_after(&text, at);
            let rest = declaration
                .strip_prefix("class UDPRELAY_API ")
                .unwrap_or_else(|| panic!("{file}: UCLASS not exported: {declaration}"));
            let name = identifier(rest);
            assert!(
                name.starts_with('U') || name.starts_with('A'),
                "{file}: {name} needs a U/A prefix"
            );
            let base = rest
                .split_once(": public ")
                .map(|(_, b)| identifier(b))
                .unwrap_or("");
            assert!(
                base.starts_with('U'),
                "{file}: {name} must derive from a UObject type, not {base:?}"
            );
            bodies += 1;
        }
        for (at, _) in text.match_indices("USTRUCT(") {
            let declaration = declaration_after(&text, at);
            let name = identifier(declaration.trim_start_matches("struct UDPRELAY_API "));
            assert!(
                name.starts_with('F'),
                "{file}: struct {name} needs an F prefix"
            );
            bodies += 1;
        }
        assert_eq!(
            text.matches("GENERATED_BODY()").count(),
            bodies,
            "{file}: one GENERATED_BODY() per UCLASS/USTRUCT"
        );
        for (at, _) in text.match_indices("UENUM(") {
            let declaration = declaration_after(&text, at);
            let name = identifier(declaration.trim_start_matches("enum class "));
            assert!(
                name.starts_with('E'),
                "{file}: enum {name} needs an E prefix"
            );
            assert!(
                declaration.ends_with(": uint8"),
                "{file}: Blueprint enums are uint8"
            );
        }
        for macro_name in [
            "DECLARE_DYNAMIC_MULTICAST_DELEGATE_",
            "DECLARE_MULTICAST_DELEGATE_",
        ] {
            for (at, _) in text.match_indices(macro_name) {
                let args = &text[at..];
                let args = &args[args.find('(').unwrap() + 1..];
                let name = identifier(args);
                assert!(
                    name.starts_with('F'),
                    "{file}: delegate {name} needs an F prefix"
                );
            }
        }
        // Plain classes: F (or I for interfaces), exported when public.
        for line in text.lines().filter(|l| l.starts_with("class ")) {
            let rest = line.trim_start_matches("class ");
            if rest.starts_with("UDPRELAY_API U") {
                continue;
            }
            let name = identifier(rest.trim_start_matches("UDPRELAY_API "));
            assert!(
                name.starts_with('F') || name.starts_with('I'),
                "{file}: class {name} needs an F or I prefix"
            );
            let forward_declaration = rest.trim_end() == format!("{name};");
            if path.parent().unwrap().ends_with("Public") && !forward_declaration {
                assert!(
                    rest.starts_with("UDPRELAY_API "),
                    "{file}: {name} not exported"
                );
            }
        }
        for (at, _) in text.match_indices("UPROPERTY(") {
            let declaration = declaration_after(&text, at);
            let words: Vec<&str> = declaration.split_whitespace().collect();
            assert!(words.len() >= 2, "{file}: UPROPERTY without declaration");
            let (ty, name) = (words[0], identifier(words[1]));
            if ty == "bool" {
                assert!(
                    name.starts_with('b'),
                    "{file}: bool {name} needs a b prefix"
                );
            }
            let macro_args = &text[at..at + text[at..].find('\n').unwrap()];
            if macro_args.contains("BlueprintAssignable") {
                assert!(ty.starts_with('F'), "{file}: {name} is not a delegate");
            }
        }
        for (at, _) in text.match_indices("UFUNCTION(") {
            let declaration = declaration_after(&text, at);
            assert!(
                declaration.contains('(') && declaration.contains(')'),
                "{file}: UFUNCTION not followed by a function: {declaration}"
            );
            assert!(
                text[at..].lines().next().unwrap().contains("Category"),
                "{file}: UFUNCTION without a Category"
            );
        }
        // The third-party headers come in through UdpRelayNative.h only, wrapped so engine
        // warnings do not apply to them.
        if text.contains("#include \"udp_relay.hpp\"") || text.contains("#include \"udp_relay.h\"")
        {
            assert_eq!(
                file, "UdpRelayNative.h",
                "{file}: include UdpRelayNative.h instead"
            );
            assert!(
                text.contains("THIRD_PARTY_INCLUDES_START")
                    && text.contains("THIRD_PARTY_INCLUDES_END")
            );
        }
    }
    assert!(reflected >= 3, "settings, subsystem and component headers");
}

#[test]
fn unreal_sources_provide_what_the_plugin_promises() {
    let public = plugin_dir().join("Source/UdpRelay/Public");
    let private = plugin_dir().join("Source/UdpRelay/Private");
    let settings = read(&public.join("UdpRelaySettings.h"));
    assert!(settings.contains("UCLASS(config = Game, defaultconfig"));
    assert!(settings.contains("public UDeveloperSettings"));
    for field in [
        "bool bEnableOnDedicatedServer",
        "bool bForceEmbeddedRelay",
        "int32 Port",
        "FString BindAddress",
        "int32 InactivityTimeoutMs",
        "FString SecretKeyBase64",
        "int32 MaxChannels",
        "bool bTickRelayOnOwnThread",
        "int32 CoalesceWindowUs",
        "int32 HandshakeRatePerSource",
        "int32 HandshakeBurstPerSource",
        "int32 MaxPendingPerSource",
        "int32 MaxTrackedSources",
        "int32 ChannelBandwidthBytesPerSec",
        "bool bRequireTokens",
        "bool bRequireReturnPath",
    ] {
        let at = settings
            .find(field)
            .unwrap_or_else(|| panic!("settings lack {field}"));
        let before = &settings[..at];
        let property = &before[before.rfind("UPROPERTY(").unwrap()..];
        assert!(
            property.starts_with("UPROPERTY(config,"),
            "{field} is not a config property"
        );
    }

    // Every relay setting reaches the builder (the harness checks the values).
    let settings_cpp = read(&private.join("UdpRelaySettings.cpp"));
    for (property, builder) in [
        ("Port", ".port("),
        ("InactivityTimeoutMs", ".inactivityTimeoutMs("),
        ("MaxChannels", ".maxChannels("),
        ("HandshakeRatePerSource", ".handshakeRatePerSource("),
        ("HandshakeBurstPerSource", ".handshakeRatePerSource("),
        ("MaxPendingPerSource", ".maxPendingPerSource("),
        ("MaxTrackedSources", ".maxTrackedSources("),
        (
            "ChannelBandwidthBytesPerSec",
            ".channelBandwidthBytesPerSec(",
        ),
        ("CoalesceWindowUs", ".coalesceWindowUs("),
        ("bRequireTokens", ".requireTokens(bRequireTokens)"),
        (
            "bRequireReturnPath",
            ".requireReturnPath(bRequireReturnPath)",
        ),
        ("BindAddress", ".bindAddress("),
    ] {
        assert!(
            settings_cpp.contains(&format!("({property},"))
                || settings_cpp.contains(&format!("({property})"))
                || settings_cpp.contains(&format!("*{property}")),
            "ToRelayConfig does not read {property}"
        );
        assert!(
            settings_cpp.contains(builder),
            "ToRelayConfig never calls {builder}"
        );
    }

    let subsystem = read(&public.join("UdpRelaySubsystem.h"));
    assert!(subsystem.contains("public UGameInstanceSubsystem, public FTickableGameObject"));
    let subsystem_cpp = read(&private.join("UdpRelaySubsystem.cpp"));
    assert!(subsystem_cpp.contains("IsRunningDedicatedServer()"));
    assert!(
        subsystem_cpp.contains("EmbeddedRelay.poll(0)"),
        "ticks the relay without waiting"
    );
    assert!(subsystem_cpp.contains("EmbeddedRelay.events()"));
    assert!(subsystem_cpp.contains("IsTemplate() ? ETickableTickType::Never"));
    assert!(subsystem_cpp.contains("Settings->ToRelayConfig(Config, ConfigError)"));
    assert!(subsystem_cpp.contains("if (Settings->bTickRelayOnOwnThread)"));
    // The thread is joined before the relay it polls is stopped.
    let stop = &subsystem_cpp[subsystem_cpp
        .find("void UUdpRelaySubsystem::StopRelay()")
        .expect("StopRelay")..];
    let joined = stop
        .find("RelayThread.Reset();")
        .expect("StopRelay joins the thread");
    let stopped = stop
        .find("EmbeddedRelay.stop();")
        .expect("StopRelay stops the relay");
    assert!(
        joined < stopped,
        "StopRelay stops the relay before joining its thread"
    );

    // The relay thread: an FRunnable on its own FRunnableThread, polling with a short wait,
    // stopped with Kill(true) (Stop, then wait), handing events over through a queue.
    let thread = read(&public.join("UdpRelayThread.h"));
    let thread_cpp = read(&private.join("UdpRelayThread.cpp"));
    assert!(thread.contains("class UDPRELAY_API FUdpRelayThread final : public FRunnable"));
    assert!(thread.contains("TQueue<udp_relay::Event, EQueueMode::Spsc> Events;"));
    assert!(thread_cpp.contains("FRunnableThread::Create(Runner.Get(), TEXT(\"UdpRelay\")"));
    assert!(thread_cpp.contains("Relay.poll(PollTimeoutMs)"));
    assert!(thread_cpp.contains("Thread->Kill(true);"));
    assert!(thread_cpp.contains("delete Thread;"));

    let component = read(&public.join("UdpRelayClientComponent.h"));
    assert!(component.contains("public UActorComponent"));
    assert!(component.contains("meta = (BlueprintSpawnableComponent)"));
    assert!(component.contains("bool JoinChannel(const FString& InChannelGuid);"));
    assert!(component.contains("bool Send(const TArray<uint8>& Datagram);"));
    assert!(component.contains("FString SeatTokenBase64;"));
    // Picking and following a relay: Blueprint-callable, over the wrapper's calls.
    assert!(component.contains(
        "bool RejoinChannel(const FString& InRelayAddress, const FString& InChannelGuid, const FString& InSeatTokenBase64);"
    ));
    assert!(component.contains("static TArray<FUdpRelayMeasurement> MeasureRelays("));
    assert!(component.contains("static int32 NearestRelay("));
    assert_eq!(
        component.matches("UPROPERTY(BlueprintAssignable").count(),
        2
    );
    // Every client option reaches the config, and every final status has its state.
    let component_cpp = read(&private.join("UdpRelayClientComponent.cpp"));
    assert!(component_cpp.contains(".token(UdpRelayNative::ToByteView(Token))"));
    assert!(component_cpp.contains("Client.rejoin("));
    assert!(component_cpp.contains("udp_relay::measureRelays("));
    for (property, builder) in [
        ("HandshakeTimeoutMs", "handshakeTimeoutMs"),
        ("KeepaliveIntervalMs", "keepaliveIntervalMs"),
        ("PeerTimeoutMs", "peerTimeoutMs"),
    ] {
        assert!(
            component.contains(&format!("int32 {property} = ")),
            "{property}"
        );
        assert!(
            component_cpp.contains(&format!(
                ".{builder}(static_cast<uint32_t>(FMath::Max({property}, "
            )),
            "{property} is not passed to {builder}"
        );
    }
    for (status, state) in [
        ("RELAY_STATUS_TIMED_OUT", "TimedOut"),
        ("RELAY_STATUS_PEER_LOST", "Lost"),
    ] {
        assert!(
            component.contains(&format!("\t{state},")),
            "no state {state}"
        );
        let at = component_cpp
            .find(&format!("Status.is({status})"))
            .unwrap_or_else(|| panic!("{status} not handled"));
        assert!(
            component_cpp[at..]
                .lines()
                .take(3)
                .any(|l| l.contains(&format!("return EUdpRelayClientState::{state};"))),
            "{status} does not become {state}"
        );
    }
    // Both a failed poll and a failed receive (lost with datagrams queued) map the status.
    assert_eq!(
        component_cpp
            .matches("StateAfterFailure(Polled.status())")
            .count()
            + component_cpp
                .matches("StateAfterFailure(Got.status())")
                .count(),
        2
    );

    let log = read(&public.join("UdpRelayLog.h"));
    assert!(log.contains("UDPRELAY_API DECLARE_LOG_CATEGORY_EXTERN(LogUdpRelay, Log, All);"));
    let module = read(&private.join("UdpRelayModule.cpp"));
    assert!(module.contains("DEFINE_LOG_CATEGORY(LogUdpRelay);"));
    assert!(module.contains("IMPLEMENT_MODULE(FUdpRelayModule, UdpRelay)"));
    assert!(module.contains("udp_relay::setLogCallback(&ForwardLibraryLog"));
    assert!(module.contains("relay_abi_version() != RELAY_ABI_VERSION"));
}

/// Every `udp_relay::Name` and `RELAY_*` constant the plugin uses exists in the wrapper or
/// the C header, so a rename there cannot silently break the plugin.
#[test]
fn unreal_sources_use_only_names_the_headers_declare() {
    let hpp = read(&repo_root().join("bindings/cpp/udp_relay.hpp"));
    let h = read(&repo_root().join("include/udp_relay.h"));
    let mut checked = 0;
    for path in unreal_sources() {
        let text = read(&path);
        for (at, _) in text.match_indices("udp_relay::") {
            let name = identifier(&text[at + "udp_relay::".len()..]);
            let declared = [
                format!("class {name} "),
                format!("class {name} {{"),
                format!("enum class {name} "),
                format!("using {name} ="),
                format!(" {name}("),
                format!("*{name}("),
                format!("&{name}("),
            ]
            .iter()
            .any(|form| hpp.contains(form.as_str()));
            assert!(
                declared,
                "{}: udp_relay::{name} is not in udp_relay.hpp",
                name_of(&path)
            );
            checked += 1;
        }
        for (at, _) in text.match_indices("RELAY_") {
            if at > 0 && text.as_bytes()[at - 1].is_ascii_alphanumeric() {
                continue;
            }
            let name = identifier(&text[at..]);
            assert!(
                h.contains(&format!("{name} ")) || h.contains(&format!("{name}\n")),
                "{}: {name} is not in udp_relay.h",
                name_of(&path)
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} names found");
}

/// Copies the plugin somewhere else, stages the library cargo built into the copy and checks
/// it holds what the Build.cs needs: the repository's headers, byte for byte, and a Linux
/// shared library that programs will look up by its soname, not by its build path.
#[test]
fn stage_library_makes_a_self_contained_plugin() {
    let copy = scratch_dir("unreal-plugin").join("UdpRelay");
    copy_tree(&plugin_dir(), &copy);
    let module = copy.join("Source/ThirdParty/UdpRelayLibrary");
    let _ = fs::remove_dir_all(module.join("include"));
    let _ = fs::remove_dir_all(module.join("lib"));
    let script = repo_root().join("bindings/unreal/stage_library.sh");

    let output = Command::new("bash")
        .arg(&script)
        .args(["--platform", "Linux", "--plugin"])
        .arg(&copy)
        .arg("--lib-dir")
        .arg(native_library_dir())
        .output()
        .expect("run stage_library.sh");
    assert!(
        output.status.success(),
        "stage_library.sh failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let soname = shared_library_soname();
    let versioned = format!("lib/Linux/{soname}");
    for (staged, original) in [
        ("include/udp_relay.h", "include/udp_relay.h"),
        ("include/udp_relay.hpp", "bindings/cpp/udp_relay.hpp"),
        ("lib/Linux/libudp_relay.so", ""),
        (versioned.as_str(), ""),
    ] {
        let staged_bytes =
            fs::read(module.join(staged)).unwrap_or_else(|e| panic!("{staged}: {e}"));
        if !original.is_empty() {
            assert!(
                staged_bytes == fs::read(repo_root().join(original)).unwrap(),
                "{staged} differs from {original}"
            );
        }
    }
    let dynamic = Command::new("readelf")
        .arg("-d")
        .arg(module.join("lib/Linux/libudp_relay.so"))
        .output()
        .expect("run readelf (binutils)");
    let dynamic = String::from_utf8_lossy(&dynamic.stdout);
    assert!(
        dynamic.contains(&format!("Library soname: [{soname}]")),
        "libudp_relay.so has not the soname {soname}, so linking it by path would bake in the \
         build path or look for another file:\n{dynamic}"
    );
    assert!(
        fs::read(module.join(&versioned)).unwrap()
            == fs::read(module.join("lib/Linux/libudp_relay.so")).unwrap(),
        "{versioned} is not the library"
    );

    // A platform whose files were not built fails, naming the missing file.
    let output = Command::new("bash")
        .arg(&script)
        .args(["--platform", "Win64", "--plugin"])
        .arg(&copy)
        .arg("--lib-dir")
        .arg(native_library_dir())
        .output()
        .expect("run stage_library.sh");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "staging Win64 from a Linux build must fail"
    );
    assert!(stderr.contains("udp_relay.dll not found"), "{stderr}");
    assert!(
        !module.join("lib/Win64").exists(),
        "nothing staged on failure"
    );
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Flags of the plugin builds: C++20 (the default of Unreal Engine 5.3), no exceptions or RTTI,
/// and warnings the engine treats as errors (shadowing) or that catch lossy conversions.
const PLUGIN_FLAGS: &[&str] = &[
    "-std=c++20",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wshadow",
    "-Wconversion",
    "-Wno-unused-parameter",
    "-fno-exceptions",
    "-fno-rtti",
    "-pthread",
    // What UnrealBuildTool defines for a module's API macro on Linux.
    "-DUDPRELAY_API=",
];

/// The least number of checks the harness must report: it prints one line per check, so a
/// harness that silently skipped a scenario fails here.
const MIN_HARNESS_CHECKS: usize = 80;

fn harness_dir() -> PathBuf {
    repo_root().join("bindings/unreal/tests")
}

/// Writes the `X.generated.h` of every reflected plugin header into `dir`. UnrealHeaderTool
/// would generate much more; the plugin's code relies on `GENERATED_BODY()` declaring `Super`
/// (the first base) and `ThisClass`, and on it leaving the class private, as the engine does.
/// In a header with structs only it declares nothing: a struct's members stay public.
fn write_generated_headers(dir: &Path) {
    for path in unreal_sources() {
        let file = name_of(&path);
        let Some(stem) = file.strip_suffix(".h") else {
            continue;
        };
        let text = read(&path);
        if !text.contains(&format!("#include \"{stem}.generated.h\"")) {
            continue;
        }
        let mut generated = String::from("#undef GENERATED_BODY\n");
        if let Some(at) = text.find("UCLASS(") {
            let declaration = declaration_after(&text, at);
            let rest = declaration.trim_start_matches("class UDPRELAY_API ");
            let class = identifier(rest);
            let base = identifier(rest.split_once(": public ").expect("a base class").1);
            generated.push_str(&format!(
                "#define GENERATED_BODY() public: using Super = {base}; using ThisClass = {class}; private:\n"
            ));
        } else {
            generated.push_str("#define GENERATED_BODY()\n");
        }
        fs::write(dir.join(format!("{stem}.generated.h")), generated).unwrap();
    }
}

/// The compiler with the plugin's flags and include paths: the engine stand-ins, the generated
/// headers, the plugin's public headers and the library headers the staging script copies.
fn plugin_compiler(generated: &Path) -> Command {
    let root = repo_root();
    let mut cxx = Command::new(std::env::var("CXX").unwrap_or_else(|_| "c++".into()));
    cxx.args(PLUGIN_FLAGS);
    for include in [
        harness_dir().join("engine_stub"),
        generated.to_path_buf(),
        plugin_dir().join("Source/UdpRelay/Public"),
        root.join("include"),
        root.join("bindings/cpp"),
    ] {
        cxx.arg("-I").arg(include);
    }
    cxx
}

/// Compiles every plugin source, the stand-ins' own source and the harness into one program.
fn build_harness(variant: &str, extra_flags: &[&str]) -> PathBuf {
    let dir = scratch_dir(&format!("unreal-harness-{variant}"));
    let generated = dir.join("generated");
    fs::create_dir_all(&generated).unwrap();
    write_generated_headers(&generated);
    let exe = dir.join("plugin_harness");
    let sources: Vec<PathBuf> = unreal_sources()
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == "cpp"))
        .chain([
            harness_dir().join("engine_stub/EngineStub.cpp"),
            harness_dir().join("plugin_harness.cpp"),
        ])
        .collect();
    assert!(sources.len() >= 7, "plugin sources missing: {sources:?}");
    run_ok(
        plugin_compiler(&generated)
            .args(extra_flags)
            .args(&sources)
            .arg("-o")
            .arg(&exe)
            .args(shared_library_link_args()),
        &format!("compiling the Unreal plugin against the engine stand-ins ({variant})"),
    );
    exe
}

/// Runs the harness and checks its verdict line `N passed, M failed`.
fn run_harness(command: &mut Command) -> String {
    let text = run_ok(command, "the Unreal plugin harness");
    assert!(!has_sanitizer_report(&text), "sanitizer report:\n{text}");
    let (passed, failed) = text
        .lines()
        .rev()
        .find_map(|line| {
            let (passed, failed) = line.split_once(" passed, ")?;
            let failed = failed.strip_suffix(" failed")?;
            Some((passed.parse::<usize>().ok()?, failed.parse::<usize>().ok()?))
        })
        .unwrap_or_else(|| panic!("no `N passed, N failed` line:\n{text}"));
    assert_eq!(failed, 0, "failed checks:\n{text}");
    let printed = text.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(
        printed, passed,
        "the pass count does not match the checks printed:\n{text}"
    );
    assert!(
        passed >= MIN_HARNESS_CHECKS,
        "only {passed} checks ran (expected at least {MIN_HARNESS_CHECKS}):\n{text}"
    );
    text
}

#[test]
fn plugin_compiles_and_runs_against_engine_stand_ins() {
    let exe = build_harness("strict", &["-O1"]);
    run_harness(&mut native_program(&exe));
}

#[test]
fn plugin_runs_under_address_and_undefined_behaviour_sanitizers() {
    let exe = build_harness("sanitized", SANITIZER_FLAGS);
    run_harness(native_program(&exe).envs(SANITIZER_ENV.iter().copied()));
}

/// The relay thread, its handoff queues and the subsystem's use of them under ThreadSanitizer.
/// The stand-in queue locks where the engine's is lock-free, so this checks the plugin's side
/// of the handoff (what it shares, and how), not the engine's queue.
#[test]
fn plugin_relay_thread_runs_under_thread_sanitizer() {
    let exe = build_harness("thread-sanitized", &["-O1", "-g", "-fsanitize=thread"]);
    const TSAN_ENV: &[(&str, &str)] = &[("TSAN_OPTIONS", "halt_on_error=1:exitcode=23")];
    let output = native_program(&exe)
        .envs(TSAN_ENV.iter().copied())
        .output()
        .expect("run the harness");
    if String::from_utf8_lossy(&output.stderr).contains("unexpected memory mapping") {
        // This ThreadSanitizer cannot map its shadow memory under the kernel's address
        // randomisation; without it, it can.
        run_harness(
            Command::new("setarch")
                .arg(std::env::consts::ARCH)
                .arg("-R")
                .arg(&exe)
                .env("LD_LIBRARY_PATH", native_library_dir())
                .envs(TSAN_ENV.iter().copied()),
        );
        return;
    }
    run_harness(native_program(&exe).envs(TSAN_ENV.iter().copied()));
}

/// The module's Windows and macOS branch (loading the library by hand) is not built by the
/// Linux harness: it is type-checked here against the same stand-ins.
#[test]
fn module_library_loading_branches_type_check() {
    let dir = scratch_dir("unreal-module-branches");
    write_generated_headers(&dir);
    for platform in ["PLATFORM_WINDOWS", "PLATFORM_MAC"] {
        run_ok(
            plugin_compiler(&dir)
                .arg(format!("-D{platform}=1"))
                .arg("-fsyntax-only")
                .arg(plugin_dir().join("Source/UdpRelay/Private/UdpRelayModule.cpp")),
            &format!("type-checking UdpRelayModule.cpp with {platform}"),
        );
    }
}
