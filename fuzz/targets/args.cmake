# fuzz_args: a script's own flags through scripts/trainrt/args.lua (Lua, with a stub trainrt.core).
trainrt_add_fuzzer(args LIBS PkgConfig::LUA)
target_compile_definitions(fuzz_args PRIVATE TRAINRT_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
