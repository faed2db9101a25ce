/*
 * Calls every relay-side entry point (relay_config_default .. relay_abi_version), the token
 * functions and the buffer-writing GUID/handshake helpers the wrong way from C -- NULL
 * pointers, zero-length and too-short buffers, bad config values, stopped, double-stopped
 * and forged handles -- and checks that each returns its documented status with a message,
 * writes nothing it should not (canary bytes after every output), and leaves the library
 * usable. Built and run under AddressSanitizer + UndefinedBehaviorSanitizer by
 * tests/c_misuse.rs. (The client handle functions, relay_client_* and
 * relay_handshake_new..free, have their own tests.)
 *
 * Prints one line per failed check and "misuse checks: N passed, M failed" at the end;
 * exits 0 only if every check passed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "udp_relay.h"

static int passed;
static int failed;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (cond) {                                                                 \
            passed++;                                                               \
        } else {                                                                    \
            failed++;                                                               \
            printf("FAIL %s:%d: %s (last error: \"%s\")\n", __FILE__, __LINE__, #cond, \
                   relay_last_error());                                             \
        }                                                                           \
    } while (0)

/* The call returned `status` and left a readable message. */
#define CHECK_STATUS(call, status)                                                  \
    do {                                                                            \
        int32_t got_ = (int32_t)(call);                                             \
        if (got_ == (int32_t)(status) && relay_last_error()[0] != '\0') {           \
            passed++;                                                               \
        } else {                                                                    \
            failed++;                                                               \
            printf("FAIL %s:%d: %s returned %d (%s), expected %d; last error: \"%s\"\n", \
                   __FILE__, __LINE__, #call, (int)got_, relay_status_str(got_),    \
                   (int)(status), relay_last_error());                              \
        }                                                                           \
    } while (0)

#define CANARY 0xA5

/* A heap buffer of exactly `len` bytes plus `guard` canary bytes after it. */
static unsigned char *guarded(size_t len, size_t guard) {
    unsigned char *b = malloc(len + guard);
    if (b == NULL) {
        abort();
    }
    memset(b, CANARY, len + guard);
    return b;
}

static int untouched(const unsigned char *b, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        if (b[i] != CANARY) {
            return 0;
        }
    }
    return 1;
}

static RelayHandle *start_loopback(void) {
    RelayConfig cfg;
    RelayHandle *relay = NULL;
    relay_config_default(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    if (relay_start(&cfg, &relay) != RELAY_STATUS_OK) {
        printf("FAIL: relay_start on loopback: %s\n", relay_last_error());
        exit(2);
    }
    return relay;
}

static void on_log(void *user_data, uint32_t level, const char *message) {
    (void)user_data;
    (void)level;
    (void)message;
}

static void config_misuse(void) {
    RelayConfig cfg;
    RelayConfig bad;
    RelayHandle *out = (RelayHandle *)0;
    RelayHandle *relay;
    unsigned char *key;

    CHECK_STATUS(relay_config_default(NULL), RELAY_STATUS_NULL_ARGUMENT);
    CHECK(relay_config_default(&cfg) == RELAY_STATUS_OK);
    CHECK(cfg.struct_size == sizeof(RelayConfig));
    CHECK(cfg.handshake_rate_per_source == 200 && cfg.handshake_burst_per_source == 1000);
    CHECK(cfg.max_pending_per_source == 512 && cfg.max_tracked_sources == 65536);
    CHECK(cfg.channel_bandwidth_bytes_per_sec == 0 && cfg.require_tokens == 0);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;

    CHECK_STATUS(relay_start(NULL, &out), RELAY_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(relay_start(&cfg, NULL), RELAY_STATUS_NULL_ARGUMENT);

    bad = cfg;
    bad.struct_size = 0;
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_VERSION_MISMATCH);
    bad.struct_size = (uint32_t)sizeof(RelayConfig) - 2; /* no version's size */
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_VERSION_MISMATCH);
    bad.struct_size = (uint32_t)sizeof(RelayConfig) + 8; /* a newer, longer struct */
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_VERSION_MISMATCH);
    bad = cfg;
    bad.coalesce_window_us = 5001;
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_INVALID_ARGUMENT);
    bad = cfg;
    bad.inactivity_timeout_ms = 0;
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_INVALID_ARGUMENT);
    bad = cfg;
    bad.max_channels = 0;
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_INVALID_ARGUMENT);
    bad = cfg;
    bad.max_datagrams_per_poll = 0;
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_INVALID_ARGUMENT);
    bad = cfg;
    bad.require_return_path = 2;
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_INVALID_ARGUMENT);
    bad = cfg;
    bad.secret_key = NULL;
    bad.secret_key_len = 32;
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_NULL_ARGUMENT);
    bad = cfg;
    bad.require_tokens = 2;
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_INVALID_ARGUMENT);
    bad = cfg;
    bad.require_tokens = 1; /* without a secret key */
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_INVALID_ARGUMENT);
    bad = cfg;
    bad.max_tracked_sources = 0;
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(relay_last_error(), "max_tracked_sources") != NULL);
    bad = cfg;
    bad.inactivity_timeout_ms = 86400001u; /* longer than a day */
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(relay_last_error(), "inactivity_timeout") != NULL);
    bad = cfg;
    bad.max_channels = UINT32_MAX;
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_INVALID_ARGUMENT);
    bad = cfg;
    bad.handshake_burst_per_source = 0;
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_INVALID_ARGUMENT);
    bad = cfg;
    bad.bind_address = "";
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_INVALID_ADDRESS);
    bad = cfg;
    bad.bind_address = "127.0.0.1:6060";
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_INVALID_ADDRESS);
    bad = cfg;
    bad.bind_address = "\xff\xfe";
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_INVALID_ARGUMENT);
    CHECK(out == (RelayHandle *)0); /* never written on failure */

    /* A key of one byte, copied by the library: freed right after start. */
    key = guarded(1, 0);
    bad = cfg;
    bad.secret_key = key;
    bad.secret_key_len = 1;
    bad.require_tokens = 1;
    relay = NULL;
    CHECK(relay_start(&bad, &relay) == RELAY_STATUS_OK);
    free(key);
    CHECK(relay_poll(relay, 0) >= 0);
    CHECK(relay_stop(relay) == RELAY_STATUS_OK);

    /* Port in use. */
    relay = start_loopback();
    bad = cfg;
    bad.port = relay_local_port(relay);
    CHECK_STATUS(relay_start(&bad, &out), RELAY_STATUS_ADDRESS_IN_USE);
    CHECK(relay_stop(relay) == RELAY_STATUS_OK);
}

/* Whether all `len` bytes at `p` are CANARY. */
static int all_canary(const unsigned char *p, size_t len) {
    size_t i;
    for (i = 0; i < len; i++) {
        if (p[i] != CANARY) {
            return 0;
        }
    }
    return 1;
}

/* The growable outputs (RelayStats, RelayEvent) take their size: too small is refused with
 * nothing written, and a caller whose struct is bigger than the library's (built against a
 * newer header) gets only the library's bytes, the rest untouched. */
static void sized_output_misuse(RelayHandle *live) {
    const size_t extra = 64;
    unsigned char *b = guarded(sizeof(RelayStats) + extra, 16);

    CHECK(RELAY_STATS_MIN_SIZE <= sizeof(RelayStats));
    CHECK(RELAY_EVENT_MIN_SIZE <= sizeof(RelayEvent));
    CHECK_STATUS(relay_get_stats(live, (RelayStats *)b, 0), RELAY_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(relay_get_stats(live, (RelayStats *)b, RELAY_STATS_MIN_SIZE - 1),
                 RELAY_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(relay_last_error(), "out_size") != NULL);
    CHECK(all_canary(b, sizeof(RelayStats) + extra + 16));

    /* "Newer" caller: a bigger struct. Only sizeof(RelayStats) bytes change. */
    CHECK(relay_get_stats(live, (RelayStats *)b, sizeof(RelayStats) + extra) == RELAY_STATUS_OK);
    CHECK(((const RelayStats *)b)->channels_open == 0);
    CHECK(!all_canary(b, sizeof(RelayStats)));
    CHECK(all_canary(b + sizeof(RelayStats), extra + 16));

    /* "Older" caller: the minimum size. Nothing past it changes. */
    memset(b, CANARY, sizeof(RelayStats) + extra + 16);
    CHECK(relay_get_stats(live, (RelayStats *)b, RELAY_STATS_MIN_SIZE) == RELAY_STATUS_OK);
    CHECK(all_canary(b + RELAY_STATS_MIN_SIZE, sizeof(RelayStats) - RELAY_STATS_MIN_SIZE + extra + 16));
    free(b);

    b = guarded(sizeof(RelayEvent) + extra, 16);
    CHECK_STATUS(relay_next_event(live, (RelayEvent *)b, 0), RELAY_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(relay_next_event(live, (RelayEvent *)b, RELAY_EVENT_MIN_SIZE - 1),
                 RELAY_STATUS_INVALID_ARGUMENT);
    CHECK(all_canary(b, sizeof(RelayEvent) + extra + 16));
    CHECK(relay_next_event(live, (RelayEvent *)b, sizeof(RelayEvent) + extra) == 0);
    CHECK(all_canary(b, sizeof(RelayEvent) + extra + 16));
    free(b);
}

static void handle_misuse(void) {
    RelayHandle *live = start_loopback();
    RelayHandle *dead = start_loopback();
    RelayHandle *forged = (RelayHandle *)(uintptr_t)0xDEADBEE0u;
    RelayHandle *bad_handles[3];
    int32_t expected[3];
    RelayStats stats;
    RelayChannelCounters counters;
    RelayEvent event;
    RelayGuid guid = {0, 1};
    int i;

    CHECK(relay_stop(dead) == RELAY_STATUS_OK);
    CHECK_STATUS(relay_stop(dead), RELAY_STATUS_INVALID_HANDLE); /* double stop */
    CHECK_STATUS(relay_stop(dead), RELAY_STATUS_INVALID_HANDLE); /* and again */
    CHECK_STATUS(relay_stop(forged), RELAY_STATUS_INVALID_HANDLE);
    CHECK(relay_stop(NULL) == RELAY_STATUS_OK);

    bad_handles[0] = NULL;
    expected[0] = RELAY_STATUS_NULL_ARGUMENT;
    bad_handles[1] = dead;
    expected[1] = RELAY_STATUS_INVALID_HANDLE;
    bad_handles[2] = forged;
    expected[2] = RELAY_STATUS_INVALID_HANDLE;
    for (i = 0; i < 3; i++) {
        RelayHandle *h = bad_handles[i];
        CHECK_STATUS(relay_poll(h, 0), expected[i]);
        CHECK_STATUS(relay_poll(h, 1000), expected[i]);
        CHECK(relay_local_port(h) == 0);
        CHECK_STATUS(relay_get_stats(h, &stats, sizeof stats), expected[i]);
        CHECK_STATUS(relay_get_channel(h, &guid, &counters), expected[i]);
        CHECK_STATUS(relay_next_event(h, &event, sizeof event), expected[i]);
        CHECK_STATUS(relay_drain(h), expected[i]);
    }

    /* Live handle, bad outputs. */
    CHECK_STATUS(relay_get_stats(live, NULL, sizeof stats), RELAY_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(relay_next_event(live, NULL, sizeof event), RELAY_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(relay_get_channel(live, NULL, &counters), RELAY_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(relay_get_channel(live, &guid, NULL), RELAY_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(relay_get_channel(live, &guid, &counters), RELAY_STATUS_INVALID_ARGUMENT);

    /* And the live relay still works, stats and all. */
    CHECK(relay_poll(live, 0) >= 0);
    memset(&stats, 0xFF, sizeof stats);
    CHECK(relay_get_stats(live, &stats, sizeof stats) == RELAY_STATUS_OK);
    CHECK(stats.channels_open == 0 && stats.peers_rebound == 0 && stats.tokens_invalid == 0);
    sized_output_misuse(live);
    CHECK(relay_next_event(live, &event, sizeof event) == 0);
    CHECK(relay_drain(live) == RELAY_STATUS_OK);
    CHECK(relay_drain(live) == RELAY_STATUS_OK); /* harmless twice */
    /* Too small a size takes nothing from the queue: the DRAINED event is still there. */
    memset(&event, CANARY, sizeof event);
    CHECK_STATUS(relay_next_event(live, &event, RELAY_EVENT_MIN_SIZE - 1),
                 RELAY_STATUS_INVALID_ARGUMENT);
    CHECK(((const unsigned char *)&event)[0] == CANARY);
    {
        /* Taken into a bigger ("newer") struct: only sizeof(RelayEvent) bytes change. */
        unsigned char *b = guarded(sizeof(RelayEvent) + 32, 16);
        CHECK(relay_next_event(live, (RelayEvent *)b, sizeof(RelayEvent) + 32) == 1);
        memcpy(&event, b, sizeof event);
        CHECK(event.kind == 4 /* DRAINED */ && event.lifetime_ms == 0);
        CHECK(all_canary(b + sizeof(RelayEvent), 32 + 16));
        free(b);
    }
    CHECK(relay_stop(live) == RELAY_STATUS_OK);
    CHECK_STATUS(relay_stop(live), RELAY_STATUS_INVALID_HANDLE);
    CHECK_STATUS(relay_poll(live, 0), RELAY_STATUS_INVALID_HANDLE);
}

static void address_misuse(void) {
    RelayAddress v4;
    RelayAddress none;
    unsigned char *buf;
    size_t len;

    memset(&v4, 0, sizeof v4);
    v4.family = 4;
    v4.port = 65535;
    v4.ip[0] = 255;
    v4.ip[1] = 255;
    v4.ip[2] = 255;
    v4.ip[3] = 255;
    memset(&none, 0, sizeof none);

    buf = guarded(0, 8);
    CHECK_STATUS(relay_address_format(NULL, (char *)buf, 64), RELAY_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(relay_address_format(&v4, NULL, 64), RELAY_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(relay_address_format(&v4, (char *)buf, 0), RELAY_STATUS_BUFFER_TOO_SMALL);
    CHECK(untouched(buf, 8));
    free(buf);
    /* "255.255.255.255:65535" is 21 characters: 21 bytes is one short for the NUL. */
    for (len = 1; len <= 21; len++) {
        buf = guarded(len, 8);
        CHECK_STATUS(relay_address_format(&v4, (char *)buf, len), RELAY_STATUS_BUFFER_TOO_SMALL);
        CHECK(untouched(buf, len + 8));
        free(buf);
    }
    buf = guarded(22, 8);
    CHECK(relay_address_format(&v4, (char *)buf, 22) == 21);
    CHECK(strcmp((const char *)buf, "255.255.255.255:65535") == 0);
    CHECK(untouched(buf + 22, 8));
    CHECK_STATUS(relay_address_format(&none, (char *)buf, 22), RELAY_STATUS_INVALID_ARGUMENT);
    none.family = 5;
    CHECK_STATUS(relay_address_format(&none, (char *)buf, 22), RELAY_STATUS_INVALID_ARGUMENT);
    free(buf);
}

static void token_misuse(void) {
    static const uint8_t secret[32] = {1, 2, 3};
    RelayGuid guid = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};
    RelayGuid zero = {0, 0};
    unsigned char *tok;
    unsigned char *hs;
    unsigned char *small;
    size_t len;

    tok = guarded(RELAY_TOKEN_LEN, 8);
    CHECK_STATUS(relay_token_mint(NULL, 32, &guid, RELAY_TOKEN_ROLE_A, 1, tok, RELAY_TOKEN_LEN),
                 RELAY_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(relay_token_mint(secret, 0, &guid, RELAY_TOKEN_ROLE_A, 1, tok, RELAY_TOKEN_LEN),
                 RELAY_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(relay_token_mint(secret, 32, NULL, RELAY_TOKEN_ROLE_A, 1, tok, RELAY_TOKEN_LEN),
                 RELAY_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(relay_token_mint(secret, 32, &zero, RELAY_TOKEN_ROLE_A, 1, tok, RELAY_TOKEN_LEN),
                 RELAY_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(relay_token_mint(secret, 32, &guid, 2, 1, tok, RELAY_TOKEN_LEN),
                 RELAY_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(relay_token_mint(secret, 32, &guid, 0xFFFFFFFFu, 1, tok, RELAY_TOKEN_LEN),
                 RELAY_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(relay_token_mint(secret, 32, &guid, RELAY_TOKEN_ROLE_A, 1, NULL, RELAY_TOKEN_LEN),
                 RELAY_STATUS_NULL_ARGUMENT);
    CHECK(untouched(tok, RELAY_TOKEN_LEN + 8));
    free(tok);
    for (len = 0; len < RELAY_TOKEN_LEN; len++) {
        small = guarded(len, 8);
        CHECK_STATUS(relay_token_mint(secret, 32, &guid, RELAY_TOKEN_ROLE_B, 1, small, len),
                     RELAY_STATUS_BUFFER_TOO_SMALL);
        CHECK(untouched(small, len + 8));
        free(small);
    }
    tok = guarded(RELAY_TOKEN_LEN, 8);
    CHECK(relay_token_mint(secret, sizeof secret, &guid, RELAY_TOKEN_ROLE_B, 4000000000u, tok,
                           RELAY_TOKEN_LEN) == RELAY_TOKEN_LEN);
    CHECK(untouched(tok + RELAY_TOKEN_LEN, 8));
    CHECK(tok[0] == 1 && tok[1] == 1);

    hs = guarded(RELAY_TOKEN_HANDSHAKE_LEN, 8);
    CHECK_STATUS(relay_handshake_write_with_token(NULL, RELAY_TOKEN_LEN, 1, hs,
                                                  RELAY_TOKEN_HANDSHAKE_LEN),
                 RELAY_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(relay_handshake_write_with_token(tok, RELAY_TOKEN_LEN, 1, NULL,
                                                  RELAY_TOKEN_HANDSHAKE_LEN),
                 RELAY_STATUS_NULL_ARGUMENT);
    /* Token lengths other than 60, and a token with a bad version byte. */
    CHECK_STATUS(relay_handshake_write_with_token(tok, 0, 1, hs, RELAY_TOKEN_HANDSHAKE_LEN),
                 RELAY_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(relay_handshake_write_with_token(tok, RELAY_TOKEN_LEN - 1, 1, hs,
                                                  RELAY_TOKEN_HANDSHAKE_LEN),
                 RELAY_STATUS_INVALID_ARGUMENT);
    tok[0] = 9;
    CHECK_STATUS(relay_handshake_write_with_token(tok, RELAY_TOKEN_LEN, 1, hs,
                                                  RELAY_TOKEN_HANDSHAKE_LEN),
                 RELAY_STATUS_INVALID_ARGUMENT);
    tok[0] = 1;
    CHECK(untouched(hs, RELAY_TOKEN_HANDSHAKE_LEN + 8));
    free(hs);
    for (len = 0; len < RELAY_TOKEN_HANDSHAKE_LEN; len++) {
        small = guarded(len, 8);
        CHECK_STATUS(relay_handshake_write_with_token(tok, RELAY_TOKEN_LEN, 1, small, len),
                     RELAY_STATUS_BUFFER_TOO_SMALL);
        CHECK(untouched(small, len + 8));
        free(small);
    }
    hs = guarded(RELAY_TOKEN_HANDSHAKE_LEN, 8);
    CHECK(relay_handshake_write_with_token(tok, RELAY_TOKEN_LEN, 7, hs,
                                           RELAY_TOKEN_HANDSHAKE_LEN) ==
          RELAY_TOKEN_HANDSHAKE_LEN);
    CHECK(untouched(hs + RELAY_TOKEN_HANDSHAKE_LEN, 8));
    CHECK(hs[0] == 0x04 && hs[1] == 0xB2 && hs[6] == 0x80 && hs[75] == 7);
    free(hs);
    free(tok);
}

/* RELAY_V08_DEFAULT_KEY initializes a key that writes the reference_default_key datagram of
   tests/vectors/handshake-v08.json for its GUID, and verifies it. */
static void v08_default_key_handshake(const RelayGuid *guid) {
    static const uint8_t v08_key[RELAY_V08_DEFAULT_KEY_LEN] = RELAY_V08_DEFAULT_KEY;
    static const uint8_t expected_mac[32] = {
        0xdd, 0xcc, 0x5c, 0x92, 0x5d, 0x95, 0xc9, 0xfc, 0xcf, 0x49, 0xed, 0x0e, 0xc8, 0x7b, 0x79, 0x49,
        0xb5, 0x10, 0xf0, 0x5b, 0x56, 0x87, 0xbe, 0xb6, 0xbd, 0x9d, 0xca, 0xf9, 0x7d, 0x66, 0x59, 0x29};
    unsigned char hs[RELAY_HANDSHAKE_LEN];

    CHECK(memcmp(v08_key, "fL6I8F3egv6ApC15fkJO9U7xKeDD6Xur", sizeof v08_key) == 0);
    CHECK(relay_handshake_write(hs, sizeof hs, guid, v08_key, sizeof v08_key) ==
          RELAY_HANDSHAKE_LEN);
    CHECK(memcmp(hs + 24, expected_mac, sizeof expected_mac) == 0);
    CHECK(relay_handshake_parse(hs, sizeof hs, guid, v08_key, sizeof v08_key) == RELAY_STATUS_OK);
}

/* The buffer-writing helpers shared with clients, and how they see a token handshake. */
static void helper_misuse(void) {
    static const uint8_t secret[16] = {9};
    RelayGuid guid = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};
    RelayGuid zero = {0, 0};
    RelayGuid parsed;
    unsigned char *buf;
    unsigned char token[RELAY_TOKEN_LEN];
    unsigned char hs[RELAY_TOKEN_HANDSHAKE_LEN];
    size_t len;

    CHECK_STATUS(relay_guid_new(NULL), RELAY_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(relay_guid_parse(NULL, &parsed), RELAY_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(relay_guid_parse("01234567-89ab-cdef-fedc-ba9876543210", NULL),
                 RELAY_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(relay_guid_parse("01234567-89ab-cdef-fedc-ba987654321", &parsed),
                 RELAY_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(relay_guid_format(NULL, (char *)token, sizeof token), RELAY_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(relay_guid_format(&guid, NULL, 64), RELAY_STATUS_NULL_ARGUMENT);
    for (len = 0; len < RELAY_GUID_STRING_SIZE; len++) {
        buf = guarded(len, 8);
        CHECK_STATUS(relay_guid_format(&guid, (char *)buf, len), RELAY_STATUS_BUFFER_TOO_SMALL);
        CHECK(untouched(buf, len + 8));
        free(buf);
    }
    CHECK_STATUS(relay_handshake_write(NULL, 56, &guid, NULL, 0), RELAY_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(relay_handshake_write(token, 56, NULL, NULL, 0), RELAY_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(relay_handshake_write(hs, sizeof hs, &zero, NULL, 0), RELAY_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(relay_handshake_write(hs, sizeof hs, &guid, NULL, 4), RELAY_STATUS_NULL_ARGUMENT);
    for (len = 0; len < RELAY_HANDSHAKE_LEN; len++) {
        buf = guarded(len, 8);
        CHECK_STATUS(relay_handshake_write(buf, len, &guid, secret, sizeof secret),
                     RELAY_STATUS_BUFFER_TOO_SMALL);
        CHECK(untouched(buf, len + 8));
        free(buf);
    }
    CHECK_STATUS(relay_handshake_parse(NULL, 56, &guid, NULL, 0), RELAY_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(relay_handshake_parse(hs, 56, NULL, NULL, 0), RELAY_STATUS_NULL_ARGUMENT);
    for (len = 0; len < RELAY_HANDSHAKE_LEN; len++) {
        buf = guarded(len, 0);
        memset(buf, 0, len);
        CHECK_STATUS(relay_handshake_parse(buf, len, &guid, NULL, 0), RELAY_STATUS_INVALID_HANDSHAKE);
        free(buf);
    }
    /* A token handshake is a well-formed v0.8 handshake to a peer without the relay secret
       (clients see their partner's), and does not verify as keyed with the secret. */
    CHECK(relay_token_mint(secret, sizeof secret, &guid, RELAY_TOKEN_ROLE_A, 4000000000u, token,
                           sizeof token) == RELAY_TOKEN_LEN);
    CHECK(relay_handshake_write_with_token(token, sizeof token, 1, hs, sizeof hs) ==
          RELAY_TOKEN_HANDSHAKE_LEN);
    CHECK(relay_handshake_parse(hs, sizeof hs, &guid, NULL, 0) == RELAY_STATUS_OK);
    CHECK_STATUS(relay_handshake_parse(hs, sizeof hs, &guid, secret, sizeof secret),
                 RELAY_STATUS_INVALID_HANDSHAKE);
    v08_default_key_handshake(&guid);
}

static void misc_misuse(void) {
    int32_t s;
    CHECK_STATUS(relay_set_log_callback(on_log, NULL, 6), RELAY_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(relay_set_log_callback(NULL, NULL, 0xFFFFFFFFu), RELAY_STATUS_INVALID_ARGUMENT);
    CHECK(relay_set_log_callback(on_log, NULL, 5) == RELAY_STATUS_OK);
    CHECK(relay_set_log_callback(NULL, NULL, 0) == RELAY_STATUS_OK);
    for (s = -20; s <= 5; s++) {
        CHECK(relay_status_str(s) != NULL && relay_status_str(s)[0] != '\0');
    }
    CHECK(strcmp(relay_status_str(INT32_MIN), "unknown status") == 0);
    CHECK(relay_version() != NULL && relay_version()[0] != '\0');
    CHECK(relay_abi_version() == RELAY_ABI_VERSION);
    CHECK(relay_last_error() != NULL);
}

int main(void) {
    config_misuse();
    handle_misuse();
    address_misuse();
    token_misuse();
    helper_misuse();
    misc_misuse();
    printf("misuse checks: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
