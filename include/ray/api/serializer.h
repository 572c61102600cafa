// include/ray/api/serializer.h
//
// msgpack encoding of task arguments, results and ray::Put values. User
// structs opt in with MSGPACK_DEFINE(...), as with Ray's C++ API.
#pragma once

#include <msgpack.hpp>
#include <string>

#include "ray/api/ray_exception.h"

namespace ray {
namespace internal {

class Serializer {
 public:
  template <typename T>
  static std::string Serialize(const T& value) {
    msgpack::sbuffer buffer;
    msgpack::pack(buffer, value);
    return std::string(buffer.data(), buffer.size());
  }

  template <typename T>
  static T Deserialize(const char* data, size_t size) {
    try {
      msgpack::object_handle handle = msgpack::unpack(data, size);
      return handle.get().as<T>();
    } catch (const msgpack::type_error& e) {
      throw RayException(std::string("cannot deserialize a value of the requested type: ") +
                         e.what());
    } catch (const msgpack::unpack_error& e) {
      throw RayException(std::string("malformed serialized value: ") + e.what());
    }
  }
};

}  // namespace internal
}  // namespace ray
