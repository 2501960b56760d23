/* Threads of the compute primitives. oneDNN runs on OpenMP, whose runtime reads
 * OMP_NUM_THREADS when the library loads, before main: setting the variable later has no
 * effect, so the count is set through the runtime itself. */
#include "lamarck/nn.h"

#include <omp.h>

void lm_nn_set_threads(int n) { omp_set_num_threads(n > 0 ? n : 1); }

int lm_nn_threads(void) { return omp_get_max_threads(); }
