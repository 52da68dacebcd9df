#ifndef CSODIUM_SHIM_H
#define CSODIUM_SHIM_H
#include <sodium.h>

#ifdef __linux__
#include <sys/prctl.h>

/* prctl(2) is variadic, which Swift cannot call: these fixed-argument wrappers can be. */

/* Marks the process not dumpable: no core file, and no ptrace attach or /proc/PID/mem reads by other
   processes of the same user. Returns 0 on success. */
static inline int csodium_set_not_dumpable(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }

/* 1 when the process is dumpable, 0 when not, -1 on error. */
static inline int csodium_is_dumpable(void) { return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }
#endif

#endif
