# fuzz_config: trainrt.toml values and --set overrides through the typed settings.
trainrt_add_fuzzer(config INCLUDES ${PROJECT_SOURCE_DIR}/runtime LIBS tomlplusplus::tomlplusplus)
