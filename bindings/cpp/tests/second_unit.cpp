// A second translation unit including udp_relay.hpp: linking it with wrapper_test.cpp proves
// the header defines nothing twice (everything is inline or a template).
#include "udp_relay.hpp"

std::string formatInSecondUnit(const udp_relay::Guid &guid) {
    return guid.toString();
}
