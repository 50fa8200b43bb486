// loader-csv against input that used to cost memory out of proportion to the
// table: a line with no end, a row of millions of commas, a header millions of
// columns wide. Each is refused in one line while peak memory stays small.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fixtures.h"
#include "test_util.h"
#include "trainrt/data/dataset.h"

namespace trainrt::test {
namespace {

using data::Dataset;

int64_t peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;
}

TEST(CsvBounds, EndlessLineIsRefusedAtTheLimit) {
  TempDir dir;
  write_text(dir.file("zeros.csv"), "");
  ASSERT_EQ(truncate(dir.file("zeros.csv").c_str(), off_t(256) << 20), 0);  // 256 MiB of NUL bytes, sparse
  const int64_t before = peak_rss_mb();
  EXPECT_ERROR_CONTAINS(Dataset::open("csv", "path=" + dir.file("zeros.csv")),
                        dir.file("zeros.csv") + ":1: line longer than 16777216 bytes; is this a CSV table?");
  EXPECT_LT(peak_rss_mb() - before, 64);
}

TEST(CsvBounds, RowOfMillionsOfCommasIsCountedNotSplit) {
  TempDir dir;
  write_text(dir.file("wide.csv"), "a,b,y\n1,2,0\n" + std::string(8 << 20, ',') + "\n");
  const int64_t before = peak_rss_mb();
  EXPECT_ERROR_CONTAINS(Dataset::open("csv", "path=" + dir.file("wide.csv") + ";label=y"),
                        "wide.csv:3: expected 3 columns, got 8388609");
  EXPECT_LT(peak_rss_mb() - before, 64) << "a field per comma was allocated";
}

TEST(CsvBounds, HeaderWiderThanTheLimitIsRefused) {
  TempDir dir;
  std::string header;
  for (int i = 0; i < (1 << 21); ++i) header += "c,";
  write_text(dir.file("cols.csv"), header + "y\n");
  EXPECT_ERROR_CONTAINS(Dataset::open("csv", "path=" + dir.file("cols.csv")),
                        "cols.csv:1: header has 2097153 columns, more than the 1048576 this reader accepts");
}

TEST(CsvBounds, FolderGivenAsTheFileIsNamed) {
  TempDir dir;
  EXPECT_ERROR_CONTAINS(Dataset::open("csv", "path=" + dir.file("")), ": is a directory, expected a CSV file");
}

TEST(CsvBounds, LastLineWithoutNewlineAndNulBytesAreRead) {
  TempDir dir;
  write_text(dir.file("t.csv"), "x,y\n1,0\n2,1");
  Dataset ds = Dataset::open("csv", "path=" + dir.file("t.csv") + ";label=y");
  ASSERT_EQ(ds.size(), 2);
  EXPECT_EQ(ds.get(1)[1].item(), 1);
  write_text(dir.file("nul.csv"), std::string("x,y\n1,0\n2", 9) + std::string(1, '\0') + ",1\n");
  EXPECT_ERROR_CONTAINS(Dataset::open("csv", "path=" + dir.file("nul.csv") + ";label=y"), "nul.csv:3: not a number '2");
}

}  // namespace
}  // namespace trainrt::test
