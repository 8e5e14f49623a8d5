// Big-endian byte writer and a bounds-checked reader for the membership wire formats. The
// reader never reads past its span: every accessor fails (and latches failure) instead, so a
// decoder can read a whole message and check ok() once at the end.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace qmesh::membership::wire {

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { u8(static_cast<uint8_t>(v >> 8)); u8(static_cast<uint8_t>(v)); }
  void u32(uint32_t v) { u16(static_cast<uint16_t>(v >> 16)); u16(static_cast<uint16_t>(v)); }
  void u64(uint64_t v) { u32(static_cast<uint32_t>(v >> 32)); u32(static_cast<uint32_t>(v)); }
  void bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  // Length-prefixed; callers enforce the field's limit before writing.
  void str8(const std::string& s) {
    u8(static_cast<uint8_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void blob16(std::span<const uint8_t> b) {
    u16(static_cast<uint16_t>(b.size()));
    bytes(b);
  }
  std::size_t size() const { return out_.size(); }
  std::vector<uint8_t>& buffer() { return out_; }

 private:
  std::vector<uint8_t>& out_;
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}

  bool ok() const { return ok_; }
  std::size_t remaining() const { return ok_ ? in_.size() - pos_ : 0; }
  bool atEnd() const { return ok_ && pos_ == in_.size(); }

  uint8_t u8() { return need(1) ? in_[pos_++] : 0; }
  uint16_t u16() { uint16_t hi = u8(); return static_cast<uint16_t>((hi << 8) | u8()); }
  uint32_t u32() { uint32_t hi = u16(); return (hi << 16) | u16(); }
  uint64_t u64() { uint64_t hi = u32(); return (hi << 32) | u32(); }

  std::span<const uint8_t> bytes(std::size_t n) {
    if (!need(n)) return {};
    auto s = in_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  template <class Array>
  void into(Array& dst) {
    auto s = bytes(dst.size());
    if (ok_) std::copy(s.begin(), s.end(), dst.begin());
  }
  std::string str8() {
    std::size_t n = u8();
    auto s = bytes(n);
    return std::string(s.begin(), s.end());
  }
  std::vector<uint8_t> blob16() {
    std::size_t n = u16();
    auto s = bytes(n);
    return std::vector<uint8_t>(s.begin(), s.end());
  }
  void fail() { ok_ = false; }

 private:
  bool need(std::size_t n) {
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  std::span<const uint8_t> in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace qmesh::membership::wire
