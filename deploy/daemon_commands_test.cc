#include "deploy/daemon_commands.h"

#include <algorithm>

#include <catch2/catch.hpp>

namespace lumen::deploy {
namespace {

bool Contains(const std::vector<std::string>& argv, const std::string& flag,
              const std::string& value) {
  auto it = std::find(argv.begin(), argv.end(), flag);
  return it != argv.end() && it + 1 != argv.end() && *(it + 1) == value;
}

TEST_CASE("ParseResourcesJson accepts objects of numbers") {
  auto parsed = ParseResourcesJson(R"({"special_hardware": 1, "tpu": 0.5})");
  REQUIRE(parsed.ok());
  CHECK(parsed->at("special_hardware") == 1);
  CHECK(parsed->at("tpu") == 0.5);
  CHECK(ParseResourcesJson("").ok());
  CHECK(ParseResourcesJson("  ")->empty());
}

TEST_CASE("ParseResourcesJson names the problem") {
  struct Case {
    std::string json;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"{bad json", "not valid JSON"},
      {"[1, 2]", "must be a JSON object"},
      {R"({"a": "x"})", "'a' must be a non-negative number"},
      {R"({"a": -1})", "non-negative"},
      {R"({"CPU": 4})", "--num-cpus"},
      {R"({"GPU": 1})", "--num-gpus"},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    auto parsed = ParseResourcesJson(c.json);
    REQUIRE_FALSE(parsed.ok());
    CHECK(absl::IsInvalidArgument(parsed.status()));
    CHECK(std::string(parsed.status().message()).find(c.message_part) != std::string::npos);
  }
}

TEST_CASE("SplitHostPort") {
  auto ok = SplitHostPort("10.0.0.1:6379");
  REQUIRE(ok.ok());
  CHECK(ok->first == "10.0.0.1");
  CHECK(ok->second == 6379);
  for (std::string bad : {"", "host", ":6379", "host:0", "host:70000", "host:x"}) {
    INFO(bad);
    CHECK_FALSE(SplitHostPort(bad).ok());
  }
}

TEST_CASE("ValidateNodeOptions") {
  NodeOptions head;
  head.head = true;
  CHECK(ValidateNodeOptions(head).ok());
  NodeOptions worker;
  CHECK_FALSE(ValidateNodeOptions(worker).ok());  // No address.
  worker.gcs_address = "127.0.0.1:6379";
  CHECK(ValidateNodeOptions(worker).ok());
  worker.redis_address = "127.0.0.1:7000";
  CHECK_FALSE(ValidateNodeOptions(worker).ok());  // Redis is for heads.
  head.resources_json = "{oops";
  CHECK(absl::IsInvalidArgument(ValidateNodeOptions(head)));
  head.resources_json = "";
  head.num_cpus = -1;
  CHECK_FALSE(ValidateNodeOptions(head).ok());
  head.num_cpus = 0.5;
  const std::string fractional(ValidateNodeOptions(head).message());
  INFO(fractional);
  CHECK(fractional.find("whole number") != std::string::npos);
  head.num_cpus = 2;
  head.port = 70000;
  CHECK_FALSE(ValidateNodeOptions(head).ok());
}

TEST_CASE("Daemon command lines follow the flag contracts") {
  NodeOptions options;
  options.head = true;
  options.port = 0;
  options.num_cpus = 4;
  options.object_store_memory = 1 << 26;
  options.redis_address = "127.0.0.1:7000";
  options.redis_password = "pw";
  SessionFiles files = FilesOfSession("/tmp/x/session_1");
  CHECK(files.plasma_socket == "/tmp/x/session_1/sockets/plasma.sock");
  CHECK(files.raylet_log == "/tmp/x/session_1/logs/raylet.out");

  auto gcs = GcsArgv("/bin/lumen-gcs", options, files, "127.0.0.1");
  CHECK(gcs[0] == "/bin/lumen-gcs");
  CHECK(Contains(gcs, "--port", "0"));
  CHECK(Contains(gcs, "--port-file", files.gcs_port_file));
  CHECK(Contains(gcs, "--redis-address", "127.0.0.1:7000"));
  // The password reaches the GCS in its environment, never in its argv.
  for (const auto& arg : gcs) CHECK(arg.find("pw") == std::string::npos);
  options.redis_password.clear();
  options.redis_password_file = "/etc/lumen/redis_password";
  CHECK(Contains(GcsArgv("/bin/lumen-gcs", options, files, "127.0.0.1"), "--redis-password-file",
                 "/etc/lumen/redis_password"));

  auto plasma = PlasmaArgv("/bin/lumen-plasma", options, files);
  CHECK(Contains(plasma, "--socket", files.plasma_socket));
  CHECK(Contains(plasma, "--object-store-memory", "67108864"));

  auto raylet = RayletArgv("/bin/lumen-raylet", options, files, "127.0.0.1:6379", "127.0.0.1",
                           {{"special", 2}});
  CHECK(Contains(raylet, "--gcs-address", "127.0.0.1:6379"));
  CHECK(Contains(raylet, "--num-cpus", "4"));
  CHECK(Contains(raylet, "--resources", R"({"special":2.0})"));
  CHECK(Contains(raylet, "--session-dir", "/tmp/x/session_1"));
  CHECK(Contains(raylet, "--plasma-socket", files.plasma_socket));
  CHECK(std::find(raylet.begin(), raylet.end(), "--head") != raylet.end());
  CHECK(std::find(raylet.begin(), raylet.end(), "--num-gpus") == raylet.end());
}

TEST_CASE("a dashboard bound to every interface is printed at the node's address") {
  CHECK(AddressToOpen("0.0.0.0", "10.1.2.3", 8265) == "10.1.2.3:8265");
  CHECK(AddressToOpen("::", "10.1.2.3", 8265) == "10.1.2.3:8265");
  CHECK(AddressToOpen("", "10.1.2.3", 8265) == "10.1.2.3:8265");
  CHECK(AddressToOpen("127.0.0.1", "10.1.2.3", 8265) == "127.0.0.1:8265");
  CHECK(AddressToOpen("192.168.0.7", "10.1.2.3", 80) == "192.168.0.7:80");
  CHECK(AddressToOpen("fe80::1", "10.1.2.3", 80) == "[fe80::1]:80");
}

TEST_CASE("a Redis password comes either inline or from a file") {
  NodeOptions options;
  options.head = true;
  options.redis_address = "127.0.0.1:7000";
  options.redis_password = "pw";
  options.redis_password_file = "/etc/lumen/redis_password";
  auto status = ValidateNodeOptions(options);
  CHECK(absl::IsInvalidArgument(status));
  CHECK(status.message().find("--redis-password-file") != absl::string_view::npos);
  options.redis_address.clear();
  options.redis_password.clear();
  CHECK(absl::IsInvalidArgument(ValidateNodeOptions(options)));  // No Redis to use it for.
}

TEST_CASE("The raylet's port and the worker port range reach its command line, checked") {
  NodeOptions options;
  options.gcs_address = "127.0.0.1:6379";
  SessionFiles files = FilesOfSession("/tmp/x/session_1");
  auto plain = RayletArgv("/bin/lumen-raylet", options, files, "127.0.0.1:6379", "127.0.0.1", {});
  CHECK(Contains(plain, "--port", "0"));
  CHECK(std::find(plain.begin(), plain.end(), "--min-worker-port") == plain.end());
  CHECK(std::find(plain.begin(), plain.end(), "--object-manager-port") == plain.end());
  options.raylet_port = 7001;
  options.min_worker_port = 20000;
  options.max_worker_port = 20009;
  CHECK(ValidateNodeOptions(options).ok());
  auto raylet = RayletArgv("/bin/lumen-raylet", options, files, "127.0.0.1:6379", "127.0.0.1", {});
  CHECK(Contains(raylet, "--port", "7001"));
  CHECK(Contains(raylet, "--min-worker-port", "20000"));
  CHECK(Contains(raylet, "--max-worker-port", "20009"));
  options.object_manager_port = 7002;
  CHECK(Contains(RayletArgv("/bin/lumen-raylet", options, files, "127.0.0.1:6379", "127.0.0.1", {}),
                 "--object-manager-port", "7002"));
  options.object_manager_port = 0;
  struct Case {
    int min, max;
    std::string message_part;
  };
  for (const Case& c : std::vector<Case>{{20000, 0, "give both"},
                                         {0, 20000, "give both"},
                                         {20010, 20000, "min <= max"},
                                         {20000, 20000, "holds 1 port; a worker binds 2"},
                                         {1, 70000, "65535"}}) {
    INFO(c.message_part);
    options.min_worker_port = c.min;
    options.max_worker_port = c.max;
    auto status = ValidateNodeOptions(options);
    CHECK(absl::IsInvalidArgument(status));
    CHECK(status.message().find(c.message_part) != absl::string_view::npos);
  }
  options.min_worker_port = options.max_worker_port = 0;
  options.raylet_port = -1;
  CHECK(absl::IsInvalidArgument(ValidateNodeOptions(options)));
}

TEST_CASE("FormatNumber") {
  CHECK(FormatNumber(4) == "4");
  CHECK(FormatNumber(0.5) == "0.5");
}

TEST_CASE("every daemon exports metrics, advertised in the session; the raylet on the given port") {
  NodeOptions options;
  options.head = true;
  options.node_ip = "10.1.2.3";
  SessionFiles files = FilesOfSession("/tmp/x/session_1");
  auto gcs = GcsArgv("/bin/lumen-gcs", options, files, "10.1.2.3");
  CHECK(Contains(gcs, "--metrics-export-port", "0"));
  CHECK(Contains(gcs, "--session-dir", "/tmp/x/session_1"));
  auto plasma = PlasmaArgv("/bin/lumen-plasma", options, files);
  CHECK(Contains(plasma, "--metrics-export-port", "0"));
  CHECK(Contains(plasma, "--session-dir", "/tmp/x/session_1"));
  CHECK(Contains(plasma, "--node-ip-address", "10.1.2.3"));
  options.metrics_export_port = 8080;
  auto raylet = RayletArgv("/bin/lumen-raylet", options, files, "127.0.0.1:6379", "10.1.2.3", {});
  CHECK(Contains(raylet, "--metrics-export-port", "8080"));
  options.metrics_export_port = -1;  // Off: no daemon exports.
  for (const auto& argv : {GcsArgv("/bin/lumen-gcs", options, files, "10.1.2.3"),
                           PlasmaArgv("/bin/lumen-plasma", options, files),
                           RayletArgv("/bin/lumen-raylet", options, files, "x:1", "10.1.2.3", {})}) {
    CHECK(std::find(argv.begin(), argv.end(), "--metrics-export-port") == argv.end());
  }
}

}  // namespace
}  // namespace lumen::deploy
