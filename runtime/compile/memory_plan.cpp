// The memory plan of a captured step: every internal buffer (plan.h) lives
// from the first node that touches it to the last; buffers whose lifetimes do
// not overlap share arena bytes. Placement is greedy, largest first, each at
// the lowest 64-byte-aligned offset free of every placed buffer it overlaps
// in time: the classic offset assignment of static memory planners.
#include <algorithm>

#include "compile/plan.h"

namespace trainrt::compile {
namespace {

constexpr size_t kAlign = 64;

size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

struct Lifetime {
  size_t buffer, first, last, bytes;
};

}  // namespace

size_t plan_memory(const std::vector<Node>& nodes, std::vector<Buffer>& buffers) {
  std::vector<Lifetime> lives;
  std::vector<long> first(buffers.size(), -1), last(buffers.size(), -1);
  for (size_t i = 0; i < nodes.size(); ++i)
    for (int b : nodes[i].buffers) {
      auto u = static_cast<size_t>(b);
      if (first[u] < 0) first[u] = static_cast<long>(i);
      last[u] = static_cast<long>(i);
    }
  for (size_t b = 0; b < buffers.size(); ++b)
    if (buffers[b].internal && first[b] >= 0)
      lives.push_back({b, static_cast<size_t>(first[b]), static_cast<size_t>(last[b]), align_up(buffers[b].bytes)});
  std::sort(lives.begin(), lives.end(), [](const Lifetime& a, const Lifetime& b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes : a.first < b.first;
  });

  struct Placed {
    size_t offset, bytes, first, last;
  };
  std::vector<Placed> placed;
  size_t arena = 0;
  for (const Lifetime& life : lives) {
    // Byte ranges taken, during this buffer's lifetime, by buffers placed so far.
    std::vector<std::pair<size_t, size_t>> taken;
    for (const Placed& p : placed)
      if (p.first <= life.last && life.first <= p.last) taken.emplace_back(p.offset, p.offset + p.bytes);
    std::sort(taken.begin(), taken.end());
    size_t offset = 0;
    for (const auto& [begin, end] : taken) {
      if (offset + life.bytes <= begin) break;
      offset = std::max(offset, end);
    }
    placed.push_back({offset, life.bytes, life.first, life.last});
    buffers[life.buffer].arena_offset = offset;
    arena = std::max(arena, offset + life.bytes);
  }
  return arena;
}

}  // namespace trainrt::compile
