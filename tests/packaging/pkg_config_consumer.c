/*
 * A C program built through pkg-config against an installed udp-relay (tests/packaging.rs):
 * checks that the library it runs with is the one its header describes, then starts a relay
 * on 127.0.0.1 and stops it.
 */
#include <stdio.h>
#include <string.h>

#include <udp_relay.h>

int main(void) {
    char expected[32];
    RelayConfig config;
    RelayHandle *relay = NULL;

    snprintf(expected, sizeof expected, "%d.%d.%d", UDP_RELAY_VERSION_MAJOR,
             UDP_RELAY_VERSION_MINOR, UDP_RELAY_VERSION_PATCH);
    if (relay_abi_version() != RELAY_ABI_VERSION || strcmp(relay_version(), expected) != 0) {
        fprintf(stderr, "header %s (ABI %d), library %s (ABI %u)\n", expected, RELAY_ABI_VERSION,
                relay_version(), relay_abi_version());
        return 1;
    }
    if (relay_config_default(&config) != RELAY_STATUS_OK) return 1;
    config.bind_address = "127.0.0.1";
    config.port = 0;
    if (relay_start(&config, &relay) != RELAY_STATUS_OK) {
        fprintf(stderr, "relay_start: %s\n", relay_last_error());
        return 1;
    }
    if (relay_poll(relay, 0) < 0) {
        fprintf(stderr, "relay_poll: %s\n", relay_last_error());
        return 1;
    }
    printf("udp_relay %s (ABI %u) relayed on port %u\n", relay_version(), relay_abi_version(),
           (unsigned)relay_local_port(relay));
    return relay_stop(relay) == RELAY_STATUS_OK ? 0 : 1;
}
