/* Internal to the io module: the /genomes group of results.h5. */
#ifndef LAMARCK_IO_GENOMES_H
#define LAMARCK_IO_GENOMES_H

#include "io/h5util.h"
#include "lamarck/search.h"
#include "lamarck/space.h"

/* Writes /genomes when sp holds an architecture space (lm_space_arch); nothing else. */
int lm__io_write_genomes(lm__h5 *f, const lm_space *sp, const lm_trials *t);

#endif
