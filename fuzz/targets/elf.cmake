# fuzz_elf: the pre-dlopen plugin check (runtime/plugin/elf_check.cpp, in libtrainrt).
trainrt_add_fuzzer(elf)
