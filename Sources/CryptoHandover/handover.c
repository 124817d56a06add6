// `coordinator crypto …` runs the standalone `bok-crypto` when it sits beside the coordinator: the same commands
// (one Swift module, CryptoCLI, builds both) in an executable without the coordinator's Kubernetes, SSH and fleet
// code, so generation peaks at about two thirds of the memory (BENCHMARKS.md, "Crypto material").
//
// It is an execv from a constructor: after the loader, before the Swift runtime, Foundation or argument parsing have
// touched a page, so the coordinator's own start costs nothing on top. Same process, same arguments, exit code and
// output; usage and help still say `coordinator crypto` (BOK_CRYPTO_COMMAND_NAME). Without an executable `bok-crypto`
// beside the coordinator, with BOK_CRYPTO_IN_PROCESS=1, or if the exec fails, the coordinator runs the command itself.
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "CryptoHandover.h"

__attribute__((constructor)) static void bok_crypto_handover(int argc, char **argv, char **envp) {
    (void)envp;
    if (argc < 2 || argv == NULL || argv[1] == NULL || strcmp(argv[1], "crypto") != 0) return;
    const char *inProcess = getenv("BOK_CRYPTO_IN_PROCESS");
    if (inProcess != NULL && strcmp(inProcess, "1") == 0) return;

    char path[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
    if (length <= 0) return;
    path[length] = '\0';
    char *slash = strrchr(path, '/');
    if (slash == NULL) return;
    static const char tool[] = "bok-crypto";
    size_t directory = (size_t)(slash - path) + 1;
    if (directory + sizeof tool > sizeof path) return;
    memcpy(path + directory, tool, sizeof tool);
    if (access(path, X_OK) != 0) return;

    if (setenv("BOK_CRYPTO_COMMAND_NAME", "coordinator crypto", 1) != 0) return;
    char *subcommand = argv[1];
    argv[1] = (char *)tool;  // the new process's argv[0]; the rest of the arguments follow unchanged
    execv(path, argv + 1);
    // Only reached when execv failed: put everything back and run in-process.
    argv[1] = subcommand;
    unsetenv("BOK_CRYPTO_COMMAND_NAME");
}
