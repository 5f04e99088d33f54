// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// A vector that keeps up to N elements in place and moves them to the heap
// beyond that. The learner's per-address slot lists and per-NS-name address
// lists almost always hold one or two elements; a heap array each was an
// allocation and one more cache miss per learned address.
//
// Contract: T is trivially copyable (elements are moved with memcpy);
// iterators are plain pointers, invalidated by any insertion or erasure.

#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>

namespace nsgate {

template <class T, uint32_t N>
class SmallVec {
  static_assert(std::is_trivially_copyable_v<T>, "elements are moved with memcpy");
  static_assert(N > 0);

 public:
  SmallVec() = default;
  SmallVec(const SmallVec& o) { append(o.data(), o.size_); }
  SmallVec(SmallVec&& o) noexcept { take(o); }
  SmallVec& operator=(const SmallVec& o) {
    if (this != &o) {
      size_ = 0;
      append(o.data(), o.size_);
    }
    return *this;
  }
  SmallVec& operator=(SmallVec&& o) noexcept {
    if (this != &o) {
      free_heap();
      take(o);
    }
    return *this;
  }
  ~SmallVec() { free_heap(); }

  T* begin() { return data(); }
  T* end() { return data() + size_; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size_; }
  uint32_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](uint32_t i) { return data()[i]; }
  const T& operator[](uint32_t i) const { return data()[i]; }

  void push_back(const T& v) {
    if (size_ == cap_) grow();
    std::memcpy(static_cast<void*>(data() + size_), &v, sizeof(T));
    ++size_;
  }
  // Removes the element at `at`; returns where the next one now is.
  T* erase(T* at) {
    std::memmove(static_cast<void*>(at), at + 1, static_cast<size_t>(end() - at - 1) * sizeof(T));
    --size_;
    return at;
  }
  // Removes every element equal to `v`; how many were removed.
  uint32_t remove(const T& v) {
    uint32_t kept = 0;
    for (uint32_t i = 0; i < size_; ++i)
      if (!(data()[i] == v)) std::memcpy(static_cast<void*>(data() + kept++), data() + i, sizeof(T));
    uint32_t removed = size_ - kept;
    size_ = kept;
    return removed;
  }

 private:
  bool on_heap() const { return cap_ != N; }
  T* data() { return std::launder(reinterpret_cast<T*>(on_heap() ? heap_ : place_)); }
  const T* data() const { return std::launder(reinterpret_cast<const T*>(on_heap() ? heap_ : place_)); }
  void grow() {
    uint32_t cap = cap_ * 2;
    auto* bigger = static_cast<unsigned char*>(::operator new(size_t{cap} * sizeof(T), std::align_val_t{alignof(T)}));
    std::memcpy(bigger, data(), size_t{size_} * sizeof(T));
    free_heap();
    heap_ = bigger;
    cap_ = cap;
  }
  void append(const T* from, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) push_back(from[i]);
  }
  void take(SmallVec& o) {
    if (o.on_heap()) {
      heap_ = o.heap_;
    } else {
      std::memcpy(place_, o.place_, size_t{o.size_} * sizeof(T));
    }
    size_ = o.size_;
    cap_ = o.cap_;
    o.size_ = 0;
    o.cap_ = N;
  }
  void free_heap() {
    if (on_heap()) ::operator delete(heap_, std::align_val_t{alignof(T)});
    cap_ = N;
  }

  union {
    alignas(T) unsigned char place_[N * sizeof(T)];
    unsigned char* heap_;
  };
  uint32_t size_ = 0;
  uint32_t cap_ = N;  // N: in place
};

}  // namespace nsgate
