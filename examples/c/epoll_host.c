/*
 * epoll_host.c -- a game server's own epoll loop with udp-relay's socket in it.
 *
 * The server has its own UDP socket for game traffic (it answers "GAME..." datagrams with
 * "GAME-ACK") and starts a relay with its own socket. Both sockets sit in one epoll set; the
 * server sleeps in epoll_wait until either is readable or the relay's next deadline
 * (relay_next_timeout_ms), and then calls relay_poll(relay, 0), which never blocks.
 *
 *   epoll_host [--idle-ms N]
 *
 * Prints "listening on port R game port G" first, and on SIGINT a "stats ..." line and
 * "stopped cleanly". Linux only (epoll).
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udp_relay.h"

static volatile sig_atomic_t g_stop = 0;

static void on_sigint(int signo)
{
    (void)signo;
    g_stop = 1;
}

int main(int argc, char **argv)
{
    unsigned idle_ms = 30000;
    if (argc == 3 && strcmp(argv[1], "--idle-ms") == 0) idle_ms = (unsigned)strtoul(argv[2], NULL, 10);

    /* The game's own socket. */
    int game = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in local;
    memset(&local, 0, sizeof local);
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t local_len = sizeof local;
    if (game < 0 || bind(game, (struct sockaddr *)&local, sizeof local) != 0 ||
        getsockname(game, (struct sockaddr *)&local, &local_len) != 0) {
        perror("game socket");
        return 1;
    }

    RelayConfig config;
    relay_config_default(&config);
    config.bind_address = "127.0.0.1";
    config.port = 0;
    config.inactivity_timeout_ms = idle_ms;
    RelayHandle *relay = NULL;
    uint64_t relay_socket = 0;
    if (relay_start(&config, &relay) != RELAY_STATUS_OK ||
        relay_fd(relay, &relay_socket) != RELAY_STATUS_OK) {
        fprintf(stderr, "relay: %s\n", relay_last_error());
        return 1;
    }

    int ep = epoll_create1(0);
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = (int)relay_socket;
    epoll_ctl(ep, EPOLL_CTL_ADD, (int)relay_socket, &ev);
    ev.data.fd = game;
    epoll_ctl(ep, EPOLL_CTL_ADD, game, &ev);

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);

    printf("listening on port %u game port %u\n", (unsigned)relay_local_port(relay),
           (unsigned)ntohs(local.sin_port));
    fflush(stdout);

    uint64_t game_answered = 0, wakeups = 0;
    while (!g_stop) {
        int64_t wait_ms = -1;
        relay_next_timeout_ms(relay, &wait_ms);
        if (wait_ms < 0 || wait_ms > 1000) wait_ms = 1000; /* also notice SIGINT */
        struct epoll_event ready[2];
        int n = epoll_wait(ep, ready, 2, (int)wait_ms);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            break;
        }
        wakeups++;
        for (int i = 0; i < n; i++) {
            if (ready[i].data.fd != game) continue;
            char buf[1500];
            struct sockaddr_in from;
            socklen_t from_len = sizeof from;
            ssize_t len;
            while ((len = recvfrom(game, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &from_len)) >= 0) {
                if (len >= 4 && memcmp(buf, "GAME", 4) == 0) {
                    sendto(game, "GAME-ACK", 8, 0, (struct sockaddr *)&from, from_len);
                    game_answered++;
                }
                from_len = sizeof from;
            }
        }
        /* The relay's socket was readable or its deadline passed: never blocks. */
        if (relay_poll(relay, 0) < 0) {
            fprintf(stderr, "relay_poll: %s\n", relay_last_error());
            break;
        }
        RelayEvent event;
        while (relay_next_event(relay, &event, sizeof event) == 1) {
            if (event.kind == RELAY_EVENT_KIND_CHANNEL_ESTABLISHED) {
                printf("channel established\n");
                fflush(stdout);
            }
        }
    }

    RelayStats stats;
    relay_get_stats(relay, &stats, sizeof stats);
    printf("stats datagrams_in=%" PRIu64 " datagrams_out=%" PRIu64 " datagrams_dropped=%" PRIu64
           " datagrams_consumed=%" PRIu64 " channels_allocated=%" PRIu64 " game_answered=%" PRIu64
           " wakeups=%" PRIu64 "\n",
           stats.datagrams_in, stats.datagrams_out, stats.datagrams_dropped, stats.datagrams_consumed,
           stats.channels_allocated_total, game_answered, wakeups);
    relay_stop(relay);
    close(ep);
    close(game);
    printf("stopped cleanly\n");
    return 0;
}
