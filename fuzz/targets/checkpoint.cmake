# fuzz_checkpoint: the safetensors reader behind trainrt.checkpoint.load and
# `trainrt inspect` (runtime/checkpoint), fed arbitrary bytes.
trainrt_add_fuzzer(checkpoint)
