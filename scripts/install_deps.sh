#!/usr/bin/env bash
# Installs the Debian packages Lumen builds and tests with (DESIGN.md,
# "Dependencies"). Idempotent: quiet and fast when everything is present.
set -euo pipefail
PKGS=(build-essential cmake pkg-config
      systemd  # systemd-analyze verify of the units (tests/systemd_units_test.sh)
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
      libboost-dev libgoogle-glog-dev libgflags-dev libhiredis-dev catch2
      libmsgpack-cxx-dev libabsl-dev nlohmann-json3-dev redis-server
      libbenchmark-dev procps libssl-dev openssl
      libjemalloc-dev  # the allocator of every Lumen process (CMakeLists.txt, LUMEN_JEMALLOC)
      iproute2  # `ip netns`, veth pairs and a bridge (tests/integration_netns_test.cc)
      prometheus  # a real server and promtool in tests (tests/integration_metrics_test.cc)
      libjs-chart.js  # the dashboard's charts, served from /usr/share/javascript/chart.js
      clang  # Clang's thread-safety analysis of the locked classes (scripts/thread_safety_check.sh)
      chromium)  # the dashboard's headless-browser test (tests/integration_dashboard_page_test.cc)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
