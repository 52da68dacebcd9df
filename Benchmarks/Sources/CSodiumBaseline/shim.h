#ifndef CSODIUMBASELINE_SHIM_H
#define CSODIUMBASELINE_SHIM_H
/* libsodium called directly, for the raw baselines (the package's own CSodium module is not a product). */
#include <sodium.h>
#endif
