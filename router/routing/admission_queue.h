// The waiting line of one model: FIFO, bounded, each waiter with its own deadline. Pure
// bookkeeping; the Admission glue owns the timers and hands freed slots to pop()'s result.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "router/net.h"

namespace qmesh::router {

class AdmissionQueue {
 public:
  explicit AdmissionQueue(std::size_t depth) : depth_(depth) {}

  // false when the queue is full: the caller answers 429 at once.
  bool push(uint64_t ticket, TimePoint deadline);
  std::optional<uint64_t> pop();  // the longest-waiting ticket
  std::optional<uint64_t> front() const {
    return entries_.empty() ? std::nullopt : std::optional<uint64_t>(entries_.front().ticket);
  }
  bool remove(uint64_t ticket);   // the client left, or its deadline passed
  // Tickets whose deadline is at or before `now`, removed from the queue (oldest first).
  std::vector<uint64_t> expire(TimePoint now);

  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::size_t depth() const { return depth_; }

 private:
  struct Entry {
    uint64_t ticket;
    TimePoint deadline;
  };
  std::size_t depth_;
  std::deque<Entry> entries_;
};

}  // namespace qmesh::router
