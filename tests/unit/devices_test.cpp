// What the GPU path shares with the CPU and CI can check without a GPU:
// CUDA_VISIBLE_DEVICES parsing and mapping (indices and Docker's UUID form),
// the out-of-memory report, the block cache's size classes and reuse, and
// --devices for GPUs.
#include <gtest/gtest.h>

#include "config/config.h"
#include "device/block_cache.h"
#include "trainrt/devices.h"

namespace trainrt {
namespace {

const std::vector<std::string> kUuids = {"GPU-8a1f0c2e-1111-2222-3333-444444444444",
                                         "GPU-8a1f9d00-5555-6666-7777-888888888888",
                                         "GPU-c3d4e5f6-9999-aaaa-bbbb-cccccccccccc"};

TEST(VisibleDevices, UnsetMeansEveryGpuInOrder) {
  VisibleDevices v = parse_visible_devices(nullptr);
  EXPECT_FALSE(v.set);
  EXPECT_EQ(v.text, "unset");
  EXPECT_EQ(map_visible_devices(v, kUuids), (std::vector<int>{0, 1, 2}));
}

TEST(VisibleDevices, IndicesReorderAndSelect) {
  VisibleDevices v = parse_visible_devices("2, 0");
  EXPECT_EQ(v.entries, (std::vector<std::string>{"2", "0"}));
  EXPECT_EQ(map_visible_devices(v, kUuids), (std::vector<int>{2, 0}));  // cuda:0 is physical GPU 2
}

TEST(VisibleDevices, UuidsAndUniquePrefixesAsDockerPassesThem) {
  std::string problem = "unset";
  EXPECT_EQ(map_visible_devices(parse_visible_devices("GPU-c3d4e5f6-9999-aaaa-bbbb-cccccccccccc,GPU-8a1f0"), kUuids,
                                &problem),
            (std::vector<int>{2, 0}));
  EXPECT_EQ(problem, "");
  EXPECT_EQ(map_visible_devices(parse_visible_devices("c3d4"), kUuids), (std::vector<int>{2}));  // GPU- may be left out
}

TEST(VisibleDevices, TheListEndsAtTheFirstBadEntryAsTheDriverDoes) {
  std::string problem;
  EXPECT_EQ(map_visible_devices(parse_visible_devices("1,7,0"), kUuids, &problem), (std::vector<int>{1}));
  EXPECT_EQ(problem, "entry 1 '7' is out of range: the machine has 3 GPUs");
  EXPECT_EQ(map_visible_devices(parse_visible_devices("GPU-8a1f,2"), kUuids, &problem), (std::vector<int>{}));
  EXPECT_EQ(problem, "entry 0 'GPU-8a1f' matches several GPUs' UUIDs");
  EXPECT_EQ(map_visible_devices(parse_visible_devices("0,GPU-ffff"), kUuids, &problem), (std::vector<int>{0}));
  EXPECT_EQ(problem, "entry 1 'GPU-ffff' matches no GPU's UUID");
  EXPECT_EQ(map_visible_devices(parse_visible_devices("0,0"), kUuids, &problem), (std::vector<int>{0}));
  EXPECT_EQ(problem, "entry 1 '0' names a GPU listed before");
  EXPECT_TRUE(map_visible_devices(parse_visible_devices(""), kUuids).empty());  // set but empty: no GPU
  EXPECT_EQ(parse_visible_devices("0,,1").entries, (std::vector<std::string>{"0"}));
}

TEST(OutOfMemory, TheReportNamesDeviceOpBytesMemoryCacheAndTheFix) {
  OutOfMemoryReport r;
  r.device = Device{DeviceType::CUDA, 1};
  r.op = "conv2d";
  r.requested = int64_t{3} << 29;  // 1.5 GiB
  r.free = int64_t{200} << 20;
  r.total = int64_t{80} << 30;
  r.live = int64_t{61} << 30;
  r.cached = int64_t{2} << 30;
  r.released = true;
  EXPECT_EQ(format_out_of_memory(r),
            "cuda:1 out of memory in conv2d: tried to allocate 1.50 GiB with 200.0 MiB free of 80.00 GiB; 61.00 GiB "
            "in tensors, 2.00 GiB cached by trainrt (released and retried). Use a smaller per-device batch (each rank "
            "or replica gets batch_size / world size), free tensors you keep (t:free(), trainrt.empty_cache()), or "
            "check that no other process uses cuda:1 (nvidia-smi)");
  r.op.clear();
  r.free = r.total = -1;
  r.released = false;
  std::string m = format_out_of_memory(r);
  EXPECT_EQ(m.rfind("cuda:1 out of memory: tried to allocate 1.50 GiB; 61.00 GiB in tensors, 2.00 GiB cached by trainrt. ", 0),
            0u)
      << m;
}

TEST(OutOfMemory, BytesReadAsAPersonWouldWriteThem) {
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(int64_t{12} << 20), "12.0 MiB");
  EXPECT_EQ(format_bytes(int64_t{3} << 30), "3.00 GiB");
}

TEST(OutOfMemory, CurrentOpNestsAndRestores) {
  EXPECT_STREQ(CurrentOp::name(), "");
  {
    CurrentOp outer("linear");
    {
      CurrentOp inner("matmul");
      EXPECT_STREQ(CurrentOp::name(), "matmul");
    }
    EXPECT_STREQ(CurrentOp::name(), "linear");
  }
  EXPECT_STREQ(CurrentOp::name(), "");
}

TEST(BlockCache, SizeClassesBoundTheSlackAndSmallBlocksRoundToTheGranularity) {
  BlockCache device(512, 0, INT64_MAX);
  EXPECT_EQ(device.block_size(1), 512u);
  EXPECT_EQ(device.block_size(1000), 1024u);
  EXPECT_EQ(device.block_size(size_t{1} << 20), size_t{1} << 20);
  for (size_t bytes : {size_t{5000}, size_t{1234567}, size_t{300} << 20}) {
    size_t block = device.block_size(bytes);
    EXPECT_GE(block, bytes);
    EXPECT_LE(block - bytes, bytes / 8) << bytes;  // at most 12.5% slack
  }
  BlockCache host(64, 64 * 1024, INT64_MAX);
  EXPECT_FALSE(host.cacheable(host.block_size(4096)));  // the CPU leaves small blocks to malloc
}

TEST(BlockCache, ReusesAFreedBlockOfTheSameClassUpToTheLimit) {
  BlockCache cache(512, 0, 3 << 20);
  int a = 0, b = 0, c = 0;
  size_t mib = cache.block_size(1 << 20);
  EXPECT_EQ(cache.take(mib), nullptr);
  EXPECT_TRUE(cache.keep(&a, mib));
  EXPECT_TRUE(cache.keep(&b, mib));
  EXPECT_TRUE(cache.keep(&c, cache.block_size(1000)));
  EXPECT_FALSE(cache.keep(&c, mib * 2)) << "over the 3 MiB limit: the caller frees it";
  EXPECT_EQ(cache.cached_bytes(), static_cast<int64_t>(2 * mib + 1024));
  EXPECT_EQ(cache.take(cache.block_size(2 << 20)), nullptr) << "another class is not handed out";
  void* reused = cache.take(mib);
  EXPECT_TRUE(reused == &a || reused == &b);
  std::vector<void*> released;
  cache.drain([&](void* p, size_t) { released.push_back(p); });
  EXPECT_EQ(released.size(), 2u);
  EXPECT_EQ(cache.cached_bytes(), 0);
}

TEST(DeviceList, GpusAreListedInOrderOrAllVisibleWithAStar) {
  config::DeviceList all = config::parse_devices("cuda:*");
  EXPECT_EQ(all.type, DeviceType::CUDA);
  EXPECT_TRUE(all.all_visible);
  config::DeviceList two = config::parse_devices("cuda:0,cuda:1");
  EXPECT_EQ(two.type, DeviceType::CUDA);
  EXPECT_EQ(two.count, 2);
  EXPECT_EQ(config::parse_devices("gpu:0,gpu:1").count, 2);
  EXPECT_THROW(config::parse_devices("cuda:1,cuda:0"), Error);
  try {
    config::parse_devices("cuda:0,cpu:1");
    FAIL() << "mixed devices accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mixes CPU and CUDA devices"), std::string::npos) << e.what();
  }
  EXPECT_EQ(config::parse_devices("cpu:0,cpu:1").type, DeviceType::CPU);
}

}  // namespace
}  // namespace trainrt
