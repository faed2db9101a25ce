// A C++ program built through CMake against an installed udp-relay (tests/packaging.rs),
// with the C++ wrapper the installation ships: checks that the library it runs with is the
// one its header describes, then starts a relay on 127.0.0.1 and stops it.
#include <cstdio>

#include <udp_relay.hpp>

int main() {
    if (!udp_relay::abiCompatible()) {
        std::fprintf(stderr, "header ABI %d, library ABI %u\n", RELAY_ABI_VERSION,
                     relay_abi_version());
        return 1;
    }
    auto relay = udp_relay::Relay::start(
        udp_relay::RelayConfigBuilder().bindAddress("127.0.0.1").port(0));
    if (!relay) {
        std::fprintf(stderr, "%s\n", relay.status().toString().c_str());
        return 1;
    }
    if (!relay->poll(0)) {
        std::fprintf(stderr, "poll failed\n");
        return 1;
    }
    std::printf("udp_relay %s (ABI %u) relayed on port %u\n", udp_relay::libraryVersion(),
                relay_abi_version(), static_cast<unsigned>(relay->localPort()));
    return relay->stop().ok() ? 0 : 1;
}
