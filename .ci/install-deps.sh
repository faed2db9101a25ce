#!/usr/bin/env bash
# Installs what the tests need besides the Rust toolchain on a fresh Debian machine:
#   - a C compiler with headers and the ASan/UBSan runtimes (tests/c_examples.rs),
#   - a C++ compiler and standard library headers (tests/cpp_wrapper.rs),
#   - Mono's C# compiler and runtime (tests/csharp.rs),
#   - `ip` from iproute2, to set up the private network namespaces of tests/netns/,
#   - `nft` and `conntrack` for the NATs of the network-namespace test bed (tests/nat.rs),
#   - the Prometheus project's Python parsers of the metrics formats, for Debian's python3,
#     and `promtool` (from the prometheus package; its server is not started), which lints
#     /metrics and checks and unit-tests the alert rules (udp-relay-server/tests/metrics.rs,
#     udp-relay-server/tests/deploy.rs),
#   - `systemd-analyze`, which verifies the systemd unit (udp-relay-server/tests/deploy.rs),
#   - cmake and pkg-config, to build programs against an installation (tests/packaging.rs),
#   - readelf and nm from binutils (sonames, exported symbols: tests/packaging.rs,
#     tests/header_names.rs, tests/unreal_plugin.rs).
# Idempotent: does nothing when everything is already there. Needs root.
set -euo pipefail

packages=(gcc g++ libc6-dev binutils mono-mcs mono-runtime iproute2 nftables conntrack cmake pkg-config
  python3-prometheus-client prometheus systemd)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Packages that ship a service (prometheus) must not start it here: a policy-rc.d that
# denies every start, unless the machine already has one.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# ip, nft and conntrack live in /usr/sbin, which a non-login shell's PATH may lack.
PATH="$PATH:/usr/sbin:/sbin"
for tool in cc c++ readelf nm mcs mono ip nft conntrack cmake pkg-config promtool systemd-analyze; do
  command -v "$tool" >/dev/null || { echo "install-deps: $tool still missing" >&2; exit 1; }
done
/usr/bin/python3 -c 'import prometheus_client.openmetrics.parser' \
  || { echo "install-deps: python3-prometheus-client still missing" >&2; exit 1; }
