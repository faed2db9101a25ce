/* Checks relay_rank against tests/vectors/rank-v1.txt (its path is argv[1]): every "rank"
 * line's relays, ranked for its GUID, give its order; the relays given in reverse give the
 * same order; a shorter output gets the ranking's first entries; bad input gets its status.
 * Prints "N rankings checked" and exits 0, or prints what differs and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "udp_relay.h"

#define MAX_RELAYS 64

static int failures = 0;

static void fail(const char *what, const char *line) {
    fprintf(stderr, "FAIL: %s: %s (%s)\n", what, line, relay_last_error());
    failures++;
}

/* Parses "id:weight,id:weight,..." into relays; returns the count, or -1. */
static int parse_relays(char *text, RelayRankEntry *relays) {
    int n = 0;
    for (char *item = strtok(text, ","); item != NULL; item = strtok(NULL, ",")) {
        unsigned long id, weight;
        if (n == MAX_RELAYS || sscanf(item, "%lu:%lu", &id, &weight) != 2) return -1;
        relays[n].relay_id = (uint32_t)id;
        relays[n].weight = (uint32_t)weight;
        n++;
    }
    return n;
}

/* Parses "id,id,..." into ids; returns the count, or -1. */
static int parse_order(char *text, uint32_t *ids) {
    int n = 0;
    for (char *item = strtok(text, ","); item != NULL; item = strtok(NULL, ",")) {
        if (n == MAX_RELAYS) return -1;
        ids[n++] = (uint32_t)strtoul(item, NULL, 10);
    }
    return n;
}

static void check_line(const char *original, char *line) {
    char guid_text[64], relays_text[2048], order_text[1024];
    RelayRankEntry relays[MAX_RELAYS], reversed[MAX_RELAYS];
    uint32_t expected[MAX_RELAYS], got[MAX_RELAYS];
    RelayGuid guid;
    int n, m, i;
    int32_t written;

    if (sscanf(line, "rank %63s %2047s %1023s", guid_text, relays_text, order_text) != 3) {
        fail("unreadable line", original);
        return;
    }
    if (relay_guid_parse(guid_text, &guid) != RELAY_STATUS_OK) {
        fail("GUID", original);
        return;
    }
    n = parse_relays(relays_text, relays);
    m = parse_order(order_text, expected);
    if (n <= 0 || m != n) {
        fail("relays or order", original);
        return;
    }
    written = relay_rank(&guid, relays, (size_t)n, got, MAX_RELAYS);
    if (written != n || memcmp(got, expected, (size_t)n * sizeof got[0]) != 0) {
        fail("order", original);
        return;
    }
    for (i = 0; i < n; i++) reversed[i] = relays[n - 1 - i];
    memset(got, 0, sizeof got);
    written = relay_rank(&guid, reversed, (size_t)n, got, MAX_RELAYS);
    if (written != n || memcmp(got, expected, (size_t)n * sizeof got[0]) != 0)
        fail("order of the relays given in reverse", original);
    memset(got, 0xAB, sizeof got);
    written = relay_rank(&guid, relays, (size_t)n, got, 1);
    if (written != 1 || got[0] != expected[0] || got[1] != 0xABABABABu)
        fail("the first relay only", original);
}

static void check_errors(void) {
    RelayGuid guid = {1, 2};
    RelayRankEntry relays[3] = {{1, 10}, {2, 10}, {1, 5}};
    uint32_t out[3];
    if (relay_rank(&guid, relays, 3, out, 3) != RELAY_STATUS_INVALID_ARGUMENT ||
        strstr(relay_last_error(), "relay id 1 appears twice") == NULL)
        fail("a relay twice", "duplicate");
    relays[2].relay_id = 0;
    if (relay_rank(&guid, relays, 3, out, 3) != RELAY_STATUS_INVALID_ARGUMENT)
        fail("relay id 0", "zero");
    if (relay_rank(NULL, relays, 2, out, 3) != RELAY_STATUS_NULL_ARGUMENT)
        fail("NULL guid", "null");
    if (relay_rank(&guid, NULL, 0, out, 3) != 0) fail("no relays", "empty");
    if (relay_rank(&guid, relays, 2, out, 0) != 0) fail("no room", "out_len 0");
}

int main(int argc, char **argv) {
    char line[4096], copy[4096];
    int checked = 0;
    FILE *f;
    if (argc != 2 || (f = fopen(argv[1], "r")) == NULL) {
        fprintf(stderr, "usage: rank_vectors tests/vectors/rank-v1.txt\n");
        return 2;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "rank ", 5) != 0) continue;
        line[strcspn(line, "\n")] = '\0';
        memcpy(copy, line, sizeof copy);
        check_line(copy, line);
        checked++;
    }
    fclose(f);
    check_errors();
    printf("%d rankings checked\n", checked);
    return failures == 0 && checked > 0 ? 0 : 1;
}
