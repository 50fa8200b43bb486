// A gzip member that inflates to `prefix` followed by `zeros` zero bytes,
// written with one fixed-Huffman deflate block of (length 258, distance 1)
// copies: about 1/160 of the inflated size. fixtures.h's stored blocks cannot
// compress, so they cannot make a small file that inflates to a huge one.
// The trailer's CRC-32 is left 0: readers must stop long before it.
#pragma once
#include <cstdint>
#include <vector>

namespace trainrt::test {

class BitWriter {
 public:
  // `count` bits of `value`, least significant first (deflate's header fields).
  void bits(uint32_t value, int count) {
    for (int i = 0; i < count; ++i) bit((value >> i) & 1);
  }
  // A Huffman code of `length` bits, most significant first.
  void code(uint32_t value, int length) {
    for (int i = length - 1; i >= 0; --i) bit((value >> i) & 1);
  }
  std::vector<uint8_t> bytes() const { return out_; }

 private:
  void bit(uint32_t b) {
    if (used_ == 0) out_.push_back(0);
    out_.back() |= static_cast<uint8_t>(b << used_);
    used_ = (used_ + 1) % 8;
  }
  std::vector<uint8_t> out_;
  int used_ = 0;
};

inline std::vector<uint8_t> gzip_bomb(const std::vector<uint8_t>& prefix, uint64_t zeros) {
  BitWriter w;
  w.bits(1, 1);  // BFINAL
  w.bits(1, 2);  // BTYPE = 01: fixed Huffman codes
  auto literal = [&](uint8_t byte) {
    if (byte < 144) w.code(0x30 + byte, 8);
    else w.code(0x190 + (byte - 144), 9);
  };
  for (uint8_t byte : prefix) literal(byte);
  if (zeros > 0) {
    literal(0);
    --zeros;
  }
  for (; zeros >= 258; zeros -= 258) {
    w.code(0xC0 + (285 - 280), 8);  // length 258 (code 285, no extra bits)
    w.code(0, 5);                   // distance 1 (code 0)
  }
  for (; zeros > 0; --zeros) literal(0);
  w.code(0, 7);  // end of block (code 256)
  std::vector<uint8_t> out = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  std::vector<uint8_t> deflate = w.bytes();
  out.insert(out.end(), deflate.begin(), deflate.end());
  out.insert(out.end(), 8, 0);  // CRC-32 and length: never reached
  return out;
}

}  // namespace trainrt::test
