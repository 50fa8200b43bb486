# fuzz_csv: the CSV reader, compiled in from plugins/loader-csv.
trainrt_add_fuzzer(csv SOURCES ${PROJECT_SOURCE_DIR}/plugins/loader-csv/src/csv_table.cpp
  INCLUDES ${PROJECT_SOURCE_DIR}/plugins/loader-csv/src ${PROJECT_SOURCE_DIR}/plugins/common/include)
