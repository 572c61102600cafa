// include/ray/api/array_view.h
//
// Arrays of numbers as one binary block, and ray::ArrayView<T>, a read-only
// view of such an array that can point straight into the object store.
//
// Encoding. A std::vector<T> of an arithmetic T other than bool and the
// plain and unsigned char types (int8_t..uint64_t, float, double, ...) is packed as
// one msgpack ext value of type kArrayExtType, not element by element:
//
//   ext32 header (6 bytes) | kind ('i','u','f') | sizeof(T) | pad n | n zero bytes | elements
//
// so decoding a copy is one memcpy. The elements are in the host's byte
// order (every Lumen node is little-endian x86-64 or arm64).
// Alignment guarantee: when a value is serialized by Lumen (ray::Put, task
// arguments and results, nested anywhere in a value, including in
// MSGPACK_DEFINE structs), the elements of every such array of 64 bytes or
// more start at a multiple of 64 bytes from the start of the encoding, and
// smaller ones at a multiple of alignof(std::max_align_t) (16). Objects in
// the plasma store start on a 64-byte boundary, so there the elements are
// 64-byte aligned in memory. std::vector<char>, <unsigned char> and
// <std::byte> keep msgpack's own bin encoding (one memcpy already; their
// elements need no alignment). Decoding also accepts the element-by-element
// msgpack array that other encoders write. One array holds at most 4 GiB
// (an ext32 length); a larger one throws at Serialize.
//
// ray::ArrayView<T> (a Lumen addition; Ray's C++ API always decodes a
// copy) is a const T* and a size plus a keep-alive. As a task or actor
// method parameter, passed an ObjectRef<std::vector<T>> that lives in the
// node's plasma store, the function reads the array in shared memory: no
// copy, however many tasks read it at once; the object stays mapped and
// pinned while any view of it lives (a view may be kept, e.g. by an actor,
// past the call). From a driver or task, ray::GetView(ref) returns one.
// When the bytes cannot be shared (an inline value, which lives in a task
// message; a misaligned or element-by-element encoding) the view owns a
// decoded copy instead, so a view is always safe to keep. A view serializes
// exactly like the std::vector<T> it shows, so an ArrayView<T> result or
// ray::Put of a view gives an ObjectRef a std::vector<T> parameter can take.
// Thread-safety: a view is immutable; copies share the keep-alive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <msgpack.hpp>
#include <type_traits>
#include <vector>

namespace ray {
namespace internal {

// msgpack ext type of an array block ('L').
constexpr int8_t kArrayExtType = 0x4c;
// Bytes before the padding in an ext body: kind, element size, pad length.
constexpr size_t kArrayBodyHeader = 3;
constexpr size_t kLargeArrayAlign = 64;
constexpr size_t kSmallArrayAlign = alignof(std::max_align_t);

// Element types packed as one block.
template <typename T>
constexpr bool kIsBlockElement =
    std::is_arithmetic_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char> &&
    !std::is_same_v<T, unsigned char> && !std::is_same_v<T, wchar_t> && !std::is_same_v<T, char16_t> && !std::is_same_v<T, char32_t> &&
    !std::is_same_v<T, long double>;

template <typename T>
constexpr char ElementKind() {
  return std::is_floating_point_v<T> ? 'f' : (std::is_signed_v<T> ? 'i' : 'u');
}

// A msgpack stream that knows how many bytes it has written; the array
// packer pads against that position. Serializer's streams derive from it.
struct PositionedStream {
  size_t position = 0;
};

// Where the array packer finds the stream now being written (set by the
// Serializer for the duration of a pack on this thread); null: unknown,
// the packer then pads as if the value started at offset 0.
inline const PositionedStream*& CurrentStream() {
  thread_local const PositionedStream* stream = nullptr;
  return stream;
}

class ScopedCurrentStream {
 public:
  explicit ScopedCurrentStream(const PositionedStream* stream) : saved_(CurrentStream()) {
    CurrentStream() = stream;
  }
  ~ScopedCurrentStream() { CurrentStream() = saved_; }
  ScopedCurrentStream(const ScopedCurrentStream&) = delete;
  ScopedCurrentStream& operator=(const ScopedCurrentStream&) = delete;

 private:
  const PositionedStream* saved_;
};

// Packs `count` elements at `elements` as one array block.
template <typename T, typename Stream>
void PackArrayBlock(msgpack::packer<Stream>& o, const T* elements, size_t count) {
  const size_t bytes = count * sizeof(T);
  const size_t align = bytes >= kLargeArrayAlign ? kLargeArrayAlign : kSmallArrayAlign;
  const PositionedStream* stream = CurrentStream();
  const size_t start = stream ? stream->position : 0;
  const size_t unpadded = start + 6 + kArrayBodyHeader;  // Where the elements would start.
  const size_t pad = (align - unpadded % align) % align;
  const uint64_t body = kArrayBodyHeader + pad + bytes;
  if (body > 0xffffffffull) {
    throw msgpack::container_size_overflow("an array block holds at most 4 GiB");
  }
  // ext32 header, written raw so that its length is fixed (6 bytes).
  char header[6 + kArrayBodyHeader + kLargeArrayAlign] = {};
  header[0] = static_cast<char>(0xc9);
  const uint32_t len = static_cast<uint32_t>(body);
  header[1] = static_cast<char>(len >> 24);
  header[2] = static_cast<char>(len >> 16);
  header[3] = static_cast<char>(len >> 8);
  header[4] = static_cast<char>(len);
  header[5] = static_cast<char>(kArrayExtType);
  header[6] = ElementKind<T>();
  header[7] = static_cast<char>(sizeof(T));
  header[8] = static_cast<char>(pad);
  o.pack_ext_body(header, static_cast<uint32_t>(6 + kArrayBodyHeader + pad));
  if (bytes > 0) o.pack_ext_body(reinterpret_cast<const char*>(elements), static_cast<uint32_t>(bytes));
}

// The elements of an array block of T in `o`, or false when `o` is not one
// (another ext, or a block of another element type). Throws
// msgpack::type_error for a malformed block.
template <typename T>
bool FindArrayBlock(const msgpack::object& o, const char** elements, size_t* count) {
  if (o.type != msgpack::type::EXT || o.via.ext.type() != kArrayExtType) return false;
  const char* body = o.via.ext.data();
  const size_t size = o.via.ext.size;
  if (size < kArrayBodyHeader) throw msgpack::type_error();
  if (body[0] != ElementKind<T>() || static_cast<size_t>(static_cast<unsigned char>(body[1])) != sizeof(T)) {
    throw msgpack::type_error();
  }
  const size_t pad = static_cast<unsigned char>(body[2]);
  if (kArrayBodyHeader + pad > size || (size - kArrayBodyHeader - pad) % sizeof(T) != 0) {
    throw msgpack::type_error();
  }
  *elements = body + kArrayBodyHeader + pad;
  *count = (size - kArrayBodyHeader - pad) / sizeof(T);
  return true;
}

template <typename T, typename Alloc>
void ConvertArray(const msgpack::object& o, std::vector<T, Alloc>& v) {
  const char* elements = nullptr;
  size_t count = 0;
  if (FindArrayBlock<T>(o, &elements, &count)) {
    if (reinterpret_cast<uintptr_t>(elements) % alignof(T) == 0) {
      const T* first = reinterpret_cast<const T*>(elements);
      v.assign(first, first + count);  // One memmove, no zero fill first.
    } else {
      v.resize(count);
      if (count > 0) std::memcpy(v.data(), elements, count * sizeof(T));
    }
    return;
  }
  if (o.type != msgpack::type::ARRAY) throw msgpack::type_error();
  v.resize(o.via.array.size);
  for (uint32_t i = 0; i < o.via.array.size; ++i) o.via.array.ptr[i].convert(v[i]);
}

}  // namespace internal

template <typename T>
class ArrayView {
  static_assert(internal::kIsBlockElement<T> || std::is_same_v<T, char> ||
                    std::is_same_v<T, unsigned char>,
                "ArrayView<T> takes an arithmetic T other than bool (char and unsigned char "
                "view bytes)");

 public:
  using value_type = T;
  using const_iterator = const T*;

  ArrayView() = default;
  // Owns `values` (moved in): for passing a vector where a view is taken.
  ArrayView(std::vector<T> values) {  // NOLINT: implicit, like a vector argument.
    auto owned = std::make_shared<const std::vector<T>>(std::move(values));
    data_ = owned->data();
    size_ = owned->size();
    keep_alive_ = std::move(owned);
  }
  // Views `size` elements at `data`, kept valid by `keep_alive`.
  ArrayView(const T* data, size_t size, std::shared_ptr<const void> keep_alive)
      : data_(data), size_(size), keep_alive_(std::move(keep_alive)) {}

  const T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t size_bytes() const { return size_ * sizeof(T); }
  bool empty() const { return size_ == 0; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  const T& operator[](size_t i) const { return data_[i]; }
  const T& front() const { return data_[0]; }
  const T& back() const { return data_[size_ - 1]; }
  std::vector<T> ToVector() const { return std::vector<T>(begin(), end()); }

 private:
  const T* data_ = nullptr;
  size_t size_ = 0;
  std::shared_ptr<const void> keep_alive_;
};

namespace internal {

template <typename T>
struct IsArrayView : std::false_type {};
template <typename T>
struct IsArrayView<ArrayView<T>> : std::true_type {};

}  // namespace internal
}  // namespace ray

// The msgpack adaptors of the block encoding.
namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
  namespace adaptor {

#define RAY_INTERNAL_ARRAY_BLOCK_ADAPTORS(T)                                                  \
  template <typename Alloc>                                                                   \
  struct pack<std::vector<T, Alloc>> {                                                        \
    template <typename Stream>                                                                \
    packer<Stream>& operator()(packer<Stream>& o, const std::vector<T, Alloc>& v) const {     \
      ray::internal::PackArrayBlock<T>(o, v.data(), v.size());                                \
      return o;                                                                               \
    }                                                                                         \
  };                                                                                          \
  template <typename Alloc>                                                                   \
  struct convert<std::vector<T, Alloc>> {                                                     \
    const msgpack::object& operator()(const msgpack::object& o, std::vector<T, Alloc>& v) const { \
      ray::internal::ConvertArray(o, v);                                                      \
      return o;                                                                               \
    }                                                                                         \
  };

  RAY_INTERNAL_ARRAY_BLOCK_ADAPTORS(signed char)
  RAY_INTERNAL_ARRAY_BLOCK_ADAPTORS(short)
  RAY_INTERNAL_ARRAY_BLOCK_ADAPTORS(unsigned short)
  RAY_INTERNAL_ARRAY_BLOCK_ADAPTORS(int)
  RAY_INTERNAL_ARRAY_BLOCK_ADAPTORS(unsigned int)
  RAY_INTERNAL_ARRAY_BLOCK_ADAPTORS(long)
  RAY_INTERNAL_ARRAY_BLOCK_ADAPTORS(unsigned long)
  RAY_INTERNAL_ARRAY_BLOCK_ADAPTORS(long long)
  RAY_INTERNAL_ARRAY_BLOCK_ADAPTORS(unsigned long long)
  RAY_INTERNAL_ARRAY_BLOCK_ADAPTORS(float)
  RAY_INTERNAL_ARRAY_BLOCK_ADAPTORS(double)
#undef RAY_INTERNAL_ARRAY_BLOCK_ADAPTORS

  // A view packs as the vector it shows (block, or bin for bytes).
  template <typename T>
  struct pack<ray::ArrayView<T>> {
    template <typename Stream>
    packer<Stream>& operator()(packer<Stream>& o, const ray::ArrayView<T>& v) const {
      if constexpr (ray::internal::kIsBlockElement<T>) {
        ray::internal::PackArrayBlock<T>(o, v.data(), v.size());
      } else {
        o.pack_bin(static_cast<uint32_t>(v.size()));
        o.pack_bin_body(reinterpret_cast<const char*>(v.data()), static_cast<uint32_t>(v.size()));
      }
      return o;
    }
  };

  // Decoded without the buffer's keep-alive: the view owns a copy.
  template <typename T>
  struct convert<ray::ArrayView<T>> {
    const msgpack::object& operator()(const msgpack::object& o, ray::ArrayView<T>& v) const {
      v = ray::ArrayView<T>(o.as<std::vector<T>>());
      return o;
    }
  };

  }  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS)
}  // namespace msgpack
