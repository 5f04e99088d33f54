// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// A vector that grows by whole chunks of 2^ChunkShift elements and never
// moves what it holds. The live learner's slots outgrew a std::vector's
// reservation when the table reached its capacity (slots are per address
// *and zone*, so their number has no fixed bound): the reallocation moved
// 1.3 M slots (166 MB, one page fault per 4 KiB) and stopped learning for
// 0.4-0.5 s while the workers' hand-offs overflowed (tools/bench/forward,
// learning window). Here growth costs one chunk allocation.
//
// Contract: elements keep their address until the container is destroyed
// or cleared; indexing is two loads (the chunk table stays in cache).

#include <compare>
#include <cstddef>
#include <iterator>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace nsgate {

template <class T, unsigned ChunkShift = 10>
class ChunkedVec {
  static constexpr size_t kChunk = size_t{1} << ChunkShift;
  static constexpr size_t kMask = kChunk - 1;

  // Raw storage for kChunk elements; ChunkedVec constructs and destroys them.
  struct Free {
    void operator()(T* p) const { ::operator delete(p, std::align_val_t{alignof(T)}); }
  };
  using Chunk = std::unique_ptr<T, Free>;

 public:
  // Random access, so that the <algorithm> heap functions work on it.
  template <bool Const>
  class Iter {
    using Owner = std::conditional_t<Const, const ChunkedVec, ChunkedVec>;

   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = std::conditional_t<Const, const T*, T*>;
    using reference = std::conditional_t<Const, const T&, T&>;
    Iter() = default;
    Iter(Owner* v, size_t i) : v_(v), i_(i) {}
    reference operator*() const { return (*v_)[i_]; }
    pointer operator->() const { return &(*v_)[i_]; }
    reference operator[](difference_type n) const { return (*v_)[static_cast<size_t>(static_cast<difference_type>(i_) + n)]; }
    Iter& operator+=(difference_type n) {
      i_ = static_cast<size_t>(static_cast<difference_type>(i_) + n);
      return *this;
    }
    Iter& operator-=(difference_type n) { return *this += -n; }
    Iter& operator++() { return *this += 1; }
    Iter& operator--() { return *this -= 1; }
    Iter operator++(int) {
      Iter old = *this;
      ++*this;
      return old;
    }
    Iter operator--(int) {
      Iter old = *this;
      --*this;
      return old;
    }
    friend Iter operator+(Iter it, difference_type n) { return it += n; }
    friend Iter operator+(difference_type n, Iter it) { return it += n; }
    friend Iter operator-(Iter it, difference_type n) { return it -= n; }
    friend difference_type operator-(const Iter& a, const Iter& b) {
      return static_cast<difference_type>(a.i_) - static_cast<difference_type>(b.i_);
    }
    bool operator==(const Iter& o) const { return i_ == o.i_; }
    auto operator<=>(const Iter& o) const { return i_ <=> o.i_; }

   private:
    Owner* v_ = nullptr;
    size_t i_ = 0;
  };
  using iterator = Iter<false>;
  using const_iterator = Iter<true>;

  ChunkedVec() = default;
  ChunkedVec(const ChunkedVec&) = delete;
  ChunkedVec& operator=(const ChunkedVec&) = delete;
  ChunkedVec(ChunkedVec&& o) noexcept : chunks_(std::move(o.chunks_)), size_(std::exchange(o.size_, 0)) {}
  ChunkedVec& operator=(ChunkedVec&& o) noexcept {
    if (this != &o) {
      clear();
      chunks_ = std::move(o.chunks_);  // frees this one's chunks
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~ChunkedVec() { clear(); }  // chunks_ frees the chunks

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](size_t i) { return chunks_[i >> ChunkShift].get()[i & kMask]; }
  const T& operator[](size_t i) const { return chunks_[i >> ChunkShift].get()[i & kMask]; }

  // Room in the chunk table for n elements: the table itself is the only
  // thing that can move, and it holds one pointer per chunk.
  void reserve(size_t n) { chunks_.reserve((n + kMask) >> ChunkShift); }

  template <class... Args>
  T& emplace_back(Args&&... args) {
    if ((size_ >> ChunkShift) == chunks_.size()) {
      Chunk fresh(static_cast<T*>(::operator new(kChunk * sizeof(T), std::align_val_t{alignof(T)})));
      chunks_.push_back(std::move(fresh));
    }
    T* at = chunks_[size_ >> ChunkShift].get() + (size_ & kMask);
    ::new (static_cast<void*>(at)) T(std::forward<Args>(args)...);
    ++size_;
    return *at;
  }

  void pop_back() { (*this)[--size_].~T(); }
  T& back() { return (*this)[size_ - 1]; }

  // Destroys every element; the chunks stay, for the elements added next
  // (a copy remade periodically then touches no fresh pages).
  void clear() {
    for (size_t i = size_; i > 0; --i) (*this)[i - 1].~T();
    size_ = 0;
  }

  iterator begin() { return {this, 0}; }
  iterator end() { return {this, size_}; }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size_}; }

 private:
  std::vector<Chunk> chunks_;
  size_t size_ = 0;
};

}  // namespace nsgate
