/*
 * client_modes.c -- the two ways a game joins a udp-relay channel, side by side:
 *
 *   peer 1, library-owned socket: relay_client_connect / _poll / _send / _recv / _close;
 *   peer 2, engine-owned socket:  the game's own UDP socket (here POSIX or Winsock) driven by
 *           the relay_handshake_* state machine, which says what to send and when, and which
 *           received datagrams are game data.
 *
 * Both join the same channel and exchange COUNT datagrams each way. With a relay address
 * ("host:port") as the first argument they use that relay; without, the program starts one
 * in-process on 127.0.0.1 so it runs on its own. Linux/macOS (POSIX sockets) and Windows
 * (Winsock; tested under Wine with the mingw-w64 build).
 *
 * Build, after `scripts/install.sh --prefix "$PWD/dist"`:
 *   cc -std=c99 -I dist/include examples/c/client_modes.c -L dist/lib -ludp_relay \
 *      -Wl,-rpath,"$PWD/dist/lib"
 * Windows (mingw-w64), after `scripts/cross-build.sh`:
 *   x86_64-w64-mingw32-gcc -std=c99 -I include examples/c/client_modes.c \
 *       -L target/x86_64-pc-windows-gnu/release -ludp_relay -lws2_32
 */
#if defined(_WIN32)
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#define _POSIX_C_SOURCE 200112L
#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
#endif

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "udp_relay.h"

/* The few calls where Winsock and POSIX sockets differ. */
#if defined(_WIN32)
typedef SOCKET socket_t;
static int sockets_init(void) {
    WSADATA wsa;
    return WSAStartup(MAKEWORD(2, 2), &wsa) == 0 ? 0 : -1;
}
static int set_nonblocking(socket_t s) {
    u_long on = 1;
    return ioctlsocket(s, FIONBIO, &on) == 0 ? 0 : -1;
}
static void close_socket(socket_t s) { closesocket(s); WSACleanup(); }
#else
typedef int socket_t;
#define INVALID_SOCKET (-1)
static int sockets_init(void) { return 0; }
static int set_nonblocking(socket_t s) { return fcntl(s, F_SETFL, O_NONBLOCK); }
static void close_socket(socket_t s) { close(s); }
#endif

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
    if (sockets_init() != 0) return fail("socket library");
    struct addrinfo hints, *to = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo(host, colon + 1, &hints, &to) != 0) return fail("getaddrinfo");
    socket_t fd = socket(to->ai_family, SOCK_DGRAM, 0);
    if (fd == INVALID_SOCKET || set_nonblocking(fd) != 0) return fail("socket");
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
        int n;
        while ((n = (int)recv(fd, (char *)buf, (int)sizeof buf, 0)) >= 0) {
            int kind = relay_handshake_receive(hs, buf, (size_t)n);
            if (kind == RELAY_DATAGRAM_KIND_DATA) engine_got++;
        }
        uint8_t out[RELAY_MAX_HANDSHAKE_LEN]; /* fits token handshakes too (cfg.token) */
        int h = relay_handshake_poll(hs, out, sizeof out);
        if (h < 0) { status = fail("relay_handshake_poll"); break; } /* e.g. timed out */
        if (h > 0) sendto(fd, (const char *)out, h, 0, to->ai_addr, (int)to->ai_addrlen);
        int engine_up = relay_handshake_state(hs) == RELAY_CLIENT_STATE_ESTABLISHED;
        /* Keep at most 16 in flight so no socket buffer can overflow. */
        if (engine_up && engine_sent < COUNT && engine_sent - client_got < 16) {
            char msg[32];
            int len = snprintf(msg, sizeof msg, "engine %d", engine_sent++);
            sendto(fd, msg, len, 0, to->ai_addr, (int)to->ai_addrlen);
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
    freeaddrinfo(to);
    close_socket(fd);
    relay_client_close(client);
    relay_stop(relay); /* NULL when an external relay was used: a no-op */
    return status;
}
