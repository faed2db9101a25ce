//! `include/udp_relay.h` is a sealed contract: every name it puts into a program that includes
//! it is the library's, each of its macros compiles on its own in C and in C++, and the shared
//! library exports exactly the functions it declares.
//!
//! The naming rule, encoded in [`allowed`]:
//! - functions start with `relay_`;
//! - types (struct and enum tags, typedefs) start with `Relay`;
//! - enum constants and macros start with `RELAY_`;
//! - two kinds of macro carry the library's own name instead: the include guard `UDP_RELAY_H`
//!   (named after the file, as include guards are) and the library's version,
//!   `UDP_RELAY_VERSION_MAJOR/_MINOR/_PATCH` (the package's version, kept apart from the ABI's
//!   `RELAY_ABI_VERSION`). No other `UDP_RELAY_` name is allowed: a new one is decided here.
//!
//! The names are read by the C compiler, not by pattern-matching the header text: macros from
//! `cc -dM -E` (minus those of the standard headers it includes), declarations from the
//! preprocessed header, walked declaration by declaration.

mod support;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{native_library_dir, repo_root, run_ok, scratch_dir, shared_library_name};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Macro,
    Function,
    Type,
    EnumConstant,
    Object,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Name {
    kind: Kind,
    name: String,
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}", self.kind, self.name)
    }
}

/// Whether a name of this kind may appear in the header.
fn allowed(name: &Name) -> bool {
    let n = name.name.as_str();
    match name.kind {
        Kind::Function | Kind::Object => n.starts_with("relay_"),
        Kind::Type => n.starts_with("Relay"),
        Kind::EnumConstant => n.starts_with("RELAY_"),
        Kind::Macro => {
            n.starts_with("RELAY_") || n == "UDP_RELAY_H" || n.starts_with("UDP_RELAY_VERSION_")
        }
    }
}

fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".into())
}

fn cxx() -> String {
    std::env::var("CXX").unwrap_or_else(|_| "c++".into())
}

/// The system headers `header` includes, as a file of their own: their macros are not the
/// header's.
fn includes_only(header: &str) -> String {
    header
        .lines()
        .filter(|l| l.trim_start().starts_with("#include"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `#define NAME VALUE` lines `cc -dM -E` prints for `file`, as name and value.
fn defined_macros(file: &Path) -> Vec<(String, String)> {
    let text = run_ok(
        Command::new(cc()).args(["-std=c99", "-dM", "-E"]).arg(file),
        "listing the macros",
    );
    text.lines()
        .filter_map(|line| line.strip_prefix("#define "))
        .map(|rest| {
            let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
            (name.to_string(), value.to_string())
        })
        .collect()
}

/// Everything `header_path` declares: its macros, and the names of its declarations read
/// from the preprocessed header (without its system includes, so only its own declarations
/// are left).
fn names_in(header_path: &Path, scratch: &Path) -> (Vec<Name>, Vec<(String, String)>) {
    let header = std::fs::read_to_string(header_path).unwrap();
    let system = scratch.join("system_includes.h");
    std::fs::write(&system, includes_only(&header)).unwrap();
    let known: BTreeSet<String> = defined_macros(&system)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let macros: Vec<(String, String)> = defined_macros(header_path)
        .into_iter()
        .filter(|(name, _)| !known.contains(name))
        .collect();

    let own = scratch.join("own_declarations.h");
    let without_includes: String = header
        .lines()
        .filter(|l| !l.trim_start().starts_with("#include"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&own, without_includes).unwrap();
    let preprocessed = run_ok(
        Command::new(cc()).args(["-std=c99", "-E", "-P"]).arg(&own),
        "preprocessing the header",
    );
    let mut names: Vec<Name> = macros
        .iter()
        .map(|(name, _)| Name {
            kind: Kind::Macro,
            name: name.clone(),
        })
        .collect();
    names.extend(declarations(&preprocessed));
    names.sort();
    names.dedup();
    (names, macros)
}

fn is_identifier(token: &str) -> bool {
    token
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
}

/// C tokens, enough of them for declarations: identifiers and numbers as one token, string
/// literals as one token, everything else one character each.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let mut word = String::new();
            while let Some(&c) = chars
                .peek()
                .filter(|c| c.is_ascii_alphanumeric() || **c == '_')
            {
                word.push(c);
                chars.next();
            }
            out.push(word);
        } else if c == '"' {
            let mut literal = String::from(chars.next().unwrap());
            while let Some(c) = chars.next() {
                literal.push(c);
                if c == '\\' {
                    literal.extend(chars.next());
                } else if c == '"' {
                    break;
                }
            }
            out.push(literal);
        } else {
            out.push(chars.next().unwrap().to_string());
        }
    }
    out
}

/// The names the top-level declarations of preprocessed C `text` declare.
fn declarations(text: &str) -> Vec<Name> {
    let mut names = Vec::new();
    let mut statement = Vec::new();
    let (mut braces, mut parens) = (0i32, 0i32);
    for token in tokens(text) {
        match token.as_str() {
            "{" => braces += 1,
            "}" => braces -= 1,
            "(" => parens += 1,
            ")" => parens -= 1,
            _ => {}
        }
        let end = token == ";" && braces == 0 && parens == 0;
        statement.push(token);
        if end {
            declaration(&statement, &mut names);
            statement.clear();
        }
    }
    assert!(
        statement.is_empty(),
        "unterminated declaration: {statement:?}"
    );
    names
}

/// The names one declaration (ending in `;`) declares: struct/enum/union tags, enum constants,
/// and its declarator (a typedef name, a function or an object).
fn declaration(s: &[String], names: &mut Vec<Name>) {
    let name = |kind, name: &str| Name {
        kind,
        name: name.to_string(),
    };
    let is_tag_keyword = |t: &str| matches!(t, "struct" | "enum" | "union");
    // Tags and enum constants, at any depth (a struct may name another struct's tag).
    let mut depth = 0;
    let mut enum_body = None;
    for (i, token) in s.iter().enumerate() {
        if is_tag_keyword(token) && s.get(i + 1).is_some_and(|t| is_identifier(t)) {
            names.push(name(Kind::Type, &s[i + 1]));
        }
        match token.as_str() {
            "{" => {
                depth += 1;
                let opens_enum = (i >= 1 && s[i - 1] == "enum")
                    || (i >= 2 && s[i - 2] == "enum" && is_identifier(&s[i - 1]));
                if opens_enum {
                    enum_body = Some(depth);
                }
            }
            "}" => {
                if enum_body == Some(depth) {
                    enum_body = None;
                }
                depth -= 1;
            }
            t if enum_body == Some(depth)
                && is_identifier(t)
                && matches!(s[i - 1].as_str(), "{" | ",") =>
            {
                names.push(name(Kind::EnumConstant, t));
            }
            _ => {}
        }
    }

    // The declarator, at brace depth 0: before the first `(` (a function), inside `(*...)`
    // (a function pointer), or the last identifier (anything else).
    let typedef = s[0] == "typedef";
    let mut depth = 0;
    let mut top: Vec<&str> = Vec::new();
    for token in s {
        match token.as_str() {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                continue;
            }
            _ => {}
        }
        if depth == 0 {
            top.push(token);
        }
    }
    if let Some(open) = top.iter().position(|t| *t == "(") {
        let (kind, declarator) = if top.get(open + 1) == Some(&"*") {
            let kind = if typedef { Kind::Type } else { Kind::Object };
            (kind, top[open + 2])
        } else {
            let kind = if typedef { Kind::Type } else { Kind::Function };
            (kind, top[open - 1])
        };
        assert!(is_identifier(declarator), "cannot read {s:?}");
        names.push(name(kind, declarator));
        return;
    }
    let Some(&last) = top.len().checked_sub(2).map(|i| &top[i]) else {
        return;
    };
    let before_last = top.len().checked_sub(3).map(|i| top[i]);
    if is_tag_keyword(last) || before_last.is_some_and(is_tag_keyword) {
        // `struct X;` or `enum X { ... };`: the tag, already read, is all it declares.
        return;
    }
    assert!(is_identifier(last), "cannot read {s:?}");
    let kind = if typedef { Kind::Type } else { Kind::Object };
    names.push(name(kind, last));
}

fn violations(names: &[Name]) -> Vec<String> {
    names
        .iter()
        .filter(|n| !allowed(n))
        .map(|n| n.to_string())
        .collect()
}

fn header_path() -> PathBuf {
    repo_root().join("include/udp_relay.h")
}

#[test]
fn every_name_the_header_declares_is_the_librarys() {
    let scratch = scratch_dir("header-names");
    let (names, _) = names_in(&header_path(), &scratch);
    let bad = violations(&names);
    assert!(
        bad.is_empty(),
        "include/udp_relay.h declares names outside the library's prefixes (relay_ functions, \
         Relay types, RELAY_ enum constants and macros):\n  {}",
        bad.join("\n  ")
    );

    // The reader found what the header has, so an empty violation list means something.
    let count = |kind| names.iter().filter(|n| n.kind == kind).count();
    assert!(count(Kind::Function) >= 37, "functions: {names:?}");
    assert!(count(Kind::Type) >= 17, "types: {names:?}");
    assert!(count(Kind::EnumConstant) >= 35, "enum constants: {names:?}");
    assert!(count(Kind::Macro) >= 19, "macros: {names:?}");
    for expected in [
        (Kind::Function, "relay_start"),
        (Kind::Function, "relay_last_error"),
        (Kind::Type, "RelayConfig"),
        (Kind::Type, "RelayLogCallback"),
        (Kind::Type, "RelayStatus"),
        (Kind::EnumConstant, "RELAY_STATUS_NULL_ARGUMENT"),
        (Kind::Macro, "RELAY_ABI_VERSION"),
        (Kind::Macro, "RELAY_MAX_PER_POLL"),
        (Kind::Macro, "UDP_RELAY_H"),
    ] {
        let wanted = Name {
            kind: expected.0,
            name: expected.1.to_string(),
        };
        assert!(names.contains(&wanted), "{wanted} not found in {names:?}");
    }
}

/// The check above fails on foreign names: a header with one of each kind is caught.
#[test]
fn a_name_outside_the_prefixes_is_caught() {
    let scratch = scratch_dir("header-names-foreign");
    let header = scratch.join("foreign.h");
    std::fs::write(
        &header,
        "#ifndef UDP_RELAY_H\n#define UDP_RELAY_H\n#include <stdint.h>\n\
         #define MAX_HANDSHAKE_LEN TOKEN_HANDSHAKE_LEN\n#define UDP_RELAY_OTHER 1\n\
         #define RELAY_FINE 1\n#define UDP_RELAY_VERSION_MAJOR 0\n\
         typedef struct Guid { uint64_t hi; struct RelayInner *inner; } Guid;\n\
         enum RelayKind { KIND_A = 1, RELAY_KIND_B = (2 + 1), };\n\
         typedef uint32_t RelayKind;\n\
         typedef void (*LogCallback)(void *user, int level);\n\
         typedef struct RelayOpaque RelayOpaque;\n\
         int32_t guid_parse(const char *text, struct RelayOpaque *out);\n\
         const char *relay_fine(void);\n\
         extern int relay_counter;\nextern int counter;\n\
         void (*hook)(void);\n\
         #endif\n",
    )
    .unwrap();
    let (names, _) = names_in(&header, &scratch);
    let bad: BTreeSet<String> = violations(&names).into_iter().collect();
    let expected: BTreeSet<String> = [
        "Macro MAX_HANDSHAKE_LEN",
        "Macro UDP_RELAY_OTHER",
        "Type Guid",
        "Type LogCallback",
        "EnumConstant KIND_A",
        "Function guid_parse",
        "Object counter",
        "Object hook",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(bad, expected, "read: {names:?}");
    for fine in [
        "Type RelayInner",
        "Type RelayKind",
        "Type RelayOpaque",
        "EnumConstant RELAY_KIND_B",
        "Function relay_fine",
        "Object relay_counter",
        "Macro RELAY_FINE",
        "Macro UDP_RELAY_H",
        "Macro UDP_RELAY_VERSION_MAJOR",
    ] {
        assert!(
            names.iter().any(|n| n.to_string() == fine),
            "{fine} not read: {names:?}"
        );
    }
}

/// A translation unit that uses `name` (whose definition is `value`) and nothing else of the
/// header, so a macro that refers to an undefined name, or is not the constant it claims to
/// be, fails to compile.
fn macro_use(name: &str, value: &str) -> String {
    let body = if value.is_empty() {
        // Include guard: defined, with no value.
        format!(
            "#ifndef {name}\n#error {name} is not defined\n#endif\nint main(void) {{ return 0; }}\n"
        )
    } else if value.starts_with('{') {
        // An array initializer (RELAY_V08_DEFAULT_KEY).
        format!(
            "static const uint8_t value[] = {name};\n\
             int main(void) {{ return (int)(sizeof value - sizeof value) + (int)(value[0] & 0u); }}\n"
        )
    } else {
        // An integer constant expression: a file-scope static's initializer must be one in C,
        // and an array bound must be one in both languages.
        format!(
            "static const unsigned long long value = (unsigned long long)({name});\n\
             typedef char is_constant[1 + 0 * ({name})];\n\
             int main(void) {{ return (int)(value - value) + (int)(sizeof(is_constant) - 1u); }}\n"
        )
    };
    format!("#include \"udp_relay.h\"\n{body}")
}

#[test]
fn each_macro_compiles_on_its_own_in_c_and_cpp() {
    let scratch = scratch_dir("header-macros");
    let (_, macros) = names_in(&header_path(), &scratch);
    assert!(macros.len() >= 19, "macros: {macros:?}");
    let include = repo_root().join("include");
    let mut failures = Vec::new();
    for (name, value) in &macros {
        let source = scratch.join(format!("{name}.c"));
        std::fs::write(&source, macro_use(name, value)).unwrap();
        for (compiler, language, standard) in
            [(cc(), "c", "-std=c99"), (cxx(), "c++", "-std=c++11")]
        {
            let output = Command::new(&compiler)
                .args([
                    "-Wall",
                    "-Wextra",
                    "-Werror",
                    "-pedantic",
                    standard,
                    "-x",
                    language,
                ])
                .arg("-I")
                .arg(&include)
                .arg(&source)
                .arg("-o")
                .arg(scratch.join(format!("{name}-{language}")))
                .output()
                .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
            if !output.status.success() {
                failures.push(format!(
                    "{name} ({language}):\n{}",
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What the shared library exports is what the header declares, no more and no less: a
/// function missing from the header is an undocumented entry point, one missing from the
/// library fails to link.
#[test]
fn the_shared_library_exports_exactly_the_header_functions() {
    let scratch = scratch_dir("header-exports");
    let (names, _) = names_in(&header_path(), &scratch);
    let declared: BTreeSet<String> = names
        .into_iter()
        .filter(|n| n.kind == Kind::Function)
        .map(|n| n.name)
        .collect();
    let library = native_library_dir().join(shared_library_name());
    let symbols = run_ok(
        Command::new("nm")
            .args(["-D", "--defined-only"])
            .arg(&library),
        "listing the shared library's exports (nm, from binutils)",
    );
    let exported: BTreeSet<String> = symbols
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2))
        .map(String::from)
        .collect();
    assert_eq!(
        exported,
        declared,
        "exported by {} (left) and declared in the header (right) differ",
        library.display()
    );
}
