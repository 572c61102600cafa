// Unit tests of the node resource parsers and the total resource assembly.
#include "raylet/node_resources.h"

#include <catch2/catch.hpp>

using namespace lumen::raylet;

TEST_CASE("--resources accepts JSON objects of non-negative numbers") {
  auto parsed = ParseResourcesJson(R"({"accelerator": 2, "half": 0.5, "none": 0})");
  REQUIRE(parsed.ok());
  CHECK(parsed->at("accelerator") == 2);
  CHECK(parsed->at("half") == 0.5);
  CHECK(ParseResourcesJson("{}")->empty());
}

TEST_CASE("--resources errors are one clear line") {
  struct Case {
    std::string json, expected;
  };
  std::vector<Case> cases = {
      {R"({"a": )", "not valid JSON"},
      {"not json", "not valid JSON"},
      {"[1, 2]", "must be a JSON object"},
      {"3", "must be a JSON object"},
      {R"({"a": "two"})", "'a' must be a non-negative number"},
      {R"({"a": -1})", "'a' must be a non-negative number"},
      {R"({"a": true})", "'a' must be a non-negative number"},
      {R"({"CPU": 2})", "must not set CPU; use --num-cpus"},
      {R"({"GPU": 2})", "must not set GPU; use --num-gpus"},
      {R"({"": 1})", "empty resource name"},
      // The rules of every resource amount (common/resources.h).
      {R"({"a": 0.00001})", "more than 4 decimal places"},
      {R"({"a": 1e300})", "larger than the largest amount"},
      {R"({"my gpu": 1})", "\"my gpu\": byte 2 is a space"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.json);
    auto parsed = ParseResourcesJson(c.json);
    REQUIRE_FALSE(parsed.ok());
    std::string message(parsed.status().message());
    CHECK(message.find(c.expected) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("GPU counting from CUDA_VISIBLE_DEVICES, /dev and nvidia-smi") {
  struct Visible {
    std::string value;
    int count;
  };
  for (const auto& c : std::vector<Visible>{{"", 0},
                                            {"0", 1},
                                            {"0,1,3", 3},
                                            {"-1", 0},
                                            {"0,-1,2", 1},
                                            {" 1 , 2 ", 2},
                                            {"GPU-5f2c0e3a-aaaa", 1}}) {
    CAPTURE(c.value);
    CHECK(CountCudaVisibleDevices(c.value) == c.count);
  }
  CHECK(CountNvidiaDeviceFiles({"nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "nvidia-modeset",
                                "nvidia12", "nvidia", "null", "nvme0"}) == 3);
  CHECK(CountNvidiaSmiGpus(
            "GPU 0: NVIDIA H100 (UUID: GPU-1)\nGPU 1: NVIDIA H100 (UUID: GPU-2)\n") == 2);
  CHECK(CountNvidiaSmiGpus("No devices were found\n") == 0);
  CHECK(CountNvidiaSmiGpus("") == 0);
}

TEST_CASE("MemAvailable is parsed in bytes") {
  CHECK(ParseMemAvailableBytes("MemTotal: 100 kB\nMemFree: 10 kB\nMemAvailable:    2048 kB\n") ==
        2048 * 1024);
  CHECK_FALSE(ParseMemAvailableBytes("MemTotal: 100 kB\n").has_value());
  CHECK_FALSE(ParseMemAvailableBytes("MemAvailable: lots kB\n").has_value());
}

TEST_CASE("total resources: given counts, custom resources and node markers") {
  NodeResourceOptions options;
  options.node_ip = "10.0.0.7";
  options.num_cpus = 4;
  options.num_gpus = 0;
  options.memory_bytes = 1000;
  options.object_store_memory_bytes = 500;
  options.custom = {{"accelerator", 2}};
  ResourceSet total = BuildTotalResources(options);
  CHECK(total.ToMap() == std::map<std::string, double>{{"CPU", 4},
                                                       {"accelerator", 2},
                                                       {"memory", 1000},
                                                       {"node:10.0.0.7", 1},
                                                       {"object_store_memory", 500}});
  options.is_head = true;
  CHECK(BuildTotalResources(options).Get("node:__internal_head__") == 1);
  // "memory" in --resources counts unless --memory was given.
  options.custom = {{"memory", 64}};
  CHECK(BuildTotalResources(options).Get("memory") == 1000);
  options.memory_bytes = -1;
  CHECK(BuildTotalResources(options).Get("memory") == 64);
}

TEST_CASE("detected counts are sane") {
  CHECK(DetectNumCpus() >= 1);
  CHECK(DetectNumGpus() >= 0);
  CHECK(DetectAvailableMemoryBytes() > 0);
}
