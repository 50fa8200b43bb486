// Plugin files that must be refused in one line instead of crashing or
// misleading: cut short (dlopen used to die of SIGBUS), built for another
// machine (dlopen said "No such file or directory"), names that another plugin
// registered already, and lookups while another thread loads plugins.
#include <elf.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "lua/lua_script_runner.h"
#include "plugin/elf_check.h"
#include "trainrt/dispatch.h"
#include "trainrt/ops.h"
#include "trainrt/plugins.h"

namespace trainrt {
namespace {
namespace fs = std::filesystem;

std::string test_plugin(const std::string& name) { return std::string(TRAINRT_TEST_PLUGIN_DIR) + "/trt-" + name + ".so"; }

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void write_file(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

std::string check(const std::vector<uint8_t>& bytes) { return check_elf_plugin(bytes.data(), bytes.size()); }

std::string refusal_of(const std::string& path) {
  if (load_plugin_file(path)) return "";
  for (const auto& r : refused_plugins())
    if (r.path == path) return r.reason;
  return "<refused without a recorded reason>";
}

Elf64_Ehdr header_of(const std::vector<uint8_t>& bytes) {
  Elf64_Ehdr eh;
  std::memcpy(&eh, bytes.data(), sizeof eh);
  return eh;
}

TEST(ElfCheck, AcceptsTheBuiltPlugins) {
  EXPECT_EQ(check(read_file(test_plugin("test-good"))), "");
  EXPECT_EQ(host_machine_name(), "x86_64") << "the tests below assume an x86_64 host";
}

TEST(ElfCheck, NamesTheArchitectureOfAForeignPlugin) {
  std::vector<uint8_t> bytes = read_file(test_plugin("test-good"));
  uint16_t aarch64 = EM_AARCH64;
  std::memcpy(bytes.data() + offsetof(Elf64_Ehdr, e_machine), &aarch64, 2);
  EXPECT_EQ(check(bytes), "built for aarch64, this is x86_64; rebuild the plugin for x86_64");
  bytes[EI_CLASS] = ELFCLASS32;
  uint16_t i386 = EM_386;
  std::memcpy(bytes.data() + offsetof(Elf64_Ehdr, e_machine), &i386, 2);
  EXPECT_EQ(check(bytes), "built for i386, this is x86_64; rebuild the plugin for x86_64");
}

TEST(ElfCheck, RefusesEveryCutOfAPluginAndNeverReadsPastTheEnd) {
  const std::vector<uint8_t> whole = read_file(test_plugin("test-good"));
  for (size_t size = 0; size < whole.size(); size += 61) {
    // A copy of exactly `size` bytes, so ASan sees any read past the end.
    std::vector<uint8_t> cut(whole.begin(), whole.begin() + static_cast<long>(size));
    std::string reason = check_elf_plugin(size ? cut.data() : nullptr, size);
    ASSERT_FALSE(reason.empty()) << "a plugin cut to " << size << " bytes was accepted";
    if (size >= sizeof(Elf64_Ehdr)) {
      ASSERT_EQ(reason.rfind("file is cut short: " + std::to_string(size) + " bytes, but ", 0), 0u) << reason;
    }
  }
}

TEST(ElfCheck, CutShortWithoutSectionHeadersNamesTheSegment) {
  std::vector<uint8_t> bytes = read_file(test_plugin("test-good"));
  Elf64_Ehdr eh = header_of(bytes);
  eh.e_shoff = 0;  // as `strip --strip-section-headers` leaves it
  eh.e_shnum = 0;
  eh.e_shstrndx = 0;
  std::memcpy(bytes.data(), &eh, sizeof eh);
  ASSERT_EQ(check(bytes), "");
  bytes.resize(12288);
  std::string reason = check(bytes);
  EXPECT_EQ(reason.rfind("file is cut short: 12288 bytes, but segment ", 0), 0u) << reason;
  EXPECT_NE(reason.find("(PT_LOAD) ends at byte"), std::string::npos) << reason;
}

TEST(ElfCheck, RefusesWrongTypeAndCorruptTables) {
  const std::vector<uint8_t> good = read_file(test_plugin("test-good"));
  std::vector<uint8_t> bytes = good;
  Elf64_Ehdr eh = header_of(bytes);
  eh.e_type = ET_EXEC;
  std::memcpy(bytes.data(), &eh, sizeof eh);
  EXPECT_NE(check(bytes).find("an executable (ET_EXEC), not a shared object"), std::string::npos) << check(bytes);

  bytes = good;
  eh = header_of(bytes);
  eh.e_phoff = UINT64_MAX - 8;  // offset + size overflows
  std::memcpy(bytes.data(), &eh, sizeof eh);
  EXPECT_NE(check(bytes).find("the program header table ends at byte beyond 2^64"), std::string::npos) << check(bytes);

  bytes = good;
  eh = header_of(bytes);
  eh.e_phnum = 0;
  std::memcpy(bytes.data(), &eh, sizeof eh);
  EXPECT_EQ(check(bytes), "has no program headers; not a loadable shared object");

  EXPECT_EQ(check({'h', 'e', 'l', 'l', 'o'}), "not a shared object (no ELF header); remove it from the plugin folder");
}

TEST(ElfCheck, SurvivesRandomCorruption) {
  const std::vector<uint8_t> good = read_file(test_plugin("test-good"));
  uint64_t state = 12345;
  auto next = [&] { return state = state * 6364136223846793005ull + 1442695040888963407ull; };
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> bytes(good.begin(), good.begin() + 4096);  // the headers live here
    for (int flips = 0; flips < 4; ++flips) bytes[(next() >> 33) % 256] = static_cast<uint8_t>(next() >> 40);
    bytes.resize(static_cast<size_t>(next() >> 52) % bytes.size() + 1);
    (void)check(bytes);  // must neither crash nor read out of bounds (run under ASan)
  }
}

TEST(PluginValidation, CutShortPluginIsRefusedNotLoaded) {
  fs::path dir = test::make_temp_dir();
  std::vector<uint8_t> bytes = read_file(test_plugin("test-good"));
  const uint64_t first_section_end = header_of(bytes).e_shoff + sizeof(Elf64_Shdr);
  bytes.resize(12288);  // dlopen of this copy used to kill the process with SIGBUS
  write_file(dir / "trt-cut.so", bytes);
  std::string reason = refusal_of((dir / "trt-cut.so").string());
  EXPECT_EQ(reason, "file is cut short: 12288 bytes, but the section header table ends at byte " +
                        std::to_string(first_section_end) + "; copy or rebuild the plugin again");
}

// The user's view: `trainrt plugins` and a run both list the refusals and go on.
TEST(PluginValidation, TrainrtPluginsAndARunSurviveBrokenPluginsInTheFolder) {
  fs::path dir = test::make_temp_dir();
  fs::create_directory(dir / "plugins");
  std::vector<uint8_t> bytes = read_file(test_plugin("test-good"));
  std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + 8192);
  write_file(dir / "plugins" / "trt-cut.so", cut);
  uint16_t aarch64 = EM_AARCH64;
  std::memcpy(bytes.data() + offsetof(Elf64_Ehdr, e_machine), &aarch64, 2);
  write_file(dir / "plugins" / "trt-arm.so", bytes);
  std::ofstream(dir / "run.lua") << "print('script ran', (trainrt.ones(2) + 1):sum():item())\n";

  setenv("TRAINRT_PLUGIN_PATH", (dir / "plugins").c_str(), 1);
  test::ScriptResult r = test::run_trainrt("plugins", dir);
  test::ScriptResult run = test::run_trainrt("run.lua", dir);
  unsetenv("TRAINRT_PLUGIN_PATH");

  EXPECT_EQ(r.exit_code, 1) << "a refusal makes `trainrt plugins` fail\n" << r.output;
  EXPECT_NE(r.output.find("trainrt plugins: 2 plugins were refused (see above)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("refused plugins: 2\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("trt-arm.so: built for aarch64, this is x86_64; rebuild the plugin for x86_64\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("trt-cut.so: file is cut short: 8192 bytes, but"), std::string::npos) << r.output;
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("script ran\t4.0"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("trainrt: warning: refused plugin " + (dir / "plugins" / "trt-cut.so").string() +
                            ": file is cut short"),
            std::string::npos)
      << run.output;
}

// The three refusals a layer author meets most: built against another ABI
// version, no entry symbol, init failed. `trainrt plugins` lists each reason
// and exits 1; a script asking for a layer names the refusals; and
// [plugins] strict = true stops a run before the script starts.
TEST(PluginValidation, RefusalsFailTrainrtPluginsAndAreNamedWhereALayerIsMissing) {
  fs::path dir = test::make_temp_dir();
  std::string path = test_plugin("test-abi-v2") + ":" + test_plugin("test-no-entry") + ":" + test_plugin("test-init-fails");
  std::ofstream(dir / "uses_layer.lua") << "local y = trainrt.layer('my_norm', {trainrt.ones({2, 3})})\n";
  std::ofstream(dir / "plain.lua") << "print('script ran')\n";
  setenv("TRAINRT_PLUGIN_PATH", path.c_str(), 1);
  test::ScriptResult listing = test::run_trainrt("plugins", dir);
  test::ScriptResult uses_layer = test::run_trainrt("uses_layer.lua", dir);
  test::ScriptResult plain = test::run_trainrt("plain.lua", dir);
  test::ScriptResult strict = test::run_trainrt("train plain.lua --set plugins.strict=true", dir);
  unsetenv("TRAINRT_PLUGIN_PATH");

  EXPECT_EQ(listing.exit_code, 1) << listing.output;
  EXPECT_NE(listing.output.find("refused plugins: 3\n"), std::string::npos) << listing.output;
  for (const char* reason : {"ABI", "trt_plugin_init_v1", "init failed"})
    EXPECT_NE(listing.output.find(reason), std::string::npos) << reason << "\n" << listing.output;

  EXPECT_NE(uses_layer.exit_code, 0) << uses_layer.output;
  EXPECT_NE(uses_layer.output.find("layer 'my_norm': no plugin registered it for cpu; 3 plugins were refused and may "
                                   "have provided it: " + test_plugin("test-abi-v2") + ": "),
            std::string::npos)
      << uses_layer.output;
  EXPECT_NE(uses_layer.output.find(test_plugin("test-init-fails") + ": "), std::string::npos) << uses_layer.output;

  EXPECT_EQ(plain.exit_code, 0) << "without strict a refusal is a warning\n" << plain.output;
  EXPECT_EQ(strict.exit_code, 2) << strict.output;
  EXPECT_NE(strict.output.find("was refused: "), std::string::npos) << strict.output;
  EXPECT_NE(strict.output.find("(and 2 more); [plugins] strict = true makes refusals fatal"), std::string::npos)
      << strict.output;
  EXPECT_EQ(strict.output.find("script ran"), std::string::npos) << strict.output;
}

TEST(PluginValidation, KernelTakenByAnotherPluginIsRefusedNamingBoth) {
  std::string reason = refusal_of(test_plugin("test-dup-kernel"));
  EXPECT_EQ(reason.rfind("plugin 'test-dup-kernel' registers kernel 'add' for cpu, which plugin 'ops-cpu' (", 0), 0u)
      << reason;
  EXPECT_NE(reason.find("trt-ops-cpu.so) registered already; remove one of the two plugins from the plugin path"),
            std::string::npos)
      << reason;
  EXPECT_EQ(kernel_owner("add", DeviceType::CPU), "ops-cpu");
  Tensor a = ops::ones({2});
  EXPECT_EQ(ops::add(a, a).to_vector(), (std::vector<double>{2, 2})) << "ops-cpu's kernel must stay";
}

TEST(PluginValidation, LoaderLayerAndCollectiveTakenAreRefusedNamingBoth) {
  std::string reason = refusal_of(test_plugin("test-dup-loader"));
  EXPECT_EQ(reason.rfind("plugin 'test-dup-loader' registers data loader 'csv', which plugin 'loader-csv' (", 0), 0u)
      << reason;
  reason = refusal_of(test_plugin("test-dup-collective"));
  EXPECT_EQ(reason.rfind("plugin 'test-dup-collective' registers collective backend 'gloo', which plugin 'coll-gloo' (", 0),
            0u)
      << reason;
  ASSERT_NE(find_collective("gloo"), nullptr);
  EXPECT_EQ(find_collective("gloo")->plugin, "coll-gloo");
  ASSERT_EQ(refusal_of(test_plugin("test-layer-name")), "");
  reason = refusal_of(test_plugin("test-dup-layer"));
  EXPECT_EQ(reason.rfind("plugin 'test-dup-layer' registers layer 'test_double' for cpu, which plugin 'test-layer-name' (",
                         0),
            0u)
      << reason;
  for (const auto& p : loaded_plugins()) EXPECT_EQ(p.name.rfind("test-dup", 0), std::string::npos) << p.name;
}

TEST(PluginValidation, PluginRegisteringANameTwiceIsRefused) {
  EXPECT_EQ(refusal_of(test_plugin("test-dup-self")),
            "plugin 'test-dup-self' registers kernel 'test_twice' for cpu twice; register each name once");
  EXPECT_FALSE(has_kernel("test_twice", DeviceType::CPU));
}

// Lookups race a load: run under TSan to see a missing lock; here they must at
// least return consistent answers while plugins come in.
TEST(PluginValidation, LookupsAreSafeWhileAnotherThreadLoads) {
  std::atomic<bool> done{false};
  std::atomic<int64_t> lookups{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t)
    readers.emplace_back([&] {
      while (!done) {
        if (!find_loader("idx") || !find_collective("gloo") || !has_kernel("add", DeviceType::CPU)) ADD_FAILURE();
        (void)find_loader("test-counting");
        (void)find_layer("test_double", TRT_DEVICE_CPU);
        (void)loaded_plugins().size();
        (void)loader_names();
        ++lookups;
      }
    });
  while (lookups < 2) std::this_thread::yield();  // both readers are running before the loads start
  for (const char* name : {"test-good", "test-layer-name", "test-dup-kernel", "test-dup-loader", "test-dup-layer",
                           "test-dup-collective", "test-dup-self", "test-no-entry"})
    load_plugin_file(test_plugin(name));
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_GT(lookups.load(), 0);
  EXPECT_NE(find_loader("test-counting"), nullptr);
  EXPECT_NE(find_layer("test_double", TRT_DEVICE_CPU), nullptr);
}

}  // namespace
}  // namespace trainrt
