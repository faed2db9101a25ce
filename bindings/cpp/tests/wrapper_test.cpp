// wrapper_test.cpp -- exercises bindings/cpp/udp_relay.hpp against the real library on
// 127.0.0.1: an embedded relay, two library-owned clients and an engine-owned handshake on a
// POSIX socket exchange datagrams; moves, error paths and allocation-free hot paths are
// checked. Prints one line per check and a final "N passed, N failed"; exits 1 on failure.
//
// Build (what tests/cpp_wrapper.rs does, against the library under test), after
// `scripts/install.sh --profile debug --prefix /tmp/udp-relay`:
//   c++ -std=c++17 -Wall -Wextra -Werror -fno-exceptions -fno-rtti -I include -I bindings/cpp
//       bindings/cpp/tests/wrapper_test.cpp bindings/cpp/tests/second_unit.cpp
//       -L /tmp/udp-relay/lib -ludp_relay -Wl,-rpath,/tmp/udp-relay/lib
#include "udp_relay.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>
#include <string>
#include <thread>

using namespace udp_relay;

std::string formatInSecondUnit(const Guid &guid); // second_unit.cpp

// ---- every operator new of this program is counted --------------------------------------

static std::atomic<long> g_allocations{0};

void *operator new(std::size_t size) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    void *p = std::malloc(size ? size : 1);
    if (p == nullptr) std::abort();
    return p;
}
void operator delete(void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }

// ---- checks --------------------------------------------------------------------------------

static int g_passed = 0;
static int g_failed = 0;

static void expect(bool ok, const char *what, const std::string &detail = std::string()) {
    if (ok) {
        ++g_passed;
        std::printf("ok   %s\n", what);
    } else {
        ++g_failed;
        std::printf("FAIL %s%s%s\n", what, detail.empty() ? "" : ": ", detail.c_str());
    }
    std::fflush(stdout);
}

// An error Result/Status with the expected code and a non-empty message.
static void expectError(const Status &status, RelayStatus code, const char *what) {
    expect(status.code() == code && !status.message().empty(), what,
           "got " + status.toString() + ", wanted " + relay_status_str(code));
}

using Clock = std::chrono::steady_clock;

// Ticks `relay` and `clients` until `done()` or 5 s pass.
template <class Done>
static bool pumpUntil(Relay &relay, std::initializer_list<Client *> clients, Done done) {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
        if (relay.valid() && !relay.poll(1)) return false;
        for (Client *client : clients) {
            if (client->valid()) (void)client->poll(0);
        }
        if (done()) return true;
    }
    return false;
}

static int g_log_records = 0;

static void onLog(void *user_data, uint32_t level, const char *message) {
    (void)message;
    if (level <= RELAY_LOG_LEVEL_INFO) ++*static_cast<int *>(user_data);
}

// ---- sections -----------------------------------------------------------------------------

static void versionAndGuids() {
    expect(abiCompatible(), "library ABI matches the header");
    expect(std::strlen(libraryVersion()) > 0, "library version is reported");

    Result<Guid> generated = Guid::generate();
    expect(generated.has_value() && !generated->isZero(), "Guid::generate gives a non-zero GUID");
    const std::string text = generated->toString();
    expect(text.size() == 36 && text[8] == '-', "Guid::toString is 8-4-4-4-12", text);
    Result<Guid> parsed = Guid::parse(text);
    expect(parsed.has_value() && *parsed == *generated, "Guid::parse round-trips toString");
    expect(formatInSecondUnit(*generated) == text, "the header links into two translation units");

    Result<Guid> braced = Guid::parse("{01234567-89AB-CDEF-FEDC-BA9876543210}");
    expect(braced.has_value() && braced->hi() == 0x0123456789abcdefULL &&
               braced->lo() == 0xfedcba9876543210ULL,
           "Guid::parse accepts braces and upper case");
    expectError(Guid::parse("not-a-guid").status(), RELAY_STATUS_INVALID_ARGUMENT,
                "Guid::parse rejects garbage with a message");
    expectError(Guid::parse(std::string(100, 'a')).status(), RELAY_STATUS_INVALID_ARGUMENT,
                "Guid::parse rejects over-long text with a message");
    char fixed[RELAY_GUID_STRING_SIZE];
    braced->format(fixed);
    expect(std::string(fixed) == "01234567-89ab-cdef-fedc-ba9876543210",
           "Guid::format writes lowercase into a fixed buffer", fixed);
}

static void relayErrors() {
    Result<Relay> bad = Relay::start(RelayConfigBuilder().port(0).bindAddress("not-an-address"));
    expect(!bad.has_value(), "bad bind address fails");
    expectError(bad.status(), RELAY_STATUS_INVALID_ADDRESS, "bad bind address gives INVALID_ADDRESS");
    expect(bad.status().toString().find(bad.status().name()) == 0,
           "Status::toString starts with the code's name", bad.status().toString());
    const std::error_code ec = bad.status().errorCode();
    expect(ec.value() == RELAY_STATUS_INVALID_ADDRESS && std::string(ec.category().name()) == "udp_relay",
           "Status converts to std::error_code");

    Result<Relay> zeroTimeout =
        Relay::start(RelayConfigBuilder().port(0).bindAddress("127.0.0.1").inactivityTimeoutMs(0));
    expectError(zeroTimeout.status(), RELAY_STATUS_INVALID_ARGUMENT,
                "zero inactivity timeout gives INVALID_ARGUMENT");

    Result<Relay> tokensWithoutKey =
        Relay::start(RelayConfigBuilder().port(0).bindAddress("127.0.0.1").requireTokens(true));
    expectError(tokensWithoutKey.status(), RELAY_STATUS_INVALID_ARGUMENT,
                "requireTokens without a secret key gives INVALID_ARGUMENT");
    expect(RelayConfigBuilder().requireReturnPath(true).native().require_return_path == 1,
           "requireReturnPath sets require_return_path");
    Result<Relay> returnPath =
        Relay::start(RelayConfigBuilder().port(0).bindAddress("127.0.0.1").requireReturnPath(true));
    expect(returnPath.has_value(), "a relay requiring the return path starts",
           returnPath.status().toString());
    Result<Relay> limited = Relay::start(RelayConfigBuilder()
                                             .port(0)
                                             .bindAddress("127.0.0.1")
                                             .handshakeRatePerSource(10, 20)
                                             .maxPendingPerSource(4)
                                             .maxTrackedSources(128)
                                             .channelBandwidthBytesPerSec(100000));
    expect(limited.has_value(), "relay starts with per-source limits and a bandwidth cap",
           limited.status().toString());
    expect(RelayConfigBuilder().coalesceWindowUs(250).native().coalesce_window_us == 250,
           "coalesceWindowUs sets coalesce_window_us");
    Result<Relay> coalescing =
        Relay::start(RelayConfigBuilder().port(0).bindAddress("127.0.0.1").coalesceWindowUs(5000));
    expect(coalescing.has_value(), "a relay with the longest coalescing window starts",
           coalescing.status().toString());
    Result<Relay> tooLong =
        Relay::start(RelayConfigBuilder().port(0).bindAddress("127.0.0.1").coalesceWindowUs(5001));
    expectError(tooLong.status(), RELAY_STATUS_INVALID_ARGUMENT,
                "a coalescing window over 5000 us gives INVALID_ARGUMENT");

    Result<Relay> first = Relay::start(RelayConfigBuilder().port(0).bindAddress("127.0.0.1"));
    expect(first.has_value() && first->localPort() != 0, "relay binds an ephemeral port");
    if (!first) return;
    const uint16_t port = first->localPort();
    Result<Relay> second = Relay::start(RelayConfigBuilder().port(port).bindAddress("127.0.0.1"));
    expectError(second.status(), RELAY_STATUS_ADDRESS_IN_USE, "port in use gives ADDRESS_IN_USE");

    // Move-assigning over a live relay stops it: its port is free again.
    Relay holder = std::move(*first);
    expect(!first->valid() && holder.localPort() == port, "move construction transfers the relay");
    holder = Relay();
    expect(!holder.valid(), "move-assigning an empty relay empties the target");
    Result<Relay> again = Relay::start(RelayConfigBuilder().port(port).bindAddress("127.0.0.1"));
    expect(again.has_value(), "the replaced relay was stopped (its port binds again)",
           again.status().toString());

    Relay empty;
    expectError(empty.poll().status(), RELAY_STATUS_INVALID_HANDLE, "poll on an empty relay");
    expect(empty.stop().ok(), "stop on an empty relay is harmless");
    int count = 0;
    EventRange range = empty.events();
    for (const Event &event : range) {
        (void)event;
        ++count;
    }
    expect(count == 0 && range.status().is(RELAY_STATUS_INVALID_HANDLE),
           "events() of an empty relay yields nothing and says why");
}

static void clientErrors(uint16_t relayPort) {
    Result<Guid> guid = Guid::generate();
    expectError(Client::connect(ClientConfigBuilder().guid(*guid)).status(), RELAY_STATUS_NULL_ARGUMENT,
                "connect without a relay address fails with a message");
    const std::string address = "127.0.0.1:" + std::to_string(relayPort);
    expectError(Client::connect(ClientConfigBuilder().relayAddress(address)).status(),
                RELAY_STATUS_INVALID_ARGUMENT, "connect with the zero GUID fails with a message");
    expectError(Client::connect(ClientConfigBuilder().relayAddress("nowhere").guid(*guid)).status(),
                RELAY_STATUS_INVALID_ADDRESS, "connect to an address without a port fails");
    expectError(Handshake::create(ClientConfigBuilder()).status(), RELAY_STATUS_INVALID_ARGUMENT,
                "Handshake::create with the zero GUID fails");

    Client empty;
    uint8_t byte = 0;
    expectError(empty.send(ByteView(&byte, 1)), RELAY_STATUS_INVALID_HANDLE, "send on an empty client");
    expect(empty.state() == ClientState::Closed && empty.close().ok(),
           "an empty client is closed and closing it is harmless");
}

// Two library-owned clients on a keyed relay: the main scenario.
static void twoClients() {
    const std::string key = "a secret key shared with the matchmaker";
    Result<Relay> started = Relay::start(RelayConfigBuilder()
                                             .port(0)
                                             .bindAddress("127.0.0.1")
                                             .secretKey(key)
                                             .inactivityTimeoutMs(600));
    expect(started.has_value(), "keyed relay starts on 127.0.0.1", started.status().toString());
    if (!started) return;
    Relay relay = std::move(started).value();
    const std::string address = "127.0.0.1:" + std::to_string(relay.localPort());
    clientErrors(relay.localPort());

    const Guid guid = *Guid::generate();
    ClientConfigBuilder config;
    config.relayAddress(address).guid(guid).secretKey(key).retryIntervalMs(20).keepaliveIntervalMs(0);
    Result<Client> connectedA = Client::connect(config);
    Result<Client> connectedB = Client::connect(config);
    expect(connectedA.has_value() && connectedB.has_value(), "two clients connect",
           connectedA.status().toString() + connectedB.status().toString());
    if (!connectedA || !connectedB) return;
    Client a = std::move(connectedA).value();
    Client b = std::move(connectedB).value();

    static uint8_t buf[RELAY_MAX_DATAGRAM];
    if (a.state() == ClientState::Handshaking) {
        expectError(a.send(ByteView("early", 5)), RELAY_STATUS_NOT_ESTABLISHED,
                    "send while handshaking gives NOT_ESTABLISHED");
    }

    // A must be peer A: let its handshake reach the relay before B's.
    (void)pumpUntil(relay, {&a}, [&] { return relay.stats()->channels_open == 1; });
    const bool up = pumpUntil(relay, {&a, &b}, [&] { return a.established() && b.established(); });
    expect(up, "both clients reach Established", toString(a.state()));
    if (!up) return;

    int allocated = 0, established = 0;
    EventRange events = relay.events();
    for (const Event &event : events) {
        if (event.kind() == EventKind::ChannelAllocated && event.guid() == guid &&
            event.peerA().port() == a.localPort())
            ++allocated;
        if (event.kind() == EventKind::ChannelEstablished && event.guid() == guid &&
            event.peerA().port() == a.localPort() && event.peerB().port() == b.localPort())
            ++established;
    }
    expect(events.status().ok() && allocated == 1 && established == 1,
           "events(): allocated then established, with the GUID and both peers");

    // The exchange: nothing here may allocate.
    const int rounds = 200;
    int sentA = 0, sentB = 0, gotA = 0, gotB = 0, wrong = 0, sendErrors = 0;
    const long allocationsBefore = g_allocations.load();
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while ((gotA < rounds || gotB < rounds) && Clock::now() < deadline) {
        if (!relay.poll(1)) break;
        (void)a.poll(0);
        (void)b.poll(0);
        if (sentA < rounds && sentA - gotB < 16) {
            char text[32];
            const int n = std::snprintf(text, sizeof text, "a->b %d", sentA);
            const Status sent = a.send(ByteView(text, static_cast<std::size_t>(n)));
            if (sent.ok()) ++sentA;
            else if (!sent.wouldBlock()) ++sendErrors;
        }
        if (sentB < rounds && sentB - gotA < 16) {
            uint8_t payload[300];
            const std::size_t size = 1 + static_cast<std::size_t>(sentB);
            std::memset(payload, sentB & 0xff, size < sizeof payload ? size : sizeof payload);
            const Status sent = b.send(ByteView(payload, size < sizeof payload ? size : sizeof payload));
            if (sent.ok()) ++sentB;
            else if (!sent.wouldBlock()) ++sendErrors;
        }
        for (;;) {
            Result<std::size_t> got = b.recv(buf);
            if (!got) break;
            char text[32];
            const int n = std::snprintf(text, sizeof text, "a->b %d", gotB);
            if (ByteView(buf, *got) != ByteView(text, static_cast<std::size_t>(n))) ++wrong;
            ++gotB;
        }
        for (;;) {
            Result<std::size_t> got = a.recv(buf);
            if (!got) break;
            const std::size_t size = 1 + static_cast<std::size_t>(gotA);
            const std::size_t want = size < 300 ? size : 300;
            bool same = *got == want;
            for (std::size_t i = 0; same && i < want; ++i) same = buf[i] == static_cast<uint8_t>(gotA & 0xff);
            if (!same) ++wrong;
            ++gotA;
        }
    }
    const long allocationsDuring = g_allocations.load() - allocationsBefore;
    expect(gotA == rounds && gotB == rounds && sendErrors == 0,
           "200 datagrams each way arrive",
           "A got " + std::to_string(gotA) + ", B got " + std::to_string(gotB));
    expect(wrong == 0, "every datagram arrives intact and in order", std::to_string(wrong) + " differ");
    expect(allocationsDuring == 0, "send/recv/poll did not allocate",
           std::to_string(allocationsDuring) + " allocations");

    // An empty receive says WOULD_BLOCK without a message.
    Result<std::size_t> nothing = a.recv(buf);
    expect(nothing.status().wouldBlock() && nothing.status().message().empty(),
           "recv with nothing queued is WOULD_BLOCK, without a message");

    // Too small a buffer leaves the datagram queued.
    uint8_t big[1000];
    std::memset(big, 0x5a, sizeof big);
    expect(b.send(big).ok(), "send 1000 bytes");
    uint8_t small[10];
    Result<std::size_t> tooSmall = Status(RELAY_STATUS_WOULD_BLOCK, std::string());
    (void)pumpUntil(relay, {&a}, [&] {
        tooSmall = a.recv(small);
        return !tooSmall.status().wouldBlock();
    });
    expectError(tooSmall.status(), RELAY_STATUS_BUFFER_TOO_SMALL, "a 10-byte buffer gives BUFFER_TOO_SMALL");
    Result<std::size_t> whole = a.recv(buf);
    expect(whole.has_value() && ByteView(buf, *whole) == ByteView(big),
           "the datagram stayed queued and arrives whole");

    Result<Stats> stats = relay.stats();
    Result<ChannelCounters> counters = relay.channel(guid);
    expect(stats.has_value() && stats->channels_established == 1 && stats->datagrams_out >= 2 * rounds,
           "relay stats count the traffic");
    expect(counters.has_value() && counters->datagrams_a_to_b >= static_cast<uint64_t>(rounds) &&
               counters->datagrams_b_to_a >= static_cast<uint64_t>(rounds + 1),
           "channel counters count both directions");
    expectError(relay.channel(Guid(1, 2)).status(), RELAY_STATUS_INVALID_ARGUMENT,
                "counters of an unknown channel fail with a message");

    // The wrapper passes sizeof(Stats); the C call it makes refuses a size below the first
    // growable version with a message and writes nothing.
    static_assert(RELAY_STATS_MIN_SIZE <= sizeof(Stats), "Stats is at least the minimum size");
    Stats raw{};
    raw.channels_established = 77;
    expectError(Status::fromLastCall(relay_get_stats(relay.native(), &raw, RELAY_STATS_MIN_SIZE - 1)),
                RELAY_STATUS_INVALID_ARGUMENT, "relay_get_stats with too small a size");
    expect(raw.channels_established == 77, "a refused relay_get_stats writes nothing");

    // Moves: the moved-from client is empty, the new owner keeps the channel.
    Client moved = std::move(a);
    expect(!a.valid() && a.state() == ClientState::Closed, "a moved-from client is empty");
    expectError(a.send(ByteView("x", 1)), RELAY_STATUS_INVALID_HANDLE,
                "send on a moved-from client gives INVALID_HANDLE");
    Client assigned;
    assigned = std::move(moved);
    expect(assigned.send(ByteView("after move", 10)).ok(), "the new owner sends");
    Result<std::size_t> afterMove = Status(RELAY_STATUS_WOULD_BLOCK, std::string());
    (void)pumpUntil(relay, {&b}, [&] {
        afterMove = b.recv(buf);
        return afterMove.has_value();
    });
    expect(afterMove.has_value() && ByteView(buf, *afterMove).asString() == "after move",
           "the peer receives what the new owner sent");

    Relay relayMoved = std::move(relay);
    expectError(relay.poll().status(), RELAY_STATUS_INVALID_HANDLE, "poll on a moved-from relay");
    expect(relayMoved.poll().has_value(), "the moved-to relay keeps running");

    // Both leave: the channel expires and its close event carries the counters.
    expect(assigned.close().ok() && assigned.close().ok(), "close, then close again, is harmless");
    b = Client();
    bool closed = false;
    Event closeEvent;
    (void)pumpUntil(relayMoved, {}, [&] {
        Event event;
        while (relayMoved.nextEvent(event)) {
            if (event.kind() == EventKind::ChannelClosed) {
                closed = true;
                closeEvent = event;
            }
        }
        return closed;
    });
    expect(closed && closeEvent.guid() == guid && closeEvent.closeReason() == CloseReason::Expired &&
               closeEvent.counters().datagrams_a_to_b >= static_cast<uint64_t>(rounds) &&
               closeEvent.lifetimeMs() > 0,
           "the idle channel closes as expired with its counters");

    expect(relayMoved.drain().ok(), "drain");
    bool drained = false;
    (void)pumpUntil(relayMoved, {}, [&] {
        for (const Event &event : relayMoved.events())
            if (event.kind() == EventKind::Drained) drained = true;
        return drained;
    });
    expect(drained, "a drained relay without channels reports Drained");
}

// A library-owned client and an engine-owned socket driven by Handshake.
static void engineOwnedSocket() {
    Result<Relay> started = Relay::start(RelayConfigBuilder().port(0).bindAddress("127.0.0.1"));
    if (!started) {
        expect(false, "relay for the engine-owned socket", started.status().toString());
        return;
    }
    Relay relay = std::move(started).value();

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool bound = fd >= 0 && bind(fd, reinterpret_cast<sockaddr *>(&local), sizeof local) == 0 &&
                       fcntl(fd, F_SETFL, O_NONBLOCK) == 0;
    expect(bound, "engine socket binds 127.0.0.1");
    if (!bound) return;
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(relay.localPort());

    const Guid guid = *Guid::generate();
    ClientConfigBuilder config;
    config.relayAddress("127.0.0.1:" + std::to_string(relay.localPort())).guid(guid).retryIntervalMs(20);
    Result<Handshake> created = Handshake::create(config);
    Result<Client> connected = Client::connect(config);
    expect(created.has_value() && connected.has_value(), "handshake machine and client start");
    if (!created || !connected) {
        close(fd);
        return;
    }
    Handshake machine = std::move(created).value();
    Client client = std::move(connected).value();
    Result<uint32_t> due = machine.nextTimeoutMs();
    expect(due.has_value() && *due == 0, "the first handshake is due at once");

    Handshake moved = std::move(machine);
    uint8_t out[RELAY_HANDSHAKE_LEN];
    expectError(machine.poll(out).status(), RELAY_STATUS_INVALID_HANDLE, "poll on a moved-from handshake");

    static uint8_t buf[RELAY_MAX_DATAGRAM];
    const int rounds = 50;
    int engineSent = 0, engineGot = 0, clientSent = 0, clientGot = 0, wrong = 0, pollErrors = 0;
    const long allocationsBefore = g_allocations.load();
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while ((engineGot < rounds || clientGot < rounds) && Clock::now() < deadline) {
        (void)relay.poll(1);
        ssize_t n;
        while ((n = recv(fd, buf, sizeof buf, 0)) >= 0) {
            Result<DatagramKind> kind = moved.receive(ByteView(buf, static_cast<std::size_t>(n)));
            if (kind.has_value() && *kind == DatagramKind::Data) {
                char text[32];
                const int len = std::snprintf(text, sizeof text, "client %d", engineGot++);
                if (ByteView(buf, static_cast<std::size_t>(n)) != ByteView(text, static_cast<std::size_t>(len)))
                    ++wrong;
            }
        }
        Result<std::size_t> handshake = moved.poll(out);
        if (!handshake) ++pollErrors;
        else if (*handshake > 0)
            (void)sendto(fd, out, *handshake, 0, reinterpret_cast<sockaddr *>(&to), sizeof to);
        if (moved.established() && engineSent < rounds && engineSent - clientGot < 16) {
            char text[32];
            const int len = std::snprintf(text, sizeof text, "engine %d", engineSent++);
            (void)sendto(fd, text, static_cast<std::size_t>(len), 0, reinterpret_cast<sockaddr *>(&to), sizeof to);
            (void)moved.onDataSent();
        }
        (void)client.poll(0);
        if (!client.established()) continue;
        for (Result<std::size_t> got = client.recv(buf); got; got = client.recv(buf)) {
            char text[32];
            const int len = std::snprintf(text, sizeof text, "engine %d", clientGot++);
            if (ByteView(buf, *got) != ByteView(text, static_cast<std::size_t>(len))) ++wrong;
        }
        if (clientSent < rounds && clientSent - engineGot < 16) {
            char text[32];
            const int len = std::snprintf(text, sizeof text, "client %d", clientSent);
            if (client.send(ByteView(text, static_cast<std::size_t>(len))).ok()) ++clientSent;
        }
    }
    const long allocationsDuring = g_allocations.load() - allocationsBefore;
    expect(engineGot == rounds && clientGot == rounds && pollErrors == 0,
           "engine-owned socket and client exchange 50 datagrams each way",
           "engine got " + std::to_string(engineGot) + ", client got " + std::to_string(clientGot));
    expect(wrong == 0, "engine-owned exchange arrives intact and in order");
    expect(allocationsDuring == 0, "Handshake receive/poll/onDataSent did not allocate",
           std::to_string(allocationsDuring) + " allocations");
    close(fd);

    // The standalone handshake codec.
    const std::string key = "k3y";
    uint8_t datagram[RELAY_HANDSHAKE_LEN];
    Result<std::size_t> written = writeHandshake(datagram, guid, key);
    expect(written.has_value() && *written == RELAY_HANDSHAKE_LEN, "writeHandshake writes 56 bytes");
    expect(parseHandshake(datagram, guid, key).ok(), "parseHandshake accepts it with the key");
    expectError(parseHandshake(datagram, guid, std::string("other")), RELAY_STATUS_INVALID_HANDSHAKE,
                "parseHandshake with another key says why");
    uint8_t tiny[10];
    expectError(writeHandshake(tiny, guid).status(), RELAY_STATUS_BUFFER_TOO_SMALL,
                "writeHandshake into 10 bytes gives BUFFER_TOO_SMALL");

    // kV08DefaultKey writes the reference_default_key datagram of tests/vectors/handshake-v08.json.
    static const uint8_t referenceMac[32] = {
        0xdd, 0xcc, 0x5c, 0x92, 0x5d, 0x95, 0xc9, 0xfc, 0xcf, 0x49, 0xed, 0x0e, 0xc8, 0x7b, 0x79, 0x49,
        0xb5, 0x10, 0xf0, 0x5b, 0x56, 0x87, 0xbe, 0xb6, 0xbd, 0x9d, 0xca, 0xf9, 0x7d, 0x66, 0x59, 0x29};
    const Guid vectorGuid(0x0123456789abcdefULL, 0xfedcba9876543210ULL);
    expect(std::memcmp(kV08DefaultKey, "fL6I8F3egv6ApC15fkJO9U7xKeDD6Xur", sizeof kV08DefaultKey) == 0,
           "kV08DefaultKey is the v0.8.2 default key");
    written = writeHandshake(datagram, vectorGuid, kV08DefaultKey);
    expect(written.has_value() && std::memcmp(datagram + 24, referenceMac, sizeof referenceMac) == 0,
           "writeHandshake with kV08DefaultKey matches the reference vector");
}

// Seat tokens: the matchmaker mints one per seat, each client passes its own; a relay that
// requires tokens pairs them and nobody else.
static void tokenExchange() {
    // mintToken agrees with the vector computed independently with Python's hmac
    // (src/token.rs): secret bytes 0..31, this GUID, expiry 1 900 000 000, seat A.
    uint8_t vectorSecret[32];
    for (uint8_t i = 0; i < 32; ++i) vectorSecret[i] = i;
    const Guid vectorGuid = *Guid::parse("01234567-89ab-cdef-fedc-ba9876543210");
    Result<Token> vectorToken = mintToken(vectorSecret, vectorGuid, TokenRole::A, 1900000000u);
    static const uint8_t expectedTag[8] = {0xd1, 0xa7, 0xd0, 0x6a, 0x13, 0x5e, 0xc8, 0x4b};
    expect(vectorToken.has_value() && (*vectorToken)[0] == 1 && (*vectorToken)[1] == 0 &&
               std::memcmp(vectorToken->data() + 28, expectedTag, sizeof expectedTag) == 0,
           "mintToken agrees with the token vector");
    expectError(mintToken(vectorSecret, Guid(), TokenRole::B, 1).status(), RELAY_STATUS_INVALID_ARGUMENT,
                "mintToken with a zero GUID gives INVALID_ARGUMENT");
    expectError(mintToken(ByteView(), vectorGuid, TokenRole::B, 1).status(), RELAY_STATUS_INVALID_ARGUMENT,
                "mintToken without a secret gives INVALID_ARGUMENT");

    const std::string secret = "the relay's secret, held by the matchmaker";
    Result<Relay> started = Relay::start(
        RelayConfigBuilder().port(0).bindAddress("127.0.0.1").secretKey(secret).requireTokens(true));
    expect(started.has_value(), "relay requiring tokens starts", started.status().toString());
    if (!started) return;
    Relay relay = std::move(started).value();
    const std::string address = "127.0.0.1:" + std::to_string(relay.localPort());

    const Guid guid = *Guid::generate();
    const uint64_t expiry = static_cast<uint64_t>(std::time(nullptr)) + 600;
    Result<Token> tokenA = mintToken(secret, guid, TokenRole::A, expiry);
    Result<Token> tokenB = mintToken(secret, guid, TokenRole::B, expiry);
    expect(tokenA.has_value() && tokenB.has_value(), "mintToken mints both seats");
    if (!tokenA || !tokenB) return;

    // A token of the wrong size is refused with the library's message.
    Result<Client> shortToken =
        Client::connect(ClientConfigBuilder().relayAddress(address).token(ByteView(tokenA->data(), 59)));
    expectError(shortToken.status(), RELAY_STATUS_INVALID_ARGUMENT, "a 59-byte token gives INVALID_ARGUMENT");
    expect(shortToken.status().message().find("token_len is 59") != std::string::npos,
           "the message gives the token's size", shortToken.status().message());

    // The engine-owned machine with a token needs the larger buffer.
    Result<Handshake> created = Handshake::create(ClientConfigBuilder().token(*tokenA));
    expect(created.has_value(), "Handshake::create with a token", created.status().toString());
    if (created) {
        uint8_t small[RELAY_HANDSHAKE_LEN];
        Result<std::size_t> refused = created->poll(small);
        expectError(refused.status(), RELAY_STATUS_BUFFER_TOO_SMALL,
                    "a 56-byte buffer is too small for a token handshake");
        expect(refused.status().message().find("RELAY_MAX_HANDSHAKE_LEN") != std::string::npos,
               "the message names RELAY_MAX_HANDSHAKE_LEN", refused.status().message());
        uint8_t out[RELAY_MAX_HANDSHAKE_LEN];
        Result<std::size_t> written = created->poll(out);
        expect(written.has_value() && *written == RELAY_TOKEN_HANDSHAKE_LEN && (out[6] & 0x80) != 0,
               "the due token handshake is written into RELAY_MAX_HANDSHAKE_LEN bytes");
        expect(written.has_value() && parseHandshake(ByteView(out, *written), guid).ok(),
               "it is a handshake of the token's channel");
    }

    // Two clients, the GUID taken from their tokens, no relay secret.
    Result<Client> connectedA = Client::connect(
        ClientConfigBuilder().relayAddress(address).token(*tokenA).retryIntervalMs(20));
    Result<Client> connectedB = Client::connect(
        ClientConfigBuilder().relayAddress(address).token(*tokenB).retryIntervalMs(20));
    expect(connectedA.has_value() && connectedB.has_value(), "two token holders connect",
           connectedA.status().toString() + connectedB.status().toString());
    if (!connectedA || !connectedB) return;
    Client a = std::move(connectedA).value();
    Client b = std::move(connectedB).value();
    const bool up = pumpUntil(relay, {&a, &b}, [&] { return a.established() && b.established(); });
    expect(up, "token holders reach Established", toString(a.state()));
    if (!up) return;

    static uint8_t buf[RELAY_MAX_DATAGRAM];
    const int rounds = 100;
    int sentA = 0, sentB = 0, gotA = 0, gotB = 0, wrong = 0;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while ((gotA < rounds || gotB < rounds) && Clock::now() < deadline) {
        if (!relay.poll(1)) break;
        (void)a.poll(0);
        (void)b.poll(0);
        char text[32];
        if (sentA < rounds && sentA - gotB < 16) {
            const int n = std::snprintf(text, sizeof text, "a->b %d", sentA);
            if (a.send(ByteView(text, static_cast<std::size_t>(n))).ok()) ++sentA;
        }
        if (sentB < rounds && sentB - gotA < 16) {
            const int n = std::snprintf(text, sizeof text, "b->a %d", sentB);
            if (b.send(ByteView(text, static_cast<std::size_t>(n))).ok()) ++sentB;
        }
        for (Result<std::size_t> got = b.recv(buf); got; got = b.recv(buf)) {
            const int n = std::snprintf(text, sizeof text, "a->b %d", gotB++);
            if (ByteView(buf, *got) != ByteView(text, static_cast<std::size_t>(n))) ++wrong;
        }
        for (Result<std::size_t> got = a.recv(buf); got; got = a.recv(buf)) {
            const int n = std::snprintf(text, sizeof text, "b->a %d", gotA++);
            if (ByteView(buf, *got) != ByteView(text, static_cast<std::size_t>(n))) ++wrong;
        }
    }
    expect(gotA == rounds && gotB == rounds && wrong == 0,
           "token holders exchange 100 datagrams each way, intact and in order",
           "a got " + std::to_string(gotA) + ", b got " + std::to_string(gotB));
    Result<Stats> stats = relay.stats();
    expect(stats.has_value() && stats->channels_established == 1 && stats->tokens_invalid == 0 &&
               stats->tokens_replayed == 0 && stats->handshakes_rejected == 0,
           "the relay admitted both tokens and refused nothing");
}

// A fleet: rank picks the relay, mintTokenForRelay binds both seats to it; another relay
// refuses the tokens unanswered and counts them; the previous key works during a rotation.
static void fleetTokens() {
    // The first ranking of tests/vectors/rank-v1.txt with three relays, listed in reverse.
    const Guid vectorGuid = *Guid::parse("01234567-89ab-cdef-fedc-ba9876543210");
    Result<std::vector<uint32_t>> ranked = rank(vectorGuid, {{3, 1000}, {2, 1000}, {1, 1000}});
    expect(ranked.has_value() && ranked->size() == 3, "rank orders three relays");
    Result<std::vector<uint32_t>> again = rank(vectorGuid, {{1, 1000}, {2, 1000}, {3, 1000}});
    expect(ranked.has_value() && again.has_value() && *ranked == *again,
           "rank does not depend on the order the relays are listed in");
    expectError(rank(vectorGuid, {{1, 1}, {1, 2}}).status(), RELAY_STATUS_INVALID_ARGUMENT,
                "rank with a relay twice gives INVALID_ARGUMENT");
    expect(rank(vectorGuid, {}).has_value() && rank(vectorGuid, {})->empty(), "rank of no relays");

    const std::string key = "the fleet's current key, 32 byte";
    const std::string previous = "the fleet's previous key, rotated";
    const auto fleetRelay = [&](uint32_t id) {
        return Relay::start(RelayConfigBuilder()
                                .port(0)
                                .bindAddress("127.0.0.1")
                                .secretKey(key)
                                .keyId(2)
                                .previousKey(previous, 1)
                                .relayId(id)
                                .requireTokens(true)
                                .requireTokenV2(true));
    };
    Result<Relay> startedOne = fleetRelay(1);
    Result<Relay> startedTwo = fleetRelay(2);
    expect(startedOne.has_value() && startedTwo.has_value(), "fleet relays start",
           startedOne.status().toString() + startedTwo.status().toString());
    if (!startedOne || !startedTwo) return;
    Relay one = std::move(startedOne).value();
    Relay two = std::move(startedTwo).value();

    const Guid guid = *Guid::generate();
    const uint64_t expiry = static_cast<uint64_t>(std::time(nullptr)) + 600;
    Result<TokenV2> tokenA = mintTokenForRelay(key, 2, 1, guid, TokenRole::A, expiry);
    Result<TokenV2> tokenB = mintTokenForRelay(previous, 1, 1, guid, TokenRole::B, expiry);
    expect(tokenA.has_value() && tokenB.has_value() && (*tokenA)[0] == 2,
           "mintTokenForRelay mints v2 tokens");
    expectError(mintTokenForRelay(key, 2, 0, guid, TokenRole::A, expiry).status(),
                RELAY_STATUS_INVALID_ARGUMENT, "mintTokenForRelay for relay 0 gives INVALID_ARGUMENT");
    if (!tokenA || !tokenB) return;

    // At relay 2: nothing answers, both time out, the relay counts them.
    const std::string twoAddress = "127.0.0.1:" + std::to_string(two.localPort());
    const auto wrongClient = [&](const TokenV2 &token) {
        return Client::connect(ClientConfigBuilder().relayAddress(twoAddress).token(token).retryIntervalMs(20).handshakeTimeoutMs(300));
    };
    Result<Client> wrongA = wrongClient(*tokenA);
    Result<Client> wrongB = wrongClient(*tokenB);
    expect(wrongA.has_value() && wrongB.has_value(), "clients connect to the wrong relay");
    if (!wrongA || !wrongB) return;
    Client wa = std::move(wrongA).value();
    Client wb = std::move(wrongB).value();
    const bool gaveUp = pumpUntil(two, {&wa, &wb}, [&] {
        return wa.state() == ClientState::TimedOut && wb.state() == ClientState::TimedOut;
    });
    expect(gaveUp, "clients with another relay's tokens time out", toString(wa.state()));
    Result<Stats> twoStats = two.stats();
    expect(twoStats.has_value() && twoStats->handshakes_wrong_relay >= 2 &&
               twoStats->channels_allocated_total == 0 && twoStats->handshakes_challenged == 0,
           "the wrong relay counted them and opened or answered nothing");

    // At relay 1, with seat B under the previous key: established.
    const std::string oneAddress = "127.0.0.1:" + std::to_string(one.localPort());
    Result<Client> rightA = Client::connect(ClientConfigBuilder().relayAddress(oneAddress).token(*tokenA).retryIntervalMs(20));
    Result<Client> rightB = Client::connect(ClientConfigBuilder().relayAddress(oneAddress).token(*tokenB).retryIntervalMs(20));
    expect(rightA.has_value() && rightB.has_value(), "clients connect to their relay");
    if (!rightA || !rightB) return;
    Client a = std::move(rightA).value();
    Client b = std::move(rightB).value();
    expect(pumpUntil(one, {&a, &b}, [&] { return a.established() && b.established(); }),
           "token holders reach Established at the relay their tokens name", toString(a.state()));
}

// A client nobody joins times out, and says so.
static void handshakeTimeout() {
    Result<Relay> started = Relay::start(RelayConfigBuilder().port(0).bindAddress("127.0.0.1"));
    if (!started) return;
    Relay relay = std::move(started).value();
    Result<Client> connected = Client::connect(ClientConfigBuilder()
                                                   .relayAddress("127.0.0.1:" + std::to_string(relay.localPort()))
                                                   .guid(*Guid::generate())
                                                   .retryIntervalMs(20)
                                                   .retryBackoffMaxMs(50)
                                                   .handshakeTimeoutMs(200));
    if (!connected) return;
    Client client = std::move(connected).value();
    Status last;
    (void)pumpUntil(relay, {}, [&] {
        Result<uint32_t> polled = client.poll(5);
        last = polled.status();
        return !polled.has_value();
    });
    expectError(last, RELAY_STATUS_TIMED_OUT, "an unanswered client times out with a message");
    expect(client.state() == ClientState::TimedOut, "its state is TimedOut");
}

// With a peer timeout, clients notice that their relay went away; without, they do not.
static void peerLost() {
    expect(ClientConfigBuilder().native().peer_timeout_ms == 0, "the peer timeout is off by default");
    Result<Relay> started = Relay::start(RelayConfigBuilder().port(0).bindAddress("127.0.0.1"));
    expect(started.has_value(), "relay for the peer timeout starts", started.status().toString());
    if (!started) return;
    Relay relay = std::move(started).value();
    const std::string address = "127.0.0.1:" + std::to_string(relay.localPort());
    ClientConfigBuilder config;
    config.relayAddress(address).guid(*Guid::generate()).retryIntervalMs(20).keepaliveIntervalMs(100);
    expectError(Client::connect(ClientConfigBuilder(config).peerTimeoutMs(100)).status(),
                RELAY_STATUS_INVALID_ARGUMENT, "a peer timeout not above the keep-alive is refused");
    ClientConfigBuilder control = config;
    control.guid(*Guid::generate());
    config.peerTimeoutMs(400);
    Result<Client> a = Client::connect(config), b = Client::connect(config);
    Result<Client> c = Client::connect(control), d = Client::connect(control);
    if (!a || !b || !c || !d) return;
    const bool up = pumpUntil(relay, {&*a, &*b, &*c, &*d}, [&] {
        return a->established() && b->established() && c->established() && d->established();
    });
    expect(up, "clients with and without a peer timeout establish");
    if (!up) return;

    (void)relay.stop(); // as if it restarted: every channel is gone
    const auto stopped = Clock::now();
    Status lost;
    Relay none;
    (void)pumpUntil(none, {&*b, &*c, &*d}, [&] {
        Result<uint32_t> polled = a->poll(2);
        lost = polled.status();
        return !polled.has_value() && b->state() == ClientState::Lost;
    });
    const auto after = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stopped).count();
    expectError(lost, RELAY_STATUS_PEER_LOST, "a silent channel is lost with a message");
    expect(lost.message().find("for 400 ms (peer_timeout_ms)") != std::string::npos,
           "the message names the peer timeout", lost.message());
    expect(after >= 250, "lost about the peer timeout after the stop", std::to_string(after) + " ms");
    expect(a->state() == ClientState::Lost && std::strcmp(toString(a->state()), "lost") == 0,
           "its state is Lost");
    expectError(a->send(ByteView("x", 1)), RELAY_STATUS_PEER_LOST, "send once lost gives PEER_LOST");
    expect(c->established() && d->established(), "without a peer timeout the dead channel looks established");
}

// Picking a relay by round trip, and following the game to another relay when its relay is
// lost: same clients, same sockets, new tickets.
static void followRelay() {
    RelayConfigBuilder loopback;
    loopback.port(0).bindAddress("127.0.0.1");
    Result<Relay> s1 = Relay::start(loopback), s2 = Relay::start(loopback), s3 = Relay::start(loopback);
    expect(s1 && s2 && s3, "three relays start for following");
    if (!s1 || !s2 || !s3) return;
    Relay relay1 = std::move(s1).value(), relay2 = std::move(s2).value(), draining = std::move(s3).value();
    const std::string address1 = "127.0.0.1:" + std::to_string(relay1.localPort());
    const std::string address2 = "127.0.0.1:" + std::to_string(relay2.localPort());
    const std::string addressDraining = "127.0.0.1:" + std::to_string(draining.localPort());
    expect(draining.drain().ok(), "the third relay drains");

    // measureRelays blocks, so the relays tick on a thread of their own meanwhile.
    std::atomic<bool> stop{false};
    std::thread ticker([&] {
        while (!stop.load()) {
            (void)relay1.poll(1);
            (void)relay2.poll(1);
            (void)draining.poll(1);
        }
    });
    Result<std::vector<Measurement>> measured =
        measureRelays({address1, address2, addressDraining, "not an address"}, 2, 500);
    Result<std::vector<Measurement>> refused = measureRelays({address1}, 0, 500);
    stop.store(true);
    ticker.join();
    expect(measured.has_value() && measured->size() == 4, "measureRelays answers for every relay",
           measured.status().toString());
    if (!measured || measured->size() != 4) return;
    const std::vector<Measurement> &m = *measured;
    expect(m[0].accepting() && m[0].rttUs() > 0 && m[0].replies() == 2 &&
               m[0].address().port() == relay1.localPort(),
           "the first relay accepts, with a round trip and its address");
    expect(m[2].answered() && m[2].state() == ProbeState::Draining && !m[2].accepting(),
           "the draining relay says so");
    expect(m[3].status() == RELAY_STATUS_INVALID_ADDRESS && m[3].address().empty(),
           "a text that does not resolve is INVALID_ADDRESS");
    const std::ptrdiff_t best = nearest(m);
    expect(best == 0 || best == 1, "nearest picks an accepting relay", std::to_string(best));
    expectError(refused.status(), RELAY_STATUS_INVALID_ARGUMENT, "0 attempts is refused");

    ClientConfigBuilder config;
    config.relayAddress(address1).guid(*Guid::generate()).retryIntervalMs(20).keepaliveIntervalMs(100).peerTimeoutMs(400);
    Result<Client> a = Client::connect(config), b = Client::connect(config);
    if (!a || !b) return;
    expect(pumpUntil(relay1, {&*a, &*b}, [&] { return a->established() && b->established(); }),
           "both clients establish on the first relay");
    const uint16_t portA = a->localPort(), portB = b->localPort();

    (void)relay1.stop();
    Relay none;
    Status lostA, lostB;
    (void)pumpUntil(none, {}, [&] {
        lostA = a->poll(2).status();
        lostB = b->poll(2).status();
        return lostA.is(RELAY_STATUS_PEER_LOST) && lostB.is(RELAY_STATUS_PEER_LOST);
    });
    expect(lostA.is(RELAY_STATUS_PEER_LOST) && lostB.is(RELAY_STATUS_PEER_LOST),
           "both report their relay lost");
    expectError(a->rejoin(address2, Guid()), RELAY_STATUS_INVALID_ARGUMENT,
                "a rejoin with a zero GUID and no token is refused");
    expect(a->state() == ClientState::Lost, "and changes nothing");
    const Guid next = *Guid::generate();
    expect(a->rejoin(address2, next).ok() && b->rejoin(address2, next).ok(), "both rejoin the second relay");
    expect(a->state() == ClientState::Handshaking && a->localPort() == portA && b->localPort() == portB,
           "handshaking again from the same ports");
    expect(pumpUntil(relay2, {&*a, &*b}, [&] { return a->established() && b->established(); }),
           "both establish on the second relay");
    expect(a->send(ByteView("moved", 5)).ok(), "send through the second relay");
    uint8_t buf[16];
    Result<std::size_t> got = Status(RELAY_STATUS_WOULD_BLOCK, "nothing yet");
    (void)pumpUntil(relay2, {&*a, &*b}, [&] {
        got = b->recv(MutableByteView(buf, sizeof buf));
        return got.has_value();
    });
    expect(got.has_value() && ByteView(buf, *got) == ByteView("moved", 5), "and it arrives");
    Client empty;
    expectError(empty.rejoin(address2, next), RELAY_STATUS_INVALID_HANDLE, "rejoin on an empty Client");

    Result<Handshake> hs = Handshake::create(ClientConfigBuilder().guid(*Guid::generate()));
    if (!hs) return;
    expectError(hs->rejoin(Guid()), RELAY_STATUS_INVALID_ARGUMENT, "Handshake::rejoin refuses a zero GUID");
    expect(hs->rejoin(next).ok() && hs->state() == ClientState::Handshaking, "Handshake::rejoin starts over");
    uint8_t out[RELAY_MAX_HANDSHAKE_LEN];
    Result<std::size_t> first = hs->poll(MutableByteView(out, sizeof out));
    expect(first.has_value() && *first == RELAY_HANDSHAKE_LEN, "its first handshake is due at once");
}

int main() {
    expect(setLogCallback(onLog, &g_log_records, LogLevel::Info).ok(), "setLogCallback");
    versionAndGuids();
    relayErrors();
    twoClients();
    engineOwnedSocket();
    tokenExchange();
    fleetTokens();
    handshakeTimeout();
    peerLost();
    followRelay();
    expect(g_log_records > 0, "the library logged through the callback",
           std::to_string(g_log_records) + " records");
    expect(setLogCallback(nullptr).ok(), "logging turned off");

    std::printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
