// The loader-csv plugin through the real dlopen'd module: a good table, and
// malformed rows reported with file:line and the column.
#include <gtest/gtest.h>

#include "fixtures.h"
#include "test_util.h"
#include "trainrt/data/collate.h"
#include "trainrt/data/dataset.h"

namespace trainrt::test {
namespace {

using data::Dataset;

TEST(CsvLoader, ReadsFeaturesAndLabelByName) {
  TempDir dir;
  write_text(dir.file("data.csv"), "a, label ,b,c\r\n1,0,2.5,-3\n\n4e-1,2, 5 ,6\n7,1,8,9\n");
  Dataset ds = Dataset::open("csv", "path=" + dir.file("data.csv") + ";label=label");
  ASSERT_EQ(ds.size(), 3);
  ASSERT_EQ(ds.num_fields(), 2);
  EXPECT_EQ(ds.field(0).dtype, DType::Float32);
  EXPECT_EQ(ds.field(0).sizes, Shape{3});
  EXPECT_EQ(ds.field(1).dtype, DType::Int64);
  EXPECT_EQ(ds.field(1).sizes, Shape{});
  EXPECT_EQ(ds.get(0)[0].to_vector(), (std::vector<double>{1, 2.5, -3}));
  EXPECT_NEAR(ds.get(1)[0].to_vector()[0], 0.4, 1e-7);
  EXPECT_EQ(ds.get(1)[1].item(), 2);
  // Batched: features (B, F) float32, labels (B) int64.
  auto batch = data::collate(ds, {2, 0});
  EXPECT_EQ(batch[0].sizes(), (Shape{2, 3}));
  EXPECT_EQ(batch[0].to_vector(), (std::vector<double>{7, 8, 9, 1, 2.5, -3}));
  EXPECT_EQ(batch[1].dtype(), DType::Int64);
  EXPECT_EQ(batch[1].to_vector(), (std::vector<double>{1, 0}));
}

TEST(CsvLoader, WithoutLabelEveryColumnIsAFeature) {
  TempDir dir;
  write_text(dir.file("x.csv"), "p,q\n1,2\n3,4\n");
  Dataset ds = Dataset::open("csv", "path=" + dir.file("x.csv"));
  ASSERT_EQ(ds.num_fields(), 1);
  EXPECT_EQ(ds.get(1)[0].to_vector(), (std::vector<double>{3, 4}));
}

TEST(CsvLoader, WrongColumnCountNamesFileAndLine) {
  TempDir dir;
  std::string text = "a,b,c,d,y\n";
  for (int i = 2; i <= 16; ++i) text += "1,2,3,4,0\n";
  text += "1,2,3,0\n";  // line 17
  write_text(dir.file("data.csv"), text);
  EXPECT_ERROR_CONTAINS(Dataset::open("csv", "path=" + dir.file("data.csv") + ";label=y"),
                        "data.csv:17: expected 5 columns, got 4");
}

TEST(CsvLoader, NotANumberNamesLineValueAndColumn) {
  TempDir dir;
  write_text(dir.file("data.csv"), "w,x,y\n1,2,0\n1,abc,1\n");
  EXPECT_ERROR_CONTAINS(Dataset::open("csv", "path=" + dir.file("data.csv") + ";label=y"),
                        "data.csv:3: not a number 'abc' in column x");
  write_text(dir.file("partial.csv"), "w,x,y\n1,2,0\n1,3kg,1\n");
  EXPECT_ERROR_CONTAINS(Dataset::open("csv", "path=" + dir.file("partial.csv") + ";label=y"),
                        "partial.csv:3: not a number '3kg' in column x");
  write_text(dir.file("empty_field.csv"), "w,x,y\n1,,0\n");
  EXPECT_ERROR_CONTAINS(Dataset::open("csv", "path=" + dir.file("empty_field.csv") + ";label=y"),
                        "empty_field.csv:2: not a number '' in column x");
}

TEST(CsvLoader, NonIntegerLabel) {
  TempDir dir;
  write_text(dir.file("data.csv"), "x,y\n1,0\n2,0.5\n");
  EXPECT_ERROR_CONTAINS(Dataset::open("csv", "path=" + dir.file("data.csv") + ";label=y"),
                        "data.csv:3: label '0.5' in column y is not an integer class index");
}

TEST(CsvLoader, MissingLabelColumnListsTheColumns) {
  TempDir dir;
  write_text(dir.file("data.csv"), "sepal,petal,species\n1,2,0\n");
  EXPECT_ERROR_CONTAINS(Dataset::open("csv", "path=" + dir.file("data.csv") + ";label=class"),
                        "data.csv: no column 'class' for label= (columns: sepal, petal, species)");
}

TEST(CsvLoader, MissingEmptyAndHeaderOnlyFiles) {
  TempDir dir;
  EXPECT_ERROR_CONTAINS(Dataset::open("csv", "path=" + dir.file("none.csv")), "none.csv: cannot open");
  write_text(dir.file("empty.csv"), "\n\n");
  EXPECT_ERROR_CONTAINS(Dataset::open("csv", "path=" + dir.file("empty.csv")), "empty.csv: empty file");
  write_text(dir.file("header.csv"), "a,b\n");
  EXPECT_ERROR_CONTAINS(Dataset::open("csv", "path=" + dir.file("header.csv")), "header.csv: no data rows");
  EXPECT_ERROR_CONTAINS(Dataset::open("csv", "label=y"), "csv loader: give path=FILE");
  EXPECT_ERROR_CONTAINS(Dataset::open("csv", "path=x;labels=y"), "csv loader: unknown option 'labels'");
}

TEST(CsvLoader, LabelColumnNamedTwiceIsRefused) {
  // Two header columns named like label=: one would become neither label nor a
  // declared feature, shifting every later row's features.
  TempDir dir;
  write_text(dir.file("dup.csv"), "y,a,y\n0,1,2\n3,4,5\n");
  EXPECT_ERROR_CONTAINS(Dataset::open("csv", "path=" + dir.file("dup.csv") + ";label=y"),
                        "dup.csv: column 'y' for label= appears twice in the header");
}

}  // namespace
}  // namespace trainrt::test
