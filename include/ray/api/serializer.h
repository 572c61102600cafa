// include/ray/api/serializer.h
//
// msgpack encoding of task arguments, results and ray::Put values. User
// structs opt in with MSGPACK_DEFINE(...), as with Ray's C++ API. Arrays of
// numbers travel as one aligned binary block (array_view.h).
// A value can be serialized in two passes without an intermediate buffer:
// SerializedSize, then SerializeInto memory of exactly that size (how
// ray::Put writes straight into the object store).
// Deserialize reads str, bin and ext payloads in place (no copy into a
// msgpack zone); the decoded value owns its data.
// Failure: Deserialize throws RayException for malformed bytes or a value
// of another type.
#pragma once

#include <msgpack.hpp>
#include <string>

#include "ray/api/array_view.h"
#include "ray/api/ray_exception.h"

namespace ray {
namespace internal {

// Counts the bytes a value packs to.
struct CountingStream : PositionedStream {
  void write(const char*, size_t n) { position += n; }
};

// Writes into a caller's buffer of a known size.
struct SpanStream : PositionedStream {
  SpanStream(char* dest, size_t capacity) : dest(dest), capacity(capacity) {}
  void write(const char* p, size_t n) {
    if (n > capacity - position) throw RayException("serialized value larger than its computed size");
    std::memcpy(dest + position, p, n);
    position += n;
  }
  char* dest;
  size_t capacity;
};

struct StringStream : PositionedStream {
  explicit StringStream(std::string* out) : out(out) {}
  void write(const char* p, size_t n) {
    out->append(p, n);
    position += n;
  }
  std::string* out;
};

class Serializer {
 public:
  template <typename T>
  static std::string Serialize(const T& value) {
    std::string out;
    StringStream stream(&out);
    Pack(stream, value);
    return out;
  }

  template <typename T>
  static size_t SerializedSize(const T& value) {
    CountingStream stream;
    Pack(stream, value);
    return stream.position;
  }

  // Writes `value` at dest[0, size), `size` being SerializedSize(value).
  template <typename T>
  static void SerializeInto(const T& value, char* dest, size_t size) {
    SpanStream stream(dest, size);
    Pack(stream, value);
    if (stream.position != size) throw RayException("serialized value smaller than its computed size");
  }

  template <typename T>
  static T Deserialize(const char* data, size_t size) {
    return Decode(data, size, [](const msgpack::object& o) { return o.as<T>(); });
  }

  // Unpacks data[0, size) in place (payloads point into `data`) and returns
  // decode(the object), turning msgpack's errors into RayException. No
  // array or map may claim more entries than there are bytes: a corrupt
  // length is an error, not a huge allocation.
  template <typename F>
  static auto Decode(const char* data, size_t size, F&& decode) -> decltype(decode(msgpack::object())) {
    try {
      msgpack::unpack_limit limit(size, size, size, size, size, size + 1);
      msgpack::object_handle handle = msgpack::unpack(data, size, ReferenceAll, nullptr, limit);
      return decode(handle.get());
    } catch (const msgpack::type_error& e) {
      throw RayException(std::string("cannot deserialize a value of the requested type: ") +
                         e.what());
    } catch (const msgpack::unpack_error& e) {
      throw RayException(std::string("malformed serialized value: ") + e.what());
    }
  }

 private:
  template <typename Stream, typename T>
  static void Pack(Stream& stream, const T& value) {
    ScopedCurrentStream current(&stream);
    msgpack::packer<Stream> packer(stream);
    packer.pack(value);
  }
  static bool ReferenceAll(msgpack::type::object_type, std::size_t, void*) { return true; }
};

// A view of the array that the serialized value at data[0, size) holds,
// sharing the bytes (kept by `keep_alive`) when they are an aligned block,
// else owning a decoded copy. Throws RayException like Deserialize.
template <typename T>
ArrayView<T> DecodeArrayView(const char* data, size_t size, std::shared_ptr<const void> keep_alive) {
  return Serializer::Decode(data, size, [&](const msgpack::object& o) {
    if constexpr (kIsBlockElement<T>) {
      const char* elements = nullptr;
      size_t count = 0;
      if (keep_alive && FindArrayBlock<T>(o, &elements, &count) &&
          reinterpret_cast<uintptr_t>(elements) % alignof(T) == 0) {
        return ArrayView<T>(reinterpret_cast<const T*>(elements), count, std::move(keep_alive));
      }
    } else {
      if (keep_alive && o.type == msgpack::type::BIN) {
        return ArrayView<T>(reinterpret_cast<const T*>(o.via.bin.ptr), o.via.bin.size,
                            std::move(keep_alive));
      }
    }
    return ArrayView<T>(o.as<std::vector<T>>());
  });
}

}  // namespace internal
}  // namespace ray
