// The safetensors reader and writer (runtime/checkpoint): round trips of every
// dtype trainrt holds, the file layout (aligned data, padded header), and one
// test per kind of malformed file: each is refused with one line naming the
// file, before any tensor is allocated. Also Lua <-> file tensor names and the
// atomic file (temporary, commit, nothing left behind on failure).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "checkpoint_files.h"
#include "data/fixtures.h"
#include "test_util.h"
#include "trainrt/checkpoint/atomic_file.h"
#include "trainrt/checkpoint/names.h"
#include "trainrt/checkpoint/safetensors.h"

namespace trainrt::test {
namespace {

namespace ck = trainrt::checkpoint;

// Expects reading `bytes` (as file `name`) to fail with a message that starts
// with the file's path and contains `needle`, and to be a single line.
void expect_refused(const std::string& name, const std::string& bytes, const std::string& needle) {
  TempDir dir;
  std::string path = dir.file(name);
  write_binary(path, bytes);
  for (int via_header = 0; via_header < 2; ++via_header) {
    try {
      if (via_header) ck::read_header(path);
      else ck::read_file(path);
      ADD_FAILURE() << "expected " << name << " to be refused with: " << needle;
    } catch (const Error& e) {
      std::string m = e.what();
      EXPECT_EQ(m.rfind(path + ": ", 0), 0u) << m;
      EXPECT_NE(m.find(needle), std::string::npos) << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
  }
  EXPECT_ERROR_CONTAINS(ck::read_bytes(name, bytes), needle);  // the fuzz target's path
}

std::string f32(std::initializer_list<float> values) {
  std::string s(values.size() * 4, '\0');
  std::memcpy(s.data(), values.begin(), s.size());
  return s;
}

TEST(Safetensors, RoundTripsEveryDtypeWithMetadata) {
  TempDir dir;
  Tensor a = ops::randn({3, 4});                                              // F32 (3, 4)
  Tensor b = ops::randn({2}, 0, 1, DType::Float64);                           // F64 (2)
  Tensor c = Tensor::empty({2}, DType::Int64);                                // I64 (2), beyond 2^53
  c.data<int64_t>()[0] = (int64_t{1} << 62) + 1;
  c.data<int64_t>()[1] = INT64_MIN;
  Tensor d = Tensor::from_vector({0, 7, 255}, {3}, DType::UInt8);             // U8 (3)
  Tensor e = ops::full({}, 2.5);                                              // F32 () scalar
  Tensor f = Tensor::empty({0, 5});                                           // F32 (0, 5) empty
  Tensor g = ops::randn({4, 3}).t();                                          // a non-contiguous view
  std::vector<std::pair<std::string, Tensor>> in = {{"a", a}, {"d", d}, {"b", b}, {"c", c},
                                                     {"e", e}, {"f", f}, {"g", g}};
  ck::write_file(dir.file("x.safetensors"), in, {{"format", "pt"}, {"note", "ü"}});
  ck::File out = ck::read_file(dir.file("x.safetensors"));
  EXPECT_EQ(out.header.metadata.at("format"), "pt");
  EXPECT_EQ(out.header.metadata.at("note"), "ü");
  ASSERT_EQ(out.tensors.size(), in.size());
  for (const auto& [name, original] : in) {
    SCOPED_TRACE(name);
    auto it = std::find_if(out.tensors.begin(), out.tensors.end(), [&](const auto& p) { return p.first == name; });
    ASSERT_NE(it, out.tensors.end());
    const Tensor& t = it->second;
    EXPECT_EQ(t.dtype(), original.dtype());
    EXPECT_EQ(t.sizes(), original.sizes());
    Tensor expected = original.contiguous();
    EXPECT_EQ(std::memcmp(t.data_ptr(), expected.data_ptr(), t.numel() * dtype_size(t.dtype())), 0);
  }
}

TEST(Safetensors, LaysOutLargestElementsFirstAndPadsTheHeader) {
  TempDir dir;
  ck::write_file(dir.file("x.safetensors"),
                 {{"byte", Tensor::from_vector({1, 2, 3}, {3}, DType::UInt8)}, {"f32", ops::ones({3})},
                  {"f64", ops::ones({1}, DType::Float64)}},
                 {});
  ck::Header h = ck::read_header(dir.file("x.safetensors"));
  EXPECT_EQ(h.header_bytes % 8, 0u);
  ASSERT_EQ(h.tensors.size(), 3u);
  EXPECT_EQ(h.tensors[0].name, "f64");  // sorted by offset: 8-byte, then 4-byte, then 1-byte elements
  EXPECT_EQ(h.tensors[1].name, "f32");
  EXPECT_EQ(h.tensors[2].name, "byte");
  for (const auto& t : h.tensors) EXPECT_EQ(t.begin % ck::safetensors_dtype_size(t.dtype).value(), 0u) << t.name;
}

TEST(Safetensors, WriterRefusesDuplicateAndReservedNames) {
  TempDir dir;
  EXPECT_ERROR_CONTAINS(ck::write_file(dir.file("x.safetensors"), {{"w", ops::ones({1})}, {"w", ops::ones({1})}}, {}),
                        "two tensors are named 'w'");
  EXPECT_ERROR_CONTAINS(ck::write_file(dir.file("x.safetensors"), {{"__metadata__", ops::ones({1})}}, {}), "reserved");
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.safetensors")));
}

TEST(Safetensors, ReadsAValidHandMadeFileAndEmptyOne) {
  ck::File f = ck::read_bytes("valid", valid_safetensors());
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors[0].second.to_vector(), (std::vector<double>{1, 2}));
  EXPECT_EQ(f.tensors[1].second.item(), 7);
  EXPECT_EQ(ck::read_bytes("empty", safetensors_bytes("{}", "")).tensors.size(), 0u);
  EXPECT_EQ(ck::read_bytes("bool", safetensors_bytes(R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})",
                                                     std::string("\x01\x00", 2)))
                .tensors[0]
                .second.dtype(),
            DType::UInt8);
}

// ---- malformed files, one case each ------------------------------------------

TEST(SafetensorsMalformed, Truncated) {
  std::string valid = valid_safetensors();
  expect_refused("short.safetensors", valid.substr(0, 5), "too short for a safetensors file");
  expect_refused("cut.safetensors", valid.substr(0, valid.size() - 3), "file truncated?");
}

TEST(SafetensorsMalformed, HeaderLengthPastTheEnd) {
  std::string bytes = valid_safetensors();
  bytes[0] = static_cast<char>(0xff);
  bytes[1] = static_cast<char>(0xff);
  expect_refused("length.safetensors", bytes, "runs past the end of the file");
  std::string huge(8, static_cast<char>(0xff));  // 2^64 - 1: never allocated
  expect_refused("huge.safetensors", huge + "{}", "runs past the end of the file");
}

TEST(SafetensorsMalformed, HeaderOverTheSizeLimit) {
  // A sparse file long enough for the claimed header: refused before the header is read.
  TempDir dir;
  std::string path = dir.file("big.safetensors");
  write_binary(path, safetensors_bytes("", "").substr(0, 8));
  std::string length(8, '\0');
  for (int i = 0; i < 8; ++i) length[i] = static_cast<char>(((ck::kMaxHeaderBytes + 1) >> (8 * i)) & 0xff);
  write_binary(path, length);
  std::filesystem::resize_file(path, 8 + ck::kMaxHeaderBytes + 1);
  EXPECT_ERROR_CONTAINS(ck::read_header(path), "-byte limit: not a safetensors file");
}

TEST(SafetensorsMalformed, HeaderNotJson) {
  expect_refused("text.safetensors", safetensors_bytes("this is not json", ""), "header is not valid JSON");
  expect_refused("array.safetensors", safetensors_bytes("[1, 2]", ""), "header must be a JSON object");
  expect_refused("utf8.safetensors", safetensors_bytes("{\"\xff\":1}", ""), "header is not valid JSON");
  expect_refused("deep.safetensors", safetensors_bytes(std::string(5000, '[') + std::string(5000, ']'), ""),
                 "nested more than");
}

TEST(SafetensorsMalformed, UnknownDtype) {
  expect_refused("dtype.safetensors",
                 safetensors_bytes(R"({"w":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')),
                 "tensor 'w' has unknown dtype 'F12'");
  // A dtype the format knows but trainrt cannot hold: listed by inspect, refused on load.
  std::string i32 = safetensors_bytes(R"({"w":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  EXPECT_EQ(ck::parse_header("i32", i32.substr(8, i32.size() - 16), 8).tensors.size(), 1u);
  EXPECT_ERROR_CONTAINS(ck::read_bytes("i32", i32), "has dtype I32, which trainrt cannot hold");
}

TEST(SafetensorsMalformed, ShapeDisagreesWithByteRange) {
  expect_refused("shape.safetensors",
                 safetensors_bytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f32({1, 2})),
                 "needs 12 bytes but data_offsets [0, 8) hold 8");
  expect_refused("negative.safetensors",
                 safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", f32({1, 2})),
                 "shape must hold non-negative integers");
  expect_refused("overflow.safetensors",
                 safetensors_bytes(R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
                                   f32({1, 2})),
                 "too large");
  expect_refused("reversed.safetensors",
                 safetensors_bytes(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", f32({1, 2})),
                 "end before they begin");
  expect_refused("fields.safetensors", safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2]}})", f32({1, 2})),
                 "lacks data_offsets");
}

TEST(SafetensorsMalformed, RangePastTheDataSection) {
  expect_refused("past.safetensors",
                 safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", f32({1, 2})),
                 "ends at byte 16 but the data section has 8 bytes");
}

TEST(SafetensorsMalformed, OverlappingRanges) {
  expect_refused("overlap.safetensors",
                 safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                   R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                   f32({1, 2, 3})),
                 "tensor 'b' [4, 12) overlaps tensor 'a' [0, 8)");
}

TEST(SafetensorsMalformed, GapInTheData) {
  expect_refused("gap.safetensors",
                 safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                   R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                                   f32({1, 2, 3})),
                 "gap in the data section: bytes [4, 8) belong to no tensor");
  expect_refused("trailing.safetensors",
                 safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", f32({1, 2})),
                 "4 trailing bytes");
}

TEST(SafetensorsMalformed, DuplicateNames) {
  expect_refused("dup.safetensors",
                 safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                   R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                   f32({1, 2})),
                 "tensor name 'w' appears twice");
}

TEST(SafetensorsMalformed, MetadataNotStrings) {
  expect_refused("meta.safetensors", safetensors_bytes(R"({"__metadata__":{"epoch":3}})", ""),
                 "__metadata__ value of 'epoch' must be a string");
}

TEST(SafetensorsMalformed, MissingFileAndDirectory) {
  TempDir dir;
  EXPECT_ERROR_CONTAINS(ck::read_file(dir.file("nope.safetensors")), "nope.safetensors: cannot open");
  EXPECT_ERROR_CONTAINS(ck::read_file(dir.file("")), "not a regular file");
}

// ---- names and atomic files ----------------------------------------------------

TEST(CheckpointNames, NumericComponentsAreOneLessInFiles) {
  EXPECT_EQ(ck::file_name_of("1.weight"), "0.weight");
  EXPECT_EQ(ck::file_name_of("blocks.12.conv.1.bias"), "blocks.11.conv.0.bias");
  EXPECT_EQ(ck::file_name_of("fc1.weight"), "fc1.weight");
  EXPECT_EQ(ck::file_name_of("layer.07.w"), "layer.07.w");  // not canonical: kept as is
  EXPECT_EQ(ck::lua_name_of("0.weight"), "1.weight");
  EXPECT_EQ(ck::lua_name_of("3.running_mean"), "4.running_mean");
  for (const char* name : {"1.weight", "a.2.b.3", "x", "10.0x.5"})
    EXPECT_EQ(ck::lua_name_of(ck::file_name_of(name)), name);
  EXPECT_ERROR_CONTAINS(ck::file_name_of("model.0.weight"), "numeric component 0");
}

TEST(AtomicFile, CommitReplacesAndAnAbandonedWriteLeavesTheOldFile) {
  TempDir dir;
  std::string path = dir.file("f.bin");
  {
    ck::AtomicFile f(path);
    f.write("old", 3);
    f.commit();
  }
  std::string temp;
  {
    ck::AtomicFile f(path);
    temp = f.temp_path();
    f.write("new!", 4);
    EXPECT_TRUE(std::filesystem::exists(temp));
    EXPECT_EQ(read_binary(path), "old");  // not committed: readers see the old content
  }  // destroyed without commit, as an exception would
  EXPECT_FALSE(std::filesystem::exists(temp));
  EXPECT_EQ(read_binary(path), "old");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.file("")), {}), 1);
  EXPECT_ERROR_CONTAINS(ck::AtomicFile(dir.file("no/such/dir/f.bin")), "cannot create");
}

}  // namespace
}  // namespace trainrt::test
