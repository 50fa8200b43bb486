// Test entry point: loads plugins the way the trainrt binary does (dlopen from
// the build tree's lib/trainrt/plugins), then runs the GoogleTest cases.
#include <gtest/gtest.h>

#include "trainrt/plugins.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  trainrt::load_plugins();
  return RUN_ALL_TESTS();
}
