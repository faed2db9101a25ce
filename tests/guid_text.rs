//! GUID text accepts exactly the documented form, the same through Rust (`Guid::from_str`)
//! and the C ABI (`relay_guid_parse`): 32 hex digits of either case in the `8-4-4-4-12`
//! layout, optionally inside one pair of braces, nothing else.

use std::ffi::{CStr, CString};

use udp_relay::ffi::{RelayGuid, RelayStatus, relay_guid_format, relay_guid_parse};
use udp_relay::protocol::Guid;

const VALUE: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;

/// Texts the documentation accepts, and the GUID each stands for.
const ACCEPTED: &[(&str, u128)] = &[
    ("01234567-89ab-cdef-fedc-ba9876543210", VALUE),
    ("01234567-89AB-CDEF-FEDC-BA9876543210", VALUE),
    ("01234567-89Ab-cDeF-fEdC-bA9876543210", VALUE),
    ("{01234567-89ab-cdef-fedc-ba9876543210}", VALUE),
    ("{01234567-89AB-CDEF-FEDC-BA9876543210}", VALUE),
    ("00000000-0000-0000-0000-000000000000", 0),
    ("ffffffff-ffff-ffff-ffff-ffffffffffff", u128::MAX),
];

/// Texts it does not, each a near miss of the form.
const REFUSED: &[&str] = &[
    "",
    "{}",
    // Whitespace around or inside.
    " 01234567-89ab-cdef-fedc-ba9876543210",
    "01234567-89ab-cdef-fedc-ba9876543210 ",
    "\t01234567-89ab-cdef-fedc-ba9876543210",
    "01234567-89ab-cdef-fedc-ba9876543210\n",
    "{ 01234567-89ab-cdef-fedc-ba9876543210 }",
    " {01234567-89ab-cdef-fedc-ba9876543210}",
    "01234567 89ab cdef fedc ba9876543210",
    // Braces unbalanced, doubled or of another kind.
    "{01234567-89ab-cdef-fedc-ba9876543210",
    "01234567-89ab-cdef-fedc-ba9876543210}",
    "{{01234567-89ab-cdef-fedc-ba9876543210}}",
    "(01234567-89ab-cdef-fedc-ba9876543210)",
    "[01234567-89ab-cdef-fedc-ba9876543210]",
    "}01234567-89ab-cdef-fedc-ba9876543210{",
    // Dashes missing, extra or moved (the length kept).
    "0123456789abcdeffedcba9876543210",
    "01234567-89abcdef-fedc-ba9876543210",
    "0123456-789ab-cdef-fedc-ba9876543210",
    "012345678-9ab-cdef-fedc-ba9876543210",
    "01234567-89a-bcdef-fedc-ba9876543210",
    "01234567-89ab-cdef-fedcb-a9876543210",
    "01234567-89ab-cdef-fedc-ba98765432-10",
    "-01234567-89ab-cdef-fedc-ba987654321",
    "01234567-89ab-cdef-fedc-ba987654321-",
    "01234567_89ab_cdef_fedc_ba9876543210",
    "01234567:89ab:cdef:fedc:ba9876543210",
    // Digits missing, extra or not hex.
    "01234567-89ab-cdef-fedc-ba987654321",
    "01234567-89ab-cdef-fedc-ba98765432100",
    "01234567-89ab-cdef-fedc-ba987654321g",
    "0123456x-89ab-cdef-fedc-ba9876543210",
    "+1234567-89ab-cdef-fedc-ba9876543210",
    // Prefixes.
    "0x01234567-89ab-cdef-fedc-ba9876543210",
    "urn:uuid:01234567-89ab-cdef-fedc-ba9876543210",
    // Non-ASCII: fullwidth and Arabic-Indic digits, a Unicode hyphen, an accented letter,
    // each where a digit or dash belongs.
    "０1234567-89ab-cdef-fedc-ba9876543210",
    "٠1234567-89ab-cdef-fedc-ba9876543210",
    "01234567\u{2010}89ab-cdef-fedc-ba9876543210",
    "01234567-89ab-cdef-fedc-ba98765432é",
    "01234567-89ab-cdef-fedc-ba987654321\u{a0}",
];

/// What `relay_guid_parse` makes of `text`.
fn parse_c(text: &str) -> Result<u128, RelayStatus> {
    let c = CString::new(text).unwrap();
    let mut out = RelayGuid::default();
    match relay_guid_parse(c.as_ptr(), &mut out) {
        RelayStatus::Ok => Ok(Guid::from(out).0),
        status => Err(status),
    }
}

#[test]
fn the_documented_form_parses_the_same_in_rust_and_c() {
    for &(text, value) in ACCEPTED {
        assert_eq!(text.parse::<Guid>(), Ok(Guid(value)), "Rust: {text:?}");
        assert_eq!(parse_c(text), Ok(value), "C: {text:?}");
    }
}

#[test]
fn everything_else_is_refused_by_both() {
    for &text in REFUSED {
        assert!(text.parse::<Guid>().is_err(), "Rust accepts {text:?}");
        assert_eq!(
            parse_c(text),
            Err(RelayStatus::InvalidArgument),
            "C: {text:?}"
        );
    }
}

/// A byte string that is not UTF-8 is refused through the C ABI, not misread.
#[test]
fn text_that_is_not_utf8_is_refused() {
    let mut bytes = b"01234567-89ab-cdef-fedc-ba987654321".to_vec();
    bytes.push(0xff);
    let c = CString::new(bytes).unwrap();
    let mut out = RelayGuid::default();
    assert_eq!(
        relay_guid_parse(c.as_ptr(), &mut out),
        RelayStatus::InvalidArgument
    );
    assert_eq!(out, RelayGuid::default(), "output untouched on failure");
}

/// What `relay_guid_format` writes is the form `relay_guid_parse` reads back.
#[test]
fn formatted_text_parses_back() {
    for value in [
        1,
        VALUE,
        u128::MAX,
        0x8000_0000_0000_0000_0000_0000_0000_0001,
    ] {
        let guid = RelayGuid::from(Guid(value));
        let mut buf = [0 as std::ffi::c_char; 37];
        assert_eq!(relay_guid_format(&guid, buf.as_mut_ptr(), buf.len()), 36);
        // SAFETY: relay_guid_format NUL-terminated it.
        let text = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
        assert_eq!(parse_c(text), Ok(value), "{text}");
        assert_eq!(text.parse::<Guid>(), Ok(Guid(value)));
        assert_eq!(Guid(value).to_string(), text);
    }
}
