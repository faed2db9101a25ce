/*
 * Picking and following a relay from C, against relays this program runs itself (their
 * own thread polls them, as a dedicated server would): relay_measure times a list of relays
 * and reports which accepts, which drains and which does not answer; two clients join
 * through the first relay with seat tokens, the relay is stopped, both report
 * RELAY_STATUS_PEER_LOST, and relay_client_rejoin moves them to the second relay with new
 * tokens on the same sockets and handles; a rejoin with bad arguments gets a clear status.
 *
 * Prints "ok WHAT" or "FAIL WHAT" per check and "N passed, M failed" last. Built and run by
 * tests/client_follow_c.rs.
 */
#define _POSIX_C_SOURCE 200809L

#include "udp_relay.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int passed, failed;

static void check(int ok, const char *what) {
    if (ok) {
        passed++;
        printf("ok %s\n", what);
    } else {
        failed++;
        printf("FAIL %s (last error: %s)\n", what, relay_last_error());
    }
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

/* The relays the poller thread ticks; a stopped one just reports an invalid handle. */
#define RELAYS 3
static RelayHandle *relays[RELAYS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int stopping;

static void *poll_relays(void *unused) {
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&lock);
        int stop = stopping;
        pthread_mutex_unlock(&lock);
        if (stop) return NULL;
        for (int i = 0; i < RELAYS; i++) (void)relay_poll(relays[i], 2);
    }
}

static const uint8_t secret_1[] = "the first region's relay secret, 32+";
static const uint8_t secret_2[] = "the second region's relay secret, 32+";

static RelayHandle *start_relay(const uint8_t *secret, size_t secret_len) {
    RelayConfig cfg;
    relay_config_default(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    if (secret != NULL) {
        cfg.secret_key = secret;
        cfg.secret_key_len = secret_len;
        cfg.require_tokens = 1;
    }
    RelayHandle *relay = NULL;
    if (relay_start(&cfg, &relay) != RELAY_STATUS_OK) {
        fprintf(stderr, "relay_start: %s\n", relay_last_error());
        return NULL;
    }
    return relay;
}

static void address_of(RelayHandle *relay, char *out, size_t len) {
    snprintf(out, len, "127.0.0.1:%u", (unsigned)relay_local_port(relay));
}

static RelayClient *connect_with(const char *address, const uint8_t *token) {
    RelayClientConfig cfg;
    relay_client_config_default(&cfg);
    cfg.relay_address = address;
    cfg.token = token;
    cfg.token_len = RELAY_TOKEN_LEN;
    cfg.retry_interval_ms = 20;
    cfg.retry_backoff_max_ms = 100;
    cfg.keepalive_interval_ms = 100;
    cfg.peer_timeout_ms = 400;
    RelayClient *client = NULL;
    if (relay_client_connect(&cfg, &client) != RELAY_STATUS_OK) return NULL;
    return client;
}

/* Polls both clients until both are in `state` (or, for LOST, report it); 1 on time. */
static int wait_both(RelayClient *a, RelayClient *b, int32_t state, double limit_ms) {
    double end = now_ms() + limit_ms;
    while (now_ms() < end) {
        int32_t pa = relay_client_poll(a, 5), pb = relay_client_poll(b, 5);
        if (state == RELAY_CLIENT_STATE_LOST) {
            if (pa == RELAY_STATUS_PEER_LOST && pb == RELAY_STATUS_PEER_LOST) return 1;
        } else if (relay_client_state(a) == state && relay_client_state(b) == state) {
            return 1;
        }
    }
    return 0;
}

/* `from` sends `text`; 1 when `to` receives exactly it within 5 s. */
static int deliver(RelayClient *from, RelayClient *to, const char *text) {
    size_t n = strlen(text), len = 0;
    if (relay_client_send(from, (const uint8_t *)text, n) != RELAY_STATUS_OK) return 0;
    double end = now_ms() + 5000;
    uint8_t buf[64];
    while (now_ms() < end) {
        (void)relay_client_poll(from, 0);
        if (relay_client_poll(to, 5) > 0) {
            if (relay_client_recv(to, buf, sizeof buf, &len) != RELAY_STATUS_OK) return 0;
            return len == n && memcmp(buf, text, n) == 0;
        }
    }
    return 0;
}

int main(void) {
    relays[0] = start_relay(secret_1, sizeof secret_1 - 1);
    relays[1] = start_relay(secret_2, sizeof secret_2 - 1);
    relays[2] = start_relay(NULL, 0);
    if (relays[0] == NULL || relays[1] == NULL || relays[2] == NULL) return 2;
    /* A port where nothing answers any more. */
    RelayHandle *gone = start_relay(NULL, 0);
    if (gone == NULL) return 2;
    char address_1[32], address_2[32], address_draining[32], address_gone[32];
    address_of(relays[0], address_1, sizeof address_1);
    address_of(relays[1], address_2, sizeof address_2);
    address_of(relays[2], address_draining, sizeof address_draining);
    address_of(gone, address_gone, sizeof address_gone);
    relay_stop(gone);
    check(relay_drain(relays[2]) == RELAY_STATUS_OK, "the third relay drains");
    pthread_t poller;
    if (pthread_create(&poller, NULL, poll_relays, NULL) != 0) return 2;

    /* Picking a relay. */
    const char *list[4] = {address_1, address_2, address_draining, address_gone};
    RelayMeasurement m[4];
    double start = now_ms();
    int32_t answered = relay_measure(list, 4, 2, 500, m, 4);
    double took = now_ms() - start;
    check(answered == 3, "relay_measure: three relays answered");
    check(took < 3000, "relay_measure returns within its timeout (and a margin)");
    check(m[0].status == RELAY_STATUS_OK && m[0].state == RELAY_PROBE_STATE_ACCEPTING &&
              m[0].replies == 2 && m[0].rtt_us > 0,
          "the first relay accepts, with a round trip");
    check(m[1].status == RELAY_STATUS_OK && m[1].state == RELAY_PROBE_STATE_ACCEPTING,
          "the second relay accepts");
    check(m[2].status == RELAY_STATUS_OK && m[2].state == RELAY_PROBE_STATE_DRAINING,
          "the third relay is draining");
    check(m[3].status == RELAY_STATUS_TIMED_OUT && m[3].replies == 0 && m[3].probes_sent == 2,
          "the stopped relay is unreachable");
    check(m[0].address.family == 4 && m[0].address.port == relay_local_port(relays[0]),
          "the resolved address is reported");
    check(relay_measure(list, 4, 2, 500, m, 3) == RELAY_STATUS_BUFFER_TOO_SMALL,
          "relay_measure: out too short is BUFFER_TOO_SMALL");
    check(relay_measure(list, 4, 0, 500, m, 4) == RELAY_STATUS_INVALID_ARGUMENT,
          "relay_measure: 0 attempts is INVALID_ARGUMENT");

    /* Two players join through the first relay with their tickets. */
    RelayGuid guid_1, guid_2, zero = {0, 0};
    relay_guid_new(&guid_1);
    relay_guid_new(&guid_2);
    uint64_t expiry = (uint64_t)time(NULL) + 3600;
    uint8_t token_a[RELAY_TOKEN_LEN], token_b[RELAY_TOKEN_LEN];
    relay_token_mint(secret_1, sizeof secret_1 - 1, &guid_1, RELAY_TOKEN_ROLE_A, expiry, token_a,
                     sizeof token_a);
    relay_token_mint(secret_1, sizeof secret_1 - 1, &guid_1, RELAY_TOKEN_ROLE_B, expiry, token_b,
                     sizeof token_b);
    RelayClient *a = connect_with(address_1, token_a);
    RelayClient *b = connect_with(address_1, token_b);
    check(a != NULL && b != NULL, "both clients connect");
    if (a == NULL || b == NULL) return 1;
    check(wait_both(a, b, RELAY_CLIENT_STATE_ESTABLISHED, 5000), "established on the first relay");
    check(deliver(a, b, "hello over relay 1"), "a datagram crosses the first relay");
    uint16_t port_a = relay_client_local_port(a), port_b = relay_client_local_port(b);

    /* The first relay dies: both clients say so. */
    relay_stop(relays[0]);
    start = now_ms();
    check(wait_both(a, b, RELAY_CLIENT_STATE_LOST, 3000), "both report RELAY_STATUS_PEER_LOST");
    check(relay_client_state(a) == RELAY_CLIENT_STATE_LOST, "a is in RELAY_CLIENT_STATE_LOST");
    check(strstr(relay_last_error(), "relay_client_rejoin") != NULL,
          "the loss message points at relay_client_rejoin");

    /* Bad rejoins change nothing. */
    check(relay_client_rejoin(a, NULL, &guid_2, NULL, 0) == RELAY_STATUS_NULL_ARGUMENT,
          "rejoin without an address is NULL_ARGUMENT");
    check(relay_client_rejoin(a, address_2, &zero, NULL, 0) == RELAY_STATUS_INVALID_ARGUMENT &&
              strstr(relay_last_error(), "GUID is zero") != NULL,
          "rejoin with a zero GUID and no token is INVALID_ARGUMENT");
    check(relay_client_rejoin(a, address_2, &guid_2, token_a, 59) ==
              RELAY_STATUS_INVALID_ARGUMENT,
          "rejoin with a short token is INVALID_ARGUMENT");
    check(relay_client_rejoin(a, "[::1]:6060", &guid_2, NULL, 0) == RELAY_STATUS_INVALID_ADDRESS,
          "rejoin to IPv6 from an IPv4 socket is INVALID_ADDRESS");
    check(relay_client_state(a) == RELAY_CLIENT_STATE_LOST, "a failed rejoin leaves a lost");

    /* New tickets on the second relay; the same clients follow. */
    relay_token_mint(secret_2, sizeof secret_2 - 1, &guid_2, RELAY_TOKEN_ROLE_A, expiry, token_a,
                     sizeof token_a);
    relay_token_mint(secret_2, sizeof secret_2 - 1, &guid_2, RELAY_TOKEN_ROLE_B, expiry, token_b,
                     sizeof token_b);
    check(relay_client_rejoin(a, address_2, &zero, token_a, sizeof token_a) == RELAY_STATUS_OK,
          "a rejoins the second relay");
    check(relay_client_rejoin(b, address_2, &guid_2, token_b, sizeof token_b) == RELAY_STATUS_OK,
          "b rejoins the second relay");
    check(relay_client_state(a) == RELAY_CLIENT_STATE_HANDSHAKING, "a is handshaking again");
    check(relay_client_send(a, (const uint8_t *)"x", 1) == RELAY_STATUS_NOT_ESTABLISHED,
          "sending before the new channel is up is NOT_ESTABLISHED");
    check(relay_client_local_port(a) == port_a && relay_client_local_port(b) == port_b,
          "the same local ports");
    check(wait_both(a, b, RELAY_CLIENT_STATE_ESTABLISHED, 5000),
          "established on the second relay");
    check(deliver(b, a, "hello over relay 2"), "a datagram crosses the second relay");
    check(deliver(a, b, "and back"), "and one back");

    check(relay_client_close(a) == RELAY_STATUS_OK && relay_client_close(b) == RELAY_STATUS_OK,
          "both close");
    pthread_mutex_lock(&lock);
    stopping = 1;
    pthread_mutex_unlock(&lock);
    pthread_join(poller, NULL);
    relay_stop(relays[1]);
    relay_stop(relays[2]);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
