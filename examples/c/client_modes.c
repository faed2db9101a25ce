/*
 * client_modes.c -- the two ways a game joins a udp-relay channel, side by side:
 *
 *   peer 1, library-owned socket: relay_client_connect / _poll / _send / _recv / _close;
 *   peer 2, engine-owned socket:  the game's own UDP socket (here POSIX) driven by the
 *           relay_handshake_* state machine, which says what to send and when, and which
 *           received datagrams are game data.
 *
 * Both join the same channel and exchange COUNT datagrams each way. With a relay address
 * ("host:port") as the first argument they use that relay; without, the program starts one
 * in-process on 127.0.0.1 so it runs on its own. POSIX sockets: Linux/macOS.
 *
 * Build, after `scripts/install.sh --prefix "$PWD/dist"`:
 *   cc -std=c99 -I dist/include examples/c/client_modes.c -L dist/lib -ludp_relay \
 *      -Wl,-rpath,"$PWD/dist/lib"
 */
#define _POSIX_C_SOURCE 200112L

#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "udp_relay.h"

#define COUNT 100

static int fail(const char *what) {
    fprintf(stderr, "client_modes: %s: %s\n", what, relay_last_error());
    return 1;
}

int main(int argc, char **argv) {
    char relay_address[64];
    RelayHandle *relay = NULL;
    if (argc > 1) {
        snprintf(relay_address, sizeof relay_address, "%s", argv[1]);
    } else {
        RelayConfig rc;
        relay_config_default(&rc);
        rc.bind_address = "127.0.0.1";
        rc.port = 0;
        if (relay_start(&rc, &relay) != RELAY_STATUS_OK) return fail("relay_start");
        snprintf(relay_address, sizeof relay_address, "127.0.0.1:%u",
                 (unsigned)relay_local_port(relay));
    }

    /* One config for both peers: the GUID would come from matchmaking. */
    RelayClientConfig cfg;
    relay_client_config_default(&cfg);
    cfg.relay_address = relay_address;
    if (relay_guid_new(&cfg.guid) != RELAY_STATUS_OK) return fail("relay_guid_new");
    char guid_text[RELAY_GUID_STRING_SIZE];
    relay_guid_format(&cfg.guid, guid_text, sizeof guid_text);
    printf("channel %s via %s\n", guid_text, relay_address);

    /* Peer 1: the library owns the socket. */
    RelayClient *client = NULL;
    if (relay_client_connect(&cfg, &client) != RELAY_STATUS_OK) return fail("relay_client_connect");

    /* Peer 2: the engine owns the socket. */
    char host[64];
    snprintf(host, sizeof host, "%s", relay_address);
    char *colon = strrchr(host, ':');
    if (!colon) return fail("relay address has no port");
    *colon = '\0';
    struct addrinfo hints, *to = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo(host, colon + 1, &hints, &to) != 0) return fail("getaddrinfo");
    int fd = socket(to->ai_family, SOCK_DGRAM, 0);
    if (fd < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) != 0) return fail("socket");
    RelayHandshake *hs = NULL;
    if (relay_handshake_new(&cfg, &hs) != RELAY_STATUS_OK) return fail("relay_handshake_new");

    static uint8_t buf[RELAY_MAX_DATAGRAM];
    int client_sent = 0, client_got = 0, engine_sent = 0, engine_got = 0, status = 0;
    time_t give_up = time(NULL) + 30;
    while (client_got < COUNT || engine_got < COUNT) {
        if (time(NULL) > give_up) {
            fprintf(stderr, "client_modes: exchange stalled\n");
            status = 1;
            break;
        }
        if (relay && relay_poll(relay, 0) < 0) { status = fail("relay_poll"); break; }

        /* Engine tick: every datagram from the relay goes through the state machine first. */
        ssize_t n;
        while ((n = recv(fd, buf, sizeof buf, 0)) >= 0) {
            int kind = relay_handshake_receive(hs, buf, (size_t)n);
            if (kind == RELAY_DATAGRAM_KIND_DATA) engine_got++;
        }
        uint8_t out[RELAY_MAX_HANDSHAKE_LEN]; /* fits token handshakes too (cfg.token) */
        int h = relay_handshake_poll(hs, out, sizeof out);
        if (h < 0) { status = fail("relay_handshake_poll"); break; } /* e.g. timed out */
        if (h > 0) sendto(fd, out, (size_t)h, 0, to->ai_addr, to->ai_addrlen);
        int engine_up = relay_handshake_state(hs) == RELAY_CLIENT_STATE_ESTABLISHED;
        /* Keep at most 16 in flight so no socket buffer can overflow. */
        if (engine_up && engine_sent < COUNT && engine_sent - client_got < 16) {
            char msg[32];
            int len = snprintf(msg, sizeof msg, "engine %d", engine_sent++);
            sendto(fd, msg, (size_t)len, 0, to->ai_addr, to->ai_addrlen);
            relay_handshake_on_data_sent(hs); /* postpones the keep-alive */
        }

        /* Library client tick: waits at most 1 ms. */
        if (relay_client_poll(client, 1) < 0) { status = fail("relay_client_poll"); break; }
        if (relay_client_state(client) != RELAY_CLIENT_STATE_ESTABLISHED) continue;
        size_t len;
        while (relay_client_recv(client, buf, sizeof buf, &len) == RELAY_STATUS_OK) client_got++;
        if (client_sent < COUNT && client_sent - engine_got < 16) {
            char msg[32];
            int mlen = snprintf(msg, sizeof msg, "client %d", client_sent);
            if (relay_client_send(client, (const uint8_t *)msg, (size_t)mlen) == RELAY_STATUS_OK)
                client_sent++;
        }
    }
    printf("library-owned client received %d, engine-owned client received %d\n",
           client_got, engine_got);

    relay_handshake_free(hs);
    close(fd);
    freeaddrinfo(to);
    relay_client_close(client);
    relay_stop(relay); /* NULL when an external relay was used: a no-op */
    return status;
}
