/* Checksums for snapshots and architectures. */
#ifndef LAMARCK_HASH_H
#define LAMARCK_HASH_H

#include <stddef.h>
#include <stdint.h>

#define LM_FNV1A64_INIT 0xcbf29ce484222325ULL

/* 64-bit FNV-1a of n bytes, continuing from h (start with LM_FNV1A64_INIT). */
uint64_t lm_fnv1a64(uint64_t h, const void *data, size_t n);

#endif
