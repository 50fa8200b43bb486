// Test entry point: loads plugins the way the trainrt binary does (dlopen from
// the build tree's lib/trainrt/plugins), then runs the GoogleTest cases, and
// stops the device queues before static destructors run, as trainrt's main does.
#include <gtest/gtest.h>

#include "trainrt/plugins.h"
#include "trainrt/stream.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  trainrt::load_plugins();
  int result = RUN_ALL_TESTS();
  trainrt::shutdown_queues();
  return result;
}
