// The TCP store's wire format, shared by its server and client (tcp_store.cpp).
// A message, either way, is one frame, integers big-endian:
//   u32 body_length | u8 code | i64 number | u32 count | count x (u32 length | bytes)
// A request's code is an Op, a reply's a Status; `number` carries a timeout in
// ms, an add's delta or result, or a boolean. One request is in flight per
// connection. Not a general RPC layer and not compatible with c10d's TCPStore.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace trainrt::dist::tcp_protocol {

enum class Op : uint8_t {
  Set = 1,     // strings: key, value
  Get = 2,     // strings: key; number: timeout ms     -> Ok + value, or Timeout
  Add = 3,     // strings: key; number: delta          -> Ok, number: new value
  Check = 4,   // strings: keys                        -> Ok, number: 1 when all exist
  Wait = 5,    // strings: keys; number: timeout ms    -> Ok, or Timeout + missing keys
  Delete = 6,  // strings: key                         -> Ok, number: 1 when it existed
};

enum class Status : uint8_t {
  Ok = 0,
  Timeout = 1,  // strings: the keys still missing at the deadline
  Error = 2,    // strings: one message for the user
};

struct Message {
  uint8_t code = 0;
  int64_t number = 0;
  std::vector<std::string> strings;
};

// A frame larger than this is a broken or hostile peer, not a rendezvous value.
inline constexpr uint32_t kMaxFrameBytes = 256u << 20;

// A frame that cannot be parsed; the connection is dropped.
struct ProtocolError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline const char* op_name(uint8_t code) {
  switch (static_cast<Op>(code)) {
    case Op::Set: return "SET";
    case Op::Get: return "GET";
    case Op::Add: return "ADD";
    case Op::Check: return "CHECK";
    case Op::Wait: return "WAIT";
    case Op::Delete: return "DELETE";
  }
  return "UNKNOWN";
}

namespace wire {

inline void put_u32(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xff));
}

inline void put_i64(std::string& out, int64_t value) {
  const auto bits = static_cast<uint64_t>(value);
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((bits >> shift) & 0xff));
}

inline uint64_t get_uint(const std::string& in, size_t& pos, int bytes) {
  if (in.size() - pos < static_cast<size_t>(bytes)) throw ProtocolError("truncated frame");
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<unsigned char>(in[pos++]);
  return value;
}

}  // namespace wire

// The frame for `message`, length prefix included.
inline std::string encode(const Message& message) {
  std::string body;
  body.push_back(static_cast<char>(message.code));
  wire::put_i64(body, message.number);
  wire::put_u32(body, static_cast<uint32_t>(message.strings.size()));
  for (const std::string& s : message.strings) {
    wire::put_u32(body, static_cast<uint32_t>(s.size()));
    body += s;
  }
  if (body.size() > kMaxFrameBytes) throw ProtocolError("message of " + std::to_string(body.size()) +
                                                        " bytes exceeds the store's frame limit");
  std::string frame;
  frame.reserve(4 + body.size());
  wire::put_u32(frame, static_cast<uint32_t>(body.size()));
  return frame + body;
}

// Removes and returns the first whole frame of `buffer`; nullopt while it is incomplete.
inline std::optional<Message> take_frame(std::string& buffer) {
  if (buffer.size() < 4) return std::nullopt;
  size_t pos = 0;
  const auto length = static_cast<uint32_t>(wire::get_uint(buffer, pos, 4));
  if (length > kMaxFrameBytes) throw ProtocolError("frame of " + std::to_string(length) + " bytes");
  if (buffer.size() - 4 < length) return std::nullopt;
  const std::string body = buffer.substr(4, length);
  buffer.erase(0, 4 + static_cast<size_t>(length));

  Message message;
  pos = 0;
  message.code = static_cast<uint8_t>(wire::get_uint(body, pos, 1));
  message.number = static_cast<int64_t>(wire::get_uint(body, pos, 8));
  const auto count = wire::get_uint(body, pos, 4);
  if (count > body.size()) throw ProtocolError("string count larger than the frame");
  message.strings.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    const auto size = wire::get_uint(body, pos, 4);
    if (body.size() - pos < size) throw ProtocolError("string longer than the frame");
    message.strings.push_back(body.substr(pos, size));
    pos += size;
  }
  if (pos != body.size()) throw ProtocolError("trailing bytes after the last string");
  return message;
}

}  // namespace trainrt::dist::tcp_protocol
