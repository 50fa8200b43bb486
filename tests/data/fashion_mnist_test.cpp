// The real Fashion-MNIST from the Debian package dataset-fashion-mnist, when
// installed: counts, shapes and label range through loader-idx + DataLoader.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "requirements.h"

#include "trainrt/data/data_loader.h"

namespace trainrt::test {
namespace {

const char* kRoot = "/usr/share/datasets/fashion-mnist";

data::Dataset open_split(const std::string& prefix) {
  std::string root = kRoot;
  return data::Dataset::open("idx", "images=" + root + "/" + prefix + "-images-idx3-ubyte.gz;labels=" + root + "/" +
                                        prefix + "-labels-idx1-ubyte.gz");
}

TEST(FashionMnist, RealFilesHaveTheExpectedCountsAndLabels) {
  REQUIRE_OR_SKIP(std::filesystem::exists(std::string(kRoot) + "/train-images-idx3-ubyte.gz"),
                  std::string(kRoot) + " not found (Debian package dataset-fashion-mnist)");
  data::Dataset train = open_split("train"), test = open_split("t10k");
  EXPECT_EQ(train.size(), 60000);
  EXPECT_EQ(test.size(), 10000);
  EXPECT_EQ(train.field(0).sizes, (Shape{28, 28}));
  data::DataLoaderOptions o;
  o.batch_size = 1000;
  o.workers = 2;
  data::DataLoader loader(test, o);
  loader.begin_epoch();
  std::vector<Tensor> batch;
  std::vector<int64_t> per_class(10, 0);
  int64_t seen = 0;
  while (loader.next(batch)) {
    EXPECT_EQ(batch[0].sizes(), (Shape{1000, 1, 28, 28}));
    for (double y : batch[1].to_vector()) {
      ASSERT_GE(y, 0);
      ASSERT_LE(y, 9);
      ++per_class[static_cast<int>(y)];
    }
    seen += batch[1].numel();
  }
  EXPECT_EQ(seen, 10000);
  for (int c = 0; c < 10; ++c) EXPECT_EQ(per_class[c], 1000) << "class " << c;  // the test split is balanced
}

}  // namespace
}  // namespace trainrt::test
