# fuzz_idx: the IDX reader (plain and .gz), compiled in from plugins/loader-idx.
find_package(ZLIB REQUIRED)
trainrt_add_fuzzer(idx SOURCES ${PROJECT_SOURCE_DIR}/plugins/loader-idx/src/idx_file.cpp
  INCLUDES ${PROJECT_SOURCE_DIR}/plugins/loader-idx/src ${PROJECT_SOURCE_DIR}/plugins/common/include LIBS ZLIB::ZLIB)
