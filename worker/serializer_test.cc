// The msgpack encoding of include/ray/api (serializer.h, array_view.h)
// without a runtime: arrays of numbers as one aligned block, round trips,
// nesting in MSGPACK_DEFINE structs, the element-by-element encoding still
// read, two-pass serialization into a buffer, ArrayView decoding, and
// malformed input rejected with RayException. Built as C++17, like user
// code.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "ray/api/serializer.h"

using ray::ArrayView;
using ray::internal::RayException;
using ray::internal::Serializer;

namespace {

struct Sample {
  std::string name;
  std::vector<double> values;
  std::vector<std::vector<int32_t>> rows;
  std::vector<uint8_t> bytes;
  int tag = 0;
  MSGPACK_DEFINE(name, values, rows, bytes, tag);
};

// A copy of `s` at a 64-byte aligned address, as objects are in plasma.
std::shared_ptr<char> AlignedCopy(const std::string& s) {
  void* p = std::aligned_alloc(64, (s.size() + 63) / 64 * 64);
  std::memcpy(p, s.data(), s.size());
  return std::shared_ptr<char>(static_cast<char*>(p), [](char* c) { std::free(c); });
}

// The offsets (from the start of `encoded`) of the elements of every array
// block in it.
void BlockOffsets(const msgpack::object& o, const char* base, std::vector<size_t>* out) {
  if (o.type == msgpack::type::EXT && o.via.ext.type() == ray::internal::kArrayExtType) {
    const char* body = o.via.ext.data();
    out->push_back(static_cast<size_t>(body + 3 + static_cast<unsigned char>(body[2]) - base));
  } else if (o.type == msgpack::type::ARRAY) {
    for (uint32_t i = 0; i < o.via.array.size; ++i) BlockOffsets(o.via.array.ptr[i], base, out);
  }
}

std::vector<size_t> BlockOffsets(const std::string& encoded) {
  std::vector<size_t> offsets;
  Serializer::Decode(encoded.data(), encoded.size(), [&](const msgpack::object& o) {
    BlockOffsets(o, encoded.data(), &offsets);
    return 0;
  });
  return offsets;
}

template <typename T>
void CheckRoundTrip(const std::vector<T>& v) {
  std::string encoded = Serializer::Serialize(v);
  CHECK(Serializer::Deserialize<std::vector<T>>(encoded.data(), encoded.size()) == v);
}

}  // namespace

TEST_CASE("arrays of numbers round-trip, empty ones included") {
  CheckRoundTrip(std::vector<double>{1.5, -2.25, 1e300});
  CheckRoundTrip(std::vector<float>{0.5f, 3.0f});
  CheckRoundTrip(std::vector<int8_t>{-128, 0, 127});
  CheckRoundTrip(std::vector<int16_t>{-32768, 7});
  CheckRoundTrip(std::vector<int32_t>{-1, 2, 3});
  CheckRoundTrip(std::vector<uint32_t>{0xffffffffu});
  CheckRoundTrip(std::vector<int64_t>{INT64_MIN, INT64_MAX});
  CheckRoundTrip(std::vector<uint64_t>{UINT64_MAX, 0});
  CheckRoundTrip(std::vector<long long>{1, 2});
  CheckRoundTrip(std::vector<unsigned long long>{3});
  CheckRoundTrip(std::vector<double>{});
  CheckRoundTrip(std::vector<int32_t>{});
  CheckRoundTrip(std::vector<bool>{true, false});  // msgpack's own encoding.
  CheckRoundTrip(std::vector<uint8_t>{1, 2, 255});
}

TEST_CASE("an array of numbers is one block: a header, padding and the raw elements") {
  std::vector<double> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i) * 0.5;
  std::string encoded = Serializer::Serialize(v);
  REQUIRE(static_cast<unsigned char>(encoded[0]) == 0xc9);  // ext32
  REQUIRE(encoded.size() <= v.size() * sizeof(double) + 6 + 3 + 63);
  std::vector<size_t> offsets = BlockOffsets(encoded);
  REQUIRE(offsets.size() == 1);
  CHECK(offsets[0] % 64 == 0);
  CHECK(std::memcmp(encoded.data() + offsets[0], v.data(), v.size() * sizeof(double)) == 0);
}

TEST_CASE("blocks nested in MSGPACK_DEFINE structs are aligned and round-trip") {
  Sample s;
  s.name = "abc";  // An odd length, so the first block needs padding.
  s.values.assign(100, 2.5);
  s.rows = {{1, 2, 3}, {}, std::vector<int32_t>(40, 7)};
  s.bytes = {9, 8, 7};
  s.tag = 42;
  std::vector<Sample> many(3, s);
  std::string encoded = Serializer::Serialize(many);
  auto back = Serializer::Deserialize<std::vector<Sample>>(encoded.data(), encoded.size());
  REQUIRE(back.size() == 3);
  for (const Sample& b : back) {
    CHECK(b.name == "abc");
    CHECK(b.values == s.values);
    CHECK(b.rows == s.rows);
    CHECK(b.bytes == s.bytes);
    CHECK(b.tag == 42);
  }
  std::vector<size_t> offsets = BlockOffsets(encoded);
  REQUIRE(offsets.size() == 3 * 4);  // values and the three rows, per sample.
  for (size_t off : offsets) CHECK(off % alignof(std::max_align_t) == 0);
  CHECK(offsets[0] % 64 == 0);  // 800 bytes of values: 64-byte aligned.
}

TEST_CASE("SerializedSize and SerializeInto give the bytes Serialize gives") {
  Sample s;
  s.name = "x";
  s.values.assign(3000, 1.0);
  s.rows = {{5}};
  std::string expected = Serializer::Serialize(s);
  size_t size = Serializer::SerializedSize(s);
  REQUIRE(size == expected.size());
  std::string out(size, '\0');
  Serializer::SerializeInto(s, out.data(), size);
  CHECK(out == expected);
  std::string small(size - 1, '\0');
  CHECK_THROWS_AS(Serializer::SerializeInto(s, small.data(), small.size()), RayException);
}

TEST_CASE("the element-by-element msgpack array is still read") {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(3);
  packer.pack(1);
  packer.pack(2.5);
  packer.pack(-3);
  auto doubles = Serializer::Deserialize<std::vector<double>>(buffer.data(), buffer.size());
  CHECK(doubles == std::vector<double>{1, 2.5, -3});
}

TEST_CASE("malformed or mistyped blocks are RayException") {
  std::vector<double> v(100, 1.0);
  std::string encoded = Serializer::Serialize(v);
  // Truncated.
  CHECK_THROWS_AS(Serializer::Deserialize<std::vector<double>>(encoded.data(), encoded.size() - 1),
                  RayException);
  // Another element type.
  CHECK_THROWS_AS(Serializer::Deserialize<std::vector<int32_t>>(encoded.data(), encoded.size()),
                  RayException);
  CHECK_THROWS_AS(Serializer::Deserialize<std::vector<float>>(encoded.data(), encoded.size()),
                  RayException);
  CHECK_THROWS_AS(Serializer::Deserialize<int>(encoded.data(), encoded.size()), RayException);
  // Padding longer than the body.
  std::string bad_pad = Serializer::Serialize(std::vector<double>{});
  bad_pad[8] = static_cast<char>(200);
  CHECK_THROWS_AS(Serializer::Deserialize<std::vector<double>>(bad_pad.data(), bad_pad.size()),
                  RayException);
  // A body that is not a whole number of elements.
  std::string ragged = Serializer::Serialize(std::vector<double>{1.0});
  ragged[4] = static_cast<char>(ragged[4] - 1);
  ragged.pop_back();
  CHECK_THROWS_AS(Serializer::Deserialize<std::vector<double>>(ragged.data(), ragged.size()),
                  RayException);
  // An array header claiming 4 billion entries: an error, not an allocation.
  const char huge[] = {static_cast<char>(0xdd), '\xff', '\xff', '\xff', '\xff', 0x01};
  CHECK_THROWS_AS(Serializer::Deserialize<std::vector<double>>(huge, sizeof(huge)), RayException);
  CHECK_THROWS_AS(Serializer::Deserialize<std::vector<std::string>>(huge, sizeof(huge)),
                  RayException);
}

TEST_CASE("an ArrayView of an aligned block with a keep-alive shares the bytes") {
  std::vector<double> v(4096);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  std::string encoded = Serializer::Serialize(v);
  std::shared_ptr<char> aligned = AlignedCopy(encoded);
  ArrayView<double> view =
      ray::internal::DecodeArrayView<double>(aligned.get(), encoded.size(), aligned);
  REQUIRE(view.size() == v.size());
  const char* p = reinterpret_cast<const char*>(view.data());
  CHECK(p > aligned.get());
  CHECK(p < aligned.get() + encoded.size());
  CHECK(reinterpret_cast<uintptr_t>(p) % 64 == 0);
  CHECK(view.ToVector() == v);
  // The view keeps the buffer alive.
  std::weak_ptr<char> weak = aligned;
  aligned.reset();
  CHECK(!weak.expired());
  CHECK(view[4095] == 4095.0);
}

TEST_CASE("an ArrayView without a keep-alive, or of an array encoding, owns a copy") {
  std::vector<int32_t> v{1, 2, 3};
  std::string encoded = Serializer::Serialize(v);
  ArrayView<int32_t> view = ray::internal::DecodeArrayView<int32_t>(encoded.data(), encoded.size(), nullptr);
  const char* p = reinterpret_cast<const char*>(view.data());
  CHECK((p < encoded.data() || p >= encoded.data() + encoded.size()));
  CHECK(view.ToVector() == v);

  msgpack::sbuffer buffer;
  msgpack::pack(buffer, std::vector<msgpack::type::nil_t>{});  // An empty array.
  auto keep = std::make_shared<int>(0);
  CHECK(ray::internal::DecodeArrayView<double>(buffer.data(), buffer.size(), keep).empty());
  CHECK_THROWS_AS(ray::internal::DecodeArrayView<float>(encoded.data(), encoded.size(), keep),
                  RayException);
}

TEST_CASE("an ArrayView serializes as its vector, and byte views read bin") {
  std::vector<float> v{1.0f, 2.0f, 4.0f};
  ArrayView<float> view(v);
  CHECK(Serializer::Serialize(view) == Serializer::Serialize(v));
  std::string packed = Serializer::Serialize(v);
  auto decoded = Serializer::Deserialize<ArrayView<float>>(packed.data(), packed.size());
  CHECK(decoded.ToVector() == v);

  std::vector<unsigned char> bytes{1, 2, 3, 200};
  std::string encoded = Serializer::Serialize(bytes);
  auto keep = std::make_shared<std::string>(encoded);
  auto byte_view = ray::internal::DecodeArrayView<unsigned char>(keep->data(), keep->size(), keep);
  CHECK(byte_view.ToVector() == bytes);
  CHECK(reinterpret_cast<const char*>(byte_view.data()) > keep->data());
  CHECK(Serializer::Serialize(byte_view) == encoded);
}
