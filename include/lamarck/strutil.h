/* Small string helpers shared by the modules. */
#ifndef LAMARCK_STRUTIL_H
#define LAMARCK_STRUTIL_H

#include <stddef.h>

/* strdup for C11; NULL on NULL or out of memory. */
char *lm_strdup(const char *s);

/* Bounded copy that always terminates; returns 0, or LM_ERANGE when truncated. */
int lm_strlcpy(char *dst, const char *src, size_t cap);

/* Levenshtein distance between a and b (case-sensitive). */
int lm_str_distance(const char *a, const char *b);

/* The candidate closest to s, or NULL when none is within a useful distance
 * (at most a third of the longer length, minimum 2). */
const char *lm_str_closest(const char *s, const char *const *candidates, int n);

#endif
