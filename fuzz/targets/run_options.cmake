# fuzz_run_options: the run-option parser (--threads, --set, --strategy, ...).
trainrt_add_fuzzer(run_options INCLUDES ${PROJECT_SOURCE_DIR}/runtime)
