// include/ray/api/object_ref.h
//
// ObjectRef<T>: a reference to an object in the cluster that holds (or will
// hold) a T. Copies share one reference in this process; when the last
// reference to an object this process owns goes away, the object is freed.
// An ObjectRef can be passed to tasks (resolved to its value when the
// parameter is a T) and nested in arguments or results (e.g. a
// std::vector<ObjectRef<T>>), where it stays a reference.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "ray/api/runtime.h"
#include "ray/api/serializer.h"

namespace ray {

template <typename T>
class ObjectRef;

namespace internal {
template <typename T>
std::shared_ptr<T> GetOne(const ObjectRef<T>& ref, int64_t timeout_ms);
}  // namespace internal

namespace internal {

// While set (around the serialization of a task argument), every ObjectRef
// packed is also appended here and gets a local reference of its own, held
// for the task (the runtime releases it when the task ends): a temporary
// ref passed to a task lives until the task has run.
inline thread_local std::vector<RefData>* g_packed_refs = nullptr;

// One local reference to an object, shared by every copy of the ObjectRef
// that made it: copying an ObjectRef costs an atomic increment, and the
// runtime hears of the reference once, when it is made and when the last
// copy goes.
class RefHandle {
 public:
  explicit RefHandle(RefData ref) : data(std::move(ref)) { AddLocalRef(data); }
  ~RefHandle() { RemoveLocalRef(data.id); }
  RefHandle(const RefHandle&) = delete;
  RefHandle& operator=(const RefHandle&) = delete;
  const RefData data;
};

}  // namespace internal

template <typename T>
class ObjectRef {
 public:
  ObjectRef() = default;
  explicit ObjectRef(internal::RefData data)
      : handle_(std::make_shared<const internal::RefHandle>(std::move(data))) {}

  // The object id in hex, as printed by Ray: e5b2fae6e42f6bba...
  std::string ID() const { return internal::IdToHex(Data().id); }
  // Blocks until the value is available; see ray::Get.
  std::shared_ptr<T> Get(const int& timeout_ms = -1) const {
    return internal::GetOne(*this, timeout_ms);
  }
  bool IsNil() const { return handle_ == nullptr; }
  const internal::RefData& Data() const {
    static const internal::RefData kNil;
    return handle_ ? handle_->data : kNil;
  }

  friend bool operator==(const ObjectRef& a, const ObjectRef& b) { return a.Data().id == b.Data().id; }
  friend bool operator!=(const ObjectRef& a, const ObjectRef& b) { return !(a == b); }
  friend std::ostream& operator<<(std::ostream& os, const ObjectRef& ref) {
    return os << "ObjectRef(" << ref.ID() << ")";
  }

 private:
  std::shared_ptr<const internal::RefHandle> handle_;
};

namespace internal {

template <typename T>
struct IsObjectRef : std::false_type {};
template <typename T>
struct IsObjectRef<ObjectRef<T>> : std::true_type {};

// An object's value; an ArrayView shares the object's bytes in the store.
template <typename T>
T DecodeObject(const std::shared_ptr<Buffer>& buffer) {
  if constexpr (IsArrayView<T>::value) {
    return DecodeArrayView<typename T::value_type>(buffer->data(), buffer->size(), buffer);
  } else {
    return Serializer::Deserialize<T>(buffer->data(), buffer->size());
  }
}

template <typename T>
std::shared_ptr<T> GetOne(const ObjectRef<T>& ref, int64_t timeout_ms) {
  auto buffers = GetObjects({&ref.Data()}, timeout_ms);
  return std::make_shared<T>(DecodeObject<T>(buffers[0]));
}

}  // namespace internal

// Lumen addition: the array `ref` holds, read in place in the object store
// when it is there (no copy; the object stays mapped while the view or a
// copy of it lives), else a view owning a decoded copy. Blocks like
// ray::Get; throws its errors, or RayException when the object is not an
// array of T.
template <typename T>
ArrayView<T> GetView(const ObjectRef<std::vector<T>>& ref, int timeout_ms = -1) {
  auto buffers = internal::GetObjects({&ref.Data()}, timeout_ms);
  return internal::DecodeObject<ArrayView<T>>(buffers[0]);
}
template <typename T>
ArrayView<T> GetView(const ObjectRef<ArrayView<T>>& ref, int timeout_ms = -1) {
  return *internal::GetOne(ref, timeout_ms);
}

namespace internal {

}  // namespace internal
}  // namespace ray

// ObjectRefs nested in values travel as [object id, owner address].
namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
  namespace adaptor {

  template <typename T>
  struct pack<ray::ObjectRef<T>> {
    template <typename Stream>
    packer<Stream>& operator()(packer<Stream>& o, const ray::ObjectRef<T>& v) const {
      if (ray::internal::g_packed_refs != nullptr && !v.IsNil()) {
        ray::internal::g_packed_refs->push_back(v.Data());
        ray::internal::AddLocalRef(v.Data());
      }
      o.pack_array(2);
      o.pack(v.Data().id);
      o.pack(v.Data().owner);
      return o;
    }
  };

  template <typename T>
  struct convert<ray::ObjectRef<T>> {
    const msgpack::object& operator()(const msgpack::object& o, ray::ObjectRef<T>& v) const {
      if (o.type != msgpack::type::ARRAY || o.via.array.size != 2) throw msgpack::type_error();
      ray::internal::RefData data{o.via.array.ptr[0].as<std::string>(),
                                  o.via.array.ptr[1].as<std::string>()};
      v = ray::ObjectRef<T>(std::move(data));
      return o;
    }
  };

  }  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS)
}  // namespace msgpack
