// A driver for integration_netns_test: joins the cluster at RAY_ADDRESS
// (run in the head's network namespace) and prints "key=value" lines. A task
// says where it ran by the node address its raylet gave it (LUMEN_NODE_IP)
// and the IPv4 addresses of the interfaces it sees, which in a network
// namespace are that namespace's alone.
//   pinned R...  per custom resource R, 2 tasks needing it: "pinned_R=<seen>"
//   spread N     N tasks of a 200 ms busy loop: "spread=<seen>" per task
// <seen> is "<LUMEN_NODE_IP>|<addresses, comma-separated, loopback left out>".
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <ray/api.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

std::string Seen() {
  const char* ip = std::getenv("LUMEN_NODE_IP");
  std::string seen = std::string(ip ? ip : "") + "|";
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return seen + "getifaddrs failed";
  std::string addresses;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof(text));
    if (std::string(text).rfind("127.", 0) == 0) continue;
    addresses += (addresses.empty() ? "" : ",") + std::string(text);
  }
  ::freeifaddrs(list);
  return seen + addresses;
}

std::string Busy200ms() {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  volatile uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < until) spin = spin + 1;
  return Seen();
}

RAY_REMOTE(Seen, Busy200ms);

namespace {

void Print(const std::string& key, const std::string& value) {
  std::printf("%s=%s\n", key.c_str(), value.c_str());
  std::fflush(stdout);
}

void Pinned(const std::vector<std::string>& resources) {
  for (const auto& resource : resources) {
    std::vector<ray::ObjectRef<std::string>> refs;
    for (int i = 0; i < 2; ++i) refs.push_back(ray::Task(Seen).SetResource(resource, 1).Remote());
    for (const auto& seen : ray::Get(refs)) Print("pinned_" + resource, *seen);
  }
}

void Spread(int n) {
  std::vector<ray::ObjectRef<std::string>> refs;
  for (int i = 0; i < n; ++i) refs.push_back(ray::Task(Busy200ms).Remote());
  for (const auto& seen : ray::Get(refs)) Print("spread", *seen);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    ray::RayConfig config;
    ray::Init(config, argc, argv);
    Print("driver", Seen());
    if (mode == "pinned") {
      Pinned(std::vector<std::string>(argv + 2, argv + argc));
    } else if (mode == "spread") {
      Spread(argc > 2 ? std::atoi(argv[2]) : 30);
    } else {
      std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
      return 2;
    }
    ray::Shutdown();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "driver error: %s\n", e.what());
    return 1;
  }
  return 0;
}
