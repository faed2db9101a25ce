/*
 * embedded_host.c -- a game server that embeds udp-relay in its own fixed-rate loop.
 *
 * The relay never gets a thread of its own: every 60 Hz frame the host calls
 * relay_poll(relay, 0), which relays what is pending without blocking, then drains the
 * event queue, then does its own frame work and sleeps until the next frame.
 *
 *   embedded_host [--port N] [--bind ADDR] [--frames N] [--idle-ms N]
 *
 *   --port N     UDP port to bind; 0 picks an ephemeral one (default 6060)
 *   --bind ADDR  IP address to bind (default: dual-stack "::")
 *   --frames N   stop after N frames (default: run until SIGINT)
 *   --idle-ms N  close channels idle for N ms (default 30000)
 *
 * The first line printed is "listening on port N". SIGINT (Ctrl-C) stops the loop at the
 * end of the current frame; the relay is then stopped and its final counters printed.
 *
 * Build (Linux), from the repository root after `scripts/install.sh --prefix "$PWD/dist"`:
 *   cc -std=c99 -Wall -Wextra -O2 -Idist/include examples/c/embedded_host.c \
 *      -Ldist/lib -ludp_relay -Wl,-rpath,"$PWD/dist/lib" -o embedded_host
 *
 * Build (Windows, with mingw-w64 after scripts/cross-build.sh): put udp_relay.dll next to it.
 *   x86_64-w64-mingw32-gcc -std=c99 -Wall -Wextra -O2 -Iinclude examples/c/embedded_host.c \
 *      -Ltarget/dist/windows-x86_64 -ludp_relay -o embedded_host.exe
 *
 * Both branches are tested: the POSIX one natively on Linux, the _WIN32 one under Wine
 * (tests/windows_wine.rs), where Ctrl-C arrives through the C runtime's SIGINT as well.
 */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#endif

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "udp_relay.h"

#if defined(_WIN32)
#include <windows.h>
#else
#include <time.h>
#endif

#define FRAME_RATE_HZ 60

static volatile sig_atomic_t g_stop_requested = 0;

static void on_sigint(int signo)
{
    (void)signo;
    g_stop_requested = 1;
}

static void install_sigint_handler(void)
{
#if defined(_WIN32)
    signal(SIGINT, on_sigint);
#else
    /* sigaction rather than signal(): it stays installed and does not restart the sleep. */
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
#endif
}

/* Monotonic clock in microseconds. */
static uint64_t now_us(void)
{
#if defined(_WIN32)
    return (uint64_t)GetTickCount64() * 1000u;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
#endif
}

static void sleep_us(uint64_t us)
{
#if defined(_WIN32)
    Sleep((DWORD)(us / 1000u));
#else
    struct timespec ts;
    ts.tv_sec = (time_t)(us / 1000000u);
    ts.tv_nsec = (long)(us % 1000000u) * 1000L;
    nanosleep(&ts, NULL); /* EINTR on SIGINT is fine: the loop checks the flag next. */
#endif
}

/* Routes the library's log records to stderr, keeping stdout for events. */
static void on_relay_log(void *user_data, uint32_t level, const char *message)
{
    static const char *const names[] = {"off", "error", "warn", "info", "debug", "trace"};
    (void)user_data;
    fprintf(stderr, "[udp_relay %s] %s\n", level <= 5 ? names[level] : "?", message);
}

static void format_guid(const RelayGuid *guid, char out[37])
{
    snprintf(out, 37, "%08" PRIx32 "-%04" PRIx32 "-%04" PRIx32 "-%04" PRIx32 "-%012" PRIx64,
             (uint32_t)(guid->hi >> 32), (uint32_t)(guid->hi >> 16) & 0xffffu,
             (uint32_t)guid->hi & 0xffffu, (uint32_t)(guid->lo >> 48),
             guid->lo & UINT64_C(0xffffffffffff));
}

static void format_address(const RelayAddress *address, char out[64])
{
    if (relay_address_format(address, out, 64) < 0) {
        snprintf(out, 64, "-");
    }
}

static void print_event(const RelayEvent *event)
{
    char guid[37];
    char peer_a[64];
    char peer_b[64];
    format_guid(&event->guid, guid);
    switch (event->kind) {
    case RELAY_EVENT_KIND_CHANNEL_ALLOCATED:
        format_address(&event->peer_a, peer_a);
        printf("channel allocated %s a=%s\n", guid, peer_a);
        break;
    case RELAY_EVENT_KIND_CHANNEL_ESTABLISHED:
        format_address(&event->peer_a, peer_a);
        format_address(&event->peer_b, peer_b);
        printf("channel established %s a=%s b=%s\n", guid, peer_a, peer_b);
        break;
    case RELAY_EVENT_KIND_CHANNEL_CLOSED:
        printf("channel closed %s reason=%s a_to_b=%" PRIu64 " b_to_a=%" PRIu64
               " lifetime_ms=%" PRIu64 "\n",
               guid, event->close_reason == RELAY_CLOSE_REASON_PEER_MOVED ? "peer-moved" : "expired",
               event->counters.datagrams_a_to_b, event->counters.datagrams_b_to_a,
               event->lifetime_ms);
        break;
    case RELAY_EVENT_KIND_DRAINED:
        printf("drained\n");
        break;
    default:
        printf("event kind=%" PRIu32 "\n", event->kind);
        break;
    }
}

static void print_stats(const RelayStats *s)
{
    printf("stats datagrams_in=%" PRIu64 " datagrams_out=%" PRIu64 " bytes_in=%" PRIu64
           " bytes_out=%" PRIu64 " dropped=%" PRIu64 " handshakes_accepted=%" PRIu64
           " handshakes_rejected=%" PRIu64 " channels_allocated=%" PRIu64
           " channels_open=%" PRIu64 " events_dropped=%" PRIu64 "\n",
           s->datagrams_in, s->datagrams_out, s->bytes_in, s->bytes_out, s->datagrams_dropped,
           s->handshakes_accepted, s->handshakes_rejected, s->channels_allocated_total,
           s->channels_open, s->events_dropped);
}

static int parse_number(const char *text, unsigned long max, unsigned long *out)
{
    char *end = NULL;
    unsigned long value;
    if (text == NULL || *text == '\0' || *text == '-') {
        return 0;
    }
    value = strtoul(text, &end, 10);
    if (*end != '\0' || value > max) {
        return 0;
    }
    *out = value;
    return 1;
}

static void usage(const char *program)
{
    fprintf(stderr, "usage: %s [--port N] [--bind ADDR] [--frames N] [--idle-ms N]\n", program);
}

int main(int argc, char **argv)
{
    RelayConfig config;
    RelayHandle *relay = NULL;
    RelayStats stats;
    RelayEvent event;
    unsigned long frames_limit = 0; /* 0 = until SIGINT */
    unsigned long frame = 0;
    unsigned long value = 0;
    uint64_t frame_us = 1000000u / FRAME_RATE_HZ;
    uint64_t next_frame;
    int status;
    int exit_code = 0;
    int i;

    setvbuf(stdout, NULL, _IOLBF, 0); /* a reader on a pipe sees each line at once */

    if (relay_abi_version() != RELAY_ABI_VERSION) {
        fprintf(stderr, "libudp_relay ABI %" PRIu32 " does not match udp_relay.h ABI %d\n",
                relay_abi_version(), RELAY_ABI_VERSION);
        return 1;
    }
    if (relay_config_default(&config) != RELAY_STATUS_OK) {
        fprintf(stderr, "relay_config_default: %s\n", relay_last_error());
        return 1;
    }
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--port") == 0 && parse_number(next, 65535, &value)) {
            config.port = (uint16_t)value;
        } else if (strcmp(arg, "--frames") == 0 && parse_number(next, 1000000000ul, &value)) {
            frames_limit = value;
        } else if (strcmp(arg, "--idle-ms") == 0 && parse_number(next, 3600000ul, &value)) {
            config.inactivity_timeout_ms = (uint32_t)value;
        } else if (strcmp(arg, "--bind") == 0 && next != NULL) {
            config.bind_address = next; /* borrowed by relay_start only */
        } else {
            usage(argv[0]);
            return 2;
        }
        i++;
    }

    relay_set_log_callback(on_relay_log, NULL, RELAY_LOG_LEVEL_INFO);

    status = relay_start(&config, &relay);
    if (status != RELAY_STATUS_OK) {
        fprintf(stderr, "relay_start failed (%s): %s\n", relay_status_str(status),
                relay_last_error());
        return 1;
    }
    printf("listening on port %u\n", (unsigned)relay_local_port(relay));
    printf("udp_relay %s, %d Hz loop, Ctrl-C to stop\n", relay_version(), FRAME_RATE_HZ);

    install_sigint_handler();
    next_frame = now_us();
    while (!g_stop_requested && (frames_limit == 0 || frame < frames_limit)) {
        /* Network tick: never blocks the game thread. */
        int handled = relay_poll(relay, 0);
        if (handled < 0) {
            fprintf(stderr, "relay_poll failed (%s): %s\n", relay_status_str(handled),
                    relay_last_error());
            exit_code = 1;
            break;
        }
        while ((status = relay_next_event(relay, &event, sizeof event)) == 1) {
            print_event(&event);
        }
        if (status < 0) {
            fprintf(stderr, "relay_next_event failed: %s\n", relay_last_error());
            exit_code = 1;
            break;
        }

        /* ... the game's own simulation for this frame would run here ... */

        frame++;
        next_frame += frame_us;
        {
            uint64_t now = now_us();
            if (next_frame > now) {
                sleep_us(next_frame - now);
            } else {
                next_frame = now; /* fell behind: do not try to catch up in a burst */
            }
        }
    }

    printf("stopping after %lu frames%s\n", frame, g_stop_requested ? " (SIGINT)" : "");
    if (relay_get_stats(relay, &stats, sizeof stats) == RELAY_STATUS_OK) {
        print_stats(&stats);
    }
    status = relay_stop(relay);
    relay_set_log_callback(NULL, NULL, RELAY_LOG_LEVEL_OFF);
    if (status != RELAY_STATUS_OK) {
        fprintf(stderr, "relay_stop failed: %s\n", relay_last_error());
        return 1;
    }
    printf("stopped%s\n", exit_code == 0 ? " cleanly" : " after an error");
    return exit_code;
}
