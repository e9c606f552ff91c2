#ifndef SLUICE_CLMDB_SHIM_H
#define SLUICE_CLMDB_SHIM_H
#include <lmdb.h>
#endif
