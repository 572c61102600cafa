// Tests of the framing: frames split across reads, several in one read,
// oversized and unknown headers.
#include "plasma/protocol.h"

#include <cstring>

#include <catch2/catch.hpp>

namespace lumen::plasma {
namespace {

void Feed(FrameBuffer& buffer, const std::string& bytes) {
  size_t available = 0;
  char* space = buffer.WritableSpace(bytes.size(), &available);
  REQUIRE(available >= bytes.size());
  std::memcpy(space, bytes.data(), bytes.size());
  buffer.Commit(bytes.size());
}

TEST_CASE("frames survive split and batched reads", "[plasma][protocol]") {
  ObjectRequest request;
  request.set_id(std::string(28, 'x'));
  std::string wire;
  AppendFrame(SEAL_REQUEST, request, &wire);
  AppendFrame(PING_REQUEST, StatusReply(), &wire);
  FrameBuffer buffer;
  Feed(buffer, wire.substr(0, 5));
  CHECK_FALSE(buffer.Next()->has_value());
  Feed(buffer, wire.substr(5));
  auto first = buffer.Next();
  REQUIRE(first.ok());
  REQUIRE(first->has_value());
  CHECK((*first)->type == SEAL_REQUEST);
  ObjectRequest parsed;
  REQUIRE(ParseBody(**first, &parsed));
  CHECK(parsed.id() == request.id());
  auto second = buffer.Next();
  REQUIRE(second->has_value());
  CHECK((*second)->type == PING_REQUEST);
  CHECK((*second)->body.empty());
  CHECK_FALSE(buffer.Next()->has_value());
}

TEST_CASE("oversized or unknown headers are errors", "[plasma][protocol]") {
  auto header = [](uint32_t size, uint32_t type) {
    std::string bytes(8, '\0');
    std::memcpy(bytes.data(), &size, 4);
    std::memcpy(bytes.data() + 4, &type, 4);
    return bytes;
  };
  FrameBuffer oversized;
  Feed(oversized, header(kMaxBodySize + 1, PING_REQUEST));
  CHECK_FALSE(oversized.Next().ok());
  FrameBuffer unknown;
  Feed(unknown, header(0, 999));
  CHECK_FALSE(unknown.Next().ok());
  FrameBuffer zero;
  Feed(zero, header(0, 0));
  CHECK_FALSE(zero.Next().ok());
}

}  // namespace
}  // namespace lumen::plasma
