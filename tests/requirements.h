// What a test needs from the machine (the dataset, a server binary, a tool).
// Outside CI a missing dependency skips the test with the reason; on CI
// (CI=true, as .ci/run sets it) it fails, because the dependency list
// (containers/deps-debian.txt) must have installed it: a skip there would
// hide a broken install step.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace trainrt::test {

inline bool on_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::strcmp(ci, "true") == 0;
}

inline const char* kFashionMnistRoot = "/usr/share/datasets/fashion-mnist";

}  // namespace trainrt::test

// REQUIRE_OR_SKIP(cond, "what is missing (Debian package X)"): skip, or fail on CI.
#define REQUIRE_OR_SKIP(cond, what)                                                                  \
  do {                                                                                               \
    if (!(cond)) {                                                                                   \
      if (::trainrt::test::on_ci()) GTEST_FAIL() << (what) << "; on CI the dependency list installs it"; \
      GTEST_SKIP() << (what);                                                                        \
    }                                                                                                \
  } while (0)

#define REQUIRE_FASHION_MNIST()                                                                    \
  REQUIRE_OR_SKIP(std::filesystem::exists(::trainrt::test::kFashionMnistRoot),                     \
                  std::string(::trainrt::test::kFashionMnistRoot) +                                 \
                      " is missing (Debian package dataset-fashion-mnist)")
