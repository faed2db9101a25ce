// The plugin's log category. The udp-relay library's own log records arrive here too, routed
// through relay_set_log_callback by FUdpRelayModule (see UdpRelayModule.cpp).

#pragma once

#include "CoreMinimal.h"

UDPRELAY_API DECLARE_LOG_CATEGORY_EXTERN(LogUdpRelay, Log, All);
