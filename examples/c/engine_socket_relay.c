/*
 * engine_socket_relay.c -- a game server that relays on its own UDP socket.
 *
 * The server owns the socket (here a plain POSIX one; in a game engine it could be the
 * engine's socket layer or io_uring). It reads every datagram itself: its own game traffic
 * (datagrams starting with "GAME") it answers, everything else it hands to a socket-free
 * relay (relay_core_*), which says what to send where. Between datagrams it sleeps in
 * poll(2) until the socket is readable or the relay's next deadline.
 *
 *   engine_socket_relay [--port N] [--idle-ms N]
 *
 * Prints "listening on port N" first, one line per channel event, and on SIGINT a
 * "stats ..." line and "stopped cleanly". POSIX only (poll, sockets, clock_gettime).
 *
 * Build (Linux), from the repository root after `cargo build --release`:
 *   cc -std=c99 -Wall -Wextra -O2 -Iinclude examples/c/engine_socket_relay.c \
 *      -Ltarget/release -ludp_relay -Wl,-rpath,"$PWD/target/release" -o engine_socket_relay
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "udp_relay.h"

static volatile sig_atomic_t g_stop = 0;

static void on_sigint(int signo)
{
    (void)signo;
    g_stop = 1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void to_relay_address(const struct sockaddr_in *in, RelayAddress *out)
{
    memset(out, 0, sizeof *out);
    out->family = 4;
    out->port = ntohs(in->sin_port);
    memcpy(out->ip, &in->sin_addr, 4);
}

static void to_sockaddr(const RelayAddress *address, struct sockaddr_in *out)
{
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons(address->port);
    memcpy(&out->sin_addr, address->ip, 4);
}

static void print_events(RelayCoreHandle *core)
{
    RelayEvent event;
    char a[64], b[64];
    while (relay_core_next_event(core, &event, sizeof event) == 1) {
        if (relay_address_format(&event.peer_a, a, sizeof a) < 0) snprintf(a, sizeof a, "-");
        if (relay_address_format(&event.peer_b, b, sizeof b) < 0) snprintf(b, sizeof b, "-");
        switch (event.kind) {
        case RELAY_EVENT_KIND_CHANNEL_ALLOCATED: printf("channel allocated a=%s\n", a); break;
        case RELAY_EVENT_KIND_CHANNEL_ESTABLISHED:
            printf("channel established a=%s b=%s\n", a, b);
            break;
        case RELAY_EVENT_KIND_CHANNEL_CLOSED: printf("channel closed a=%s\n", a); break;
        default: break;
        }
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    unsigned port = 0, idle_ms = 30000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0) port = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--idle-ms") == 0) idle_ms = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }

    /* The game's own socket. */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in local;
    memset(&local, 0, sizeof local);
    local.sin_family = AF_INET;
    local.sin_port = htons((uint16_t)port);
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t local_len = sizeof local;
    if (fd < 0 || bind(fd, (struct sockaddr *)&local, sizeof local) != 0 ||
        getsockname(fd, (struct sockaddr *)&local, &local_len) != 0) {
        perror("socket");
        return 1;
    }

    RelayConfig config;
    relay_config_default(&config);
    config.inactivity_timeout_ms = idle_ms;
    RelayCoreHandle *core = NULL;
    if (relay_core_new(&config, &core) != RELAY_STATUS_OK) {
        fprintf(stderr, "relay_core_new: %s\n", relay_last_error());
        return 1;
    }
    RelayAddress local_address;
    to_relay_address(&local, &local_address);

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);

    printf("listening on port %u\n", (unsigned)ntohs(local.sin_port));
    fflush(stdout);

    static uint8_t buf[RELAY_MAX_DATAGRAM];
    uint64_t game_answered = 0;
    while (!g_stop) {
        int64_t deadline = -1;
        relay_core_next_timeout(core, &deadline);
        int wait_ms = 1000;
        if (deadline >= 0) {
            uint64_t now = now_ms();
            wait_ms = deadline <= (int64_t)now ? 0 : (int)((uint64_t)deadline - now);
            if (wait_ms > 1000) wait_ms = 1000;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        int ready = poll(&pfd, 1, wait_ms);
        if (ready < 0 && errno != EINTR) {
            perror("poll");
            break;
        }
        while (ready > 0) {
            struct sockaddr_in from;
            socklen_t from_len = sizeof from;
            ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
            if (n < 0) break; /* drained (EAGAIN), or an ICMP error: go on */
            if (n >= 4 && memcmp(buf, "GAME", 4) == 0) {
                /* The game's own traffic on the same port. */
                sendto(fd, "GAME-ACK", 8, 0, (struct sockaddr *)&from, from_len);
                game_answered++;
                continue;
            }
            RelayAddress src;
            to_relay_address(&from, &src);
            RelayTransmit t;
            if (relay_core_handle_datagram(core, now_ms(), &src, &local_address, buf, (size_t)n, &t) != RELAY_STATUS_OK) {
                fprintf(stderr, "relay_core_handle_datagram: %s\n", relay_last_error());
                continue;
            }
            if (t.kind == RELAY_TRANSMIT_KIND_NONE) continue;
            struct sockaddr_in to;
            to_sockaddr(&t.to, &to);
            const uint8_t *bytes = t.kind == RELAY_TRANSMIT_KIND_FORWARD ? buf : t.answer;
            if (sendto(fd, bytes, t.len, 0, (struct sockaddr *)&to, sizeof to) < 0) {
                relay_core_report_send_failure(core, &t);
            }
        }
        relay_core_handle_timeout(core, now_ms());
        print_events(core);
    }

    RelayStats stats;
    relay_core_get_stats(core, &stats, sizeof stats);
    printf("stats datagrams_in=%" PRIu64 " datagrams_out=%" PRIu64 " datagrams_dropped=%" PRIu64
           " datagrams_consumed=%" PRIu64 " channels_allocated=%" PRIu64 " game_answered=%" PRIu64 "\n",
           stats.datagrams_in, stats.datagrams_out, stats.datagrams_dropped, stats.datagrams_consumed,
           stats.channels_allocated_total, game_answered);
    relay_core_free(core);
    close(fd);
    printf("stopped cleanly\n");
    return 0;
}
