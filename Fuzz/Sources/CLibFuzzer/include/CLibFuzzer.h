// libFuzzer's driver (compiler-rt, linked by -sanitize=fuzzer). SwiftPM links every
// executable with `main` aliased to `<module>_main` (the target's `@main`), so
// libFuzzer's own `main` is never used: each target's main.swift calls this instead.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
