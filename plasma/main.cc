// lumen-plasma: the node's shared-memory object store daemon. Parses flags,
// sizes and creates the arena, wires the store and its server onto one
// event loop, and runs until SIGTERM/SIGINT. See docs/plasma.md.
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include "absl/strings/numbers.h"
#include "common/event_loop.h"
#include "common/fate_share.h"
#include "common/logging.h"
#include "common/metrics_http.h"
#include "plasma/object_index.h"
#include "plasma/plasma_metrics.h"
#include "plasma/server.h"
#include "plasma/shm_segment.h"
#include "plasma/store.h"

namespace {

constexpr char kUsage[] =
    "usage: lumen-plasma --socket PATH [--object-store-memory BYTES] [--shm-dir DIR] [--prefault=false]\n"
    "  --socket PATH                Unix socket to listen on (its directory is made 0700).\n"
    "  --object-store-memory BYTES  arena size; default 30% of RAM, capped by the shm dir's free space.\n"
    "  --shm-dir DIR                where the arena lives (default /dev/shm).\n"
    "  --prefault=true|false        commit the arena's pages in the background at start (default false).\n"
    "  --metrics-export-port PORT   serve Prometheus metrics at http://IP:PORT/metrics; 0: a free port\n"
    "                               (default: none). docs/metrics.md.\n"
    "  --node-ip-address IP         address of the metrics endpoint (default 127.0.0.1).\n"
    "  --session-dir DIR            advertise the endpoint in DIR/metrics/prom_metrics_service_discovery.json.\n";

struct Flags {
  std::string socket;
  uint64_t memory = 0;
  std::string shm_dir = "/dev/shm";
  bool prefault = false;
  int metrics_port = -1;
  std::string node_ip = "127.0.0.1";
  std::string session_dir;
};

// Accepts --name=value and --name value. Exits on --help or a bad flag.
Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    std::string value;
    const size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    }
    bool ok = true;
    if (arg == "--socket") {
      flags.socket = value;
    } else if (arg == "--object-store-memory") {
      ok = absl::SimpleAtoi(value, &flags.memory);
    } else if (arg == "--shm-dir") {
      flags.shm_dir = value;
    } else if (arg == "--metrics-export-port") {
      ok = absl::SimpleAtoi(value, &flags.metrics_port) && flags.metrics_port >= -1 &&
           flags.metrics_port <= 65535;
    } else if (arg == "--node-ip-address") {
      flags.node_ip = value;
    } else if (arg == "--session-dir") {
      flags.session_dir = value;
    } else if (arg == "--prefault") {
      ok = absl::SimpleAtob(value, &flags.prefault);
    } else {
      ok = false;
    }
    if (!ok || value.empty()) {
      std::cerr << "lumen-plasma: bad flag " << argv[i] << "\n" << kUsage;
      std::exit(2);
    }
  }
  if (flags.socket.empty()) {
    std::cerr << "lumen-plasma: --socket is required\n" << kUsage;
    std::exit(2);
  }
  return flags;
}

int Fail(const absl::Status& status) {
  LOG(ERROR) << status.message();
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags = ParseFlags(argc, argv);
  lumen::InitLogging(argv[0]);
  using namespace lumen::plasma;

  if (absl::Status dir = PrepareSocketDirectory(flags.socket); !dir.ok()) return Fail(dir);
  absl::StatusOr<uint64_t> shm_free = FreeBytesIn(flags.shm_dir);
  if (!shm_free.ok()) return Fail(shm_free.status());
  absl::StatusOr<ArenaSize> size = ChooseArenaSize(flags.memory, TotalRamBytes(), *shm_free);
  if (!size.ok()) return Fail(size.status());
  if (!size->warning.empty()) LOG(WARNING) << size->warning;
  auto segment = ShmSegment::Create(flags.shm_dir, size->bytes);
  if (!segment.ok()) return Fail(segment.status());
  if (flags.prefault) (*segment)->Prefault();

  // The object index lives in its own small segment (plasma/object_index.h).
  const uint64_t index_capacity = ObjectIndex::CapacityForArena((*segment)->size());
  auto index_segment = ShmSegment::Create(flags.shm_dir, ObjectIndex::BytesFor(index_capacity));
  if (!index_segment.ok()) return Fail(index_segment.status());
  ObjectIndex index = ObjectIndex::Initialize((*index_segment)->base(), index_capacity);

  lumen::EventLoop loop;
  PlasmaStore store((*segment)->base(), (*segment)->size(), StoreOptions(), &index);
  PlasmaServer server(loop.io_context(), store, (*segment)->fd(), (*segment)->size(), (*index_segment)->fd(),
                      (*index_segment)->size());
  if (absl::Status listening = server.Listen(flags.socket); !listening.ok()) return Fail(listening);
  lumen::metrics::Registry metrics;
  AddPlasmaCollector(metrics, store, server);
  lumen::metrics::MetricsExporter exporter(loop.io_context(), metrics);
  absl::StatusOr<int> metrics_port = lumen::metrics::ServeMetrics(
      exporter, {flags.metrics_port, flags.node_ip, flags.session_dir, "plasma"});
  if (!metrics_port.ok()) return Fail(metrics_port.status());
  boost::asio::signal_set signals(loop.io_context(), SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& error, int signal) {
    if (error) return;
    LOG(INFO) << "signal " << signal << ": shutting down";
    exporter.Stop();
    server.Stop();
    loop.Stop();
  });
  int exit_code = 0;
  // The store shares its raylet's fate (docs/plasma.md, "Fate of a node").
  server.SetOnOwnerLost([&] {
    LOG(ERROR) << "the raylet of this node went away (its connection closed): stopping the "
                  "object store";
    exit_code = 1;
    // Not inline: this runs inside the server's handling of that connection.
    boost::asio::post(loop.io_context(), [&] {
      server.Stop();
      loop.Stop();
    });
  });
  lumen::StartFateSharingFromEnv();  // A private cluster's store stops with its driver.
  LOG(INFO) << "plasma store listening on " << flags.socket << " with " << (*segment)->size() << " bytes";
  loop.Run();
  exporter.Stop();
  if (*metrics_port > 0 && !flags.session_dir.empty()) {
    (void)lumen::metrics::UnregisterMetricsTarget(flags.session_dir, "plasma");
  }
  server.Stop();
  return exit_code;
}
